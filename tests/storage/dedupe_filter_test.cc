#include "storage/dedupe_filter.h"

#include <gtest/gtest.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <memory>
#include <set>
#include <string>

#include "storage/store_format.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

constexpr EpochSeconds kT0 = 1'800'000'000;
constexpr double kWindow = 100;

std::string TimeValue(EpochSeconds t) {
  std::string value;
  store_format::AppendTime(t, &value);
  return value;
}

std::unique_ptr<rocksdb::CompactionFilter> NewFilter(rocksdb::CompactionFilterFactory* factory) {
  rocksdb::CompactionFilter::Context context{};
  context.reason = rocksdb::TableFileCreationReason::kCompaction;
  return factory->CreateCompactionFilter(context);
}

// True when the filter drops the entry. Goes through FilterV2, the entry point RocksDB calls, so
// the test sees what RocksDB sees.
bool Drops(const rocksdb::CompactionFilter& filter, const std::string& value) {
  std::string new_value;
  std::string skip_until;
  const auto decision =
      filter.FilterV2(/*level=*/1, "message-id", rocksdb::CompactionFilter::ValueType::kValue,
                      value, &new_value, &skip_until);
  EXPECT_TRUE(decision == rocksdb::CompactionFilter::Decision::kKeep ||
              decision == rocksdb::CompactionFilter::Decision::kRemove)
      << "the filter never rewrites a value";
  return decision == rocksdb::CompactionFilter::Decision::kRemove;
}

TEST(DedupeFilterTest, DropsIdsOutsideTheWindowOnly) {
  ManualClock clock(kT0);
  auto factory = NewDedupeFilterFactory(&clock, kWindow);
  auto filter = NewFilter(factory.get());
  EXPECT_FALSE(Drops(*filter, TimeValue(kT0)));
  EXPECT_FALSE(Drops(*filter, TimeValue(kT0 - kWindow + 0.001)));
  EXPECT_TRUE(Drops(*filter, TimeValue(kT0 - kWindow - 0.001)));
  EXPECT_TRUE(Drops(*filter, TimeValue(kT0 - 10 * kWindow)));
  EXPECT_TRUE(Drops(*filter, TimeValue(0)));
  // Received "in the future" (a clock step back): still remembered.
  EXPECT_FALSE(Drops(*filter, TimeValue(kT0 + 5000)));
}

// The same boundary as lookups (store_format::DedupeExpired): exactly `window` old is forgotten.
TEST(DedupeFilterTest, ExactlyTheWindowOldIsExpired) {
  ManualClock clock(kT0);
  auto factory = NewDedupeFilterFactory(&clock, kWindow);
  auto filter = NewFilter(factory.get());
  ASSERT_TRUE(store_format::DedupeExpired(kT0 - kWindow, kT0, kWindow));
  EXPECT_TRUE(Drops(*filter, TimeValue(kT0 - kWindow)));
}

TEST(DedupeFilterTest, ZeroWindowForgetsEverythingAlreadyReceived) {
  ManualClock clock(kT0);
  auto factory = NewDedupeFilterFactory(&clock, 0);
  auto filter = NewFilter(factory.get());
  EXPECT_TRUE(Drops(*filter, TimeValue(kT0)));
  EXPECT_TRUE(Drops(*filter, TimeValue(kT0 - 1)));
  EXPECT_FALSE(Drops(*filter, TimeValue(kT0 + 1)));
}

// A value too short to hold a time is kept: the store reports it as Corruption on lookup, and
// dropping it would destroy the evidence. A longer value (a dedupe-log block: its time, then its
// ids' hashes) goes by the time it starts with.
TEST(DedupeFilterTest, KeepsValuesThatAreNotATimeAndJudgesBlocksByTheirTime) {
  ManualClock clock(kT0);
  auto factory = NewDedupeFilterFactory(&clock, kWindow);
  auto filter = NewFilter(factory.get());
  const std::string old = TimeValue(0);  // long expired, were it well-formed
  EXPECT_FALSE(Drops(*filter, ""));
  EXPECT_FALSE(Drops(*filter, old.substr(0, 1)));
  EXPECT_FALSE(Drops(*filter, old.substr(0, store_format::kTimeSize - 1)));
  EXPECT_TRUE(Drops(*filter, old + "hashes"));
  EXPECT_FALSE(Drops(*filter, TimeValue(kT0 - 1) + "hashes"));
}

