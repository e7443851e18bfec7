// BucketArena: blocks are zero and writable to their end, the prepared block is handed out when
// it holds the request and only when it is all in memory does it count as a prepared growth, and
// a block is freed from its pointer alone.
#include "base/bucket_arena.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tests/testutil.h"

namespace handoff {
namespace {

using ::handoff::testing::AllZero;

constexpr size_t kBytes = size_t{1} << 20;

TEST(BucketArenaTest, ANewBlockIsZeroWritableAndFreedByPointer) {
  BucketArena arena;
  auto* p = static_cast<unsigned char*>(arena.Allocate(kBytes));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);  // arrays of pointers, cache-line aligned
  EXPECT_TRUE(AllZero(p, kBytes));
  std::memset(p, 0x7f, kBytes);
  EXPECT_EQ(arena.prepared_hits(), 0u);
  FreeBucketBlock(p);
  FreeBucketBlock(nullptr);
}

TEST(BucketArenaTest, APreparedBlockIsHandedOutOnceWholeAndCountedOnlyWhenAllIn) {
  BucketArena arena;
  // Half prepared: handed out (it holds the request) but not counted.
  for (int i = 0; i < 10; ++i) {
    arena.Prepare(kBytes);
  }
  void* partly = arena.Allocate(kBytes / 2);
  EXPECT_EQ(arena.prepared_hits(), 0u);
  // Prepared in full (a page a call, header included): counted, and zero.
  for (size_t i = 0; i < kBytes / 4096 + 2; ++i) {
    arena.Prepare(kBytes);
  }
  auto* whole = static_cast<unsigned char*>(arena.Allocate(kBytes));
  EXPECT_EQ(arena.prepared_hits(), 1u);
  EXPECT_TRUE(AllZero(whole, kBytes));
  // Taken: the next request is a new block, not the same one twice.
  void* next = arena.Allocate(kBytes);
  EXPECT_NE(next, whole);
  EXPECT_EQ(arena.prepared_hits(), 1u);
  FreeBucketBlock(partly);
  FreeBucketBlock(whole);
  FreeBucketBlock(next);
}

TEST(BucketArenaTest, APreparedBlockTooSmallIsReplacedOrLeft) {
  BucketArena arena;
  for (size_t i = 0; i < kBytes / 4096 + 2; ++i) {
    arena.Prepare(kBytes);
  }
  // A request larger than the prepared block gets a new one; the prepared one stays for later.
  void* larger = arena.Allocate(2 * kBytes);
  EXPECT_EQ(arena.prepared_hits(), 0u);
  // Preparing for a larger size replaces it; the arena frees what it still holds when it goes.
  arena.Prepare(4 * kBytes);
  void* fits = arena.Allocate(4 * kBytes);
  EXPECT_EQ(arena.prepared_hits(), 0u);  // only its first page was in
  FreeBucketBlock(larger);
  FreeBucketBlock(fits);
  arena.Prepare(kBytes);
}

}  // namespace
}  // namespace handoff
