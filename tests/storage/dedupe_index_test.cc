// The in-memory dedupe index: duplicates within the window, expiry, the block log round trip, the
// seed, and memory that does not grow past two windows.
#include "storage/dedupe_index.h"

#include <gtest/gtest.h>

#include <string>

namespace handoff {
namespace {

constexpr EpochSeconds kT0 = 1'800'000'000.25;

TEST(DedupeIndexTest, AnIdIsADuplicateWithinTheWindowOnly) {
  DedupeIndex index(10);
  index.SetSeed(7);
  EXPECT_FALSE(index.CheckAndRecord("m1", kT0));
  EXPECT_TRUE(index.CheckAndRecord("m1", kT0));
  EXPECT_TRUE(index.CheckAndRecord("m1", kT0 + 9.99));
  EXPECT_FALSE(index.CheckAndRecord("m2", kT0 + 9.99));
  // Expired: applied again, and remembered from then on.
  EXPECT_FALSE(index.CheckAndRecord("m1", kT0 + 10.001));
  EXPECT_TRUE(index.CheckAndRecord("m1", kT0 + 15));
  EXPECT_FALSE(index.CheckAndRecord("m1", kT0 + 20.01));
}

TEST(DedupeIndexTest, AZeroWindowRemembersNothing) {
  DedupeIndex index(0);
  EXPECT_FALSE(index.CheckAndRecord("m1", kT0));
  EXPECT_FALSE(index.CheckAndRecord("m1", kT0));
  std::string block;
  EXPECT_FALSE(index.TakeBlock(&block));
}

TEST(DedupeIndexTest, BlocksRestoreTheIdsTheyRecorded) {
  DedupeIndex index(100);
  index.SetSeed(42);
  std::string block;
  EXPECT_FALSE(index.TakeBlock(&block));
  for (int i = 0; i < 5000; ++i) {
    ASSERT_FALSE(index.CheckAndRecord("id-" + std::to_string(i), kT0));
  }
  EXPECT_TRUE(index.CheckAndRecord("id-7", kT0));  // a duplicate adds nothing to the block
  ASSERT_TRUE(index.TakeBlock(&block));
  EXPECT_EQ(block.size(), 5000 * DedupeIndex::kBlockEntrySize);
  EXPECT_FALSE(index.has_block());

  DedupeIndex restored(100);
  restored.SetSeed(42);
  ASSERT_TRUE(restored.RestoreBlock(block, kT0 + 1, kT0 + 50));
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(restored.CheckAndRecord("id-" + std::to_string(i), kT0 + 50)) << i;
  }
  EXPECT_FALSE(restored.CheckAndRecord("id-5000", kT0 + 50));
  // The block's time counts: 100 s after it, its ids are gone.
  EXPECT_FALSE(restored.CheckAndRecord("id-1", kT0 + 101.5));

