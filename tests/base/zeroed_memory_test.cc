#include "base/zeroed_memory.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

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
  size_t populated = 0;
  PopulateSome(p, bytes, size_t{1} << 20, &populated);
  EXPECT_EQ(populated, size_t{1} << 20);
  PopulateSome(p, bytes, size_t{1} << 20, &populated);
  EXPECT_EQ(populated, size_t{2} << 20);
  PopulateSome(p, bytes, size_t{1} << 20, &populated);
  EXPECT_EQ(populated, bytes);
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
