#include "daemon/heap_source.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

// This file links tcmalloc and daemon/heap_source.cc with HANDOFF_TCMALLOC, as handoffd does
// (CMakeLists.txt); under a sanitizer neither is linked and the tests skip.

namespace handoff {
namespace {

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

size_t PageSize() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

// Pages of [p, p + bytes) resident now (mincore reads this without touching them).
size_t ResidentPages(const void* p, size_t bytes) {
  const size_t page = PageSize();
  const size_t offset = reinterpret_cast<uintptr_t>(p) & (page - 1);
  char* start = static_cast<char*>(const_cast<void*>(p)) - offset;  // mincore wants a page start
  const size_t length = offset + bytes;
  std::vector<unsigned char> in((length + page - 1) / page);
  if (mincore(start, length, in.data()) != 0) {
    return 0;
  }
  size_t resident = 0;
  for (unsigned char c : in) {
    resident += c & 1;
  }
  return resident;
}

// Whether this kernel populates on request (Linux 5.14 on).
bool KernelPopulates() {
  const size_t bytes = 4 * PageSize();
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return false;
  }
  const bool ok = madvise(p, bytes, MADV_POPULATE_WRITE) == 0;
  munmap(p, bytes);
  return ok;
}

// Both off: nothing is installed (handoffd then keeps tcmalloc's own source).
TEST(HeapSourceTest, NothingToInstallWhenBothAreOff) {
  EXPECT_FALSE(InstallHeapSource(HeapSource{}));
}

// A block the heap grows by is resident before anything writes it. (Without the populating
// source its pages come one by one on first write, and mincore reports them absent.)
TEST(HeapSourceTest, PopulatedHeapGrowthIsResidentBeforeUse) {
  if (!KernelPopulates()) {
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
