#include "storage/rocks_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include "storage/fault_injection_fs.h"
#include "storage/store_format.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

constexpr EpochSeconds kT0 = 1'800'000'000;  // a fixed "now" for the manual clock

class StoreTest : public ::testing::Test {
 protected:
  StoreOptions Options() const {
    StoreOptions options;
    options.path = dir_.path() + "/data";
    options.clock = &clock_;
    options.dedupe_window = 100;
    options.outbox_retention = 1000;
    return options;
  }

  std::unique_ptr<RocksStore> OpenStore(const StoreOptions& options) {
    auto store = RocksStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }
  std::unique_ptr<RocksStore> OpenStore() { return OpenStore(Options()); }

  // Counts the entries physically present in the dedupe column family, bypassing the store's
  // expiry logic: proof that the compaction filter removed them, not just that lookups hide them.
  size_t RawDedupeCount() {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {store_format::kDedupe, rocksdb::ColumnFamilyOptions()}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    rocksdb::Status s =
        rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), Options().path, cfs, &handles, &db);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) {
      return 0;
    }
    size_t count = 0;
    {
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[1]));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        ++count;
      }
      EXPECT_TRUE(it->status().ok());
    }
    for (auto* h : handles) {
      EXPECT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    }
    delete db;
    return count;
  }

  bool Seen(const RocksStore& store, std::string_view id, EpochSeconds now) {
    Result<bool> seen = store.SeenMessage(id, now);
    EXPECT_TRUE(seen.ok()) << seen.status().ToString();
    return seen.ok() && *seen;
  }

  static std::vector<std::pair<uint64_t, std::string>> ReadAll(const Store& store, uint64_t from) {
    std::vector<std::pair<uint64_t, std::string>> out;
    EXPECT_OK(store.ReadOutbox(from, UINT64_MAX, 1'000'000, &out));
    return out;
  }

  testing::TempDir dir_;
  ManualClock clock_{kT0};
};

TEST_F(StoreTest, CommitThenReopenKeepsEverything) {
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    CommitBatch batch;
    batch.PutLead("u1", "state-1");
    batch.PutLead("u2", std::string("bin\0ary", 7));
    batch.PutDedupe("m-1", kT0);
    batch.PutOutbox(1, kT0, R"({"seq":1,"kind":"stage"})");
    batch.PutOutbox(2, kT0, R"({"seq":2,"kind":"routed"})");
    batch.PutMeta("rules.version", "7");
    batch.PutMeta("outbox.next_seq", "3");
    EXPECT_EQ(batch.count(), 7u);
    ASSERT_OK(store->Commit(&batch));
    EXPECT_TRUE(batch.empty());
    EXPECT_EQ(batch.size_bytes(), 0u);
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::string value;
  ASSERT_OK(store->GetLead("u1", &value));
  EXPECT_EQ(value, "state-1");
  ASSERT_OK(store->GetLead("u2", &value));
  EXPECT_EQ(value, std::string("bin\0ary", 7));
  EXPECT_TRUE(Seen(*store, "m-1", kT0 + 1));
  EXPECT_THAT(ReadAll(*store, 1), ElementsAre(Pair(1u, R"({"seq":1,"kind":"stage"})"),
                                              Pair(2u, R"({"seq":2,"kind":"routed"})")));
  EXPECT_EQ(store->OldestOutboxSeq(), 1u);
  ASSERT_OK(store->GetMeta("rules.version", &value));
  EXPECT_EQ(value, "7");
  ASSERT_OK(store->GetMeta("outbox.next_seq", &value));
  EXPECT_EQ(value, "3");
}

TEST_F(StoreTest, AbsentKeysAreNotFound) {
  auto store = OpenStore();
  std::string value;
  Status s = store->GetLead("nobody", &value);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  s = store->GetMeta("nothing", &value);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_FALSE(Seen(*store, "m-none", kT0));
  EXPECT_EQ(store->OldestOutboxSeq(), 0u);
  EXPECT_TRUE(ReadAll(*store, 0).empty());
}

TEST_F(StoreTest, EmptyCommitSucceeds) {
  auto store = OpenStore();
  CommitBatch batch;
  EXPECT_TRUE(batch.empty());
  ASSERT_OK(store->Commit(&batch));
}

