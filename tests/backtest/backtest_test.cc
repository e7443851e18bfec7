#include "backtest/backtest.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "history/history_log.h"
#include "rules/rule_loader.h"
#include "scoring/scorer.h"
#include "storage/lead_codec.h"
#include "tests/core/memory_store.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

using handoff::testing::MemoryStore;

constexpr EpochSeconds kT0 = 1'800'000'000;

constexpr char kLive[] =
    "scores:\n"
    "  e: {kind: event}\n"
    "rules:\n"
    "  - {id: click, score: e, when: 'event == \"Click\"', points: 1}\n"
    "stages:\n"
    "  - {name: sql, enter: 'score.e >= 100'}\n";

// Clicks are worth 10: three make a lead sql, routed to one rep who takes one lead at most.
constexpr char kCandidate[] =
    "scores:\n"
    "  e: {kind: event}\n"
    "rules:\n"
    "  - {id: click, score: e, when: 'event == \"Click\"', points: 10}\n"
    "stages:\n"
    "  - {name: sql, enter: 'score.e >= 30'}\n"
    "routing:\n"
    "  stage: sql\n"
    "  teams:\n"
    "    - {id: t, when: 'true', reps: [{id: r, max_open: 1}]}\n";

std::shared_ptr<const RuleSet> Rules(const char* yaml) {
  LoadResult loaded = LoadRulesFromString(yaml, "test.yaml");
  EXPECT_TRUE(loaded.ok());
  return loaded.rules;
}

// Writes leads and their history the way the engine does (one block per Commit), applying each
// event under the live rules.
class StoreBuilder {
 public:
  explicit StoreBuilder(MemoryStore* store, const char* live = kLive)
      : store_(store), log_(store, true), live_(Rules(live)) {
    EXPECT_OK(log_.Restore());
  }

  // A click by `id`, applied to the lead `root` (itself unless linked), received at `received`,
  // at `at` (0: a second after the click before).
  void Click(const std::string& id, const std::string& root, EpochSeconds received,
             EpochSeconds at = 0) {
    Lead& lead = leads_[root];
    if (lead.id.empty()) {
      lead.id = root;
    }
    HistoryChain* chain = nullptr;
    for (HistoryChain& c : lead.history) {
      if (c.lead == id) {
        chain = &c;
      }
    }
    if (chain == nullptr) {
      lead.history.push_back({id, 0});
      chain = &lead.history.back();
    }
    Event e;
    e.type = EventType::kTrack;
    e.user_id = id;
    e.name = "Click";
    e.has_name = true;
    e.message_id = "m" + std::to_string(++messages_);
    e.timestamp = at != 0 ? at : kT0 + messages_;
    e.has_timestamp = true;
    (void)live_.Apply(e, &lead);
    log_.Append(chain, received, e, {{"click", 1}});
  }
  void Link(const std::string& id, const std::string& root) { batch_.PutLink(id, root); }
  void Forget(const std::string& root) { leads_.erase(root); }
  void SetOwner(const std::string& root, const std::string& rep) {
    LeadOwner owner;
    owner.rep = rep;
    owner.team = "t";
    owner.seq = 1;
    leads_[root].owner = owner;
  }
  void Commit() {
    log_.Flush(&batch_, kT0);
    for (const auto& [id, lead] : leads_) {
      std::string encoded;
      EncodeLeadState(lead, &encoded);
      batch_.PutLead(id, encoded);
    }
    ASSERT_OK(store_->Commit(&batch_));
  }

 private:
  MemoryStore* store_;
  HistoryLog log_;
  Scorer live_;
  std::map<std::string, Lead> leads_;
  CommitBatch batch_;
  int messages_ = 0;
};

BacktestReport RunOn(MemoryStore& store, std::optional<EpochSeconds> since = std::nullopt,
                     const std::atomic<bool>* cancel = nullptr, Status* status = nullptr,
                     uint64_t max_leads_in_memory = 1'000'000) {
  BacktestRequest request;
  request.live = Rules(kLive);
  request.candidate = Rules(kCandidate);
  request.at = kT0 + 1000;
  request.since = since;
  request.max_leads_in_memory = max_leads_in_memory;
  BacktestControl control;
  control.cancel = cancel;
  BacktestReport report;
  std::unique_ptr<StoreSnapshot> snapshot = store.Snapshot();
  Status st = RunBacktest(*snapshot, request, control, &report);
  if (status != nullptr) {
    *status = st;
  } else {
    EXPECT_OK(st);
  }
  return report;
}

