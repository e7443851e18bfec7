#include "funnel/funnel.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/timestamp.h"
#include "storage/coding.h"
#include "storage/store_format.h"
#include "tests/core/memory_store.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

constexpr EpochSeconds kDay = 1767225600;  // 2026-01-01T00:00:00Z, an hour boundary
constexpr EpochSeconds kHour = 3600;

class FunnelTest : public ::testing::Test {
 protected:
  // Publishes one record at `at` through the funnel and commits it, as the engine does.
  void Record(OutboxKind kind, EpochSeconds at, std::string lead, std::string rep = "",
              std::string team = "", FunnelContext context = {}) {
    OutboxRecord r;
    r.seq = next_seq_++;
    r.kind = kind;
    r.at = at;
    lead_ = std::move(lead);
    rep_ = std::move(rep);
    team_ = std::move(team);
    r.lead = lead_;
    r.rep = rep_;
    r.team = team_;
    r.from = from_;
    r.to = to_;
    r.outcome = outcome_;
    r.amount = amount_;
    funnel_->Observe(r, context);
    if (commit_each_) {
      Commit();
    }
  }
  void Stage(EpochSeconds at, std::string lead, std::string from, std::string to,
             FunnelContext context = {}) {
    from_ = std::move(from);
    to_ = std::move(to);
    Record(OutboxKind::kStage, at, std::move(lead), "", "", context);
    from_.clear();
    to_.clear();
  }
  void Close(EpochSeconds at, std::string lead, std::string rep, std::string outcome,
             std::optional<double> amount = std::nullopt, FunnelContext context = {}) {
    outcome_ = std::move(outcome);
    amount_ = amount;
    Record(OutboxKind::kClosed, at, std::move(lead), std::move(rep), "t", context);
    outcome_.clear();
    amount_.reset();
  }
  void Commit() {
    funnel_->Flush(&batch_);
    ASSERT_OK(store_.Commit(&batch_));
  }
  FunnelTotals Query(std::optional<EpochSeconds> since, std::optional<EpochSeconds> until,
                     std::string team = "") {
    FunnelWindow w;
    w.since = since;
    w.until = until;
    w.team = std::move(team);
    FunnelTotals out;
    EXPECT_OK(funnel_->Query(w, &out));
    return out;
  }
  void Restart() {
    funnel_ = std::make_unique<Funnel>(options_, &store_);
    ASSERT_OK(funnel_->Load());
  }

  FunnelOptions options_;
  testing::MemoryStore store_;
  CommitBatch batch_;
  std::unique_ptr<Funnel> funnel_ = std::make_unique<Funnel>(options_, &store_);
  uint64_t next_seq_ = 1;
  bool commit_each_ = true;  // false: records gather until Commit(), as in one engine batch
  std::string lead_, rep_, team_, from_, to_, outcome_;
  std::optional<double> amount_;
};

TEST_F(FunnelTest, WindowsAreExactToTheMillisecondAcrossHours) {
  // One routed record every 10 minutes for 5 hours: 30 records.
  for (int i = 0; i < 30; ++i) {
    Record(OutboxKind::kRouted, kDay + i * 600 + 0.25, "l" + std::to_string(i), "alice", "t");
  }
  EXPECT_EQ(Query(std::nullopt, std::nullopt).routed, 30u);
  // [kDay + 1200.25, kDay + 4 * 3600 + 1800.25): records 2 .. 26 (the until one excluded).
  EXPECT_EQ(Query(kDay + 1200.25, kDay + 4 * kHour + 1800.25).routed, 25u);
  EXPECT_EQ(Query(kDay + 1200.2505, kDay + 4 * kHour + 1800.2505).routed, 25u);  // 3 .. 27
  EXPECT_EQ(Query(kDay + 1200.2495, std::nullopt).routed, 28u);
  EXPECT_EQ(Query(std::nullopt, kDay + 0.25).routed, 0u);
  EXPECT_EQ(Query(std::nullopt, kDay + 0.2501).routed, 1u);
  EXPECT_EQ(Query(kDay + kHour, kDay + 2 * kHour).routed, 6u);  // whole hours only
  EXPECT_EQ(Query(kDay + 10 * kHour, std::nullopt).routed, 0u);
  EXPECT_EQ(Query(kDay + 2 * kHour, kDay + kHour).routed, 0u);  // an empty window
}