TEST_F(StoreTest, LaterOperationOnSameKeyWinsAndDeletesApply) {
  auto store = OpenStore();
  CommitBatch batch;
  batch.PutLead("u1", "old");
  batch.PutLead("u2", "keep");
  batch.PutMeta("k", "v");
  ASSERT_OK(store->Commit(&batch));

  batch.PutLead("u1", "newer");
  batch.PutLead("u1", "newest");
  batch.DeleteLead("u2");
  batch.DeleteMeta("k");
  ASSERT_OK(store->Commit(&batch));

  std::string value;
  ASSERT_OK(store->GetLead("u1", &value));
  EXPECT_EQ(value, "newest");
  EXPECT_TRUE(store->GetLead("u2", &value).IsNotFound());
  EXPECT_TRUE(store->GetMeta("k", &value).IsNotFound());
}

TEST_F(StoreTest, ScanMetaReadsOnePrefixInKeyOrder) {
  auto store = OpenStore();
  CommitBatch batch;
  batch.PutMeta("q.2", "b");
  batch.PutMeta("q.1", "a");
  batch.PutMeta("q.3", "c");
  batch.PutMeta("q", "not under q.");
  batch.PutMeta("qs", "nor this");
  batch.PutMeta("r.1", "nor this");
  ASSERT_OK(store->Commit(&batch));
  batch.DeleteMeta("q.3");
  ASSERT_OK(store->Commit(&batch));
  const std::unique_ptr<StoreSnapshot> snapshot = store->Snapshot();
  batch.PutMeta("q.4", "after the snapshot");
  ASSERT_OK(store->Commit(&batch));

  auto scan = [](const auto& source) {
    std::vector<std::pair<std::string, std::string>> seen;
    EXPECT_OK(source.ScanMeta("q.", [&](std::string_view key, std::string_view value) {
      seen.emplace_back(key, value);
    }));
    return seen;
  };
  EXPECT_THAT(scan(*store),
              ElementsAre(Pair("q.1", "a"), Pair("q.2", "b"), Pair("q.4", "after the snapshot")));
  EXPECT_THAT(scan(*snapshot), ElementsAre(Pair("q.1", "a"), Pair("q.2", "b")));
}

TEST_F(StoreTest, DedupeSeenWithinWindowOnly) {
  auto store = OpenStore();
  CommitBatch batch;
  batch.PutDedupe("m-1", kT0);
  ASSERT_OK(store->Commit(&batch));

  EXPECT_TRUE(Seen(*store, "m-1", kT0));
  EXPECT_TRUE(Seen(*store, "m-1", kT0 + 99.999));
  // Exactly one window later it is forgotten; expired-but-still-stored reads as unseen.
  EXPECT_FALSE(Seen(*store, "m-1", kT0 + 100));
  EXPECT_FALSE(Seen(*store, "m-1", kT0 + 5000));
  EXPECT_FALSE(Seen(*store, "m-2", kT0));

  // Recording it again (re-applied after expiry) restarts its window.
  batch.PutDedupe("m-1", kT0 + 5000);
  ASSERT_OK(store->Commit(&batch));
  EXPECT_TRUE(Seen(*store, "m-1", kT0 + 5050));
}

TEST_F(StoreTest, CompactionFilterRemovesExpiredIds) {
  // Receive times: old at T0, young at T0+50; window 100.
  {
    auto store = OpenStore();
    CommitBatch batch;
    batch.PutDedupe("old", kT0);
    batch.PutDedupe("young", kT0 + 50);
    ASSERT_OK(store->Commit(&batch));
    clock_.Set(kT0 + 60);  // neither expired yet: the flush on close keeps both
  }
  EXPECT_EQ(RawDedupeCount(), 2u);

  clock_.Set(kT0 + 120);  // "old" expired, "young" not
  {
    auto store = OpenStore();
    ASSERT_OK(store->CompactAll());
  }
  EXPECT_EQ(RawDedupeCount(), 1u);

  auto store = OpenStore();
  EXPECT_FALSE(Seen(*store, "old", kT0 + 120));
  EXPECT_TRUE(Seen(*store, "young", kT0 + 120));
}

TEST_F(StoreTest, ExpiredIdsInMemtableAreNotFlushed) {
  {
    auto store = OpenStore();
    CommitBatch batch;
    batch.PutDedupe("a", kT0);
    batch.PutDedupe("b", kT0);
    ASSERT_OK(store->Commit(&batch));
    clock_.Set(kT0 + 1000);  // both expire before the flush on close
  }
  EXPECT_EQ(RawDedupeCount(), 0u);
}

