#include "outbox/recent_records.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace handoff {
namespace {

using Records = std::vector<std::pair<uint64_t, std::string>>;

Records ReadAll(const RecentRecords& recent, uint64_t from, uint64_t last = UINT64_MAX,
                size_t max = 100) {
  Records out;
  EXPECT_TRUE(recent.Read(from, last, max, &out)) << "from " << from;
  return out;
}

TEST(RecentRecordsTest, EmptyHoldsNothing) {
  RecentRecords recent(1000);
  Records out;
  EXPECT_FALSE(recent.Read(1, 10, 10, &out));
  EXPECT_EQ(recent.bytes(), 0u);
}

TEST(RecentRecordsTest, ReadsARangeUpToTheLastSeqAndTheLimit) {
  RecentRecords recent(1000);
  recent.Add(5, "five");
  recent.Add(6, "six");
  recent.Add(7, "seven");
  EXPECT_EQ(ReadAll(recent, 5), (Records{{5, "five"}, {6, "six"}, {7, "seven"}}));
  EXPECT_EQ(ReadAll(recent, 6, 6), (Records{{6, "six"}}));
  EXPECT_EQ(ReadAll(recent, 5, 7, 2), (Records{{5, "five"}, {6, "six"}}));
  EXPECT_TRUE(ReadAll(recent, 8).empty());  // one past the newest: nothing newer exists
  Records out;
  EXPECT_FALSE(recent.Read(4, 7, 10, &out));  // older than held: the store's to answer
  EXPECT_FALSE(recent.Read(9, 10, 10, &out));
  EXPECT_EQ(recent.bytes(), 12u);
}

TEST(RecentRecordsTest, TheOldestLeaveToStayWithinTheBudget) {
  RecentRecords recent(10);
  recent.Add(1, "aaaa");
  recent.Add(2, "bbbb");
  recent.Add(3, "cccc");  // 12 bytes: record 1 leaves
  Records out;
  EXPECT_FALSE(recent.Read(1, 3, 10, &out));
  EXPECT_EQ(ReadAll(recent, 2), (Records{{2, "bbbb"}, {3, "cccc"}}));
  EXPECT_EQ(recent.bytes(), 8u);
}

TEST(RecentRecordsTest, ARecordOverTheBudgetEmptiesIt) {
  RecentRecords recent(4);
  recent.Add(1, "ab");
  recent.Add(2, "too long");
  Records out;
  EXPECT_FALSE(recent.Read(1, 2, 10, &out));
  EXPECT_FALSE(recent.Read(2, 2, 10, &out));
  recent.Add(3, "cd");
  EXPECT_EQ(ReadAll(recent, 3), (Records{{3, "cd"}}));
}

TEST(RecentRecordsTest, ASeqOutOfTurnStartsAgain) {
  RecentRecords recent(100);
  recent.Add(1, "a");
  recent.Add(2, "b");
  recent.Add(7, "g");
  Records out;
  EXPECT_FALSE(recent.Read(1, 7, 10, &out));
  EXPECT_EQ(ReadAll(recent, 7), (Records{{7, "g"}}));
}

TEST(RecentRecordsTest, DropBeforeForgetsTrimmedRecords) {
  RecentRecords recent(100);
  for (uint64_t seq = 1; seq <= 4; ++seq) {
    recent.Add(seq, std::to_string(seq));
  }
  recent.DropBefore(3);
  Records out;
  EXPECT_FALSE(recent.Read(2, 4, 10, &out));
  EXPECT_EQ(ReadAll(recent, 3), (Records{{3, "3"}, {4, "4"}}));
  recent.DropBefore(0);  // the store holds none
  EXPECT_FALSE(recent.Read(3, 4, 10, &out));
  EXPECT_EQ(recent.bytes(), 0u);
  recent.Add(5, "5");
  EXPECT_EQ(ReadAll(recent, 5), (Records{{5, "5"}}));
}

// The engine adds while subscribers read on other threads: every record read is the one of its
// seq, in order, whatever was dropped meanwhile.
TEST(RecentRecordsTest, ReadersOnOtherThreadsSeeWholeRecords) {
  RecentRecords recent(64);
  std::atomic<uint64_t> head{0};
  std::atomic<bool> done{false};
  std::thread reader([&] {
    Records out;
    while (!done.load()) {
      const uint64_t last = head.load();
      for (uint64_t from = last > 5 ? last - 5 : 1; from <= last; ++from) {
        if (!recent.Read(from, last, 3, &out)) {
          continue;
        }
        uint64_t expect = from;
        for (const auto& [seq, bytes] : out) {
          ASSERT_EQ(seq, expect++);
          ASSERT_EQ(bytes, "record-" + std::to_string(seq));
          ASSERT_LE(seq, last);
        }
      }
    }
  });
  for (uint64_t seq = 1; seq <= 20000; ++seq) {
    recent.Add(seq, "record-" + std::to_string(seq));
    head.store(seq);
  }
  done.store(true);
  reader.join();
}

}  // namespace
}  // namespace handoff
