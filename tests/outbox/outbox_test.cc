#include "outbox/outbox.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/json_parser.h"
#include "outbox/stored_record.h"
#include "storage/rocks_store.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

constexpr EpochSeconds kT0 = 1'800'000'000;
constexpr double kRetention = 1000;

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override { OpenStore(); }

  void OpenStore() {
    store_.reset();  // a directory holds one open store at a time
    StoreOptions options;
    options.path = dir_.path() + "/data";
    options.clock = &clock_;
    options.outbox_retention = kRetention;
    auto store = RocksStore::Open(options);
    ASSERT_OK(store.status());
    store_ = std::move(store).value();
  }

  std::unique_ptr<Outbox> NewOutbox() {
    auto outbox = std::make_unique<Outbox>(store_.get());
    EXPECT_OK(outbox->Restore());
    return outbox;
  }

  // Appends one routed record for `lead` at `at`; returns its seq.
  uint64_t AppendRouted(Outbox* outbox, std::string_view lead, EpochSeconds at,
                        std::string_view rep = "alice", std::string_view team = "emea") {
    OutboxRecord record;
    record.kind = OutboxKind::kRouted;
    record.at = at;
    record.lead = lead;
    record.rep = rep;
    record.team = team;
    const uint64_t seq = outbox->Append(&record, &batch_);
    EXPECT_EQ(record.seq, seq);
    return seq;
  }

  // The engine's commit sequence: meta into the batch, commit, then publish.
  void Commit(Outbox* outbox) {
    const uint64_t sealed = outbox->Seal(&batch_);
    ASSERT_OK(store_->Commit(&batch_));
    outbox->Committed(sealed);
  }

  std::vector<uint64_t> StoredSeqs(const Outbox& outbox, uint64_t from = 0) {
    std::vector<std::pair<uint64_t, std::string>> records;
    EXPECT_OK(outbox.Read(from, outbox.head(), 1000, &records));
    std::vector<uint64_t> seqs;
    for (const auto& [seq, stored] : records) {
      seqs.push_back(seq);
    }
    return seqs;
  }

  testing::TempDir dir_;
  ManualClock clock_{kT0};
  std::unique_ptr<Store> store_;
  CommitBatch batch_;
};

TEST_F(OutboxTest, EmptyOutbox) {
  auto outbox = NewOutbox();
  EXPECT_EQ(outbox->head(), 0u);
  EXPECT_EQ(outbox->oldest(), 0u);
  EXPECT_TRUE(StoredSeqs(*outbox).empty());
}

// SPEC 9: the first record is 1, and each gets the next.
TEST_F(OutboxTest, SeqsStartAtOneAndGrowByOne) {
  auto outbox = NewOutbox();
  EXPECT_EQ(AppendRouted(outbox.get(), "u1", kT0), 1u);
  EXPECT_EQ(AppendRouted(outbox.get(), "u2", kT0), 2u);
  Commit(outbox.get());
  EXPECT_EQ(AppendRouted(outbox.get(), "u3", kT0), 3u);
  Commit(outbox.get());
  EXPECT_EQ(StoredSeqs(*outbox), (std::vector<uint64_t>{1, 2, 3}));
}

// Nobody sees a record before the commit that holds it: not in head(), not in Read().
TEST_F(OutboxTest, HeadMovesOnlyOnCommitted) {
  auto outbox = NewOutbox();
  AppendRouted(outbox.get(), "u1", kT0);
  AppendRouted(outbox.get(), "u2", kT0);
  EXPECT_EQ(outbox->head(), 0u);
  EXPECT_TRUE(StoredSeqs(*outbox).empty());
  const uint64_t sealed = outbox->Seal(&batch_);
  EXPECT_EQ(outbox->head(), 0u);
  ASSERT_OK(store_->Commit(&batch_));
  EXPECT_EQ(outbox->head(), 0u);  // durable, but not yet published
  outbox->Committed(sealed);
  EXPECT_EQ(outbox->head(), 2u);
  EXPECT_EQ(outbox->oldest(), 1u);
}

