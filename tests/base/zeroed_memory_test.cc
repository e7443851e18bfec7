#include "base/zeroed_memory.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/testutil.h"

namespace handoff {
namespace {

using ::handoff::testing::AllZero;
using ::handoff::testing::KernelPopulatesWrites;
using ::handoff::testing::ResidentPages;

// The kernel's transparent huge page setting: "always", "madvise" (only to mappings that ask,
// MADV_HUGEPAGE), "never", or empty when it has none.
std::string KernelHugePageSetting() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  std::getline(in, line);
  const size_t open = line.find('[');
  const size_t close = line.find(']', open);
  return open == std::string::npos || close == std::string::npos
             ? std::string()
             : line.substr(open + 1, close - open - 1);
}

// Bytes of the mapping that holds `p` backed by transparent huge pages (AnonHugePages in
// /proc/self/smaps), or 0 when it is not found.
size_t HugePageBytesAt(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  const auto address = reinterpret_cast<uintptr_t>(p);
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    uintptr_t begin = 0;
    uintptr_t end = 0;
    char dash = 0;
    std::istringstream header(line);
    if (header >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = address >= begin && address < end;
      continue;
    }
    if (inside && line.rfind("AnonHugePages:", 0) == 0) {
      size_t kib = 0;
      std::istringstream(line.substr(14)) >> kib;
      return kib << 10;
    }
  }
  return 0;
}

// Restores the process-wide setting a test changed.
class HugePagesOn {
 public:
  HugePagesOn() : before_(HugePages()) { SetHugePages(true); }
  ~HugePagesOn() { SetHugePages(before_); }
  HugePagesOn(const HugePagesOn&) = delete;
  HugePagesOn& operator=(const HugePagesOn&) = delete;

 private:
  bool before_;
};

TEST(ZeroedMemoryTest, NothingForNoBytes) {
  EXPECT_EQ(AllocateZeroed(0), nullptr);
  FreeZeroed(nullptr, 0);
  FreeZeroed(nullptr, kMapAtLeast);
}

// Both kinds of block (calloc below the threshold, a mapping from it on), faulted in on use or
// at once, read as zero, are writable to their last byte, and go back with the size they were
// allocated with.
TEST(ZeroedMemoryTest, BlocksOnBothSidesOfTheThresholdAreZeroAndWritable) {
  for (ZeroedPages pages : {ZeroedPages::kOnUse, ZeroedPages::kNow}) {
    for (size_t bytes : {size_t{16}, size_t{4096}, kMapAtLeast - 1, kMapAtLeast, kMapAtLeast + 1,
                         size_t{8} << 20}) {
      SCOPED_TRACE(::testing::Message()
                   << bytes << " bytes, pages " << (pages == ZeroedPages::kNow ? "now" : "on use"));
      auto* p = static_cast<unsigned char*>(AllocateZeroed(bytes, pages));
      ASSERT_NE(p, nullptr);
      EXPECT_TRUE(AllZero(p, bytes));
      std::memset(p, 0xab, bytes);
      EXPECT_EQ(p[bytes - 1], 0xab);
      FreeZeroed(p, bytes);
    }
  }
}

// A mapped block asked for kOnUse has no page in memory until used; kNow has all of them.
TEST(ZeroedMemoryTest, PagesComeInOnUseOrAtOnce) {
  const size_t bytes = size_t{4} << 20;
  const size_t pages = bytes / static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* on_use = AllocateZeroed(bytes, ZeroedPages::kOnUse);
  EXPECT_EQ(ResidentPages(on_use, bytes), 0u);
  FreeZeroed(on_use, bytes);
  void* now = AllocateZeroed(bytes, ZeroedPages::kNow);
  EXPECT_EQ(ResidentPages(now, bytes), pages);
  FreeZeroed(now, bytes);
}