TEST_F(FunnelTest, ARecordIsInsideSinceItsPrintedTimeAndOutsideUntilIt) {
  // Written at .1236 s, printed .123 (truncated): `since=<at>` takes it in, `until=<at>` not.
  const EpochSeconds at = kDay + 3.1236;
  Record(OutboxKind::kRouted, at, "a", "alice", "t");
  ASSERT_EQ(FormatRfc3339Millis(at), "2026-01-01T00:00:03.123Z");
  EpochSeconds printed = 0;
  ASSERT_TRUE(ParseRfc3339(FormatRfc3339Millis(at), &printed));
  EXPECT_EQ(Query(printed, std::nullopt).routed, 1u);
  EXPECT_EQ(Query(std::nullopt, printed).routed, 0u);
  EXPECT_EQ(Query(printed, printed + 0.001).routed, 1u);
  // A time a double holds a hair below an hour prints as the hour, and counts in it.
  const EpochSeconds hair = kDay + kHour - 4e-7;
  Record(OutboxKind::kRouted, hair, "b", "alice", "t");
  ASSERT_EQ(FormatRfc3339Millis(hair), "2026-01-01T01:00:00.000Z");
  EXPECT_EQ(Query(kDay + kHour, kDay + 2 * kHour).routed, 1u);
  EXPECT_EQ(Query(kDay, kDay + kHour).routed, 1u);  // only the first one
}

TEST_F(FunnelTest, TeamFilterUsesTheRecordsTeamOrTheOwnersTeam) {
  Record(OutboxKind::kRouted, kDay + 1, "a", "alice", "enterprise");
  Record(OutboxKind::kRouted, kDay + 2, "b", "carol", "smb");
  FunnelContext owned;
  owned.owner_team = "enterprise";
  Stage(kDay + 3, "a", "sql", "mql", owned);  // a stage record of an owned lead
  Stage(kDay + 4, "c", "new", "mql");         // of no team
  EXPECT_EQ(Query(std::nullopt, std::nullopt, "enterprise").routed, 1u);
  EXPECT_EQ(Query(std::nullopt, std::nullopt, "enterprise").transitions.at("sql>mql"), 1u);
  EXPECT_EQ(Query(std::nullopt, std::nullopt, "enterprise").transitions.count("new>mql"), 0u);
  EXPECT_EQ(Query(std::nullopt, std::nullopt, "smb").routed, 1u);
  EXPECT_EQ(Query(std::nullopt, std::nullopt).transitions.size(), 2u);
  // The same through the partial-hour path.
  EXPECT_EQ(Query(kDay + 1.5, kDay + 10, "smb").routed, 1u);
  EXPECT_EQ(Query(kDay + 1.5, kDay + 10, "enterprise").routed, 0u);
}

TEST_F(FunnelTest, SpeedToLeadFromTheQualifyingEventAndFromRouted) {
  FunnelContext qualifies;
  qualifies.reaches_routing_stage = true;
  qualifies.received_at = kDay + 10;  // received 2 s before the engine wrote the stage record
  Stage(kDay + 12, "a", "new", "sql", qualifies);
  Record(OutboxKind::kRouted, kDay + 12.0004, "a", "alice", "t");
  FunnelContext accepted;
  accepted.routed_at = kDay + 12.0004;
  Record(OutboxKind::kAccepted, kDay + 72.0004, "a", "alice", "t", accepted);
  // A lead routed again later (after a reassignment) adds no second sample.
  Record(OutboxKind::kRouted, kDay + 100, "a", "bob", "t");
  FunnelTotals t = Query(std::nullopt, std::nullopt);
  ASSERT_EQ(t.to_routed.count(), 1u);
  EXPECT_NEAR(*t.to_routed.Quantile(0.5), 2000.4, 2000.4 * 0.006);
  ASSERT_EQ(t.to_accepted.count(), 1u);
  EXPECT_NEAR(*t.to_accepted.Quantile(0.5), 60000, 60000 * 0.006);
}