TEST_F(OutboxTest, ListenerGetsEachNewHeadOnce) {
  auto outbox = NewOutbox();
  std::vector<uint64_t> heads;
  outbox->SetListener([&](uint64_t head) {
    // The head is published before the listener hears of it.
    EXPECT_EQ(outbox->head(), head);
    heads.push_back(head);
  });
  AppendRouted(outbox.get(), "u1", kT0);
  AppendRouted(outbox.get(), "u2", kT0);
  Commit(outbox.get());
  EXPECT_EQ(heads, (std::vector<uint64_t>{2}));
  AppendRouted(outbox.get(), "u3", kT0);
  Commit(outbox.get());
  EXPECT_EQ(heads, (std::vector<uint64_t>{2, 3}));
}

// A group commit without records (events that changed no stage) must not wake subscribers.
TEST_F(OutboxTest, CommitWithoutRecordsChangesNothing) {
  auto outbox = NewOutbox();
  int calls = 0;
  outbox->SetListener([&](uint64_t) { ++calls; });
  uint64_t sealed = outbox->Seal(&batch_);
  EXPECT_TRUE(batch_.empty());  // no meta write either
  outbox->Committed(sealed);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(outbox->head(), 0u);

  AppendRouted(outbox.get(), "u1", kT0);
  Commit(outbox.get());
  ASSERT_EQ(calls, 1);
  sealed = outbox->Seal(&batch_);
  EXPECT_TRUE(batch_.empty());
  outbox->Committed(sealed);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(outbox->head(), 1u);
}

TEST_F(OutboxTest, NoListenerIsFine) {
  auto outbox = NewOutbox();
  AppendRouted(outbox.get(), "u1", kT0);
  Commit(outbox.get());
  EXPECT_EQ(outbox->head(), 1u);
}

TEST_F(OutboxTest, RestoreContinuesTheSequence) {
  {
    auto outbox = NewOutbox();
    AppendRouted(outbox.get(), "u1", kT0);
    AppendRouted(outbox.get(), "u2", kT0);
    AppendRouted(outbox.get(), "u3", kT0);
    Commit(outbox.get());
  }
  OpenStore();  // as after a restart
  auto outbox = NewOutbox();
  EXPECT_EQ(outbox->head(), 3u);
  EXPECT_EQ(outbox->oldest(), 1u);
  EXPECT_EQ(AppendRouted(outbox.get(), "u4", kT0), 4u);
  Commit(outbox.get());
  EXPECT_EQ(outbox->head(), 4u);
  EXPECT_EQ(StoredSeqs(*outbox), (std::vector<uint64_t>{1, 2, 3, 4}));
}

// A restored outbox has nothing new to write or announce until it appends.
TEST_F(OutboxTest, RestoredOutboxIsQuietUntilItAppends) {
  {
    auto outbox = NewOutbox();
    AppendRouted(outbox.get(), "u1", kT0);
    Commit(outbox.get());
  }
  auto outbox = NewOutbox();
  int calls = 0;
  outbox->SetListener([&](uint64_t) { ++calls; });
  const uint64_t sealed = outbox->Seal(&batch_);
  EXPECT_TRUE(batch_.empty());
  outbox->Committed(sealed);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(outbox->head(), 1u);
}

// The engine seals a second batch while the first is still being written: each is published with
// the seq it was sealed at, so the head never covers a record of the batch not yet durable.
TEST_F(OutboxTest, PipelinedBatchesPublishTheirOwnHead) {
  auto outbox = NewOutbox();
  std::vector<uint64_t> heads;
  outbox->SetListener([&](uint64_t head) { heads.push_back(head); });
  AppendRouted(outbox.get(), "u1", kT0);
  AppendRouted(outbox.get(), "u2", kT0);
  CommitBatch first;
  const uint64_t first_sealed = outbox->Seal(&batch_);
  std::swap(first, batch_);
  AppendRouted(outbox.get(), "u3", kT0);  // into the second batch, while the first is in flight
  const uint64_t second_sealed = outbox->Seal(&batch_);
  ASSERT_OK(store_->Commit(&first));
  outbox->Committed(first_sealed);
  EXPECT_EQ(outbox->head(), 2u);
  ASSERT_OK(store_->Commit(&batch_));
  outbox->Committed(second_sealed);
  EXPECT_EQ(outbox->head(), 3u);
  EXPECT_EQ(heads, (std::vector<uint64_t>{2, 3}));
}