TEST_F(StoreTest, OutboxReadsInSeqOrderInPages) {
  auto store = OpenStore();
  CommitBatch batch;
  // Out of order inside a batch and across batches; iteration must still be by seq, including
  // across the byte boundary (255 -> 256) where a little-endian key would sort wrongly.
  for (uint64_t seq = 300; seq >= 1; --seq) {
    batch.PutOutbox(seq, kT0, "r" + std::to_string(seq));
    if (seq % 97 == 0) {
      ASSERT_OK(store->Commit(&batch));
    }
  }
  ASSERT_OK(store->Commit(&batch));
  EXPECT_EQ(store->OldestOutboxSeq(), 1u);

  std::vector<std::pair<uint64_t, std::string>> page;
  uint64_t next = 1;
  size_t pages = 0;
  for (;;) {
    ASSERT_OK(store->ReadOutbox(next, UINT64_MAX, 64, &page));
    if (page.empty()) {
      break;
    }
    ++pages;
    EXPECT_LE(page.size(), 64u);
    for (const auto& [seq, json] : page) {
      ASSERT_EQ(seq, next);
      EXPECT_EQ(json, "r" + std::to_string(seq));
      ++next;
    }
  }
  EXPECT_EQ(next, 301u);
  EXPECT_EQ(pages, 5u);  // 64 * 4 + 44

  ASSERT_OK(store->ReadOutbox(299, UINT64_MAX, 64, &page));
  EXPECT_THAT(page, ElementsAre(Pair(299u, "r299"), Pair(300u, "r300")));
  ASSERT_OK(store->ReadOutbox(1, UINT64_MAX, 0, &page));
  EXPECT_TRUE(page.empty());
  // last_seq bounds the page: nothing past it, also when more records are stored.
  ASSERT_OK(store->ReadOutbox(10, 12, 64, &page));
  EXPECT_THAT(page, ElementsAre(Pair(10u, "r10"), Pair(11u, "r11"), Pair(12u, "r12")));
  ASSERT_OK(store->ReadOutbox(13, 12, 64, &page));
  EXPECT_TRUE(page.empty());
}

TEST_F(StoreTest, TrimOutboxDeletesExpiredPrefix) {
  auto store = OpenStore();
  CommitBatch batch;
  // Record i has time T0 + 10*i; seq 6 has an early time but sits after a kept record.
  for (uint64_t seq = 1; seq <= 8; ++seq) {
    batch.PutOutbox(seq, seq == 6 ? kT0 : kT0 + 10.0 * seq, "r" + std::to_string(seq));
  }
  ASSERT_OK(store->Commit(&batch));

  ASSERT_OK(store->TrimOutbox(kT0 + 1000));  // retention 1000: nothing is older than T0
  EXPECT_EQ(store->OldestOutboxSeq(), 1u);

  ASSERT_OK(store->TrimOutbox(kT0 + 1035));  // deletes times < T0+35: seqs 1..3
  EXPECT_EQ(store->OldestOutboxSeq(), 4u);
  auto all = ReadAll(*store, 1);
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all.front().first, 4u);

  // Cut-off T0+55 deletes 4 and 5, and 6 (time T0) too, since it is part of the expired prefix;
  // 7 (T0+70) is the first record within retention.
  ASSERT_OK(store->TrimOutbox(kT0 + 1055));
  EXPECT_EQ(store->OldestOutboxSeq(), 7u);

  store.reset();
  store = OpenStore();  // the range deletion is durable, and the head is found again
  EXPECT_EQ(store->OldestOutboxSeq(), 7u);
  EXPECT_THAT(ReadAll(*store, 1), ElementsAre(Pair(7u, "r7"), Pair(8u, "r8")));

  ASSERT_OK(store->TrimOutbox(kT0 + 5000));  // everything
  EXPECT_EQ(store->OldestOutboxSeq(), 0u);
  EXPECT_TRUE(ReadAll(*store, 0).empty());

  batch.PutOutbox(9, kT0 + 5000, "r9");
  ASSERT_OK(store->Commit(&batch));
  EXPECT_EQ(store->OldestOutboxSeq(), 9u);
  ASSERT_OK(store->CompactAll());
  EXPECT_THAT(ReadAll(*store, 0), ElementsAre(Pair(9u, "r9")));
}

TEST_F(StoreTest, TrimStopsAtFirstRecordWithinRetention) {
  auto store = OpenStore();
  CommitBatch batch;
  batch.PutOutbox(1, kT0 + 500, "late clock");  // within retention
  batch.PutOutbox(2, kT0, "early clock");       // expired, but after a kept record
  ASSERT_OK(store->Commit(&batch));
  ASSERT_OK(store->TrimOutbox(kT0 + 1100));
  EXPECT_EQ(store->OldestOutboxSeq(), 1u);
  EXPECT_EQ(ReadAll(*store, 1).size(), 2u);
}

