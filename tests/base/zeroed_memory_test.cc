#include "base/zeroed_memory.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

namespace handoff {
namespace {

bool AllZero(const unsigned char* p, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) {
    if (p[i] != 0) {
      return false;
    }
  }
  return true;
}

// Pages of [p, p + bytes) resident in memory now (mincore), without touching them.
size_t ResidentPages(void* p, size_t bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in((bytes + page - 1) / page);
  if (mincore(p, bytes, in.data()) != 0) {
    ADD_FAILURE() << "mincore: " << std::strerror(errno);
    return 0;
  }
  size_t resident = 0;
  for (unsigned char c : in) {
    resident += c & 1;
  }
  return resident;
}

// Whether this kernel has MADV_POPULATE_WRITE (5.14 on); PopulateSome is best effort without it.
bool KernelPopulatesWrites() {
  void* probe = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const bool ok = madvise(probe, 4096, MADV_POPULATE_WRITE) == 0;
  munmap(probe, 4096);
  return ok;
}

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
      SCOPED_TRACE(testing::Message()
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

}  // namespace
}  // namespace handoff
