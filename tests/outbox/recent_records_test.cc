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

// Stages one record and publishes it, as a commit of one record.
void AddOne(RecentRecords& recent, uint64_t seq, std::string record) {
  recent.Stage(seq, std::move(record));
  recent.Publish();
}

// Stages records first_seq, first_seq + 1, ... and publishes them, as one commit.
void AddRun(RecentRecords& recent, uint64_t first_seq, const std::vector<std::string>& run) {
  for (const std::string& record : run) {
    recent.Stage(first_seq++, record);
  }
  recent.Publish();
}

// The budget that holds `bytes` of records in `records` records exactly.
size_t BudgetFor(size_t bytes, size_t records) {
  return bytes + records * RecentRecords::kRecordOverheadBytes;
}

Records ReadAll(const RecentRecords& recent, uint64_t from, uint64_t last = UINT64_MAX,
                size_t max = 100) {
  Records out;
  EXPECT_TRUE(recent.Read(from, last, max, &out)) << "from " << from;
  return out;
}

TEST(RecentRecordsTest, EmptyHoldsNothing) {
  RecentRecords recent(BudgetFor(1000, 10));
  Records out;
  EXPECT_FALSE(recent.Read(1, 10, 10, &out));
  EXPECT_EQ(recent.bytes(), 0u);
}

TEST(RecentRecordsTest, ReadsARangeUpToTheLastSeqAndTheLimit) {
  RecentRecords recent(BudgetFor(1000, 10));
  AddOne(recent, 5, "five");
  AddOne(recent, 6, "six");
  AddOne(recent, 7, "seven");
  EXPECT_EQ(ReadAll(recent, 5), (Records{{5, "five"}, {6, "six"}, {7, "seven"}}));
  EXPECT_EQ(ReadAll(recent, 6, 6), (Records{{6, "six"}}));
  EXPECT_EQ(ReadAll(recent, 5, 7, 2), (Records{{5, "five"}, {6, "six"}}));
  EXPECT_TRUE(ReadAll(recent, 8).empty());  // one past the newest: nothing newer exists
  Records out;
  EXPECT_FALSE(recent.Read(4, 7, 10, &out));  // older than held: the store's to answer
  EXPECT_FALSE(recent.Read(9, 10, 10, &out));
  EXPECT_EQ(recent.bytes(), BudgetFor(12, 3));
}

TEST(RecentRecordsTest, TheOldestLeaveToStayWithinTheBudget) {
  RecentRecords recent(BudgetFor(10, 2));
  AddOne(recent, 1, "aaaa");
  AddOne(recent, 2, "bbbb");
  AddOne(recent, 3, "cccc");  // three records over the budget of two: record 1 leaves
  Records out;
  EXPECT_FALSE(recent.Read(1, 3, 10, &out));
  EXPECT_EQ(ReadAll(recent, 2), (Records{{2, "bbbb"}, {3, "cccc"}}));
  EXPECT_EQ(recent.bytes(), BudgetFor(8, 2));
}

TEST(RecentRecordsTest, ARecordOverTheBudgetEmptiesIt) {
  RecentRecords recent(BudgetFor(4, 1));
  AddOne(recent, 1, "ab");
  AddOne(recent, 2, "too long");
  Records out;
  EXPECT_FALSE(recent.Read(1, 2, 10, &out));
  EXPECT_FALSE(recent.Read(2, 2, 10, &out));
  AddOne(recent, 3, "cd");
  EXPECT_EQ(ReadAll(recent, 3), (Records{{3, "cd"}}));
}

TEST(RecentRecordsTest, ASeqOutOfTurnStartsAgain) {
  RecentRecords recent(BudgetFor(100, 10));
  AddOne(recent, 1, "a");
  AddOne(recent, 2, "b");
  AddOne(recent, 7, "g");
  Records out;
  EXPECT_FALSE(recent.Read(1, 7, 10, &out));
  EXPECT_EQ(ReadAll(recent, 7), (Records{{7, "g"}}));
}