// Leads change over many commits with a tiny journal: generations freeze and are copied into
// `leads` a slice after each commit, while every read (point, scan, snapshot) sees the newest
// state, deletions included; the journal's memory stays bounded; a reopen reads the same.
TEST_F(StoreTest, JournaledLeadsReadNewestThroughCheckpoints) {
  StoreOptions options = Options();
  options.lead_journal_bytes = 2048;
  std::map<std::string, std::string> expected;
  std::unique_ptr<StoreSnapshot> snapshot;
  std::map<std::string, std::string> at_snapshot;
  auto scan_all = [](auto&& scan) {
    std::map<std::string, std::string> seen;
    std::string last;
    EXPECT_OK(scan([&](std::string_view id, std::string_view state) {
      EXPECT_LT(last, std::string(id)) << "out of order";
      last = id;
      seen.emplace(id, state);
      return true;
    }));
    return seen;
  };
  {
    auto store = OpenStore(options);
    uint64_t most_memory = 0;
    for (int round = 0; round < 60; ++round) {
      CommitBatch batch;
      for (int i = round % 3; i < 40; i += 3) {
        const std::string id = "u" + std::to_string(i);
        if ((round + i) % 17 == 0) {
          batch.DeleteLead(id);
          expected.erase(id);
        } else {
          const std::string state = "r" + std::to_string(round) + "-" + id + std::string(40, '.');
          batch.PutLead(id, state);
          expected[id] = state;
        }
      }
      ASSERT_OK(store->Commit(&batch));
      store->AfterCommit();
      most_memory = std::max(most_memory, store->MemoryUsage().lead_journal);
      for (int i = 0; i < 40; ++i) {
        const std::string id = "u" + std::to_string(i);
        std::string state;
        const Status st = store->GetLead(id, &state);
        if (expected.contains(id)) {
          ASSERT_OK(st);
          EXPECT_EQ(state, expected[id]) << id << " after round " << round;
        } else {
          EXPECT_TRUE(st.IsNotFound()) << id << " after round " << round;
        }
      }
      if (round == 30) {
        snapshot = store->Snapshot();
        at_snapshot = expected;
      }
    }
    EXPECT_LT(most_memory, 64u << 10);
    EXPECT_EQ(scan_all([&](const auto& fn) { return store->ScanLeads("", fn); }), expected);
    // The snapshot still reads round 30, though later generations were copied since.
    EXPECT_EQ(scan_all([&](const auto& fn) { return snapshot->ScanLeads(fn); }), at_snapshot);
    for (const auto& [id, state] : at_snapshot) {
      std::string read;
      ASSERT_OK(snapshot->GetLead(id, &read));
      EXPECT_EQ(read, state);
    }
    snapshot.reset();
  }
  auto store = OpenStore(options);
  EXPECT_EQ(scan_all([&](const auto& fn) { return store->ScanLeads("", fn); }), expected);
  // Closing copied everything: no journal is held in memory after the reopen.
  EXPECT_EQ(store->MemoryUsage().lead_journal, 0u);
}

