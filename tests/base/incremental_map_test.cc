// IncrementalMap: every entry stays findable while the map grows, growth moves a few entries an
// insert instead of all at once, erases reach either table, and values never move.
#include "base/incremental_map.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "base/zeroed_memory.h"

namespace handoff {
namespace {

TEST(IncrementalMapTest, EveryEntryIsFoundWhileTheMapGrows) {
  StringIncrementalMap<int> map;
  constexpr int kCount = 50'000;
  for (int i = 0; i < kCount; ++i) {
    auto [value, inserted] = map.TryEmplace("lead-" + std::to_string(i), i);
    ASSERT_TRUE(inserted);
    ASSERT_EQ(*value, i);
    // Now and then (and at every step while entries move), all of them so far.
    if (map.moving() > 0 || i % 4096 == 0) {
      for (int j = 0; j <= i; j += 97) {
        const int* found = map.Find(std::string_view("lead-" + std::to_string(j)));
        ASSERT_NE(found, nullptr) << j << " after " << i;
        ASSERT_EQ(*found, j);
      }
    }
  }
  EXPECT_EQ(map.size(), static_cast<size_t>(kCount));
  EXPECT_EQ(map.Find(std::string_view("lead-x")), nullptr);
  EXPECT_FALSE(map.TryEmplace(std::string("lead-7"), 0).second);
  EXPECT_EQ(*map.Find(std::string_view("lead-7")), 7);
}

TEST(IncrementalMapTest, GrowingMovesAFewEntriesAnInsertNotAllAtOnce) {
  using Map = IncrementalMap<uint64_t, uint64_t>;
  Map map;
  size_t largest_backlog = 0;
  size_t grows_seen = 0;
  for (uint64_t i = 0; i < 100'000; ++i) {
    const size_t before = map.moving();
    const size_t buckets_before = map.bucket_count();
    map[i] = i;
    const size_t after = map.moving();
    if (i > 0 && after <= before) {
      // No growth of its own, so no rehash by the standard library either (the first insert
      // sizes the first table).
      EXPECT_EQ(map.bucket_count(), buckets_before) << "rehashed at once, at insert " << i;
    }
    if (after > before) {
      // It just grew: every old entry waits to be moved, none was moved in this insert.
      ++grows_seen;
      EXPECT_EQ(before, 0u) << "grew again before the last growth's entries were moved";
      largest_backlog = std::max(largest_backlog, after);
    } else {
      // A step: at most kMoveStep entries moved.
      EXPECT_LE(before - after, Map::kMoveStep);
    }
  }
  EXPECT_GE(grows_seen, 5u);
  EXPECT_GT(largest_backlog, 10'000u);
}

TEST(IncrementalMapTest, EraseReachesEntriesNotYetMovedAndValuesStayPut) {
  IncrementalMap<uint64_t, std::string> map;
  uint64_t next = 0;
  while (map.moving() == 0 || map.size() < 1000) {
    map[next] = std::to_string(next);
    ++next;
  }
  // Right after a growth: most entries are still in the old table.
  const uint64_t keys = next;
  std::string* eight = map.Find(uint64_t{8});
  ASSERT_NE(eight, nullptr);
  for (uint64_t k = 0; k < keys; k += 2) {
    ASSERT_EQ(map.Erase(k + 1), 1u);
  }
  EXPECT_EQ(map.Erase(uint64_t{1}), 0u);
  EXPECT_EQ(map.size(), static_cast<size_t>((keys + 1) / 2));
  // Inserts move what is left; the value of 8 was never copied.
  for (uint64_t k = keys; map.moving() > 0; ++k) {
    map[k] = std::to_string(k);
  }
  EXPECT_EQ(map.Find(uint64_t{8}), eight);
  EXPECT_EQ(*eight, "8");
  std::set<uint64_t> seen;
  map.ForEach([&](uint64_t k, const std::string& v) {
    EXPECT_EQ(v, std::to_string(k));
    EXPECT_TRUE(seen.insert(k).second) << "visited twice: " << k;
  });
  EXPECT_EQ(seen.size(), map.size());
  for (uint64_t k = 0; k < keys; ++k) {
    EXPECT_EQ(map.Contains(k), k % 2 == 0) << k;
  }
}

TEST(IncrementalMapTest, TakeHandsBackTheValueFromEitherTable) {
  StringIncrementalMap<std::string> map;
  uint64_t next = 0;
  while (map.moving() == 0 || map.size() < 1000) {
    map[std::to_string(next)] = "v" + std::to_string(next);
    ++next;
  }
  // Right after a growth, key 0 is still in the old table and the newest key in the new one.
  const std::string newest = std::to_string(next - 1);
  EXPECT_EQ(map.Take(std::string_view("0")), std::optional<std::string>("v0"));
  EXPECT_EQ(map.Take(std::string_view(newest)), std::optional<std::string>("v" + newest));
  EXPECT_EQ(map.Take(std::string_view("0")), std::nullopt);
  EXPECT_FALSE(map.Contains(std::string_view("0")));
  EXPECT_FALSE(map.Contains(std::string_view(newest)));
  EXPECT_EQ(map.size(), static_cast<size_t>(next - 2));
}

// Once bucket arrays pass kMapAtLeast, each growth finds the next array prepared (written a page
// an insert while the table filled its second half), and the map keeps every entry through the
// growths and through a move.
TEST(IncrementalMapTest, LargeGrowthsTakeAPreparedBucketArray) {
  IncrementalMap<uint64_t, uint64_t> map;
  constexpr uint64_t kCount = 300'000;  // bucket arrays of 1 MiB and more by the end
  size_t growths = 0;
  size_t large_growths = 0;
  size_t buckets = map.bucket_count();
  for (uint64_t i = 0; i < kCount; ++i) {
    ASSERT_TRUE(map.TryEmplace(i, i * 3).second);
    if (map.bucket_count() != buckets) {
      ++growths;
      // The new table's array (the larger part of both tables' buckets).
      if (map.bucket_count() * sizeof(void*) * 2 / 3 >= kMapAtLeast) {
        ++large_growths;
      }
      buckets = map.bucket_count();
    }
  }
  ASSERT_GE(large_growths, 2u) << growths << " growths";
  // The first large growth may come before any preparing (its half of the table was small).
  EXPECT_GE(map.prepared_growths(), large_growths - 1);

  IncrementalMap<uint64_t, uint64_t> moved;
  moved = std::move(map);
  for (uint64_t i = kCount; i < kCount + 100'000; ++i) {
    ASSERT_TRUE(moved.TryEmplace(i, i * 3).second);
  }
  for (uint64_t i = 0; i < kCount + 100'000; ++i) {
    const uint64_t* value = moved.Find(i);
    ASSERT_NE(value, nullptr) << i;
    ASSERT_EQ(*value, i * 3);
  }
}

}  // namespace
}  // namespace handoff