// SPEC 12: `.accepted` runs "from `routed` to `accepted`": a lead rejected by its first rep and
// accepted by the next counts from its routed record, not from the reassignment (a review saw
// 3.5 s where 6.0 s had passed since routing). The time survives a restart.
TEST_F(FunnelTest, SpeedToAcceptedRunsFromTheRoutedRecordThroughAReassignment) {
  Record(OutboxKind::kRouted, kDay + 10, "a", "alice", "t");
  Record(OutboxKind::kRejected, kDay + 12, "a", "alice", "t");
  Record(OutboxKind::kReassigned, kDay + 12.5, "a", "bob", "t");
  Restart();
  FunnelContext accepted;
  accepted.routed_at = kDay + 12.5;  // when bob got it
  Record(OutboxKind::kAccepted, kDay + 16, "a", "bob", "t", accepted);
  FunnelTotals t = Query(std::nullopt, std::nullopt);
  ASSERT_EQ(t.to_accepted.count(), 1u);
  EXPECT_NEAR(*t.to_accepted.Quantile(0.5), 6000, 6000 * 0.006);
}

TEST_F(FunnelTest, FeedbackUsesTheRulesAtRoutingAndSurvivesARestart) {
  const std::vector<FunnelRule> at_routing = {{"pricing", "engagement"}, {"big", "fit"}};
  const std::vector<FunnelRule> later = {{"pricing", "engagement"}, {"webinar", "engagement"}};
  FunnelContext routed;
  routed.rules_now = &at_routing;
  Record(OutboxKind::kRouted, kDay + 1, "a", "alice", "t", routed);
  Record(OutboxKind::kRouted, kDay + 2, "b", "alice", "t", routed);
  Restart();  // the marks are in the store
  FunnelContext closing;
  closing.rules_now = &later;  // what the lead has now does not count
  Close(kDay + 3, "a", "alice", "won", 1000, closing);
  Close(kDay + 4, "b", "alice", "lost", std::nullopt, closing);
  FunnelTotals t = Query(std::nullopt, std::nullopt);
  EXPECT_EQ(t.rules.at({"pricing", "engagement"}).closed, 2u);
  EXPECT_EQ(t.rules.at({"pricing", "engagement"}).won, 1u);
  EXPECT_EQ(t.rules.at({"big", "fit"}).won_amount, 1000);
  EXPECT_EQ(t.rules.count({"webinar", "engagement"}), 0u);
  EXPECT_EQ(t.won_amount, 1000);
  // A close without marks (routed before the funnel, or a merged owner) uses the rules it has.
  Close(kDay + 5, "c", "alice", "won", 1, closing);
  EXPECT_EQ(Query(std::nullopt, std::nullopt).rules.at({"webinar", "engagement"}).won, 1u);
}

// SPEC 12 counts the rules that had awarded points by the time the lead was routed: a lead
// routed with none (it qualified on a trait alone) counts none at its close, even when rules
// awarded it points after its routing, and across a restart.
TEST_F(FunnelTest, ALeadRoutedWithoutRulePointsCountsNoRuleAtItsClose) {
  const std::vector<FunnelRule> none;
  const std::vector<FunnelRule> later = {{"demo", "engagement"}};
  FunnelContext routed;
  routed.rules_now = &none;
  Record(OutboxKind::kRouted, kDay + 1, "x", "alice", "t", routed);
  Restart();
  FunnelContext closing;
  closing.rules_now = &later;
  Close(kDay + 2, "x", "alice", "won", 100, closing);
  EXPECT_TRUE(Query(std::nullopt, std::nullopt).rules.empty());
  // Recycled and routed again, the lead's marks start afresh.
  Record(OutboxKind::kRouted, kDay + 3, "x", "alice", "t", closing);
  Close(kDay + 4, "x", "alice", "lost", std::nullopt, routed);
  EXPECT_EQ(Query(std::nullopt, std::nullopt).rules.at({"demo", "engagement"}).closed, 1u);
}