TEST(RecentRecordsTest, DropBeforeForgetsTrimmedRecords) {
  RecentRecords recent(BudgetFor(100, 10));
  for (uint64_t seq = 1; seq <= 4; ++seq) {
    AddOne(recent, seq, std::to_string(seq));
  }
  recent.DropBefore(3);
  Records out;
  EXPECT_FALSE(recent.Read(2, 4, 10, &out));
  EXPECT_EQ(ReadAll(recent, 3), (Records{{3, "3"}, {4, "4"}}));
  recent.DropBefore(0);  // the store holds none
  EXPECT_FALSE(recent.Read(3, 4, 10, &out));
  EXPECT_EQ(recent.bytes(), 0u);
  AddOne(recent, 5, "5");
  EXPECT_EQ(ReadAll(recent, 5), (Records{{5, "5"}}));
}

TEST(RecentRecordsTest, ARunIsHeldAsConsecutiveSeqs) {
  RecentRecords recent(BudgetFor(12, 3));
  AddRun(recent, 10, {"a", "b", "c"});
  EXPECT_EQ(ReadAll(recent, 10), (Records{{10, "a"}, {11, "b"}, {12, "c"}}));
  // Over the budget together with what is held: the oldest leave.
  AddRun(recent, 13, {"dddd", "eeee"});
  EXPECT_EQ(ReadAll(recent, 12), (Records{{12, "c"}, {13, "dddd"}, {14, "eeee"}}));
  EXPECT_EQ(recent.bytes(), BudgetFor(9, 3));
  // A record too big to hold empties the cache: what follows it in the run is held from its seq.
  AddRun(recent, 15, {"f", std::string(100, 'g'), "h", "i"});
  Records out;
  EXPECT_FALSE(recent.Read(14, 18, 10, &out));
  EXPECT_FALSE(recent.Read(15, 18, 10, &out));
  EXPECT_FALSE(recent.Read(16, 18, 10, &out));
  EXPECT_EQ(ReadAll(recent, 17), (Records{{17, "h"}, {18, "i"}}));
  // ... also when it is the run's last: nothing held may look like the newest record.
  AddRun(recent, 19, {"j", std::string(100, 'k')});
  EXPECT_FALSE(recent.Read(19, 20, 10, &out));
  EXPECT_FALSE(recent.Read(20, 20, 10, &out));
  EXPECT_EQ(recent.bytes(), 0u);
  AddRun(recent, 30, {"x"});  // out of turn
  EXPECT_EQ(ReadAll(recent, 30), (Records{{30, "x"}}));
}

// Staged records are not read before Publish; a run bigger than the budget keeps only its
// newest records, held after a gap from what was held before.
TEST(RecentRecordsTest, OnlyPublishedRecordsAreReadAndABigRunKeepsItsNewest) {
  RecentRecords recent(BudgetFor(3, 3));
  AddRun(recent, 1, {"a"});
  recent.Stage(2, "b");
  Records out;
  EXPECT_EQ(ReadAll(recent, 1), (Records{{1, "a"}}));
  EXPECT_EQ(recent.bytes(), BudgetFor(1, 1));
  recent.Publish();
  EXPECT_EQ(ReadAll(recent, 1), (Records{{1, "a"}, {2, "b"}}));
  AddRun(recent, 3, {"c", "d", "e", "f", "g"});  // five records, room for three
  EXPECT_FALSE(recent.Read(2, 7, 10, &out));
  EXPECT_FALSE(recent.Read(4, 7, 10, &out));
  EXPECT_EQ(ReadAll(recent, 5), (Records{{5, "e"}, {6, "f"}, {7, "g"}}));
  EXPECT_EQ(recent.bytes(), BudgetFor(3, 3));
}

// The engine adds while subscribers read on other threads: every record read is the one of its
// seq, in order, whatever was dropped meanwhile.
TEST(RecentRecordsTest, ReadersOnOtherThreadsSeeWholeRecords) {
  RecentRecords recent(BudgetFor(64, 4));
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
  for (uint64_t seq = 1; seq <= 20000;) {
    for (uint64_t n = 1 + seq % 3; n > 0; --n, ++seq) {  // runs of 1-3 records, as commits are
      recent.Stage(seq, "record-" + std::to_string(seq));
    }
    recent.Publish();
    head.store(seq - 1);
  }
  done.store(true);
  reader.join();
}

}  // namespace
}  // namespace handoff