// A block freed and allocated again (the allocator may hand back the same memory) is zero again.
TEST(ZeroedMemoryTest, ReusedMemoryIsZeroAgain) {
  for (size_t bytes : {size_t{1024}, size_t{1} << 20}) {
    SCOPED_TRACE(bytes);
    for (int round = 0; round < 3; ++round) {
      auto* p = static_cast<unsigned char*>(AllocateZeroed(bytes));
      ASSERT_TRUE(AllZero(p, bytes));
      std::memset(p, 0xff, bytes);
      FreeZeroed(p, bytes);
    }
  }
}

// PopulateSome walks a mapped block a step a call to its end and no further; the pages it
// faulted in still read as zero. A calloc'd block counts as in at once.
TEST(ZeroedMemoryTest, PopulateSomeAdvancesAStepACallToTheEnd) {
  const size_t bytes = (size_t{5} << 20) / 2;  // 2.5 MiB
  auto* p = static_cast<unsigned char*>(AllocateZeroed(bytes));
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t populated = 0;
  PopulateSome(p, bytes, size_t{1} << 20, &populated);
  EXPECT_EQ(populated, size_t{1} << 20);
  if (KernelPopulatesWrites()) {
    // The first MiB is in memory, the rest not yet.
    EXPECT_EQ(ResidentPages(p, populated), populated / page);
    EXPECT_EQ(ResidentPages(p + populated, bytes - populated), 0u);
  }
  PopulateSome(p, bytes, size_t{1} << 20, &populated);
  EXPECT_EQ(populated, size_t{2} << 20);
  PopulateSome(p, bytes, size_t{1} << 20, &populated);
  EXPECT_EQ(populated, bytes);
  if (KernelPopulatesWrites()) {
    EXPECT_EQ(ResidentPages(p, bytes), (bytes + page - 1) / page);
  }
  PopulateSome(p, bytes, size_t{1} << 20, &populated);
  EXPECT_EQ(populated, bytes);
  EXPECT_TRUE(AllZero(p, bytes));
  FreeZeroed(p, bytes);

  const size_t small = 4096;
  void* q = AllocateZeroed(small);
  size_t small_populated = 0;
  PopulateSome(q, small, 1024, &small_populated);
  EXPECT_EQ(small_populated, small);
  FreeZeroed(q, small);
}

// With huge pages on, blocks are still zero and writable, kNow still brings every page in, and
// where the kernel offers huge pages, a populated block of 8 MiB is (mostly) backed by them.
TEST(ZeroedMemoryTest, HugePagesKeepTheContractAndBackLargeBlocks) {
  HugePagesOn on;
  EXPECT_TRUE(HugePages());
  const size_t bytes = size_t{8} << 20;
  for (ZeroedPages pages : {ZeroedPages::kOnUse, ZeroedPages::kNow}) {
    auto* p = static_cast<unsigned char*>(AllocateZeroed(bytes, pages));
    ASSERT_NE(p, nullptr);
    if (pages == ZeroedPages::kNow) {
      const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
      EXPECT_EQ(ResidentPages(p, bytes), bytes / page);
      if (KernelHugePageSetting() == "always" || KernelHugePageSetting() == "madvise") {
        // The 2 MiB-aligned part: at least 6 of the 8 MiB whatever the mapping's alignment.
        EXPECT_GE(HugePageBytesAt(p), size_t{6} << 20);
      }
    }
    EXPECT_TRUE(AllZero(p, bytes));
    std::memset(p, 0x5a, bytes);
    EXPECT_EQ(p[bytes - 1], 0x5a);
    FreeZeroed(p, bytes);
  }
}

// Off (the default outside handoffd), a populated block has no huge page where the kernel gives
// them only to mappings that ask.
TEST(ZeroedMemoryTest, HugePagesOffBacksBlocksWithSmallPages) {
  ASSERT_FALSE(HugePages());
  if (KernelHugePageSetting() != "madvise") {
    GTEST_SKIP() << "transparent huge pages are \"" << KernelHugePageSetting() << "\", not madvise";
  }
  const size_t bytes = size_t{8} << 20;
  void* p = AllocateZeroed(bytes, ZeroedPages::kNow);
  EXPECT_EQ(HugePageBytesAt(p), 0u);
  FreeZeroed(p, bytes);
}

}  // namespace
}  // namespace handoff