uint64_t Count(const std::vector<std::pair<std::string, uint64_t>>& stages, const char* name) {
  for (const auto& [stage, n] : stages) {
    if (stage == name) {
      return n;
    }
  }
  return 0;
}

TEST(BacktestTest, AMergedVisitorsEventsCountForItsLead) {
  MemoryStore store;
  StoreBuilder b(&store);
  b.Click("anon", "u", kT0);
  b.Click("anon", "u", kT0);
  b.Link("anon", "u");
  b.Click("u", "u", kT0);
  b.Commit();
  const BacktestReport report = RunOn(store);
  EXPECT_EQ(report.leads, 1u);
  EXPECT_EQ(report.events, 3u);
  EXPECT_EQ(Count(report.stages_now, "new"), 1u);
  EXPECT_EQ(Count(report.stages_candidate, "sql"), 1u);
  EXPECT_EQ(report.changes.at("new>sql"), 1u);
  ASSERT_EQ(report.rules.size(), 1u);
  EXPECT_EQ(report.rules[0].now, 3);
  EXPECT_EQ(report.rules[0].candidate, 30);
  ASSERT_EQ(report.examples.size(), 1u);
  EXPECT_NE(report.examples[0].find("\"lead\":\"u\""), std::string::npos);
}

// A lead stored before a reload changed its score's half-life, and not read by the engine since,
// still holds its awards folded under the old one: the "now" side folds them again from its
// history, as the engine answers the lead (SPEC 13: "now" is the live score at `at`). A backtest
// of the rules in force then shows no change.
TEST(BacktestTest, NowFoldsALeadStoredUnderAnOldHalfLifeAgain) {
  constexpr char kOneDay[] =
      "scores:\n"
      "  e: {kind: event, half_life: 1d}\n"
      "rules:\n"
      "  - {id: click, score: e, when: 'event == \"Click\"', points: 1}\n";
  constexpr char kTwoDays[] =
      "scores:\n"
      "  e: {kind: event, half_life: 2d}\n"
      "rules:\n"
      "  - {id: click, score: e, when: 'event == \"Click\"', points: 1}\n";
  MemoryStore store;
  StoreBuilder builder(&store, kOneDay);
  builder.Click("u1", "u1", kT0, kT0);
  builder.Click("u1", "u1", kT0, kT0 + 2 * 86400);
  builder.Commit();

  BacktestRequest request;
  request.live = Rules(kTwoDays);
  request.candidate = Rules(kTwoDays);
  request.at = kT0 + 2 * 86400;
  BacktestReport report;
  std::unique_ptr<StoreSnapshot> snapshot = store.Snapshot();
  ASSERT_OK(RunBacktest(*snapshot, request, BacktestControl(), &report));
  ASSERT_EQ(report.rules.size(), 1u);
  // A point two days old and one new: 1.5 under a 2-day half-life. Stored under 1 day they
  // were folded into 1.25, which is what "now" read before it was folded again.
  EXPECT_DOUBLE_EQ(report.rules[0].candidate, 1.5);
  EXPECT_EQ(report.rules[0].now, report.rules[0].candidate);
}

TEST(BacktestTest, HistoryOfLeadsNoLongerStoredIsLeftOut) {
  MemoryStore store;
  StoreBuilder b(&store);
  b.Click("gone", "gone", kT0);
  b.Forget("gone");  // erased: its leftover history entry must not make a lead
  b.Click("kept", "kept", kT0);
  b.Commit();
  const BacktestReport report = RunOn(store);
  EXPECT_EQ(report.leads, 1u);
  EXPECT_EQ(report.events, 1u);
}

TEST(BacktestTest, SinceReplaysOnlyWhatWasReceivedSinceThen) {
  MemoryStore store;
  StoreBuilder b(&store);
  b.Click("old", "old", kT0);
  b.Click("both", "both", kT0);
  b.Click("both", "both", kT0 + 100);
  b.Commit();
  const BacktestReport report = RunOn(store, kT0 + 50);
  EXPECT_EQ(report.leads, 1u);
  EXPECT_EQ(report.events, 1u);
}