TEST_F(FunnelTest, MarksStoredBeforeTheRoutedFlagStillCountTheirRules) {
  // The form before the flag: qualified_at, the rules, nothing after them.
  std::string value;
  coding::PutDouble(0, &value);
  coding::PutVarint(1, &value);
  coding::PutString("pricing", &value);
  coding::PutString("engagement", &value);
  CommitBatch batch;
  batch.PutFunnel("la", value);
  ASSERT_OK(store_.Commit(&batch));
  Restart();
  const std::vector<FunnelRule> later = {{"demo", "engagement"}};
  FunnelContext closing;
  closing.rules_now = &later;
  Close(kDay + 2, "a", "alice", "won", 1, closing);
  const FunnelTotals t = Query(std::nullopt, std::nullopt);
  EXPECT_EQ(t.rules.at({"pricing", "engagement"}).won, 1u);
  EXPECT_EQ(t.rules.count({"demo", "engagement"}), 0u);
}

TEST_F(FunnelTest, ARestartAnswersTheSame) {
  for (int i = 0; i < 20; ++i) {
    Record(OutboxKind::kRouted, kDay + i * 1000, "l" + std::to_string(i), "alice", "t");
    Close(kDay + i * 1000 + 5, "l" + std::to_string(i), "alice", i % 3 == 0 ? "won" : "lost", i);
  }
  const FunnelTotals all = Query(std::nullopt, std::nullopt);
  const FunnelTotals part = Query(kDay + 1500, kDay + 12000);
  const FunnelTotals all_time = funnel_->all_time();
  Restart();
  EXPECT_EQ(Query(std::nullopt, std::nullopt), all);
  EXPECT_EQ(Query(kDay + 1500, kDay + 12000), part);
  EXPECT_EQ(funnel_->all_time(), all_time);
  EXPECT_EQ(all, all_time);
}

TEST_F(FunnelTest, TrimmedFactsCountTheirHourWholeAndOldHoursGo) {
  options_.fact_retention = 2 * kHour;
  options_.hour_retention = 10 * kHour;
  Restart();
  Record(OutboxKind::kRouted, kDay + 10, "a", "alice", "t");
  Record(OutboxKind::kRouted, kDay + 20, "b", "alice", "t");
  EXPECT_EQ(Query(kDay + 15, kDay + kHour).routed, 1u);
  funnel_->Trim(kDay + 3 * kHour, &batch_);
  Commit();
  // The first hour's facts are gone: a window starting inside it counts the hour only when the
  // hour starts inside the window.
  EXPECT_EQ(Query(kDay + 15, kDay + kHour).routed, 0u);
  EXPECT_EQ(Query(kDay, kDay + 30 * 60).routed, 2u);
  Restart();
  EXPECT_EQ(Query(kDay + 15, kDay + kHour).routed, 0u);
  EXPECT_EQ(Query(std::nullopt, std::nullopt).routed, 2u);
  funnel_->Trim(kDay + 11 * kHour, &batch_);
  Commit();
  EXPECT_EQ(Query(std::nullopt, std::nullopt).routed, 0u);
  Restart();
  EXPECT_EQ(Query(std::nullopt, std::nullopt).routed, 0u);
}

TEST_F(FunnelTest, AForgottenLeadLeavesNoMarks) {
  const std::vector<FunnelRule> rules = {{"r", "s"}};
  FunnelContext routed;
  routed.rules_now = &rules;
  Record(OutboxKind::kRouted, kDay + 1, "a", "alice", "t", routed);
  funnel_->Forget("a", &batch_);
  Commit();
  Restart();
  Close(kDay + 2, "a", "alice", "won");
  EXPECT_TRUE(Query(std::nullopt, std::nullopt).rules.empty());
}