// Records appended but never committed were never seen by anyone: after a restart their seqs are
// handed out again, and the committed ones are untouched.
TEST_F(OutboxTest, UncommittedRecordsAreForgottenOnRestart) {
  {
    auto outbox = NewOutbox();
    AppendRouted(outbox.get(), "u1", kT0);
    Commit(outbox.get());
    AppendRouted(outbox.get(), "lost", kT0);
    outbox->Seal(&batch_);
    batch_.Clear();  // the process died before the commit
  }
  OpenStore();
  auto outbox = NewOutbox();
  EXPECT_EQ(outbox->head(), 1u);
  EXPECT_EQ(AppendRouted(outbox.get(), "u2", kT0), 2u);
}

// The next seq lives in meta, not in the records: once a trim has emptied the outbox, seqs still
// continue where they were (a subscriber at seq 3 must never see a new "1").
TEST_F(OutboxTest, SequenceSurvivesATrimThatEmptiesTheOutbox) {
  {
    auto outbox = NewOutbox();
    AppendRouted(outbox.get(), "u1", kT0);
    AppendRouted(outbox.get(), "u2", kT0);
    AppendRouted(outbox.get(), "u3", kT0);
    Commit(outbox.get());
    ASSERT_OK(outbox->Trim(kT0 + kRetention + 1));
    EXPECT_EQ(outbox->oldest(), 0u);
    EXPECT_TRUE(StoredSeqs(*outbox).empty());
    EXPECT_EQ(outbox->head(), 3u);  // trimming does not move the head
  }
  OpenStore();
  auto outbox = NewOutbox();
  EXPECT_EQ(outbox->head(), 3u);
  EXPECT_EQ(outbox->oldest(), 0u);
  EXPECT_EQ(AppendRouted(outbox.get(), "u4", kT0 + 2000), 4u);
  Commit(outbox.get());
  EXPECT_EQ(outbox->oldest(), 4u);
  EXPECT_EQ(StoredSeqs(*outbox), (std::vector<uint64_t>{4}));
}

TEST_F(OutboxTest, ReadReturnsStoredRecordsThatDecode) {
  auto outbox = NewOutbox();
  AppendRouted(outbox.get(), "u1", kT0, "alice", "emea");
  OutboxRecord stage;
  stage.kind = OutboxKind::kStage;
  stage.at = kT0 + 1;
  stage.lead = "u2";
  stage.from = "new";
  stage.to = "mql";
  outbox->Append(&stage, &batch_);
  Commit(outbox.get());

  std::vector<std::pair<uint64_t, std::string>> records;
  ASSERT_OK(outbox->Read(1, outbox->head(), 10, &records));
  ASSERT_EQ(records.size(), 2u);
  JsonParser parser;

  RecordHeader header;
  std::string_view json;
  EXPECT_EQ(records[0].first, 1u);
  ASSERT_TRUE(DecodeStoredRecord(records[0].second, &header, &json));
  EXPECT_EQ(header.kind, OutboxKind::kRouted);
  EXPECT_EQ(header.rep, "alice");
  EXPECT_EQ(header.team, "emea");
  Value parsed;
  ASSERT_OK(parser.Parse(json, &parsed));
  // The JSON is the record as it was appended, with its seq filled in.
  EXPECT_EQ(parsed.Find("seq")->as_number(), 1);
  EXPECT_EQ(parsed.Find("kind")->as_string(), "routed");
  EXPECT_EQ(parsed.Find("lead")->as_string(), "u1");
  EXPECT_EQ(parsed.Find("rep")->as_string(), "alice");

  EXPECT_EQ(records[1].first, 2u);
  ASSERT_TRUE(DecodeStoredRecord(records[1].second, &header, &json));
  EXPECT_EQ(header.kind, OutboxKind::kStage);
  EXPECT_EQ(header.rep, "");
  EXPECT_EQ(header.team, "");
  EXPECT_EQ(json, R"({"seq":2,"kind":"stage","at":"2027-01-15T08:00:01.000Z","lead":"u2",)"
                  R"("from":"new","to":"mql"})");
}

