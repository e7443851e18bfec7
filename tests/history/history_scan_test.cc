#include "history/history_scan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "history/history_log.h"
#include "storage/store_format.h"
#include "tests/core/memory_store.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

using handoff::testing::MemoryStore;

constexpr EpochSeconds kT0 = 1'800'000'000;

Event Track(const std::string& user, const std::string& message_id) {
  Event e;
  e.type = EventType::kTrack;
  e.user_id = user;
  e.name = "Click";
  e.has_name = true;
  e.message_id = message_id;
  e.timestamp = kT0;
  e.has_timestamp = true;
  return e;
}

class HistoryScanTest : public ::testing::Test {
 protected:
  HistoryScanTest() : log_(&store_, true) { EXPECT_OK(log_.Restore()); }

  void Add(HistoryChain* chain, const std::string& message_id) {
    log_.Append(chain, kT0 + static_cast<double>(log_.next_apply_seq()),
                Track(chain->lead, message_id), {{"click", 1}});
  }
  void CommitBlock() {
    CommitBatch batch;
    log_.Flush(&batch, kT0);
    ASSERT_OK(store_.Commit(&batch));
  }
  std::vector<std::string> Scan(HistoryScan::Stats* stats = nullptr,
                                std::vector<double>* progress = nullptr, size_t stop_after = 0) {
    std::unique_ptr<StoreSnapshot> snapshot = store_.Snapshot();
    HistoryScan scan(snapshot.get());
    std::vector<std::string> ids;
    EXPECT_OK(scan.ForEach(
        [&](const HistoryEntry& e) {
          ids.push_back(e.lead + ":" + e.event.message_id);
          return stop_after == 0 || ids.size() < stop_after;
        },
        [&](double p) {
          if (progress != nullptr) {
            progress->push_back(p);
          }
        }));
    if (stats != nullptr) {
      *stats = scan.stats();
    }
    return ids;
  }

  MemoryStore store_;
  HistoryLog log_;
};

TEST_F(HistoryScanTest, EveryLeadsEntriesInApplyOrderAcrossBucketsAndBlocks) {
  // Leads whose ids fall in different buckets, interleaved within each block.
  std::vector<HistoryChain> chains;
  for (const char* id : {"ann", "bob", "cy", "dee", "eve"}) {
    chains.push_back({id, 0});
  }
  ASSERT_GT(HistoryLog::BucketOf("ann") != HistoryLog::BucketOf("bob") ? 1 : 0, 0);
  std::vector<std::string> expected;
  for (int block = 0; block < 3; ++block) {
    for (int i = 0; i < 4; ++i) {
      for (HistoryChain& c : chains) {
        const std::string id = "m" + std::to_string(block) + "-" + std::to_string(i);
        Add(&c, id);
        expected.push_back(c.lead + ":" + id);
      }
    }
    CommitBlock();
  }
  HistoryScan::Stats stats;
  std::vector<double> progress;
  EXPECT_EQ(Scan(&stats, &progress), expected);
  EXPECT_EQ(stats.blocks, 3u);
  EXPECT_EQ(stats.entries, expected.size());
  EXPECT_EQ(stats.undecodable, 0u);
  ASSERT_EQ(progress.size(), 3u);
  EXPECT_DOUBLE_EQ(progress.back(), 1.0);
}

TEST_F(HistoryScanTest, StopsWhenAsked) {
  HistoryChain a{"a", 0};
  for (int i = 0; i < 10; ++i) {
    Add(&a, "m" + std::to_string(i));
  }
  CommitBlock();
  EXPECT_EQ(Scan(nullptr, nullptr, 3).size(), 3u);
}

TEST_F(HistoryScanTest, ABucketThatDoesNotDecodeIsSkippedAndCounted) {
  HistoryChain a{"a", 0};
  Add(&a, "m1");
  CommitBlock();
  CommitBatch batch;
  std::string garbage;
  store_format::AppendTime(kT0, &garbage);
  garbage += "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01";
  batch.PutHistory(store_format::HistoryKey(9, 3), garbage);
  ASSERT_OK(store_.Commit(&batch));
  HistoryScan::Stats stats;
  EXPECT_EQ(Scan(&stats), std::vector<std::string>{"a:m1"});
  EXPECT_EQ(stats.undecodable, 1u);
}

TEST_F(HistoryScanTest, AnEmptyLogIsNoEntries) { EXPECT_TRUE(Scan().empty()); }

}  // namespace
}  // namespace handoff