  // An expired block is skipped; a malformed one is reported.
  DedupeIndex late(100);
  late.SetSeed(42);
  ASSERT_TRUE(late.RestoreBlock(block, kT0, kT0 + 200));
  EXPECT_EQ(late.size(), 0u);
  EXPECT_FALSE(late.RestoreBlock(block.substr(1), kT0, kT0));
}

// Enough ids that the restore grows the table through arrays mapped whole at once
// (ZeroedPages::kNow, from 256 KiB on), then keeps growing through arrays faulted in on use:
// every id stays findable across both kinds.
TEST(DedupeIndexTest, ALargeRestoreThenLiveInsertsKeepEveryId) {
  constexpr int kRestored = 200'000;
  constexpr int kLive = 400'000;
  DedupeIndex index(1000);
  index.SetSeed(9);
  for (int i = 0; i < kRestored; ++i) {
    ASSERT_FALSE(index.CheckAndRecord("r-" + std::to_string(i), kT0));
  }
  std::string block;
  ASSERT_TRUE(index.TakeBlock(&block));

  DedupeIndex restored(1000);
  restored.SetSeed(9);
  ASSERT_TRUE(restored.RestoreBlock(block, kT0, kT0 + 1));
  EXPECT_EQ(restored.size(), static_cast<size_t>(kRestored));
  for (int i = 0; i < kLive; ++i) {
    ASSERT_FALSE(restored.CheckAndRecord("l-" + std::to_string(i), kT0 + 2)) << i;
  }
  for (int i = 0; i < kRestored; ++i) {
    ASSERT_TRUE(restored.CheckAndRecord("r-" + std::to_string(i), kT0 + 3)) << i;
  }
  for (int i = 0; i < kLive; ++i) {
    ASSERT_TRUE(restored.CheckAndRecord("l-" + std::to_string(i), kT0 + 3)) << i;
  }
}

TEST(DedupeIndexTest, TheSeedKeysTheHash) {
  DedupeIndex a(100);
  a.SetSeed(1);
  ASSERT_FALSE(a.CheckAndRecord("m1", kT0));
  std::string block;
  ASSERT_TRUE(a.TakeBlock(&block));
  DedupeIndex b(100);
  b.SetSeed(2);
  ASSERT_TRUE(b.RestoreBlock(block, kT0, kT0));
  EXPECT_FALSE(b.CheckAndRecord("m1", kT0));  // another seed: another hash
}

TEST(DedupeIndexTest, OldIdsOfThePerIdFormRestore) {
  DedupeIndex index(100);
  index.RestoreId("old", kT0, kT0 + 10);
  index.RestoreId("expired", kT0, kT0 + 100);
  EXPECT_TRUE(index.CheckAndRecord("old", kT0 + 10));
  EXPECT_FALSE(index.CheckAndRecord("expired", kT0 + 10));
}

TEST(DedupeIndexTest, MemoryStaysWithinTwoWindowsOfIds) {
  DedupeIndex index(10);
  size_t peak = 0;
  // 1,000 new ids a second for 200 s: only about 20 s of them may be held at once.
  for (int s = 0; s < 200; ++s) {
    for (int i = 0; i < 1000; ++i) {
      ASSERT_FALSE(index.CheckAndRecord(std::to_string(s) + "-" + std::to_string(i), kT0 + s));
    }
    peak = std::max(peak, index.size());
  }
  EXPECT_LE(peak, 21'000u);
  EXPECT_TRUE(index.CheckAndRecord("199-5", kT0 + 199.5));
}

TEST(DedupeIndexTest, GrowingMovesTheOldTableAFewSlotsAnInsert) {
  DedupeIndex index(1000);
  index.SetSeed(11);
  // The table starts at 1,024 slots of 16 bytes and doubles at three quarters full (the 769th
  // id). While it moves its ids over, four slots an insert, it holds both arrays: 2,048 + 1,024
  // slots until the 1,025th id, then 2,048 alone; every id is a duplicate throughout.
  bool saw_both = false;
  for (int i = 0; i < 1500; ++i) {
    ASSERT_FALSE(index.CheckAndRecord("m" + std::to_string(i), kT0));
    saw_both |= index.memory_bytes() == (2048 + 1024) * 16;
    for (int j = i % 7; j <= i; j += 7) {
      ASSERT_TRUE(index.CheckAndRecord("m" + std::to_string(j), kT0 + 1)) << j << " after " << i;
    }
  }
  EXPECT_TRUE(saw_both);
  EXPECT_EQ(index.memory_bytes(), 2048u * 16);
  EXPECT_EQ(index.size(), 1500u);
}

TEST(DedupeIndexTest, AGenerationRotatedWhileItGrowsKeepsEveryIdOfTheWindow) {
  DedupeIndex index(10);
  index.SetSeed(3);
  // 850 ids, a millisecond apart: the table doubled at the 769th and has moved only part of its
  // old array when the window's end rotates it into the previous generation.
  for (int i = 0; i < 850; ++i) {
    ASSERT_FALSE(index.CheckAndRecord("a" + std::to_string(i), kT0 + i * 0.001));
  }
  const EpochSeconds now = kT0 + 10;
  ASSERT_FALSE(index.CheckAndRecord("new", now));  // rotates
  for (int i = 0; i < 850; ++i) {
    const bool within_window = now - (kT0 + i * 0.001) < 10;
    EXPECT_EQ(index.CheckAndRecord("a" + std::to_string(i), now), within_window) << i;
  }
}

}  // namespace
}  // namespace handoff