// New leads streaming in (each written once): the journal would only add a copy, so leads it
// does not hold go in place after the first generation, with a trial generation now and then;
// leads it holds stay journaled. Every read sees the newest state throughout, and after a reopen.
TEST_F(StoreTest, LeadsWrittenOnceGoInPlaceAndReadsStayNewest) {
  StoreOptions options = Options();
  options.lead_journal_bytes = 32 << 10;  // about 32 of these leads a generation
  std::map<std::string, std::string> expected;
  auto check = [&](RocksStore& store) {
    for (const auto& [id, state] : expected) {
      std::string read;
      ASSERT_OK(store.GetLead(id, &read));
      ASSERT_EQ(read, state) << id;
    }
    size_t scanned = 0;
    ASSERT_OK(store.ScanLeads("", [&](std::string_view id, std::string_view state) {
      EXPECT_EQ(state, expected[std::string(id)]);
      ++scanned;
      return true;
    }));
    EXPECT_EQ(scanned, expected.size());
  };
  // The leads of the last two rounds, as expected now.
  auto batch_expected = [&](int round) {
    std::vector<std::pair<std::string, std::string>> recent;
    for (int r = std::max(0, round - 1); r <= round; ++r) {
      for (int i = 0; i < 8; ++i) {
        const std::string id = "n" + std::to_string(r * 8 + i);
        recent.emplace_back(id, expected[id]);
      }
    }
    return recent;
  };
  {
    auto store = OpenStore(options);
    for (int round = 0; round < 300; ++round) {
      CommitBatch batch;
      for (int i = 0; i < 8; ++i) {
        const std::string id = "n" + std::to_string(round * 8 + i);
        expected[id] = "first-" + id + std::string(1000, '.');
        batch.PutLead(id, expected[id]);
      }
      // Now and then leads written before change again: one from long ago, and one from the
      // round before, which the journal may still hold (the newest state must stay there).
      if (round % 7 == 6) {
        const std::string id = "n" + std::to_string(round * 3);
        expected[id] = "again-" + std::to_string(round);
        batch.PutLead(id, expected[id]);
      }
      if (round > 0) {
        const std::string id = "n" + std::to_string((round - 1) * 8 + round % 8);
        expected[id] = "recent-" + std::to_string(round) + std::string(1000, '.');
        batch.PutLead(id, expected[id]);
      }
      ASSERT_OK(store->Commit(&batch));
      if (round % 4 == 0) {
        store->AfterCommit();
      }
      std::string read;
      for (const auto& [id, state] : batch_expected(round)) {
        ASSERT_OK(store->GetLead(id, &read));
        ASSERT_EQ(read, state) << id << " after round " << round;
      }
    }
    check(*store);
    // Most of the journal's bytes were new leads: far fewer were kept than written.
    EXPECT_LT(store->MemoryUsage().lead_journal, 2400u * 1000 / 4);
  }
  auto store = OpenStore(options);
  check(*store);
}

// Without a journal (lead_journal_bytes 0) leads are written in place and nothing is held in
// memory. (A journal an earlier run left is copied at open: KilledProcessKeepsJournaledLeads.)
TEST_F(StoreTest, NoJournalWritesLeadsInPlaceAndTheLastWriteWins) {
  StoreOptions options = Options();
  options.lead_journal_bytes = 0;
  auto store = OpenStore(options);
  CommitBatch batch;
  batch.PutLead("a", "1");
  ASSERT_OK(store->Commit(&batch));
  std::string state;
  ASSERT_OK(store->GetLead("a", &state));
  EXPECT_EQ(state, "1");
  EXPECT_EQ(store->MemoryUsage().lead_journal, 0u);

  // A commit writes its in-place leads in key order (for the memtable's insert hint), not in the
  // batch's: every lead lands, and two writes of one lead in one batch keep their order.
  batch.PutLead("gone", "old");
  ASSERT_OK(store->Commit(&batch));
  for (const char* id : {"m", "c", "x", "a", "q"}) {
    batch.PutLead(id, std::string("s-") + id);
  }
  batch.DeleteLead("gone");
  batch.PutLead("twice", "before");
  batch.PutLead("b", "s-b");
  batch.PutLead("twice", "after");
  batch.PutLead("removed", "briefly");
  batch.DeleteLead("removed");
  ASSERT_OK(store->Commit(&batch));
  for (const char* id : {"m", "c", "x", "a", "q", "b"}) {
    ASSERT_OK(store->GetLead(id, &state));
    EXPECT_EQ(state, std::string("s-") + id);
  }
  ASSERT_OK(store->GetLead("twice", &state));
  EXPECT_EQ(state, "after");
  EXPECT_TRUE(store->GetLead("gone", &state).IsNotFound());
  EXPECT_TRUE(store->GetLead("removed", &state).IsNotFound());
}

TEST_F(StoreTest, ScanLeadsPagesInKeyOrder) {
  auto store = OpenStore();
  CommitBatch batch;
  for (const char* id : {"d", "a", "c", "e", "b", "g", "f"}) {
    batch.PutLead(id, std::string("s-") + id);
  }
  ASSERT_OK(store->Commit(&batch));

  std::vector<std::string> seen;
  std::string after;
  for (;;) {
    size_t in_page = 0;
    std::string last;
    ASSERT_OK(store->ScanLeads(after, [&](std::string_view id, std::string_view encoded) {
      EXPECT_EQ(encoded, "s-" + std::string(id));
      seen.emplace_back(id);
      last = id;
      return ++in_page < 3;
    }));
    if (in_page == 0) {
      break;
    }
    after = last;
  }
  EXPECT_THAT(seen, ElementsAre("a", "b", "c", "d", "e", "f", "g"));

  // `after` need not exist.
  seen.clear();
  ASSERT_OK(store->ScanLeads("cc", [&](std::string_view id, std::string_view) {
    seen.emplace_back(id);
    return true;
  }));
  EXPECT_THAT(seen, ElementsAre("d", "e", "f", "g"));
}