// A reader sees a record only once its batch is published (Committed), not as soon as the store
// holds it: the engine acknowledges the batch only then, and the reader's thread is ordered after
// the commit thread's write only through the head. Reading up to head() stops there.
TEST_F(OutboxTest, ReadStopsAtTheHead) {
  auto outbox = NewOutbox();
  AppendRouted(outbox.get(), "u1", kT0);
  Commit(outbox.get());
  AppendRouted(outbox.get(), "u2", kT0);
  const uint64_t sealed = outbox->Seal(&batch_);
  ASSERT_OK(store_->Commit(&batch_));  // written, not yet published
  EXPECT_EQ(outbox->head(), 1u);
  EXPECT_EQ(StoredSeqs(*outbox), (std::vector<uint64_t>{1}));
  EXPECT_TRUE(StoredSeqs(*outbox, 2).empty());
  outbox->Committed(sealed);
  EXPECT_EQ(StoredSeqs(*outbox), (std::vector<uint64_t>{1, 2}));
}

TEST_F(OutboxTest, ReadFromASeqWithALimit) {
  auto outbox = NewOutbox();
  for (int i = 0; i < 5; ++i) {
    AppendRouted(outbox.get(), "u" + std::to_string(i), kT0);
  }
  Commit(outbox.get());
  EXPECT_EQ(StoredSeqs(*outbox, 3), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_TRUE(StoredSeqs(*outbox, 6).empty());
  std::vector<std::pair<uint64_t, std::string>> records;
  ASSERT_OK(outbox->Read(2, outbox->head(), 2, &records));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].first, 2u);
  EXPECT_EQ(records[1].first, 3u);
  ASSERT_OK(outbox->Read(1, outbox->head(), 0, &records));
  EXPECT_TRUE(records.empty());
}

