#include "history/history_log.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tests/core/memory_store.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

using handoff::testing::MemoryStore;

constexpr EpochSeconds kT0 = 1'800'000'000;

Event Page(const std::string& user, const std::string& message_id, EpochSeconds at) {
  Event e;
  e.type = EventType::kPage;
  e.user_id = user;
  e.message_id = message_id;
  e.timestamp = at;
  e.has_timestamp = true;
  e.properties = Value::MakeObject();
  e.properties.Set("path", Value::String("/pricing"));
  return e;
}

class HistoryLogTest : public ::testing::Test {
 protected:
  HistoryLogTest() : log_(&store_, true) { EXPECT_OK(log_.Restore()); }

  void Add(HistoryChain* chain, const std::string& message_id, double points = 10) {
    log_.Append(chain, kT0, Page(chain->lead, message_id, kT0), {{"pricing-page", points}});
  }
  void CommitBlock(EpochSeconds at = kT0) {
    CommitBatch batch;
    log_.Flush(&batch, at);
    ASSERT_OK(store_.Commit(&batch));
  }
  std::vector<std::string> Ids(const std::vector<HistoryChain>& chains) {
    std::vector<HistoryEntry> entries;
    EXPECT_OK(log_.Read(chains, &entries));
    std::vector<std::string> ids;
    for (const HistoryEntry& e : entries) {
      ids.push_back(e.event.message_id);
    }
    return ids;
  }

  MemoryStore store_;
  HistoryLog log_;
};

TEST_F(HistoryLogTest, AChainReadsBackInApplyOrderAcrossBlocksAndBeforeTheCommit) {
  HistoryChain a{"a", 0};
  HistoryChain b{"b", 0};
  Add(&a, "a1");
  Add(&b, "b1");
  Add(&a, "a2");
  CommitBlock();
  Add(&b, "b2");
  CommitBlock();
  Add(&a, "a3");  // not flushed yet: still read
  EXPECT_EQ(Ids({a}), (std::vector<std::string>{"a1", "a2", "a3"}));
  EXPECT_EQ(Ids({b}), (std::vector<std::string>{"b1", "b2"}));
  // Two chains (a merged lead) read as one history in apply order.
  EXPECT_EQ(Ids({a, b}), (std::vector<std::string>{"a1", "b1", "a2", "b2", "a3"}));

  std::vector<HistoryEntry> entries;
  ASSERT_OK(log_.Read({a}, &entries));
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].apply_seq, 1u);
  EXPECT_EQ(entries[0].lead, "a");
  EXPECT_EQ(entries[0].event.properties.Find("path")->as_string(), "/pricing");
  ASSERT_EQ(entries[0].awards.size(), 1u);
  EXPECT_EQ(entries[0].awards[0].first, "pricing-page");
  EXPECT_EQ(entries[0].awards[0].second, 10);
}

TEST_F(HistoryLogTest, OneCommitWritesAtMostOneValuePerBucket) {
  std::vector<HistoryChain> chains;
  for (int i = 0; i < 2000; ++i) {
    chains.push_back(HistoryChain{"lead-" + std::to_string(i), 0});
  }
  for (HistoryChain& c : chains) {
    Add(&c, c.lead + "-1");
    Add(&c, c.lead + "-2");
  }
  CommitBlock();
  EXPECT_LE(store_.history_buckets(), HistoryLog::kBuckets);
  EXPECT_EQ(Ids({chains[1234]}), (std::vector<std::string>{"lead-1234-1", "lead-1234-2"}));
}

TEST_F(HistoryLogTest, ARestartResumesBlocksAndApplySeqs) {
  HistoryChain a{"a", 0};
  Add(&a, "a1");
  CommitBlock();
  HistoryLog again(&store_, true);
  ASSERT_OK(again.Restore());
  EXPECT_EQ(again.next_apply_seq(), 2u);
  again.Append(&a, kT0, Page("a", "a2", kT0), {});
  CommitBatch batch;
  again.Flush(&batch, kT0);
  ASSERT_OK(store_.Commit(&batch));
  std::vector<HistoryEntry> entries;
  ASSERT_OK(again.Read({a}, &entries));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].apply_seq, 2u);
}