TEST_F(StoreTest, RejectsBadOptions) {
  StoreOptions options = Options();
  options.dedupe_window = -1;
  auto store = RocksStore::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Status::Code::kInvalidArgument);

  options = Options();
  options.path.clear();
  store = RocksStore::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Status::Code::kInvalidArgument);
}

TEST_F(StoreTest, SecondOpenOfSameDirectoryFails) {
  auto first = OpenStore();
  ASSERT_NE(first, nullptr);
  auto second = RocksStore::Open(Options());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Status::Code::kIoError) << second.status().ToString();
}

TEST_F(StoreTest, OpenOnAFileFails) {
  StoreOptions options = Options();
  options.path = dir_.WriteFile("not-a-dir", "x");
  auto store = RocksStore::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Status::Code::kIoError) << store.status().ToString();
}

TEST_F(StoreTest, StatsMentionColumnFamilies) {
  auto store = OpenStore();
  const std::string stats = store->Stats();
  EXPECT_NE(stats.find("dedupe"), std::string::npos);
  EXPECT_NE(stats.find("outbox"), std::string::npos);
}

TEST_F(StoreTest, FailedWalWriteIsAnErrorNotACrash) {
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  StoreOptions options = Options();
  options.env = env.get();
  {
    auto store = OpenStore(options);
    ASSERT_NE(store, nullptr);
    CommitBatch batch;
    batch.PutLead("u1", "ok");
    ASSERT_OK(store->Commit(&batch));

    fs->set_failing(true);
    batch.PutLead("u2", "lost");
    batch.PutOutbox(1, kT0, "r1");
    Status s = store->Commit(&batch);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.code(), Status::Code::kIoError) << s.ToString();
    EXPECT_EQ(batch.count(), 2u);  // left for the caller
    EXPECT_EQ(store->OldestOutboxSeq(), 0u);
    std::string value;
    EXPECT_TRUE(store->GetLead("u2", &value).IsNotFound());
    ASSERT_OK(store->GetLead("u1", &value));
    fs->set_failing(false);
  }  // closing after a write error must not crash either
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  std::string value;
  ASSERT_OK(store->GetLead("u1", &value));
  EXPECT_EQ(value, "ok");
  EXPECT_TRUE(store->GetLead("u2", &value).IsNotFound());
}