// One job, one cut-off: the clock is read when the filter is made, not per entry, so a long
// compaction does not apply two different "now"s.
TEST(DedupeFilterTest, EachFilterReadsTheClockOnceWhenMade) {
  ManualClock clock(kT0);
  auto factory = NewDedupeFilterFactory(&clock, kWindow);
  auto before = NewFilter(factory.get());
  clock.Advance(10 * kWindow);
  EXPECT_FALSE(Drops(*before, TimeValue(kT0)));  // still judged at kT0
  auto after = NewFilter(factory.get());
  EXPECT_TRUE(Drops(*after, TimeValue(kT0)));
}

// Every table file RocksDB writes, so an id that expired in the memtable never reaches disk.
TEST(DedupeFilterTest, FiltersEveryKindOfTableFile) {
  ManualClock clock(kT0);
  auto factory = NewDedupeFilterFactory(&clock, kWindow);
  for (auto reason :
       {rocksdb::TableFileCreationReason::kFlush, rocksdb::TableFileCreationReason::kCompaction,
        rocksdb::TableFileCreationReason::kRecovery, rocksdb::TableFileCreationReason::kMisc}) {
    EXPECT_TRUE(factory->ShouldFilterTableFileCreation(reason)) << static_cast<int>(reason);
  }
  EXPECT_STRNE(factory->Name(), "");
  EXPECT_STRNE(NewFilter(factory.get())->Name(), "");
}

// Installed in a real RocksDB: expired ids go at flush and at compaction, the others stay.
class DedupeFilterDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.compaction_filter_factory = NewDedupeFilterFactory(&clock_, kWindow);
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options, dir_.path() + "/db", &db);
    ASSERT_TRUE(s.ok()) << s.ToString();
    db_.reset(db);
  }

  void Put(const std::string& key, const std::string& value) {
    rocksdb::Status s = db_->Put(rocksdb::WriteOptions(), key, value);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  void Flush() {
    rocksdb::Status s = db_->Flush(rocksdb::FlushOptions());
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  void CompactAll() {
    rocksdb::CompactRangeOptions compact;
    compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    rocksdb::Status s = db_->CompactRange(compact, nullptr, nullptr);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  std::set<std::string> Keys() {
    std::set<std::string> keys;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      keys.insert(it->key().ToString());
    }
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    return keys;
  }

  testing::TempDir dir_;
  ManualClock clock_{kT0};
  std::unique_ptr<rocksdb::DB> db_;
};

TEST_F(DedupeFilterDbTest, FlushDropsIdsThatExpiredInTheMemtable) {
  Put("expired", TimeValue(kT0 - 2 * kWindow));
  Put("fresh", TimeValue(kT0 - 1));
  Put("garbage", "not a time");
  Flush();
  EXPECT_EQ(Keys(), (std::set<std::string>{"fresh", "garbage"}));
}

TEST_F(DedupeFilterDbTest, CompactionDropsIdsThatExpiredOnDisk) {
  Put("a", TimeValue(kT0));
  Put("b", TimeValue(kT0 + 50));
  Put("garbage", "xyz");
  Flush();
  EXPECT_EQ(Keys(), (std::set<std::string>{"a", "b", "garbage"}));
  clock_.Set(kT0 + kWindow + 1);  // "a" is now expired, "b" not yet
  CompactAll();
  EXPECT_EQ(Keys(), (std::set<std::string>{"b", "garbage"}));
  clock_.Set(kT0 + 50 + kWindow);
  CompactAll();
  EXPECT_EQ(Keys(), (std::set<std::string>{"garbage"}));
}

}  // namespace
}  // namespace handoff