// Cluster mode gives each entry its place in the event log: a partition rebuilt after a takeover
// appends entries that belong before ones already there, and two chains still read back in the
// log's order (a merge of leads from two partitions).
TEST_F(HistoryLogTest, GivenApplySeqsOrderTheHistoryWhateverTheAppendOrder) {
  HistoryChain a{"a", 0};
  HistoryChain b{"b", 0};
  log_.Append(&a, kT0, Page("a", "a-at-20", kT0), {}, 20);
  log_.Append(&a, kT0, Page("a", "a-at-40", kT0), {}, 40);
  CommitBlock();
  // Rebuilt later, from earlier in the log.
  log_.Append(&b, kT0, Page("b", "b-at-10", kT0), {}, 10);
  log_.Append(&b, kT0, Page("b", "b-at-30", kT0), {}, 30);
  CommitBlock();
  EXPECT_EQ(Ids({a, b}), (std::vector<std::string>{"b-at-10", "a-at-20", "b-at-30", "a-at-40"}));
  // A locally numbered entry comes after every given one.
  EXPECT_EQ(log_.next_apply_seq(), 41u);
  EXPECT_EQ(log_.Append(&a, kT0, Page("a", "a-local", kT0), {}), 41u);
}

TEST_F(HistoryLogTest, EraseRemovesOnlyThatLeadsEntries) {
  HistoryChain a{"a", 0};
  HistoryChain b{"b", 0};
  Add(&a, "a1");
  Add(&b, "b1");
  CommitBlock();
  Add(&a, "a2");
  Add(&b, "b2");
  CommitBlock();
  Add(&a, "a3");
  CommitBatch batch;
  ASSERT_OK(log_.Erase({a}, &batch));
  log_.Flush(&batch, kT0);
  ASSERT_OK(store_.Commit(&batch));
  EXPECT_TRUE(Ids({a}).empty());
  EXPECT_EQ(Ids({b}), (std::vector<std::string>{"b1", "b2"}));
}

// A merge gives entries the points its replay awarded them: only the named entries change, in
// their blocks (stored or still pending), and another lead sharing their buckets keeps its own.
TEST_F(HistoryLogTest, RewriteAwardsChangesOnlyTheNamedEntriesInPlace) {
  HistoryChain a{"a", 0};
  HistoryChain b{"b", 0};
  Add(&a, "a1");
  Add(&b, "b1");
  CommitBlock();
  Add(&a, "a2");
  std::vector<HistoryEntry> entries;
  ASSERT_OK(log_.Read({a}, &entries));
  ASSERT_EQ(entries.size(), 2u);
  std::unordered_map<uint64_t, LoggedAwards> awards;
  awards[entries[0].apply_seq] = {{"pricing-page", 5}, {"other", 1}};
  awards[entries[1].apply_seq] = {};  // a once rule that had paid already: nothing
  CommitBatch batch;
  ASSERT_OK(log_.RewriteAwards({a}, awards, &batch));
  log_.Flush(&batch, kT0);
  ASSERT_OK(store_.Commit(&batch));
  ASSERT_OK(log_.Read({a}, &entries));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].event.message_id, "a1");
  EXPECT_EQ(entries[0].awards,
            (std::vector<std::pair<std::string, double>>{{"pricing-page", 5}, {"other", 1}}));
  EXPECT_EQ(entries[1].event.message_id, "a2");
  EXPECT_TRUE(entries[1].awards.empty());
  ASSERT_OK(log_.Read({b}, &entries));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].awards, (std::vector<std::pair<std::string, double>>{{"pricing-page", 10}}));
  // The chain still links the blocks: a later entry reads back with the rewritten ones.
  Add(&a, "a3");
  CommitBlock();
  EXPECT_EQ(Ids({a}), (std::vector<std::string>{"a1", "a2", "a3"}));
}