// Recover() and Commit() until the commit goes through; RocksDB may be recovering on its own
// (Recover says Busy meanwhile). False after a generous deadline.
bool CommitOnceRecovered(RocksStore* store, CommitBatch* batch) {
  for (int i = 0; i < 600; ++i) {
    (void)store->Recover();
    if (store->Commit(batch).ok()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// A disk that fails and comes back: the failed batch is left to the caller, writes are refused
// until Recover(), and then the same batch commits and everything committed survives a reopen.
TEST_F(StoreTest, WritesGoOnAfterRecoverOnceTheDiskIsBack) {
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  StoreOptions options = Options();
  options.env = env.get();
  {
    auto store = OpenStore(options);
    ASSERT_NE(store, nullptr);
    CommitBatch batch;
    batch.PutLead("u1", "before");
    ASSERT_OK(store->Commit(&batch));

    fs->set_failing(true);
    batch.PutLead("u2", "during");
    EXPECT_FALSE(store->Commit(&batch).ok());
    EXPECT_FALSE(store->Recover().ok() && store->Commit(&batch).ok());
    EXPECT_EQ(batch.count(), 1u);

    fs->set_failing(false);
    ASSERT_TRUE(CommitOnceRecovered(store.get(), &batch));
    batch.PutLead("u3", "after");
    ASSERT_OK(store->Commit(&batch));
  }
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  for (const auto& [id, want] : {std::pair{"u1", "before"}, {"u2", "during"}, {"u3", "after"}}) {
    std::string value;
    ASSERT_OK(store->GetLead(id, &value));
    EXPECT_EQ(value, want);
  }
}

// The same, switched from outside by a trigger file (the daemon's --fault-file).
TEST_F(StoreTest, FaultFileSwitchesWriteFaultsFromOutside) {
  StoreOptions options = Options();
  options.fault_file = dir_.path() + "/disk-full";
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  CommitBatch batch;
  batch.PutLead("u1", "x");
  ASSERT_OK(store->Commit(&batch));
  dir_.WriteFile("disk-full", "");
  batch.PutLead("u2", "y");
  EXPECT_FALSE(store->Commit(&batch).ok());
  std::filesystem::remove(options.fault_file);
  EXPECT_TRUE(CommitOnceRecovered(store.get(), &batch));
}

TEST_F(StoreTest, DurabilityModeDecidesWalSync) {
  auto fs = std::make_shared<FaultInjectionFileSystem>();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  StoreOptions options = Options();
  options.env = env.get();
  CommitBatch batch;

  options.durability = Durability::kProcess;
  {
    auto store = OpenStore(options);
    const int before = fs->wal_syncs();
    batch.PutLead("u1", "x");
    ASSERT_OK(store->Commit(&batch));
    EXPECT_EQ(fs->wal_syncs(), before);
  }
  options.durability = Durability::kFsync;
  {
    auto store = OpenStore(options);
    const int before = fs->wal_syncs();
    batch.PutLead("u1", "y");
    ASSERT_OK(store->Commit(&batch));
    EXPECT_GT(fs->wal_syncs(), before);
  }
}

// Subscribers read the outbox from their own threads while the engine commits. Like the engine's
// outbox head, `committed` is published (release) after each Commit returns, and readers read only
// up to it (acquire): that is what orders their reads after the commit thread's writes.
TEST_F(StoreTest, ConcurrentOutboxReadersSeeContiguousRecords) {
  auto store = OpenStore();
  constexpr uint64_t kRecords = 2000;
  std::atomic<bool> done{false};
  std::atomic<bool> ok{true};
  std::atomic<uint64_t> committed{0};
  auto reader = [&] {
    uint64_t next = 1;
    std::vector<std::pair<uint64_t, std::string>> page;
    while (next <= kRecords) {
      // Read `done` before the page: an empty page after the writer finished means a real gap.
      const bool writer_finished = done;
      if (!store->ReadOutbox(next, committed.load(std::memory_order_acquire), 50, &page).ok()) {
        ok = false;
        return;
      }
      for (const auto& [seq, json] : page) {
        if (seq != next || json != "r" + std::to_string(seq)) {
          ok = false;
          return;
        }
        ++next;
      }
      if (page.empty()) {
        if (writer_finished) {
          ok = next > kRecords;
          return;
        }
        std::this_thread::yield();
      }
    }
  };
  std::thread r1(reader);
  std::thread r2(reader);
  CommitBatch batch;
  for (uint64_t seq = 1; seq <= kRecords; ++seq) {
    batch.PutOutbox(seq, kT0, "r" + std::to_string(seq));
    if (seq % 10 == 0) {
      EXPECT_OK(store->Commit(&batch));  // not ASSERT: the readers must be joined
      committed.store(seq, std::memory_order_release);
    }
  }
  done = true;
  r1.join();
  r2.join();
  EXPECT_TRUE(ok);
}

// kill -9 right after Commit returns: no flush, no destructor. The write-ahead log must bring the
// batch back. Runs the crash in a re-executed child process ("threadsafe" death test), which gets
// the data directory through the environment.
constexpr char kCrashDirEnv[] = "HANDOFF_STORE_CRASH_DIR";

// The data directory of a crash test: the parent process makes it and hands it to the
// re-executed child through the environment variable `env`.
class CrashDir {
 public:
  explicit CrashDir(const char* env) : env_(env) {
    if (const char* inherited = std::getenv(env); inherited != nullptr) {
      path_ = inherited;  // the child
      return;
    }
    tmp_.emplace();
    path_ = tmp_->path() + "/data";
    EXPECT_EQ(setenv(env, path_.c_str(), 1), 0);
  }
  ~CrashDir() {
    if (tmp_.has_value()) {
      unsetenv(env_);
    }
  }
  CrashDir(const CrashDir&) = delete;
  CrashDir& operator=(const CrashDir&) = delete;
  const std::string& path() const { return path_; }
  // Store options for this directory, reading `clock`.
  StoreOptions Options(const Clock* clock) const {
    StoreOptions options;
    options.path = path_;
    options.clock = clock;
    return options;
  }

 private:
  const char* env_;
  std::optional<testing::TempDir> tmp_;
  std::string path_;
};

TEST(StoreCrashTest, KilledProcessKeepsCommittedBatch) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const CrashDir dir(kCrashDirEnv);
  ManualClock clock(kT0);
  StoreOptions options = dir.Options(&clock);

  EXPECT_EXIT(
      {
        auto store = RocksStore::Open(options);
        if (!store.ok()) {
          std::_Exit(1);
        }
        CommitBatch batch;
        for (int i = 0; i < 100; ++i) {
          batch.PutLead("u" + std::to_string(i), "state-" + std::to_string(i));
          batch.PutDedupe("m" + std::to_string(i), kT0);
        }
        batch.PutOutbox(1, kT0, "r1");
        batch.PutMeta("rules.version", "3");
        if (!(*store)->Commit(&batch).ok()) {
          std::_Exit(2);
        }
        std::raise(SIGKILL);
      },
      ::testing::KilledBySignal(SIGKILL), "");

  auto store = RocksStore::Open(options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::string value;
  for (int i = 0; i < 100; ++i) {
    ASSERT_OK((*store)->GetLead("u" + std::to_string(i), &value));
    EXPECT_EQ(value, "state-" + std::to_string(i));
    Result<bool> seen = (*store)->SeenMessage("m" + std::to_string(i), kT0 + 1);
    ASSERT_TRUE(seen.ok());
    EXPECT_TRUE(*seen);
  }
  ASSERT_OK((*store)->GetMeta("rules.version", &value));
  EXPECT_EQ(value, "3");
  EXPECT_EQ((*store)->OldestOutboxSeq(), 1u);
}

constexpr char kJournalCrashDirEnv[] = "HANDOFF_STORE_JOURNAL_CRASH_DIR";

// kill -9 in the middle of the journal's cycle (generations frozen, some copied into `leads`,
// one half copied): the reopened store reads every lead's newest state and no deleted lead,
// whether it keeps a journal or copies the one left at open (lead_journal_bytes 0).
TEST(StoreCrashTest, KilledProcessKeepsJournaledLeads) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const CrashDir dir(kJournalCrashDirEnv);
  ManualClock clock(kT0);
  StoreOptions options = dir.Options(&clock);
  options.lead_journal_bytes = 4096;
  constexpr int kRounds = 45;
  auto state_of = [](int round, int lead) {
    return "r" + std::to_string(round) + "-u" + std::to_string(lead) + std::string(60, '-');
  };
  auto deleted = [](int round, int lead) { return (round + lead) % 13 == 0; };

  EXPECT_EXIT(
      {
        auto store = RocksStore::Open(options);
        if (!store.ok()) {
          std::_Exit(1);
        }
        for (int round = 0; round < kRounds; ++round) {
          CommitBatch batch;
          for (int i = round % 2; i < 3000; i += 1 + round % 5) {
            if (deleted(round, i)) {
              batch.DeleteLead("u" + std::to_string(i));
            } else {
              batch.PutLead("u" + std::to_string(i), state_of(round, i));
            }
          }
          if (!(*store)->Commit(&batch).ok()) {
            std::_Exit(2);
          }
          if (round % 4 != 3) {
            (*store)->AfterCommit();
          }
        }
        std::raise(SIGKILL);
      },
      ::testing::KilledBySignal(SIGKILL), "");

  // The newest round that wrote each lead, and whether it deleted it.
  std::map<std::string, std::optional<std::string>> expected;
  for (int round = 0; round < kRounds; ++round) {
    for (int i = round % 2; i < 3000; i += 1 + round % 5) {
      expected["u" + std::to_string(i)] =
          deleted(round, i) ? std::nullopt : std::optional<std::string>(state_of(round, i));
    }
  }
  // Two copies of what the killed process left: one reopened with the journal, one without.
  const std::string& path = dir.path();
  const std::string copy = path + "-copy";
  std::filesystem::copy(path, copy, std::filesystem::copy_options::recursive);
  for (const uint64_t journal_bytes : {uint64_t{4096}, uint64_t{0}}) {
    options.lead_journal_bytes = journal_bytes;
    options.path = journal_bytes == 0 ? copy : path;
    auto store = RocksStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    size_t live = 0;
    for (const auto& [id, state] : expected) {
      std::string read;
      const Status st = (*store)->GetLead(id, &read);
      if (state.has_value()) {
        ++live;
        ASSERT_TRUE(st.ok()) << id << ": " << st.ToString();
        EXPECT_EQ(read, *state) << id;
      } else {
        EXPECT_TRUE(st.IsNotFound()) << id;
      }
    }
    size_t scanned = 0;
    ASSERT_OK((*store)->ScanLeads("", [&](std::string_view, std::string_view) {
      ++scanned;
      return true;
    }));
    EXPECT_EQ(scanned, live);
  }
}

}  // namespace
}  // namespace handoff