TEST_F(FunnelTest, MovedMarksGoWithTheOwnerToTheMergedLead) {
  const std::vector<FunnelRule> at_routing = {{"demo", "engagement"}};
  const std::vector<FunnelRule> later = {{"demo", "engagement"}, {"blog", "engagement"}};
  FunnelContext routed;
  routed.rules_now = &at_routing;
  Record(OutboxKind::kRouted, kDay + 1, "anon", "alice", "t", routed);
  funnel_->MoveMarks("anon", "kim", &batch_);
  Commit();
  Restart();
  FunnelContext closing;
  closing.rules_now = &later;
  Close(kDay + 2, "kim", "alice", "lost", std::nullopt, closing);
  const FunnelTotals t = Query(std::nullopt, std::nullopt);
  EXPECT_EQ(t.rules.at({"demo", "engagement"}).closed, 1u);
  EXPECT_EQ(t.rules.count({"blog", "engagement"}), 0u);
  // anon's marks went with it: a close under that id has none.
  Close(kDay + 3, "anon", "alice", "lost");
  EXPECT_EQ(Query(std::nullopt, std::nullopt).rules.at({"demo", "engagement"}).closed, 1u);
}

TEST_F(FunnelTest, FactsOfOneCommitAcrossHoursGiveExactWindows) {
  // A commit's facts go into one block an hour, keyed by the block's earliest fact: a window
  // starting after that fact, inside the hour, still finds the later facts of the block.
  commit_each_ = false;
  std::vector<EpochSeconds> ats;
  for (int i = 0; i < 40; ++i) {
    ats.push_back(kDay + i * 420 + 0.125);  // every 7 minutes: 40 over ~4.7 hours
    Record(OutboxKind::kRouted, ats.back(), "l" + std::to_string(i), "alice", "t");
    if (i == 17 || i == 39) {
      Commit();  // two commits, each spanning hours
    }
  }
  for (EpochSeconds since : {kDay + 100.0, kDay + 1000.0, kDay + kHour + 1.0, kDay + 7777.0}) {
    for (EpochSeconds until : {kDay + 2 * kHour + 50.0, kDay + 4 * kHour + 999.0}) {
      uint64_t expected = 0;
      for (EpochSeconds at : ats) {
        expected += at >= since && at < until ? 1 : 0;
      }
      EXPECT_EQ(Query(since, until).routed, expected) << since - kDay << " " << until - kDay;
    }
  }
  Restart();
  EXPECT_EQ(Query(kDay + 1000, kDay + 4 * kHour + 999).routed, 34u);  // facts 3 .. 36
}

TEST_F(FunnelTest, FactsStoredAKeyEachStillCount) {
  // The form before blocks: one fact a key (FunnelFact::Encode). A data directory written then
  // reads the same windows.
  Record(OutboxKind::kRouted, kDay + 100, "a", "alice", "t");
  FunnelFact old;
  old.seq = 1000;
  old.at = kDay + 200;
  old.kind = OutboxKind::kRouted;
  old.team = "t";
  old.rep = "alice";
  std::string value;
  old.Encode(&value);
  std::string key = "f";
  store_format::AppendSeqKey(static_cast<uint64_t>((kDay + 200) * 1000), &key);
  store_format::AppendSeqKey(old.seq, &key);
  CommitBatch batch;
  batch.PutFunnel(key, value);
  ASSERT_OK(store_.Commit(&batch));
  EXPECT_EQ(Query(kDay + 50, kDay + 300).routed, 2u);
  EXPECT_EQ(Query(kDay + 150, kDay + 300).routed, 1u);
}

TEST_F(FunnelTest, CorruptStoredTotalsFailTheLoad) {
  Record(OutboxKind::kRouted, kDay + 1, "a", "alice", "t");
  CommitBatch bad;
  std::string key = "h";
  key.append(8, '\0');
  bad.PutFunnel(key, "not totals");
  ASSERT_OK(store_.Commit(&bad));
  Funnel again(options_, &store_);
  EXPECT_EQ(again.Load().code(), Status::Code::kCorruption);
}

}  // namespace
}  // namespace handoff