// Two merges in one group commit whose leads share a bucket of a stored block: the second edit
// starts from the first one's bucket (in the batch, not yet in the store), so neither undoes the
// other, and a read between them sees the first.
TEST_F(HistoryLogTest, EditsOfOneBucketInOneBatchBuildOnEachOther) {
  HistoryChain a{"a", 0};
  std::string other = "b";
  for (int i = 0; HistoryLog::BucketOf(other) != HistoryLog::BucketOf(a.lead); ++i) {
    other = "b" + std::to_string(i);
  }
  HistoryChain b{other, 0};
  Add(&a, "a1");
  Add(&b, "b1");
  HistoryChain c{"c", 0};
  Add(&c, "c1");
  CommitBlock();
  std::vector<HistoryEntry> entries;
  ASSERT_OK(log_.Read({a}, &entries));
  ASSERT_EQ(entries.size(), 1u);
  std::unordered_map<uint64_t, LoggedAwards> awards;
  awards[entries[0].apply_seq] = {};

  CommitBatch batch;
  ASSERT_OK(log_.RewriteAwards({a}, awards, &batch));
  ASSERT_OK(log_.Read({a}, &entries));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_TRUE(entries[0].awards.empty());
  ASSERT_OK(log_.Read({b}, &entries));
  ASSERT_EQ(entries.size(), 1u);
  awards.clear();
  awards[entries[0].apply_seq] = {{"pricing-page", 3}};
  ASSERT_OK(log_.RewriteAwards({b}, awards, &batch));
  ASSERT_OK(log_.Erase({c}, &batch));
  log_.Flush(&batch, kT0);
  ASSERT_OK(store_.Commit(&batch));

  ASSERT_OK(log_.Read({a}, &entries));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_TRUE(entries[0].awards.empty()) << "the second rewrite put a's old points back";
  ASSERT_OK(log_.Read({b}, &entries));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].awards, (std::vector<std::pair<std::string, double>>{{"pricing-page", 3}}));
  EXPECT_TRUE(Ids({c}).empty());

  // An erase, then a rewrite of the same bucket in the next batch: the erased lead stays gone.
  CommitBatch next;
  ASSERT_OK(log_.Erase({b}, &next));
  EXPECT_TRUE(Ids({b}).empty());
  awards.clear();
  ASSERT_OK(log_.Read({a}, &entries));
  awards[entries[0].apply_seq] = {{"pricing-page", 4}};
  ASSERT_OK(log_.RewriteAwards({a}, awards, &next));
  log_.Flush(&next, kT0);
  ASSERT_OK(store_.Commit(&next));
  EXPECT_TRUE(Ids({b}).empty());
  ASSERT_OK(log_.Read({a}, &entries));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].awards, (std::vector<std::pair<std::string, double>>{{"pricing-page", 4}}));
}

// The pending buckets keep their memory from block to block: each block holds only its own
// entries, and a bucket an erase emptied is not written.
TEST_F(HistoryLogTest, EachBlockHoldsOnlyItsOwnEntries) {
  std::vector<HistoryChain> chains;
  for (int i = 0; i < 600; ++i) {
    chains.push_back(HistoryChain{"lead-" + std::to_string(i), 0});
  }
  for (HistoryChain& c : chains) {
    Add(&c, c.lead + "-1");
  }
  CommitBlock();
  const size_t first_block = store_.history_buckets();

  HistoryChain& x = chains[7];
  Add(&x, "x-2");
  CommitBatch batch;
  ASSERT_OK(log_.Erase({x}, &batch));
  log_.Flush(&batch, kT0);  // x's pending bucket is empty: nothing new is written
  ASSERT_OK(store_.Commit(&batch));
  EXPECT_TRUE(Ids({x}).empty());

  HistoryChain& y = chains[8];
  Add(&y, "y-2");
  CommitBlock();
  EXPECT_EQ(store_.history_buckets(), first_block + 1);
  EXPECT_EQ(Ids({y}), (std::vector<std::string>{"lead-8-1", "y-2"}));
  EXPECT_EQ(Ids({chains[9]}), (std::vector<std::string>{"lead-9-1"}));
}

TEST_F(HistoryLogTest, ATrimmedBlockEndsTheChain) {
  HistoryChain a{"a", 0};
  Add(&a, "old");
  CommitBlock(kT0 - 100 * 86400);
  Add(&a, "new");
  CommitBlock(kT0);
  ASSERT_OK(log_.Trim(kT0 - 90 * 86400));
  EXPECT_EQ(Ids({a}), (std::vector<std::string>{"new"}));
  // The read says which chain was cut (a merge then starts from that lead's state).
  HistoryChain b{"b", 0};
  Add(&b, "b1");
  CommitBlock(kT0);
  std::vector<HistoryEntry> entries;
  std::vector<bool> cut;
  ASSERT_OK(log_.Read({a, b}, &entries, &cut));
  EXPECT_EQ(entries.size(), 2u);
  EXPECT_EQ(cut, (std::vector<bool>{true, false}));
}

TEST_F(HistoryLogTest, DisabledRecordsNothingButCountsApplySeqs) {
  HistoryLog off(&store_, false);
  ASSERT_OK(off.Restore());
  HistoryChain a{"a", 0};
  EXPECT_EQ(off.Append(&a, kT0, Page("a", "m", kT0), {}), 1u);
  EXPECT_EQ(a.head, 0u);
  CommitBatch batch;
  off.Flush(&batch, kT0);
  ASSERT_OK(store_.Commit(&batch));
  EXPECT_EQ(store_.history_buckets(), 0u);
}

}  // namespace
}  // namespace handoff
