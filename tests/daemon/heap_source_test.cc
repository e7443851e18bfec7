#include "daemon/heap_source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>

#include "tests/testutil.h"

// This file links tcmalloc and daemon/heap_source.cc with HANDOFF_TCMALLOC, as handoffd does
// (CMakeLists.txt); under a sanitizer neither is linked and the tests skip.

namespace handoff {
namespace {

using ::handoff::testing::KernelPopulatesWrites;
using ::handoff::testing::ResidentPages;

size_t PageSize() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

// Both off: nothing is installed (handoffd then keeps tcmalloc's own source).
TEST(HeapSourceTest, NothingToInstallWhenBothAreOff) {
  EXPECT_FALSE(InstallHeapSource(HeapSource{}));
}

// A block the heap grows by is resident before anything writes it. (Without the populating
// source its pages come one by one on first write, and mincore reports them absent.)
TEST(HeapSourceTest, PopulatedHeapGrowthIsResidentBeforeUse) {
  if (!KernelPopulatesWrites()) {
    GTEST_SKIP() << "kernel without MADV_POPULATE_WRITE";
  }
  if (!InstallHeapSource(HeapSource{.populate = true})) {
    GTEST_SKIP() << "built without tcmalloc (sanitizer build)";
  }
  // Larger than anything the heap holds free: tcmalloc takes it from the system now.
  constexpr size_t kBytes = size_t{96} << 20;
  void* block = std::malloc(kBytes);
  ASSERT_NE(block, nullptr);
  const size_t pages = kBytes / PageSize();
  // Nearly all: its head may be memory the heap held before the source was installed.
  EXPECT_GE(ResidentPages(block, kBytes), pages * 9 / 10) << "of " << pages << " pages";
  std::free(block);
}

}  // namespace
}  // namespace handoff