TEST(BacktestTest, RoutingPreviewRespectsCapsAndOpenOwners) {
  MemoryStore store;
  StoreBuilder b(&store);
  for (const char* lead : {"a", "b", "c", "owned"}) {
    for (int i = 0; i < 3; ++i) {
      b.Click(lead, lead, kT0);
    }
  }
  b.SetOwner("owned", "r");  // an open lead of r's, and not routed again
  b.Commit();
  const BacktestReport report = RunOn(store);
  EXPECT_EQ(Count(report.stages_candidate, "sql"), 4u);
  EXPECT_EQ(report.routing.stage, "sql");
  // r already holds one lead (max_open 1): a, b and c wait in t's queue.
  EXPECT_EQ(report.routing.teams.at("t"), 3u);
  EXPECT_EQ(report.routing.queued, 3u);
  EXPECT_TRUE(report.routing.reps.empty());
}

TEST(BacktestTest, RoutingPreviewGivesTheFirstToQualifyTheRep) {
  MemoryStore store;
  StoreBuilder b(&store);
  for (const char* lead : {"late", "early"}) {
    b.Click(lead, lead, kT0);
    b.Click(lead, lead, kT0);
  }
  b.Click("early", "early", kT0);  // early reaches sql first
  b.Click("late", "late", kT0);
  b.Commit();
  const BacktestReport report = RunOn(store);
  EXPECT_EQ(report.routing.reps.at("r"), 1u);
  EXPECT_EQ(report.routing.queued, 1u);
}

TEST(BacktestTest, PassesOverPartsOfTheLeadsGiveTheSameReport) {
  MemoryStore store;
  StoreBuilder b(&store);
  for (int i = 0; i < 40; ++i) {
    const std::string lead = "lead" + std::to_string(i);
    for (int k = 0; k <= i % 5; ++k) {
      b.Click(lead, lead, kT0);
    }
    if (i % 7 == 0) {
      b.Click("anon" + std::to_string(i), lead, kT0);
      b.Link("anon" + std::to_string(i), lead);
    }
  }
  b.Commit();
  const BacktestReport one = RunOn(store);
  const BacktestReport many = RunOn(store, std::nullopt, nullptr, nullptr, 6);
  EXPECT_EQ(one.passes, 1u);
  EXPECT_EQ(many.passes, 7u);
  EXPECT_EQ(many.leads, 40u);
  EXPECT_EQ(many.events, one.events);
  EXPECT_EQ(many.stages_candidate, one.stages_candidate);
  EXPECT_EQ(many.changes, one.changes);
  EXPECT_FALSE(one.examples.empty());
  EXPECT_EQ(many.examples, one.examples);  // the first changed leads by id, whatever the passes
  EXPECT_EQ(many.routing.teams, one.routing.teams);
  EXPECT_EQ(many.routing.reps, one.routing.reps);
  ASSERT_EQ(many.rules.size(), one.rules.size());
  EXPECT_DOUBLE_EQ(many.rules[0].candidate, one.rules[0].candidate);
}

TEST(BacktestTest, ACancelledRunStops) {
  MemoryStore store;
  StoreBuilder b(&store);
  b.Click("a", "a", kT0);
  b.Commit();
  std::atomic<bool> cancel{true};
  Status st;
  (void)RunOn(store, std::nullopt, &cancel, &st);
  EXPECT_FALSE(st.ok());
}

TEST(BacktestTest, TheReportsJsonHasTheContractsFields) {
  MemoryStore store;
  StoreBuilder b(&store);
  b.Click("u", "u", kT0);
  b.Commit();
  const std::string json = BacktestReportJson(RunOn(store));
  for (const char* field :
       {"\"leads\":1", "\"events\":1", "\"stages\":{\"now\":{\"new\":1,", "\"changes\":{}",
        "\"examples\":[]", "\"rules\":[{\"rule\":\"click\"", "\"routing\":{\"stage\":\"sql\""}) {
    EXPECT_NE(json.find(field), std::string::npos) << field << " in " << json;
  }
}

}  // namespace
}  // namespace handoff