// Trim keeps what is within retention of `now`, by record time, and leaves a gap a reader can
// see by comparing the first seq with the one it asked for.
TEST_F(OutboxTest, TrimDropsRecordsPastRetention) {
  auto outbox = NewOutbox();
  AppendRouted(outbox.get(), "u1", kT0);
  AppendRouted(outbox.get(), "u2", kT0 + 100);
  AppendRouted(outbox.get(), "u3", kT0 + 500);
  AppendRouted(outbox.get(), "u4", kT0 + 900);
  Commit(outbox.get());

  ASSERT_OK(outbox->Trim(kT0 + kRetention));  // nothing is older than the retention yet
  EXPECT_EQ(StoredSeqs(*outbox), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(outbox->oldest(), 1u);

  ASSERT_OK(outbox->Trim(kT0 + 600 + kRetention));  // records before kT0 + 600 go
  EXPECT_EQ(StoredSeqs(*outbox, 1), (std::vector<uint64_t>{4}));
  EXPECT_EQ(outbox->oldest(), 4u);
  EXPECT_EQ(outbox->head(), 4u);

  // Appending goes on after the trimmed records.
  EXPECT_EQ(AppendRouted(outbox.get(), "u5", kT0 + 2000), 5u);
  Commit(outbox.get());
  EXPECT_EQ(StoredSeqs(*outbox), (std::vector<uint64_t>{4, 5}));
}

// The newest records are read from memory, older ones from the store: a reader gets the same
// records either way, whichever seq it starts from, also past the memory's budget.
TEST_F(OutboxTest, ReadsTheSameRecordsFromMemoryAndFromTheStore) {
  // Room in memory for three records of the size these have (their lead ids are as long).
  size_t record_bytes = 0;
  {
    Outbox sizer(store_.get());
    AppendRouted(&sizer, "lead-x", kT0);
    EXPECT_TRUE(batch_.ForEach([&](const CommitBatch::Entry& entry) {
      record_bytes = std::max(record_bytes, entry.value.size());
    }));
    batch_.Clear();
  }
  ASSERT_GT(record_bytes, 0u);
  record_bytes += RecentRecords::kRecordOverheadBytes;
  auto outbox = std::make_unique<Outbox>(store_.get(), 3 * record_bytes);
  ASSERT_OK(outbox->Restore());
  for (int i = 0; i < 10; ++i) {
    AppendRouted(outbox.get(), "lead-" + std::to_string(i), kT0 + i);
    if (i % 4 == 3) {
      Commit(outbox.get());
    }
  }
  Commit(outbox.get());
  ASSERT_EQ(outbox->head(), 10u);
  for (uint64_t from = 0; from <= 11; ++from) {
    for (size_t max : {size_t{1}, size_t{2}, size_t{100}}) {
      std::vector<std::pair<uint64_t, std::string>> ours;
      std::vector<std::pair<uint64_t, std::string>> stored;
      ASSERT_OK(outbox->Read(from, outbox->head(), max, &ours));
      ASSERT_OK(store_->ReadOutbox(from, outbox->head(), max, &stored));
      EXPECT_EQ(ours, stored) << "from " << from << " max " << max;
    }
  }
  // Records the store trimmed are not served from memory either.
  ASSERT_OK(outbox->Trim(kT0 + 8 + kRetention));
  std::vector<std::pair<uint64_t, std::string>> records;
  ASSERT_OK(outbox->Read(9, outbox->head(), 100, &records));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].first, 9u);
  ASSERT_OK(outbox->Read(1, outbox->head(), 100, &records));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].first, 9u);
  EXPECT_GT(outbox->recent_record_bytes(), 0u);
  EXPECT_LE(outbox->recent_record_bytes(), 3 * record_bytes);
  ASSERT_OK(outbox->Trim(kT0 + 100 + kRetention));
  ASSERT_OK(outbox->Read(10, outbox->head(), 100, &records));
  EXPECT_TRUE(records.empty());
  EXPECT_EQ(outbox->recent_record_bytes(), 0u);
}

// Appended records reach the readers' memory at the seal, all at once (one lock a commit), and
// readers read them from there once the commit is published.
TEST_F(OutboxTest, RecordsReachMemoryAtTheSeal) {
  auto outbox = std::make_unique<Outbox>(store_.get());
  ASSERT_OK(outbox->Restore());
  AppendRouted(outbox.get(), "u1", kT0);
  AppendRouted(outbox.get(), "u2", kT0);
  EXPECT_EQ(outbox->recent_record_bytes(), 0u);
  const uint64_t sealed = outbox->Seal(&batch_);
  EXPECT_GT(outbox->recent_record_bytes(), 0u);
  ASSERT_OK(store_->Commit(&batch_));
  outbox->Committed(sealed);
  std::vector<std::pair<uint64_t, std::string>> records;
  ASSERT_OK(outbox->Read(1, outbox->head(), 10, &records));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].first, 2u);
}

// The meta value is the store's own; a value that is not a positive seq must stop the daemon from
// handing out seqs it cannot vouch for, rather than silently restarting at 1.
TEST_F(OutboxTest, RestoreRejectsABadNextSeq) {
  for (const char* bad : {"", "0", "abc", "12x", "-1", " 5", "99999999999999999999999"}) {
    CommitBatch batch;
    batch.PutMeta("outbox.next_seq", bad);  // the key Outbox keeps its next seq under
    ASSERT_OK(store_->Commit(&batch));
    Outbox outbox(store_.get());
    const Status st = outbox.Restore();
    EXPECT_EQ(st.code(), Status::Code::kCorruption) << '"' << bad << "\": " << st.ToString();
  }
  CommitBatch batch;
  batch.PutMeta("outbox.next_seq", "17");
  ASSERT_OK(store_->Commit(&batch));
  Outbox outbox(store_.get());
  ASSERT_OK(outbox.Restore());
  EXPECT_EQ(outbox.head(), 16u);
  EXPECT_EQ(AppendRouted(&outbox, "u", kT0), 17u);
}

}  // namespace
}  // namespace handoff
