// Router tests (SPEC 7, and the accept / reject / close answers of SPEC 9), against a fake
// RouterHost that keeps leads in a map and records every published record, with a manual clock.
#include "routing/router.h"

#include <date/date.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/json_parser.h"
#include "core/engine.h"
#include "rules/rule_loader.h"
#include "scoring/scorer.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

// Stage indexes of kStages ("new" is 0).
constexpr int kNew = 0;
constexpr int kMql = 1;
constexpr int kSql = 2;
constexpr int kOpportunity = 3;

// Stages whose enter never holds: tests move leads by hand (Scorer::SetStage).
constexpr std::string_view kStages = R"(
stages:
  - {name: mql, enter: false}
  - {name: sql, enter: false}
  - {name: opportunity, enter: false}
)";

// Routing at sql to one team of one rep, "a".
constexpr std::string_view kOneRep = R"(
routing:
  stage: sql
  teams:
    - id: t
      reps: [{id: a}]
)";

constexpr double kMinute = 60;
constexpr double kHour = 3600;

// Epoch seconds of a UTC wall-clock time.
EpochSeconds Utc(int y, unsigned mo, unsigned d, int h, int mi, int s = 0) {
  using namespace std::chrono;
  date::sys_seconds t =
      date::sys_days{date::year{y} / mo / d} + hours{h} + minutes{mi} + seconds{s};
  return static_cast<EpochSeconds>(t.time_since_epoch().count());
}

// A published record, copied out of the borrowed views.
struct Rec {
  uint64_t seq = 0;
  std::string kind;
  std::string lead;
  std::string rep;
  std::string team;
  std::string reason;
  std::string from_rep;
  std::string outcome;
  std::optional<double> amount;
  std::string trigger;
  std::string stage;
  EpochSeconds scores_at = 0;
};

class FakeHost final : public RouterHost {
 public:
  Lead* FindLead(std::string_view id) override {
    auto it = leads.find(std::string(id));
    return it == leads.end() ? nullptr : &it->second;
  }
  void LeadChanged(Lead* lead) override { changed.push_back(lead->id); }
  uint64_t Publish(OutboxRecord* record, Lead* lead, EpochSeconds scores_at) override {
    Rec r;
    r.seq = next_seq++;
    r.kind = std::string(OutboxKindName(record->kind));
    r.lead = lead->id;
    r.rep = std::string(record->rep);
    r.team = std::string(record->team);
    r.reason = std::string(record->reason);
    r.from_rep = std::string(record->from_rep);
    r.outcome = std::string(record->outcome);
    r.amount = record->amount;
    r.trigger = std::string(record->trigger);
    r.stage = lead->stage;
    r.scores_at = scores_at;
    record->seq = r.seq;
    records.push_back(std::move(r));
    return record->seq;
  }
  // As the engine does after a recycled close: set the stage, publish nothing here (stage
  // records are not under test), and tell the router.
  void ResetStage(Lead* lead) {
    const int stage = 0;
    forced.emplace_back(lead->id, stage);
    StageChange change{scorer->StageIndex(lead), stage};
    if (!change.changed()) {
      return;
    }
    scorer->SetStage(lead, stage);
    router->OnStageChange(lead, change, "", clock->Now());
  }
  void PutMeta(std::string_view key, std::string_view value) override {
    meta[std::string(key)] = std::string(value);
    ++meta_writes;
    meta_bytes += key.size() + value.size();
  }
  void DeleteMeta(std::string_view key) override {
    meta.erase(std::string(key));
    ++meta_writes;
    meta_bytes += key.size();
  }
  // What Router::Restore reads: the meta records above.
  RouterMetaReader Reader() {
    RouterMetaReader reader;
    reader.get = [this](std::string_view key, std::string* value) {
      auto it = meta.find(std::string(key));
      if (it == meta.end()) {
        return Status::NotFound(std::string(key));
      }
      *value = it->second;
      return Status::Ok();
    };
    reader.scan = [this](std::string_view prefix,
                         const std::function<void(std::string_view, std::string_view)>& fn) {
      for (auto it = meta.lower_bound(std::string(prefix));
           it != meta.end() && it->first.starts_with(prefix); ++it) {
        fn(it->first, it->second);
      }
      return Status::Ok();
    };
    return reader;
  }

  std::map<std::string, Lead> leads;
  std::vector<Rec> records;
  std::vector<std::string> changed;
  std::vector<std::pair<std::string, int>> forced;
  std::map<std::string, std::string> meta;
  int meta_writes = 0;
  size_t meta_bytes = 0;  // keys and values written, keys deleted
  uint64_t next_seq = 1;
  const Scorer* scorer = nullptr;
  Router* router = nullptr;
  const Clock* clock = nullptr;
};

class RouterTest : public ::testing::Test {
 protected:
  // Monday 2026-01-12 15:00 UTC (10:00 in New York).
  RouterTest() : clock_(Utc(2026, 1, 12, 15, 0)) {
    host_.clock = &clock_;
    router_ = std::make_unique<Router>(&host_, &clock_, &metrics_);
    host_.router = router_.get();
  }

  // Loads kStages + `routing` and installs it (a reload when rules are already in force).
  void Load(std::string_view routing) {
    std::string yaml = std::string(kStages) + std::string(routing);
    LoadResult loaded = LoadRulesFromString(yaml, "test.yaml");
    ASSERT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].ToString());
    scorers_.push_back(std::make_unique<Scorer>(loaded.rules));
    host_.scorer = scorers_.back().get();
    router_->SetRules(host_.scorer);
  }

  Lead* NewLead(const std::string& id, std::string_view traits = "{}") {
    Lead& lead = host_.leads[id];
    lead.id = id;
    JsonParser parser;
    EXPECT_OK(parser.Parse(traits, &lead.traits));
    return &lead;
  }

  // Moves the lead to `to` the way the engine reports an event's stage change (trigger m-ID).
  void MoveTo(Lead* lead, int to) {
    StageChange change{host_.scorer->StageIndex(lead), to};
    ASSERT_TRUE(change.changed());
    host_.scorer->SetStage(lead, to);
    router_->OnStageChange(lead, change, "m-" + lead->id, clock_.Now());
  }

  Lead* Qualified(const std::string& id, std::string_view traits = "{}") {
    Lead* lead = NewLead(id, traits);
    MoveTo(lead, kSql);
    return lead;
  }

  // The records published since the last call.
  std::vector<Rec> Take() {
    std::vector<Rec> out;
    out.swap(host_.records);
    return out;
  }

  // Lets the SLA of the rule files here (accept_within: 10m) lapse: the clock moves on 10 minutes
  // and the router ticks. Then takes the records published since the last call.
  std::vector<Rec> TakeAfterLapse() {
    clock_.Advance(10 * kMinute);
    router_->Tick();
    return Take();
  }

  // Reps of the routing records published since the last call; fails on any other kind.
  std::vector<std::string> TakeRoutedReps() {
    std::vector<std::string> reps;
    for (const Rec& r : Take()) {
      EXPECT_EQ(r.kind, "routed") << r.lead;
      reps.push_back(r.rep);
    }
    return reps;
  }

  // One team, its one rep offline, and q1 then q2 waiting in its queue, flushed.
  void QueueQ1AndQ2ForOfflineCarol() {
    Load(R"(
routing:
  stage: sql
  account_match: true
  teams:
    - id: small
      reps: [{id: carol}]
)");
    ASSERT_OK(router_->SetOnline("carol", false));
    Qualified("q1");
    Qualified("q2");
    router_->Flush();
  }
  // An escalation record's value: a zero byte, the team's wake and release generations at the
  // escalation (one-byte varints), and the one rep that held the lead, with a one-byte length.
  // `with_generations` false: the form of a version that kept no generations.
  static std::string ParkedRecord(const std::string& rep, bool with_generations = true) {
    const std::string held = std::string(1, static_cast<char>(rep.size())) + rep;
    return with_generations ? std::string("\0\0\0", 3) + held : held;
  }
  // A queue record's value: the queue and the lead, each with a one-byte length.
  static std::string QueueRecord(const std::string& queue, const std::string& lead) {
    return std::string(1, static_cast<char>(queue.size())) + queue +
           std::string(1, static_cast<char>(lead.size())) + lead;
  }

  // The router's queue records in key (= queue) order, each as "queue:lead".
  std::vector<std::string> QueueRecords() {
    std::vector<std::string> out;
    for (const auto& [key, value] : host_.meta) {
      if (!key.starts_with("router.queue.")) {
        continue;
      }
      // Two length-prefixed strings, each shorter than 128 bytes here: one length byte each.
      std::string_view v = value;
      std::string_view queue = v.substr(1, static_cast<uint8_t>(v[0]));
      v.remove_prefix(1 + queue.size());
      std::string_view lead = v.substr(1, static_cast<uint8_t>(v[0]));
      if (queue.starts_with('\x01')) {
        queue.remove_prefix(1);  // the unrouted queue's key
      }
      out.push_back(std::string(queue) + ":" + std::string(lead));
    }
    return out;
  }

  std::optional<RepView> View(const std::string& id) {
    for (RepView& v : router_->Reps()) {
      if (v.id == id) {
        return v;
      }
    }
    return std::nullopt;
  }

  SalesActionResult Act(SalesActionKind kind, uint64_t seq, std::string as_rep = "",
                        std::string outcome = "", std::string reason = "") {
    SalesAction a;
    a.kind = kind;
    a.seq = seq;
    a.as_rep = std::move(as_rep);
    a.outcome = std::move(outcome);
    a.reason = std::move(reason);
    SalesActOutcome done = router_->Act(a);
    if (done.recycled_lead != nullptr) {
      host_.ResetStage(done.recycled_lead);
    }
    return done.result;
  }
  SalesActionResult Accept(uint64_t seq, std::string as_rep = "") {
    return Act(SalesActionKind::kAccept, seq, std::move(as_rep));
  }
  SalesActionResult Reject(uint64_t seq, std::string reason = "", std::string as_rep = "") {
    return Act(SalesActionKind::kReject, seq, std::move(as_rep), "", std::move(reason));
  }
  SalesActionResult Close(uint64_t seq, std::string outcome, std::string as_rep = "") {
    return Act(SalesActionKind::kClose, seq, std::move(as_rep), std::move(outcome));
  }

  // A restart: flush, then a new Router restored from the meta records and the stored leads.
  // With `changed_routing`, the start is on other rules (kStages + it), a new load as the engine
  // tells the router.
  void Restart(std::string_view changed_routing = "") {
    router_->Flush();
    if (!changed_routing.empty()) {
      LoadResult loaded =
          LoadRulesFromString(std::string(kStages) + std::string(changed_routing), "test.yaml");
      ASSERT_TRUE(loaded.ok());
      scorers_.push_back(std::make_unique<Scorer>(loaded.rules));
      host_.scorer = scorers_.back().get();
    }
    auto fresh = std::make_unique<Router>(&host_, &clock_, &metrics_);
    ASSERT_OK(fresh->Restore(host_.Reader()));
    fresh->SetRules(host_.scorer);
    if (!changed_routing.empty()) {
      fresh->StartedOnNewRules();
    }
    for (auto& [id, lead] : host_.leads) {
      lead.scoring_cache = LeadScoringCache{};  // as if decoded from the store
      fresh->AdoptLead(&lead);
    }
    router_ = std::move(fresh);
    host_.router = router_.get();
  }

  ManualClock clock_;
  Metrics metrics_;
  FakeHost host_;
  std::vector<std::unique_ptr<Scorer>> scorers_;
  std::unique_ptr<Router> router_;
};

std::vector<std::string> Seq(std::initializer_list<const char*> reps) {
  return std::vector<std::string>(reps.begin(), reps.end());
}

// ---------------------------------------------------------------------------------------------
// Strategies

constexpr std::string_view kWeighted511 = R"(
routing:
  stage: sql
  teams:
    - id: sales
      strategy: weighted_round_robin
      reps:
        - {id: alice, weight: 5}
        - {id: bob, weight: 1}
        - {id: carol, weight: 1}
)";

TEST_F(RouterTest, SmoothWeightedRoundRobinIsTheNginxSequence) {
  Load(kWeighted511);
  for (int i = 0; i < 14; ++i) {
    Qualified("l" + std::to_string(i));
  }
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 14u);
  std::vector<std::string> reps;
  for (const Rec& r : recs) {
    reps.push_back(r.rep);
  }
  EXPECT_EQ(reps, Seq({"alice", "alice", "bob", "alice", "carol", "alice", "alice",  //
                       "alice", "alice", "bob", "alice", "carol", "alice", "alice"}));
  const Rec& first = recs[0];
  EXPECT_EQ(first.seq, 1u);
  EXPECT_EQ(first.kind, "routed");
  EXPECT_EQ(first.lead, "l0");
  EXPECT_EQ(first.team, "sales");
  EXPECT_EQ(first.reason, "weighted_round_robin");
  EXPECT_EQ(first.trigger, "m-l0");
  EXPECT_EQ(first.from_rep, "");
  EXPECT_EQ(first.stage, "sql");

  const LeadOwner& owner = *host_.leads["l2"].owner;
  EXPECT_EQ(owner.rep, "bob");
  EXPECT_EQ(owner.team, "sales");
  EXPECT_EQ(owner.seq, 3u);
  EXPECT_FALSE(owner.accepted);
  EXPECT_FALSE(owner.closed);
  EXPECT_EQ(owner.routed_at, clock_.Now());
  EXPECT_EQ(owner.reassignments, 0u);
  EXPECT_EQ(owner.held_by, Seq({"bob"}));

  // After two full cycles every current weight is back at 0.
  for (const char* id : {"alice", "bob", "carol"}) {
    EXPECT_EQ(View(id)->current_weight, 0) << id;
  }
  EXPECT_EQ(View("alice")->open, 10);
  EXPECT_EQ(View("alice")->today, 10);
  EXPECT_EQ(View("bob")->open, 2);
  EXPECT_EQ(View("carol")->today, 2);
}

TEST_F(RouterTest, WeightTiesGoToFileOrder) {
  Load(R"(
routing:
  stage: sql
  teams:
    - id: sales
      strategy: weighted_round_robin
      reps: [{id: zed, weight: 2}, {id: amy, weight: 2}, {id: kim, weight: 1}]
)");
  for (int i = 0; i < 5; ++i) {
    Qualified("l" + std::to_string(i));
  }
  // (2,2,1) zed; (-1,4,2) amy; (1,1,3) kim; (3,3,-1) zed; (0,5,0) amy.
  EXPECT_EQ(TakeRoutedReps(), Seq({"zed", "amy", "kim", "zed", "amy"}));
}

TEST_F(RouterTest, RoundRobinIgnoresWeightsAndIsTheDefault) {
  Load(R"(
routing:
  stage: sql
  teams:
    - id: explicit
      when: traits.kind == "a"
      strategy: round_robin
      reps: [{id: alice, weight: 5}, {id: bob, weight: 1}, {id: carol, weight: 1}]
    - id: implicit
      reps: [{id: dan, weight: 3}, {id: erin}]
)");
  for (int i = 0; i < 6; ++i) {
    Qualified("a" + std::to_string(i), R"({"kind":"a"})");
  }
  EXPECT_EQ(TakeRoutedReps(), Seq({"alice", "bob", "carol", "alice", "bob", "carol"}));
  for (int i = 0; i < 4; ++i) {
    Qualified("b" + std::to_string(i));
  }
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[0].rep, "dan");
  EXPECT_EQ(recs[1].rep, "erin");
  EXPECT_EQ(recs[2].rep, "dan");
  EXPECT_EQ(recs[3].rep, "erin");
  EXPECT_EQ(recs[0].team, "implicit");
  EXPECT_EQ(recs[0].reason, "round_robin");
}

TEST_F(RouterTest, OnlyEligibleRepsTakePartAndOthersKeepTheirWeight) {
  Load(kWeighted511);
  ASSERT_OK(router_->SetOnline("carol", false));
  for (int i = 0; i < 6; ++i) {
    Qualified("l" + std::to_string(i));
  }
  // Smooth WRR over alice 5, bob 1: a a a b a a.
  EXPECT_EQ(TakeRoutedReps(), Seq({"alice", "alice", "alice", "bob", "alice", "alice"}));
  EXPECT_EQ(View("carol")->current_weight, 0);
  EXPECT_EQ(View("carol")->open, 0);
  EXPECT_EQ(View("alice")->current_weight, 0);
  EXPECT_EQ(View("bob")->current_weight, 0);

  // Back online: the full sequence from a clean state.
  ASSERT_OK(router_->SetOnline("carol", true));
  for (int i = 6; i < 13; ++i) {
    Qualified("l" + std::to_string(i));
  }
  EXPECT_EQ(TakeRoutedReps(), Seq({"alice", "alice", "bob", "alice", "carol", "alice", "alice"}));
}

TEST_F(RouterTest, LeastLoadedFewestOpenThenFewestTodayThenFileOrder) {
  Load(R"(
routing:
  stage: sql
  teams:
    - id: support
      strategy: least_loaded
      reps: [{id: x}, {id: y}, {id: z}]
)");
  Qualified("l1");
  Qualified("l2");
  Qualified("l3");
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].rep, "x");
  EXPECT_EQ(recs[1].rep, "y");
  EXPECT_EQ(recs[2].rep, "z");
  EXPECT_EQ(recs[0].reason, "least_loaded");

  // x and y close theirs: open 0/0/1, today 1/1/1 -> x (file order), then y (fewer open).
  ASSERT_TRUE(Close(recs[0].seq, "won").ok);
  ASSERT_TRUE(Close(recs[1].seq, "lost").ok);
  Take();
  Qualified("l4");
  Qualified("l5");
  // Now open 1/1/1, today 2/2/1 -> z (fewest today).
  Qualified("l6");
  EXPECT_EQ(TakeRoutedReps(), Seq({"x", "y", "z"}));
  // Open 1/1/2, today 2/2/2 -> x.
  Qualified("l7");
  EXPECT_EQ(TakeRoutedReps(), Seq({"x"}));
  EXPECT_EQ(View("x")->current_weight, 0);  // least_loaded does not use weights
}

// ---------------------------------------------------------------------------------------------
// Eligibility: hours, days, limits, availability, skills

// Eligibility of a one-rep team at `t`, as GET /v1/reps reports it.
class HoursTest : public RouterTest {
 protected:
  bool InHoursAt(const std::string& rep, EpochSeconds t) {
    clock_.Set(t);
    std::optional<RepView> v = View(rep);
    EXPECT_TRUE(v.has_value());
    EXPECT_EQ(v->in_hours, v->eligible);
    EXPECT_EQ(v->why_not, v->eligible ? "" : "outside_hours");
    return v->in_hours;
  }
};

TEST_F(HoursTest, NewYorkHoursFollowDaylightSavingTime) {
  Load(R"(
routing:
  stage: sql
  teams:
    - id: us
      reps:
        - {id: ny, timezone: America/New_York, hours: "Mon-Fri 09:00-17:00"}
)");
  // EST (UTC-5), Monday 2026-01-12.
  EXPECT_FALSE(InHoursAt("ny", Utc(2026, 1, 12, 13, 59, 59)));
  EXPECT_TRUE(InHoursAt("ny", Utc(2026, 1, 12, 14, 0, 0)));
  EXPECT_TRUE(InHoursAt("ny", Utc(2026, 1, 12, 21, 59, 59)));
  EXPECT_FALSE(InHoursAt("ny", Utc(2026, 1, 12, 22, 0, 0)));
  // EDT (UTC-4), Monday 2026-07-13.
  EXPECT_FALSE(InHoursAt("ny", Utc(2026, 7, 13, 12, 59, 59)));
  EXPECT_TRUE(InHoursAt("ny", Utc(2026, 7, 13, 13, 0, 0)));
  EXPECT_TRUE(InHoursAt("ny", Utc(2026, 7, 13, 20, 59, 59)));
  EXPECT_FALSE(InHoursAt("ny", Utc(2026, 7, 13, 21, 0, 0)));
  // The same UTC instant the Monday before and after the switch (Sunday 2026-03-08).
  EXPECT_FALSE(InHoursAt("ny", Utc(2026, 3, 2, 13, 30)));  // 08:30 EST
  EXPECT_TRUE(InHoursAt("ny", Utc(2026, 3, 9, 13, 30)));   // 09:30 EDT
  // Weekdays are local: Monday 02:00 UTC is Sunday 21:00 in New York; Saturday 01:00 UTC is
  // Friday 20:00.
  EXPECT_FALSE(InHoursAt("ny", Utc(2026, 1, 12, 2, 0)));
  EXPECT_FALSE(InHoursAt("ny", Utc(2026, 1, 17, 15, 0)));  // Saturday 10:00
  EXPECT_TRUE(InHoursAt("ny", Utc(2026, 1, 16, 21, 59)));  // Friday 16:59
}

TEST_F(HoursTest, BerlinHoursFollowDaylightSavingTime) {
  Load(R"(
routing:
  stage: sql
  teams:
    - id: eu
      reps:
        - {id: berlin, timezone: Europe/Berlin, hours: "Mon-Fri 09:00-17:00"}
)");
  EXPECT_FALSE(InHoursAt("berlin", Utc(2026, 1, 12, 7, 59, 59)));  // CET, UTC+1
  EXPECT_TRUE(InHoursAt("berlin", Utc(2026, 1, 12, 8, 0, 0)));
  EXPECT_TRUE(InHoursAt("berlin", Utc(2026, 1, 12, 15, 59, 59)));
  EXPECT_FALSE(InHoursAt("berlin", Utc(2026, 1, 12, 16, 0, 0)));
  EXPECT_FALSE(InHoursAt("berlin", Utc(2026, 7, 13, 6, 59, 59)));  // CEST, UTC+2
  EXPECT_TRUE(InHoursAt("berlin", Utc(2026, 7, 13, 7, 0, 0)));
  EXPECT_FALSE(InHoursAt("berlin", Utc(2026, 7, 13, 15, 0, 0)));
  // Around the EU switch (Sunday 2026-03-29).
  EXPECT_FALSE(InHoursAt("berlin", Utc(2026, 3, 23, 7, 30)));  // 08:30 CET
  EXPECT_TRUE(InHoursAt("berlin", Utc(2026, 3, 30, 7, 30)));   // 09:30 CEST
  // Friday 23:30 UTC is Saturday 00:30 in Berlin.
  EXPECT_FALSE(InHoursAt("berlin", Utc(2026, 1, 16, 23, 30)));
}

TEST_F(HoursTest, OvernightRangeRunsIntoTheNextDay) {
  Load(R"(
routing:
  stage: sql
  teams:
    - id: night
      reps:
        - {id: owl, timezone: Asia/Tokyo, hours: "Sat-Sun 22:00-06:00"}
)");
  // Tokyo is UTC+9 all year. Saturday 2026-01-17.
  EXPECT_FALSE(InHoursAt("owl", Utc(2026, 1, 17, 12, 59)));  // Sat 21:59
  EXPECT_TRUE(InHoursAt("owl", Utc(2026, 1, 17, 13, 0)));    // Sat 22:00
  EXPECT_TRUE(InHoursAt("owl", Utc(2026, 1, 17, 20, 59)));   // Sun 05:59
  EXPECT_FALSE(InHoursAt("owl", Utc(2026, 1, 17, 21, 0)));   // Sun 06:00
  EXPECT_TRUE(InHoursAt("owl", Utc(2026, 1, 18, 13, 0)));    // Sun 22:00
  EXPECT_TRUE(InHoursAt("owl", Utc(2026, 1, 18, 20, 59)));   // Mon 05:59
  EXPECT_FALSE(InHoursAt("owl", Utc(2026, 1, 18, 21, 0)));   // Mon 06:00
  EXPECT_FALSE(InHoursAt("owl", Utc(2026, 1, 16, 14, 0)));   // Fri 23:00
}

TEST_F(RouterTest, QueuedLeadIsRoutedWhenWorkingHoursBegin) {
  clock_.Set(Utc(2026, 1, 12, 13, 0));  // 08:00 in New York
  Load(R"(
routing:
  stage: sql
  teams:
    - id: us
      reps:
        - {id: ny, timezone: America/New_York, hours: "Mon-Fri 09:00-17:00"}
)");
  Qualified("early");
  EXPECT_TRUE(Take().empty());
  EXPECT_EQ(View("ny")->queued_in_team, 1u);
  clock_.Set(Utc(2026, 1, 12, 13, 59, 59));
  router_->Tick();
  EXPECT_TRUE(Take().empty());
  clock_.Set(Utc(2026, 1, 12, 14, 0, 0));
  router_->Tick();
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "routed");
  EXPECT_EQ(recs[0].lead, "early");
  EXPECT_EQ(recs[0].rep, "ny");
  EXPECT_EQ(recs[0].reason, "round_robin");
  EXPECT_EQ(recs[0].trigger, "");  // a timer caused it
  EXPECT_EQ(View("ny")->queued_in_team, 0u);
}

TEST_F(RouterTest, MaxPerDayCountsTheRepsLocalDay) {
  clock_.Set(Utc(2026, 1, 12, 20, 0));  // 12:00 in Los Angeles (UTC-8)
  Load(R"(
routing:
  stage: sql
  teams:
    - id: west
      reps:
        - {id: la, timezone: America/Los_Angeles, max_per_day: 2}
)");
  Qualified("l1");
  clock_.Set(Utc(2026, 1, 13, 2, 0));  // past UTC midnight, still Jan 12 in LA
  Qualified("l2");
  EXPECT_EQ(TakeRoutedReps(), Seq({"la", "la"}));
  EXPECT_EQ(View("la")->today, 2);
  EXPECT_EQ(View("la")->why_not, "max_per_day");
  Qualified("l3");
  EXPECT_TRUE(Take().empty());
  clock_.Set(Utc(2026, 1, 13, 7, 59, 59));
  router_->Tick();
  EXPECT_TRUE(Take().empty());
  clock_.Set(Utc(2026, 1, 13, 8, 0, 0));  // local midnight
  router_->Tick();
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].lead, "l3");
  EXPECT_EQ(recs[0].rep, "la");
  EXPECT_EQ(View("la")->today, 1);
  EXPECT_EQ(View("la")->open, 3);
}

TEST_F(RouterTest, MaxOpenQueuesFifoAndCloseDrains) {
  Load(R"(
routing:
  stage: sql
  teams:
    - id: solo
      reps: [{id: a, max_open: 2}]
)");
  Qualified("l1");
  Qualified("l2");
  Qualified("l3");
  Qualified("l4");
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(View("a")->why_not, "max_open");
  EXPECT_EQ(View("a")->queued_in_team, 2u);
  router_->Tick();
  EXPECT_TRUE(Take().empty());

  ASSERT_TRUE(Close(recs[1].seq, "won").ok);
  EXPECT_EQ(View("a")->open, 1);
  router_->Tick();
  std::vector<Rec> after = Take();
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].kind, "closed");
  EXPECT_EQ(after[1].kind, "routed");
  EXPECT_EQ(after[1].lead, "l3");  // first in, first out
  ASSERT_TRUE(Close(recs[0].seq, "lost").ok);
  router_->Tick();
  after = Take();
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[1].lead, "l4");
  EXPECT_EQ(View("a")->queued_in_team, 0u);
}

// A rep freed by a close takes the lead that waited, not one that qualifies before the next
// drain: the queue is drained before a new lead of the team picks a rep.
TEST_F(RouterTest, ANewLeadDoesNotJumpTheQueueBeforeTheDrain) {
  Load(R"(
routing:
  stage: sql
  teams:
    - id: solo
      reps: [{id: a, max_open: 1}]
)");
  Qualified("l1");
  Qualified("l2");  // waits
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  ASSERT_TRUE(Close(recs[0].seq, "won").ok);  // frees a; no tick yet
  Qualified("l3");
  std::vector<Rec> after = Take();
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].kind, "closed");
  EXPECT_EQ(after[1].kind, "routed");
  EXPECT_EQ(after[1].lead, "l2");            // first in, first out
  EXPECT_EQ(View("a")->queued_in_team, 1u);  // l3 waits behind it
}

TEST_F(RouterTest, OfflineRepsGetNothingAndComingBackDrainsTheQueueInOrder) {
  Load(R"(
routing:
  stage: sql
  teams:
    - id: sales
      reps: [{id: a}, {id: b}]
)");
  EXPECT_TRUE(router_->SetOnline("nobody", false).IsNotFound());
  ASSERT_OK(router_->SetOnline("b", false));
  EXPECT_EQ(View("b")->why_not, "offline");
  EXPECT_FALSE(View("b")->online);
  Qualified("l1");
  Qualified("l2");
  EXPECT_EQ(TakeRoutedReps(), Seq({"a", "a"}));
  ASSERT_OK(router_->SetOnline("a", false));
  Qualified("q1");
  Qualified("q2");
  Qualified("q3");
  EXPECT_TRUE(Take().empty());
  router_->Tick();
  EXPECT_TRUE(Take().empty());
  EXPECT_EQ(View("a")->queued_in_team, 3u);

  ASSERT_OK(router_->SetOnline("b", true));
  router_->Tick();
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].lead, "q1");
  EXPECT_EQ(recs[1].lead, "q2");
  EXPECT_EQ(recs[2].lead, "q3");
  for (const Rec& r : recs) {
    EXPECT_EQ(r.rep, "b");
    EXPECT_EQ(r.kind, "routed");
  }
}

constexpr std::string_view kSkills = R"(
routing:
  stage: sql
  account_match: true
  teams:
    - id: intl
      skill: lower(traits.language)
      reps:
        - {id: en1, skills: [en]}
        - {id: de1, skills: [de, en]}
)";

TEST_F(RouterTest, SkillMustBeListedByTheRep) {
  Load(kSkills);
  Qualified("german1", R"({"language":"DE"})");
  Qualified("german2", R"({"language":"de"})");
  EXPECT_EQ(TakeRoutedReps(), Seq({"de1", "de1"}));
  // Both speak English; en1's weight did not move while it could not take part: (1,1) en1,
  // then (0,2) de1.
  Qualified("english1", R"({"language":"en"})");
  Qualified("english2", R"({"language":"en"})");
  EXPECT_EQ(TakeRoutedReps(), Seq({"en1", "de1"}));
  // No language: the skill is null and asks for nothing.
  Qualified("any1");
  Qualified("any2", R"({"language":null})");
  EXPECT_EQ(TakeRoutedReps(), Seq({"en1", "de1"}));
  // A value no rep lists: the lead waits.
  Qualified("french", R"({"language":"fr"})");
  EXPECT_TRUE(Take().empty());
  EXPECT_EQ(View("en1")->queued_in_team, 1u);
  router_->Tick();
  EXPECT_TRUE(Take().empty());
  // A non-string value (lower() of a number is null): no requirement.
  Qualified("numeric", R"({"language":7})");
  EXPECT_EQ(TakeRoutedReps().size(), 1u);
}

// A skill that is a number or a boolean matches the rep's skill written the same way.
TEST_F(RouterTest, NumberAndBooleanSkillsMatchAsWritten) {
  Load(R"(
routing:
  stage: sql
  teams:
    - id: t
      skill: traits.tier
      reps:
        - {id: x, skills: [1, true, en, 2.5, "7"]}
        - {id: y, skills: [3]}
)");
  Qualified("one", R"({"tier":1})");
  Qualified("yes", R"({"tier":true})");
  Qualified("half", R"({"tier":2.5})");
  Qualified("three", R"({"tier":3.0})");
  EXPECT_EQ(TakeRoutedReps(), Seq({"x", "x", "x", "y"}));
  Qualified("no", R"({"tier":false})");
  Qualified("list", R"({"tier":[1]})");
  Qualified("seven", R"({"tier":7})");
  EXPECT_TRUE(Take().empty());
  EXPECT_EQ(View("x")->queued_in_team, 3u);
}

// A quoted skill is a string: a number does not match it (as `3 in ["3"]` does not hold).
TEST_F(RouterTest, NumberDoesNotMatchAQuotedSkill) {
  Load(R"(
routing:
  stage: sql
  teams:
    - id: t
      skill: traits.level
      reps: [{id: r1, skills: ["3"]}]
)");
  Qualified("num", R"({"level":3})");
  EXPECT_TRUE(Take().empty());
  Qualified("str", R"({"level":"3"})");
  EXPECT_EQ(TakeRoutedReps(), Seq({"r1"}));
}

TEST_F(RouterTest, AccountOwnerIgnoresTheTeamSkill) {
  Load(kSkills);
  ASSERT_OK(router_->SetAccountOwner("acme.com", "en1"));
  Qualified("l1", R"({"language":"de","email":"x@acme.com"})");
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].rep, "en1");
  EXPECT_EQ(recs[0].reason, "account_owner");
}

// ---------------------------------------------------------------------------------------------
// Account owners

constexpr std::string_view kTwoTeams = R"(
routing:
  stage: sql
  account_match: true
  sla: {accept_within: 10m, max_reassign: 2}
  teams:
    - id: enterprise
      when: traits.employees >= 1000
      strategy: weighted_round_robin
      reps: [{id: alice, weight: 2}, {id: bob, weight: 1}]
    - id: smb
      reps: [{id: carol}, {id: dan}]
)";

TEST_F(RouterTest, AccountOwnerTakesTheLeadInItsOwnTeam) {
  Load(kTwoTeams);
  ASSERT_OK(router_->SetAccountOwner("Acme.com", "carol"));
  EXPECT_EQ(router_->AccountOwner("acme.com"), "carol");
  EXPECT_EQ(router_->AccountOwner("ACME.COM"), "carol");
  EXPECT_EQ(router_->AccountOwner("other.com"), "");
  EXPECT_TRUE(router_->SetAccountOwner("acme.com", "nobody").IsNotFound());

  Lead* lead = Qualified("big", R"({"email":"Jane@ACME.com","employees":5000})");
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "routed");
  EXPECT_EQ(recs[0].rep, "carol");
  EXPECT_EQ(recs[0].team, "smb");
  EXPECT_EQ(recs[0].reason, "account_owner");
  EXPECT_EQ(recs[0].trigger, "m-big");
  EXPECT_EQ(lead->owner->team, "smb");
  EXPECT_EQ(View("carol")->open, 1);
  EXPECT_EQ(View("carol")->today, 1);
  // Round-robin state did not move anywhere.
  for (const char* id : {"alice", "bob", "carol", "dan"}) {
    EXPECT_EQ(View(id)->current_weight, 0) << id;
  }
  Qualified("small", R"({"email":"x@other.com","employees":5})");
  EXPECT_EQ(TakeRoutedReps(), Seq({"carol"}));
}

TEST_F(RouterTest, OwnerNotEligibleMeansNormalRouting) {
  Load(kTwoTeams);
  ASSERT_OK(router_->SetAccountOwner("acme.com", "carol"));
  ASSERT_OK(router_->SetOnline("carol", false));
  Qualified("big", R"({"email":"jane@acme.com","employees":5000})");
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].rep, "alice");
  EXPECT_EQ(recs[0].team, "enterprise");
  EXPECT_EQ(recs[0].reason, "weighted_round_robin");
}

TEST_F(RouterTest, AccountMatchOffIgnoresOwners) {
  Load(R"(
routing:
  stage: sql
  teams:
    - id: smb
      reps: [{id: carol}, {id: dan}]
)");
  ASSERT_OK(router_->SetAccountOwner("acme.com", "dan"));
  Qualified("l1", R"({"email":"jane@acme.com"})");
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].rep, "carol");
  EXPECT_EQ(recs[0].reason, "round_robin");
}

TEST_F(RouterTest, AcceptedLeadTeachesTheOwnerButFreeMailNeverCounts) {
  Load(kTwoTeams);
  Lead* first = Qualified("l1", R"({"email":"a@initech.com"})");
  ASSERT_EQ(first->owner->rep, "carol");
  Qualified("l2", R"({"email":"b@initech.com"})");  // dan: not accepted yet
  Take();
  EXPECT_EQ(router_->AccountOwner("initech.com"), "");
  ASSERT_TRUE(Accept(host_.leads["l2"].owner->seq).ok);
  EXPECT_EQ(router_->AccountOwner("initech.com"), "dan");
  ASSERT_TRUE(Accept(first->owner->seq).ok);  // the latest accepted lead wins
  EXPECT_EQ(router_->AccountOwner("initech.com"), "carol");
  Take();
  Qualified("l3", R"({"email":"c@Initech.com","employees":5000})");
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].rep, "carol");
  EXPECT_EQ(recs[0].team, "smb");
  EXPECT_EQ(recs[0].reason, "account_owner");

  // Free mail: accepting teaches nothing, and even an admin-set owner does not count.
  EXPECT_TRUE(Router::IsFreeMailDomain("gmail.com"));
  EXPECT_FALSE(Router::IsFreeMailDomain("initech.com"));
  Lead* g = Qualified("g1", R"({"email":"joe@gmail.com"})");
  Take();
  ASSERT_TRUE(Accept(g->owner->seq).ok);
  EXPECT_EQ(router_->AccountOwner("gmail.com"), "");
  (void)router_->SetAccountOwner("gmail.com", "bob");
  Take();
  Qualified("g2", R"({"email":"ann@GMAIL.com"})");
  recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_NE(recs[0].reason, "account_owner");
  EXPECT_EQ(recs[0].team, "smb");
}

TEST_F(RouterTest, QueuedLeadGoesToItsAccountOwnerWhenTheOwnerComesBack) {
  Load(kTwoTeams);
  ASSERT_OK(router_->SetAccountOwner("acme.com", "alice"));
  for (const char* id : {"alice", "bob", "carol", "dan"}) {
    ASSERT_OK(router_->SetOnline(id, false));
  }
  Qualified("l1", R"({"email":"x@acme.com"})");  // smb's lead; its owner is in enterprise
  EXPECT_TRUE(Take().empty());
  EXPECT_EQ(View("carol")->queued_in_team, 1u);
  ASSERT_OK(router_->SetOnline("alice", true));
  router_->Tick();
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].rep, "alice");
  EXPECT_EQ(recs[0].team, "enterprise");
  EXPECT_EQ(recs[0].reason, "account_owner");
  EXPECT_EQ(View("alice")->current_weight, 0);
  EXPECT_EQ(View("carol")->queued_in_team, 0u);
}

TEST_F(RouterTest, AQueuedLeadNobodyCanTakeDoesNotBlockTheOnesBehind) {
  Load(kSkills);
  ASSERT_OK(router_->SetOnline("en1", false));
  ASSERT_OK(router_->SetOnline("de1", false));
  Qualified("fr", R"({"language":"fr"})");
  Qualified("en", R"({"language":"en"})");
  Qualified("de", R"({"language":"de"})");
  EXPECT_TRUE(Take().empty());
  ASSERT_OK(router_->SetOnline("en1", true));
  router_->Tick();
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].lead, "en");
  EXPECT_EQ(recs[0].rep, "en1");
  EXPECT_EQ(View("en1")->queued_in_team, 2u);
  ASSERT_OK(router_->SetOnline("de1", true));
  router_->Tick();
  recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].lead, "de");
  EXPECT_EQ(View("de1")->queued_in_team, 1u);  // fr still waits
}

// ---------------------------------------------------------------------------------------------
// Queues

// One team, for big companies only.
constexpr std::string_view kBigOnly = R"(
routing:
  stage: sql
  teams:
    - id: big
      when: traits.employees >= 1000
      reps: [{id: alice}]
)";

TEST_F(RouterTest, UnmatchedLeadIsUnroutedUntilAReloadGivesItATeam) {
  Load(kBigOnly);
  Qualified("tiny", R"({"employees":3})");
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "unrouted");
  EXPECT_EQ(recs[0].lead, "tiny");
  EXPECT_EQ(recs[0].rep, "");
  EXPECT_EQ(recs[0].team, "");
  EXPECT_EQ(recs[0].trigger, "m-tiny");
  EXPECT_FALSE(host_.leads["tiny"].owner.has_value());
  clock_.Advance(kHour);
  router_->Tick();
  EXPECT_TRUE(Take().empty());

  // A reload that still has no team for it: it stays, and nothing new is said.
  Load(kBigOnly);
  router_->Tick();
  EXPECT_TRUE(Take().empty());

  Load(R"(
routing:
  stage: sql
  teams:
    - id: big
      when: traits.employees >= 1000
      reps: [{id: alice}]
    - id: rest
      reps: [{id: bob}]
)");
  recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "routed");
  EXPECT_EQ(recs[0].lead, "tiny");
  EXPECT_EQ(recs[0].rep, "bob");
  EXPECT_EQ(recs[0].team, "rest");
  EXPECT_EQ(recs[0].trigger, "");
}

TEST_F(RouterTest, QueuedLeadFallingBelowTheStageLeavesAndRequeuesAtTheBack) {
  Load(kOneRep);
  ASSERT_OK(router_->SetOnline("a", false));
  Lead* l1 = Qualified("l1");
  Qualified("l2");
  EXPECT_EQ(View("a")->queued_in_team, 2u);
  MoveTo(l1, kOpportunity);  // above: stays queued
  EXPECT_EQ(View("a")->queued_in_team, 2u);
  MoveTo(l1, kMql);
  EXPECT_EQ(View("a")->queued_in_team, 1u);
  MoveTo(l1, kSql);
  EXPECT_EQ(View("a")->queued_in_team, 2u);
  EXPECT_TRUE(Take().empty());
  ASSERT_OK(router_->SetOnline("a", true));
  router_->Tick();
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].lead, "l2");
  EXPECT_EQ(recs[1].lead, "l1");
}

TEST_F(RouterTest, UnroutedLeadFallingBelowLeavesAndIsAnnouncedAgain) {
  Load(R"(
routing:
  stage: sql
  teams:
    - id: big
      when: traits.employees >= 1000
      reps: [{id: alice}]
)");
  Lead* lead = Qualified("tiny");
  ASSERT_EQ(Take().size(), 1u);
  MoveTo(lead, kNew);
  MoveTo(lead, kSql);
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "unrouted");
  // After it left, a reload does not route it.
  MoveTo(lead, kMql);
  Load(R"(
routing:
  stage: sql
  teams:
    - id: rest
      reps: [{id: bob}]
)");
  EXPECT_TRUE(Take().empty());
}

TEST_F(RouterTest, LeadWithAnOpenOwnerIsNotRoutedAgain) {
  Load(kTwoTeams);
  Lead* lead = Qualified("l1");
  ASSERT_EQ(Take().size(), 1u);
  MoveTo(lead, kMql);
  MoveTo(lead, kSql);
  MoveTo(lead, kOpportunity);
  EXPECT_TRUE(Take().empty());
  EXPECT_EQ(lead->owner->rep, "carol");
}

TEST_F(RouterTest, ReloadRoutesQueuesOfRemovedTeams) {
  Load(R"(
routing:
  stage: sql
  teams:
    - id: old
      reps: [{id: a}]
)");
  ASSERT_OK(router_->SetOnline("a", false));
  Qualified("l1");
  Qualified("l2");
  EXPECT_TRUE(Take().empty());
  Load(R"(
routing:
  stage: sql
  teams:
    - id: new
      reps: [{id: b}]
)");
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].lead, "l1");
  EXPECT_EQ(recs[1].lead, "l2");
  EXPECT_EQ(recs[0].rep, "b");
  EXPECT_EQ(recs[0].team, "new");
}

// SPEC 7: "A queued lead that falls below the routing stage leaves its queue", also when a reload
// raises the routing stage past it. It stayed queued, counted in /v1/reps, and was never routed.
TEST_F(RouterTest, AReloadRaisingTheRoutingStageEmptiesTheQueueBelowIt) {
  Load(kOneRep);
  ASSERT_OK(router_->SetOnline("a", false));
  Qualified("l1");
  Lead* high = Qualified("l2");
  MoveTo(high, kOpportunity);
  EXPECT_EQ(View("a")->queued_in_team, 2u);
  Load(R"(
routing:
  stage: opportunity
  teams:
    - id: t
      reps: [{id: a}]
)");
  EXPECT_EQ(View("a")->queued_in_team, 1u);
  ASSERT_OK(router_->SetOnline("a", true));
  router_->Tick();
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].lead, "l2");
  EXPECT_EQ(recs[0].rep, "a");
}

TEST_F(RouterTest, RoutingRemovedAndRestoredKeepsTheQueue) {
  Load(kOneRep);
  ASSERT_OK(router_->SetOnline("a", false));
  Qualified("l1");
  EXPECT_TRUE(Take().empty());
  Load("");  // no routing section at all
  router_->Tick();
  EXPECT_TRUE(Take().empty());
  Load(R"(
routing:
  stage: sql
  teams:
    - id: t2
      reps: [{id: b}]
)");
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].lead, "l1");
  EXPECT_EQ(recs[0].rep, "b");
}

// ---------------------------------------------------------------------------------------------
// SLA

constexpr std::string_view kSla3 = R"(
routing:
  stage: sql
  sla: {accept_within: 10m, max_reassign: 2}
  teams:
    - id: t
      reps: [{id: a}, {id: b}, {id: c}]
)";

// The engine sleeps until the earliest SLA deadline at most, so a lapse is handled on time.
TEST_F(RouterTest, NextDeadlineIsTheEarliestSlaDeadlineWaiting) {
  Load(kSla3);
  EXPECT_EQ(router_->NextDeadline(), std::numeric_limits<EpochSeconds>::infinity());
  const EpochSeconds first = clock_.Now();
  Qualified("l1");
  clock_.Advance(30);
  Qualified("l2");
  Take();
  EXPECT_EQ(router_->NextDeadline(), first + 10 * kMinute);
  ASSERT_TRUE(Accept(host_.leads["l1"].owner->seq).ok);
  clock_.Advance(10 * kMinute - 30);
  router_->Tick();  // l1's deadline is stale (accepted): dropped
  EXPECT_EQ(router_->NextDeadline(), first + 30 + 10 * kMinute);
  clock_.Advance(30);
  router_->Tick();  // l2 lapses: reassigned, a new deadline
  EXPECT_EQ(router_->NextDeadline(), clock_.Now() + 10 * kMinute);
}

TEST_F(RouterTest, SlaReassignsToRepsThatHaveNotHeldItThenEscalates) {
  Load(kSla3);
  Lead* lead = Qualified("l1");
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  const uint64_t first_seq = recs[0].seq;
  EXPECT_EQ(recs[0].rep, "a");

  clock_.Advance(10 * kMinute - 1);
  router_->Tick();
  EXPECT_TRUE(Take().empty());
  clock_.Advance(1);
  router_->Tick();
  recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "reassigned");
  EXPECT_EQ(recs[0].lead, "l1");
  EXPECT_EQ(recs[0].rep, "b");
  EXPECT_EQ(recs[0].from_rep, "a");
  EXPECT_EQ(recs[0].team, "t");
  EXPECT_EQ(recs[0].reason, "sla_expired");
  EXPECT_EQ(recs[0].trigger, "");
  EXPECT_EQ(lead->owner->rep, "b");
  EXPECT_EQ(lead->owner->seq, recs[0].seq);
  EXPECT_EQ(lead->owner->reassignments, 1u);
  EXPECT_EQ(lead->owner->held_by, Seq({"a", "b"}));
  EXPECT_EQ(lead->owner->routed_at, clock_.Now());
  EXPECT_EQ(View("a")->open, 0);
  EXPECT_EQ(View("b")->open, 1);
  EXPECT_EQ(Accept(first_seq).error, "unknown_seq");

  recs = TakeAfterLapse();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "reassigned");
  EXPECT_EQ(recs[0].rep, "c");
  EXPECT_EQ(recs[0].from_rep, "b");

  recs = TakeAfterLapse();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "escalated");
  EXPECT_EQ(recs[0].lead, "l1");
  EXPECT_EQ(recs[0].team, "t");
  EXPECT_EQ(recs[0].from_rep, "c");
  EXPECT_EQ(recs[0].rep, "");
  EXPECT_EQ(recs[0].reason, "max_reassign");
  EXPECT_FALSE(lead->owner.has_value());
  EXPECT_EQ(View("c")->open, 0);
  EXPECT_EQ(View("a")->queued_in_team, 1u);

  // It waits in the queue: the reps that let it lapse do not get it straight back.
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(kMinute);
    router_->Tick();
  }
  EXPECT_TRUE(Take().empty());
  EXPECT_EQ(View("a")->queued_in_team, 1u);

  // A rep becoming eligible (back online) takes it.
  ASSERT_OK(router_->SetOnline("b", false));
  router_->Tick();
  EXPECT_TRUE(Take().empty());
  ASSERT_OK(router_->SetOnline("b", true));
  router_->Tick();
  recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "routed");
  EXPECT_EQ(recs[0].lead, "l1");
  EXPECT_EQ(recs[0].team, "t");
  EXPECT_EQ(recs[0].reason, "round_robin");
  ASSERT_TRUE(lead->owner.has_value());
  // Every rep has held it and its moves are spent: they stay with it (SPEC 7), so its next lapse
  // escalates it again instead of starting another round of reassignments.
  EXPECT_EQ(lead->owner->reassignments, 2u);
  EXPECT_EQ(lead->owner->held_by, Seq({"a", "b", "c"}));
  EXPECT_EQ(View("a")->queued_in_team, 0u);
  const std::string holder = lead->owner->rep;
  recs = TakeAfterLapse();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "escalated");
  EXPECT_EQ(recs[0].from_rep, holder);
  EXPECT_EQ(recs[0].reason, "max_reassign");
}

TEST_F(RouterTest, SlaWithNoRepLeftEscalatesAndAReturningRepTakesIt) {
  Load(R"(
routing:
  stage: sql
  sla: {accept_within: 10m, max_reassign: 5}
  teams:
    - id: t
      reps: [{id: a}, {id: b}]
)");
  ASSERT_OK(router_->SetOnline("b", false));
  Lead* lead = Qualified("l1");
  ASSERT_EQ(TakeRoutedReps(), Seq({"a"}));
  std::vector<Rec> recs = TakeAfterLapse();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "escalated");
  EXPECT_EQ(recs[0].from_rep, "a");
  EXPECT_EQ(recs[0].reason, "no_eligible_rep");
  clock_.Advance(kMinute);
  router_->Tick();
  EXPECT_TRUE(Take().empty());

  // b comes back: it has not held the lead, so it gets it rather than a.
  ASSERT_OK(router_->SetOnline("b", true));
  router_->Tick();
  recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "routed");
  EXPECT_EQ(recs[0].rep, "b");
  EXPECT_EQ(lead->owner->rep, "b");
}

// SPEC 7: the SLA moves a lead only to reps that have not held it. Those reps stay with the lead
// while its team is removed by a reload (it waits unrouted, also across a restart) and when a
// later reload brings the team back.
TEST_F(RouterTest, AnEscalatedLeadKeepsItsHoldersThroughItsTeamsRemovalAndReturn) {
  constexpr std::string_view kTeamQ = R"(
routing:
  stage: sql
  sla: {accept_within: 10m, max_reassign: 5}
  teams:
    - id: q
      reps: [{id: q1}, {id: q2}]
)";
  constexpr std::string_view kTeamOOnly = R"(
routing:
  stage: sql
  sla: {accept_within: 10m, max_reassign: 5}
  teams:
    - id: o
      when: false
      reps: [{id: o1}]
)";
  constexpr std::string_view kTeamQWithQ3 = R"(
routing:
  stage: sql
  sla: {accept_within: 10m, max_reassign: 5}
  teams:
    - id: q
      reps: [{id: q1}, {id: q2}, {id: q3}]
)";
  Load(kTeamQ);
  Qualified("l1");
  ASSERT_EQ(TakeRoutedReps(), Seq({"q1"}));
  std::vector<Rec> recs = TakeAfterLapse();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "reassigned");
  EXPECT_EQ(recs[0].rep, "q2");

  // Team q goes away: the lapse finds no team, and the lead waits unrouted.
  Load(kTeamOOnly);
  recs = TakeAfterLapse();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "escalated");
  EXPECT_EQ(recs[0].from_rep, "q2");
  Restart();

  // Team q is back with a new rep: the lead goes to q3, the one rep that never held it ...
  Load(kTeamQWithQ3);
  ASSERT_EQ(TakeRoutedReps(), Seq({"q3"}));
  // ... and when q3 lets it lapse too, no rep is left that has not held it.
  recs = TakeAfterLapse();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "escalated");
  EXPECT_EQ(recs[0].from_rep, "q3");
  EXPECT_EQ(recs[0].reason, "no_eligible_rep");
}

// A start on changed rules is a new load, as a reload is: an escalated lead is offered again (here
// to a rep the new rules add); a start on the same rules leaves it waiting for a rep to become
// eligible.
TEST_F(RouterTest, AStartOnChangedRulesOffersEscalatedLeadsAgain) {
  Load(R"(
routing:
  stage: sql
  sla: {accept_within: 10m, max_reassign: 5}
  teams:
    - id: t
      reps: [{id: a}]
)");
  Qualified("l1");
  ASSERT_EQ(TakeRoutedReps(), Seq({"a"}));
  std::vector<Rec> recs = TakeAfterLapse();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "escalated");
  Restart();
  router_->Tick();
  EXPECT_TRUE(Take().empty());
  Restart(R"(
routing:
  stage: sql
  sla: {accept_within: 10m, max_reassign: 5}
  teams:
    - id: t
      reps: [{id: a}, {id: b}]
)");
  router_->Tick();
  EXPECT_EQ(TakeRoutedReps(), Seq({"b"}));
}

TEST_F(RouterTest, MaxReassignZeroEscalatesAtOnce) {
  Load(R"(
routing:
  stage: sql
  sla: {accept_within: 1m, max_reassign: 0}
  teams:
    - id: t
      reps: [{id: a}, {id: b}]
)");
  Qualified("l1");
  Take();
  clock_.Advance(kMinute);
  router_->Tick();
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "escalated");
  EXPECT_EQ(recs[0].reason, "max_reassign");
}

TEST_F(RouterTest, AcceptedLeadIsNotReassigned) {
  Load(kSla3);
  Lead* lead = Qualified("l1");
  Take();
  clock_.Advance(5 * kMinute);
  ASSERT_TRUE(Accept(lead->owner->seq).ok);
  Take();
  clock_.Advance(kHour);
  router_->Tick();
  EXPECT_TRUE(Take().empty());
  EXPECT_EQ(lead->owner->rep, "a");
}

TEST_F(RouterTest, SlaDeadlineSurvivesARestart) {
  Load(kSla3);
  const EpochSeconds t0 = clock_.Now();
  Lead* lead = Qualified("l1");
  Take();
  clock_.Advance(3 * kMinute);
  Restart();
  router_->Tick();
  EXPECT_TRUE(Take().empty());
  clock_.Set(t0 + 10 * kMinute - 1);
  router_->Tick();
  EXPECT_TRUE(Take().empty());
  clock_.Set(t0 + 10 * kMinute);
  router_->Tick();
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "reassigned");
  EXPECT_EQ(recs[0].rep, "b");
  EXPECT_EQ(recs[0].from_rep, "a");
  EXPECT_EQ(lead->owner->seq, recs[0].seq);
  // And the new owner's answers work on the restarted router.
  ASSERT_TRUE(Accept(recs[0].seq, "b").ok);
}

TEST_F(RouterTest, EscalatedLeadStillWaitsAfterARestart) {
  Load(R"(
routing:
  stage: sql
  sla: {accept_within: 10m, max_reassign: 0}
  teams:
    - id: t
      reps: [{id: a}, {id: b}]
)");
  Qualified("l1");
  clock_.Advance(10 * kMinute);
  router_->Tick();
  ASSERT_EQ(Take().back().kind, "escalated");
  Restart();
  router_->Tick();
  clock_.Advance(kMinute);
  router_->Tick();
  EXPECT_TRUE(Take().empty());
  EXPECT_EQ(View("a")->queued_in_team, 1u);
  // a has held it; b, after a pause, has not.
  ASSERT_OK(router_->SetOnline("b", false));
  ASSERT_OK(router_->SetOnline("b", true));
  router_->Tick();
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].rep, "b");
}

// An escalated lead woken before a restart (a rep came back, none was free) stays woken after
// it: the next rep freed takes it, first in its queue, not the lead queued behind it (SPEC 7
// first in, first out; SPEC 10 queues as they were). Found by a differential routing audit.
TEST_F(RouterTest, AnEscalatedLeadWokenBeforeARestartIsStillFirstAfterIt) {
  Load(R"(
routing:
  stage: sql
  sla: {accept_within: 1h, max_reassign: 0}
  teams:
    - id: t
      reps: [{id: r1, max_open: 1}, {id: r2, max_open: 1}]
)");
  Qualified("ua");
  Qualified("ub");
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].rep, "r1");
  ASSERT_TRUE(Reject(recs[0].seq).ok);  // ua: escalated (max_reassign 0), r1 free again
  Qualified("uc");                      // goes to r1: ua waits for a wake
  recs = Take();
  ASSERT_EQ(recs.back().lead, "uc");
  ASSERT_EQ(recs.back().rep, "r1");
  const uint64_t uc_seq = recs.back().seq;
  ASSERT_OK(router_->SetOnline("r2", false));  // r2 comes back: ua is woken, no rep is free
  ASSERT_OK(router_->SetOnline("r2", true));
  router_->Tick();
  Qualified("ud");  // waits behind ua
  EXPECT_TRUE(Take().empty());
  Restart();
  router_->Tick();
  ASSERT_TRUE(Reject(uc_seq).ok);  // r1 is free
  router_->Tick();
  recs = Take();
  std::vector<std::string> routed;
  for (const Rec& r : recs) {
    if (r.kind == "routed") {
      routed.push_back(r.lead + ">" + r.rep);
    }
  }
  EXPECT_EQ(routed, Seq({"ua>r1"}));
}

TEST_F(RouterTest, SlaFollowsTheRulesInForce) {
  Load(kSla3);
  Qualified("l1");
  Take();
  Load(R"(
routing:
  stage: sql
  sla: {accept_within: 30m}
  teams:
    - id: t
      reps: [{id: a}, {id: b}, {id: c}]
)");
  clock_.Advance(10 * kMinute);
  router_->Tick();
  EXPECT_TRUE(Take().empty());
  clock_.Advance(20 * kMinute);
  router_->Tick();
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "reassigned");
}

TEST_F(RouterTest, EscalatedLeadWaitsForTheRepsNewDay) {
  Load(R"(
routing:
  stage: sql
  sla: {accept_within: 10m, max_reassign: 0}
  teams:
    - id: t
      reps: [{id: a, timezone: Europe/Berlin}]
)");
  clock_.Set(Utc(2026, 1, 12, 10, 0));  // 11:00 in Berlin
  Qualified("l1");
  clock_.Advance(10 * kMinute);
  router_->Tick();
  ASSERT_EQ(Take().back().kind, "escalated");
  clock_.Set(Utc(2026, 1, 12, 22, 59, 59));
  router_->Tick();
  EXPECT_TRUE(Take().empty());
  clock_.Set(Utc(2026, 1, 12, 23, 0, 0));  // midnight in Berlin
  router_->Tick();
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "routed");
  EXPECT_EQ(recs[0].rep, "a");
}

TEST_F(RouterTest, EscalatedLeadWaitsForWorkingHoursToBegin) {
  Load(R"(
routing:
  stage: sql
  sla: {accept_within: 10m, max_reassign: 2}
  teams:
    - id: us
      reps:
        - {id: ny, timezone: America/New_York, hours: "Mon-Fri 09:00-17:00"}
)");
  clock_.Set(Utc(2026, 1, 12, 21, 55));  // Monday 16:55 in New York
  Qualified("l1");
  ASSERT_EQ(TakeRoutedReps(), Seq({"ny"}));
  clock_.Set(Utc(2026, 1, 12, 22, 5));
  router_->Tick();
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "escalated");
  EXPECT_EQ(recs[0].reason, "no_eligible_rep");
  // The new day in New York (05:00 UTC) finds ny outside hours; 09:00 local brings it back.
  clock_.Set(Utc(2026, 1, 13, 5, 0));
  router_->Tick();
  clock_.Set(Utc(2026, 1, 13, 13, 59, 59));
  router_->Tick();
  EXPECT_TRUE(Take().empty());
  clock_.Set(Utc(2026, 1, 13, 14, 0));
  router_->Tick();
  recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "routed");
  EXPECT_EQ(recs[0].rep, "ny");
}

// Working hours that begin while the daemon is down wake escalated leads at the start, as they
// would have while it ran (SPEC 7: routed as soon as working hours begin; SPEC 10: routing
// state as it was), also when they are the end of a break in split hours. A restart that
// crosses no start of hours and no day wakes nothing. Found by a white-box restart review: what
// the clock looked like was kept in memory only.
struct DowntimeCase {
  const char* hours;  // rep z's; rep x has none and takes the lead first, then lets it lapse
  int start_hour;     // the lead qualifies at start_hour:00 on Monday 2026-01-12 (UTC)
  int quiet_hour;     // a restart at quiet_hour:40 wakes nothing
  int wake_hour;      // a restart at wake_hour:05, after the clock crossed a start of z's hours
};

class DowntimeWakeTest : public RouterTest, public ::testing::WithParamInterface<DowntimeCase> {};

TEST_P(DowntimeWakeTest, WorkingHoursThatBeganWhileDownWakeEscalatedLeadsAtTheStart) {
  const DowntimeCase& c = GetParam();
  Load(std::string(R"(
routing:
  stage: sql
  sla: {accept_within: 10m, max_reassign: 0}
  teams:
    - id: t
      reps:
        - {id: x}
        - {id: z, hours: ")") +
       c.hours + "\"}\n");
  clock_.Set(Utc(2026, 1, 12, c.start_hour, 0));
  router_->Tick();
  Qualified("l1");
  ASSERT_EQ(TakeRoutedReps(), Seq({"x"}));
  clock_.Set(Utc(2026, 1, 12, c.start_hour, 10));
  router_->Tick();
  ASSERT_EQ(Take().back().kind, "escalated");  // waits for a wake
  clock_.Set(Utc(2026, 1, 12, c.quiet_hour, 40));
  Restart();
  router_->Tick();
  EXPECT_TRUE(Take().empty()) << "nothing happened to the clock: no wake";
  clock_.Set(Utc(2026, 1, 12, c.wake_hour, 5));
  Restart();
  router_->Tick();
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "routed");
  EXPECT_EQ(recs[0].rep, "z");
}

INSTANTIATE_TEST_SUITE_P(
    RouterTest, DowntimeWakeTest,
    ::testing::Values(DowntimeCase{"Mon-Sun 10:00-23:30", 9, 9, 10},
                      // z eligible all along, then a lunch break that came and went while down
                      DowntimeCase{"Mon-Sun 08:00-12:00, Mon-Sun 13:00-18:00", 11, 11, 13}));

TEST_F(RouterTest, ALeadClosedWakesEscalatedLeadsOfItsTeamOnly) {
  Load(R"(
routing:
  stage: sql
  sla: {accept_within: 10m, max_reassign: 0}
  teams:
    - id: t1
      when: traits.team == 1
      reps: [{id: a}, {id: b}]
    - id: t2
      reps: [{id: x}]
)");
  Lead* l1 = Qualified("l1", R"({"team":1})");
  Lead* l2 = Qualified("l2", R"({"team":1})");
  Lead* other = Qualified("o1", R"({"team":2})");
  ASSERT_EQ(TakeRoutedReps(), Seq({"a", "b", "x"}));
  ASSERT_TRUE(Accept(l2->owner->seq).ok);
  ASSERT_TRUE(Accept(other->owner->seq).ok);
  std::vector<Rec> recs = TakeAfterLapse();
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[2].kind, "escalated");
  EXPECT_EQ(recs[2].lead, "l1");
  EXPECT_EQ(recs[2].team, "t1");
  EXPECT_EQ(recs[2].from_rep, "a");

  // Events in another team do not wake it.
  ASSERT_TRUE(Close(other->owner->seq, "won").ok);
  ASSERT_OK(router_->SetOnline("x", false));
  ASSERT_OK(router_->SetOnline("x", true));
  router_->Tick();
  recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "closed");

  // b closes a lead: b is the rep that has not held l1.
  ASSERT_TRUE(Close(l2->owner->seq, "lost").ok);
  router_->Tick();
  recs = Take();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[1].kind, "routed");
  EXPECT_EQ(recs[1].lead, "l1");
  EXPECT_EQ(recs[1].rep, "b");
  EXPECT_EQ(recs[1].team, "t1");
  EXPECT_EQ(l1->owner->held_by, Seq({"a", "b"}));  // a held it before the escalation
}

// A rep freed by a reassignment or an escalation has become eligible too: an escalated lead it
// never held goes to it (it stayed queued while both reps sat idle).
TEST_F(RouterTest, ARepFreedByAReassignmentTakesAnEscalatedLead) {
  Load(R"(
routing:
  stage: sql
  sla: {accept_within: 1m, max_reassign: 1}
  teams:
    - id: t
      reps: [{id: a, max_open: 1}, {id: b, max_open: 1}]
)");
  Lead* l1 = Qualified("l1");
  clock_.Advance(30);
  Lead* l2 = Qualified("l2");
  ASSERT_EQ(TakeRoutedReps(), Seq({"a", "b"}));

  // l1 lapses: b is full, so it is escalated (a, which let it lapse, waits for another wake).
  clock_.Advance(30);
  router_->Tick();
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "escalated");
  EXPECT_EQ(recs[0].reason, "no_eligible_rep");
  EXPECT_FALSE(l1->owner.has_value());

  // l2 lapses: it moves from b to a, which frees b, the rep that has not held l1.
  clock_.Advance(30);
  router_->Tick();
  recs = Take();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].kind, "reassigned");
  EXPECT_EQ(recs[0].lead, "l2");
  EXPECT_EQ(recs[0].rep, "a");
  EXPECT_EQ(recs[1].kind, "routed");
  EXPECT_EQ(recs[1].lead, "l1");
  EXPECT_EQ(recs[1].rep, "b");
  EXPECT_EQ(l1->owner->held_by, Seq({"a", "b"}));
  EXPECT_EQ(l2->owner->rep, "a");
}

// ... but not to a rep that held it: two leads nobody accepts do not chase each other round the
// same reps at every lapse, each escalation freeing a rep for the other.
TEST_F(RouterTest, EscalatedLeadsDoNotCycleThroughRepsThatHeldThem) {
  Load(R"(
routing:
  stage: sql
  sla: {accept_within: 1m, max_reassign: 1}
  teams:
    - id: t
      reps: [{id: a, max_open: 1}, {id: b, max_open: 1}]
)");
  Lead* l1 = Qualified("l1");
  Lead* l2 = Qualified("l2");
  ASSERT_EQ(TakeRoutedReps(), Seq({"a", "b"}));
  // Both lapse: l1 is escalated (b is full), l2 moves to a, which frees b for l1; a minute later
  // both lapse again with their moves spent and are escalated.
  clock_.Advance(kMinute);
  router_->Tick();
  clock_.Advance(kMinute);
  router_->Tick();
  std::vector<std::string> kinds;
  for (const Rec& r : Take()) {
    kinds.push_back(r.kind + " " + r.lead + " " + r.rep);
  }
  EXPECT_EQ(kinds, Seq({"escalated l1 ", "reassigned l2 a", "routed l1 b", "escalated l1 ",
                        "escalated l2 "}));
  EXPECT_FALSE(l1->owner.has_value());
  EXPECT_FALSE(l2->owner.has_value());
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(kMinute);
    router_->Tick();
  }
  EXPECT_TRUE(Take().empty());
  EXPECT_EQ(View("a")->queued_in_team, 2u);
  // A real wake (a rep back online) offers them again.
  ASSERT_OK(router_->SetOnline("a", false));
  ASSERT_OK(router_->SetOnline("a", true));
  router_->Tick();
  const std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].kind, "routed");
  EXPECT_EQ(recs[1].kind, "routed");
}

// SPEC 8: an owner carried over by a merge means no new routing, so the merged lead leaves the
// queue it waited in; closing it later does not route it again.
TEST_F(RouterTest, AMergeCarryingAnOwnerOverTakesTheMergedLeadOutOfItsQueue) {
  Load(R"(
routing:
  stage: sql
  teams:
    - id: t
      reps: [{id: x, max_open: 1}]
)");
  Lead* older = Qualified("a");
  ASSERT_EQ(TakeRoutedReps(), Seq({"x"}));
  Lead* merged = Qualified("u");  // x is full: u waits
  EXPECT_TRUE(Take().empty());
  EXPECT_EQ(View("x")->queued_in_team, 1u);
  router_->Merge(older, merged, "L", clock_.Now());
  ASSERT_TRUE(merged->owner.has_value());
  EXPECT_EQ(merged->owner->rep, "x");
  EXPECT_EQ(View("x")->queued_in_team, 0u);
  ASSERT_TRUE(Close(merged->owner->seq, "won").ok);
  router_->Tick();
  const std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "closed");
  EXPECT_EQ(recs[0].lead, "u");
  EXPECT_TRUE(merged->owner->closed);
}

TEST_F(RouterTest, EscalationWithItsTeamGoneGoesToTheUnroutedQueue) {
  Load(R"(
routing:
  stage: sql
  sla: {accept_within: 10m}
  teams:
    - id: t
      reps: [{id: a}, {id: b}]
)");
  Lead* lead = Qualified("l1");
  Take();
  Load(R"(
routing:
  stage: sql
  sla: {accept_within: 10m}
  teams:
    - id: other
      when: traits.never == true
      reps: [{id: c}]
)");
  std::vector<Rec> recs = TakeAfterLapse();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "escalated");
  EXPECT_EQ(recs[0].team, "t");
  EXPECT_EQ(recs[0].from_rep, "a");
  EXPECT_FALSE(lead->owner.has_value());
  Load(R"(
routing:
  stage: sql
  teams:
    - id: t
      reps: [{id: b}]
)");
  recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "routed");
  EXPECT_EQ(recs[0].rep, "b");
}

TEST_F(RouterTest, SlaOfARemovedRepsLeadMovesWithinItsTeam) {
  Load(kSla3);
  Lead* lead = Qualified("l1");
  Take();
  Load(R"(
routing:
  stage: sql
  sla: {accept_within: 10m, max_reassign: 2}
  teams:
    - id: t
      reps: [{id: b}, {id: c}]
)");
  std::vector<Rec> recs = TakeAfterLapse();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "reassigned");
  EXPECT_EQ(recs[0].from_rep, "a");
  EXPECT_EQ(recs[0].rep, "b");
  EXPECT_EQ(lead->owner->rep, "b");
  EXPECT_FALSE(View("a").has_value());  // its one open lead is gone
}

// ---------------------------------------------------------------------------------------------
// Accept / reject / close

TEST_F(RouterTest, AcceptAnswersAndErrors) {
  Load(kSla3);
  Lead* lead = Qualified("l1", R"({"email":"x@acme.com"})");
  const uint64_t seq = lead->owner->seq;
  Take();
  SalesActionResult r = Accept(9999);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "unknown_seq");
  EXPECT_FALSE(r.message.empty());
  r = Accept(seq, "b");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "not_holder");
  EXPECT_TRUE(Take().empty());
  r = Accept(seq, "a");
  EXPECT_TRUE(r.ok) << r.error;
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "accepted");
  EXPECT_EQ(recs[0].lead, "l1");
  EXPECT_EQ(recs[0].rep, "a");
  EXPECT_EQ(recs[0].team, "t");
  EXPECT_EQ(recs[0].trigger, "");
  EXPECT_TRUE(lead->owner->accepted);
  r = Accept(seq);
  EXPECT_EQ(r.error, "already_accepted");
  EXPECT_TRUE(Take().empty());
  // An accepted lead can still be closed.
  EXPECT_TRUE(Close(seq, "won").ok);
}

TEST_F(RouterTest, RejectReassignsAtOnce) {
  Load(kSla3);
  Lead* lead = Qualified("l1");
  const uint64_t seq = lead->owner->seq;
  Take();
  EXPECT_EQ(Reject(seq, "nope", "b").error, "not_holder");
  SalesActionResult r = Reject(seq, "not my region");
  ASSERT_TRUE(r.ok) << r.error;
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].kind, "rejected");
  EXPECT_EQ(recs[0].rep, "a");
  EXPECT_EQ(recs[0].team, "t");
  EXPECT_EQ(recs[0].reason, "not my region");
  EXPECT_EQ(recs[1].kind, "reassigned");
  EXPECT_EQ(recs[1].rep, "b");
  EXPECT_EQ(recs[1].from_rep, "a");
  EXPECT_EQ(recs[1].reason, "rejected");
  EXPECT_EQ(lead->owner->seq, recs[1].seq);
  EXPECT_EQ(Reject(seq).error, "unknown_seq");
  // Rejections count as moves: b and c reject, then it escalates.
  ASSERT_TRUE(Reject(recs[1].seq).ok);
  recs = Take();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[1].rep, "c");
  ASSERT_TRUE(Reject(recs[1].seq).ok);
  recs = Take();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].kind, "rejected");
  EXPECT_EQ(recs[1].kind, "escalated");
  EXPECT_EQ(recs[1].from_rep, "c");
  EXPECT_EQ(recs[1].reason, "max_reassign");
  router_->Tick();
  EXPECT_TRUE(Take().empty());  // it waits
}

TEST_F(RouterTest, CloseRecordsTheOutcomeAndFreesTheRep) {
  Load(kSla3);
  Lead* lead = Qualified("l1");
  const uint64_t seq = lead->owner->seq;
  Take();
  EXPECT_EQ(View("a")->open, 1);
  SalesActionResult r = Close(seq, "maybe");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "invalid_outcome");
  EXPECT_TRUE(Take().empty());
  EXPECT_EQ(View("a")->open, 1);
  EXPECT_EQ(Close(seq, "won", "c").error, "not_holder");

  ASSERT_TRUE(Close(seq, "won", "a").ok);
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "closed");
  EXPECT_EQ(recs[0].rep, "a");
  EXPECT_EQ(recs[0].team, "t");
  EXPECT_EQ(recs[0].outcome, "won");
  EXPECT_FALSE(recs[0].amount.has_value());
  EXPECT_EQ(View("a")->open, 0);
  EXPECT_EQ(View("a")->today, 1);
  EXPECT_TRUE(lead->owner->closed);
  EXPECT_EQ(lead->owner->outcome, "won");
  EXPECT_TRUE(host_.forced.empty());
  EXPECT_EQ(Close(seq, "lost").error, "already_closed");
  EXPECT_EQ(Accept(seq).error, "already_closed");
  // No SLA on a closed lead.
  clock_.Advance(kHour);
  router_->Tick();
  EXPECT_TRUE(Take().empty());
}

TEST_F(RouterTest, CloseCarriesTheDealValue) {
  Load(kSla3);
  Lead* lead = Qualified("l1");
  const uint64_t seq = lead->owner->seq;
  Take();
  SalesAction close;
  close.kind = SalesActionKind::kClose;
  close.seq = seq;
  close.outcome = "won";
  close.amount = -5;
  EXPECT_EQ(router_->Act(close).result.error, "invalid_amount");
  EXPECT_TRUE(Take().empty());
  close.amount = 12000;
  ASSERT_TRUE(router_->Act(close).result.ok);
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].outcome, "won");
  EXPECT_EQ(recs[0].amount, 12000.0);
}

TEST_F(RouterTest, RecycledCloseSendsTheLeadBackToNewAndItMayQualifyAgain) {
  Load(kSla3);
  Lead* lead = Qualified("l1");
  const uint64_t seq = lead->owner->seq;
  Take();
  ASSERT_TRUE(Close(seq, "recycled").ok);
  ASSERT_EQ(host_.forced.size(), 1u);
  EXPECT_EQ(host_.forced[0].first, "l1");
  EXPECT_EQ(host_.forced[0].second, kNew);
  EXPECT_EQ(lead->stage, "new");
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].outcome, "recycled");
  EXPECT_EQ(View("a")->open, 0);

  MoveTo(lead, kSql);
  recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "routed");
  EXPECT_EQ(recs[0].rep, "b");
  EXPECT_FALSE(lead->owner->closed);
  EXPECT_EQ(lead->owner->held_by, Seq({"b"}));
  EXPECT_EQ(Accept(seq).error, "unknown_seq");
  EXPECT_TRUE(Accept(recs[0].seq).ok);
}

TEST_F(RouterTest, RemovedRepsKeepTheirOpenLeadsAndGetNoNewOnes) {
  Load(R"(
routing:
  stage: sql
  teams:
    - id: t
      reps: [{id: a}, {id: b}]
)");
  Lead* held = Qualified("l1");
  ASSERT_EQ(held->owner->rep, "a");
  Take();
  Load(R"(
routing:
  stage: sql
  teams:
    - id: t
      reps: [{id: b}, {id: c}]
)");
  std::optional<RepView> a = View("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(a->configured);
  EXPECT_EQ(a->open, 1);
  EXPECT_EQ(a->why_not, "removed");
  EXPECT_EQ(a->team, "t");
  EXPECT_FALSE(a->eligible);
  Restart();  // GET /v1/reps lists it as it did (SPEC 10): found by a white-box review
  a = View("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->team, "t");
  EXPECT_EQ(a->open, 1);
  EXPECT_EQ(a->why_not, "removed");
  EXPECT_TRUE(router_->SetOnline("a", true).IsNotFound());
  EXPECT_TRUE(router_->SetAccountOwner("x.com", "a").IsNotFound());
  for (int i = 2; i <= 5; ++i) {
    Qualified("l" + std::to_string(i));
  }
  std::vector<std::string> reps = TakeRoutedReps();
  EXPECT_EQ(std::count(reps.begin(), reps.end(), "a"), 0);
  EXPECT_EQ(reps.size(), 4u);
  EXPECT_EQ(held->owner->rep, "a");
  ASSERT_TRUE(Accept(held->owner->seq, "a").ok);
  ASSERT_TRUE(Close(held->owner->seq, "won").ok);
  EXPECT_FALSE(View("a").has_value());  // nothing open: no longer listed
}

// ---------------------------------------------------------------------------------------------
// Persistence

TEST_F(RouterTest, FlushAndRestoreRoundTrip) {
  Load(R"(
routing:
  stage: sql
  account_match: true
  teams:
    - id: sales
      when: traits.employees >= 100
      strategy: weighted_round_robin
      reps: [{id: alice, weight: 3, max_per_day: 10}, {id: bob, weight: 1}]
    - id: small
      when: traits.employees >= 10
      reps: [{id: carol}]
)");
  ASSERT_OK(router_->SetOnline("carol", false));
  ASSERT_OK(router_->SetAccountOwner("acme.com", "bob"));
  Qualified("s1", R"({"employees":500})");
  Lead* s2 = Qualified("s2", R"({"employees":500,"email":"x@initech.com"})");
  EXPECT_EQ(TakeRoutedReps(), Seq({"alice", "alice"}));  // (3,1) a; (2,2) a
  ASSERT_TRUE(Accept(s2->owner->seq).ok);
  Qualified("q1", R"({"employees":20})");
  Qualified("q2", R"({"employees":20})");
  Qualified("u1", R"({"employees":1})");
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 2u);  // accepted, unrouted
  EXPECT_EQ(recs[1].kind, "unrouted");

  router_->Flush();
  EXPECT_TRUE(host_.meta.contains("router.reps"));
  EXPECT_EQ(QueueRecords(), Seq({"small:q1", "small:q2", "unrouted:u1"}));
  EXPECT_EQ(host_.meta["router.account.acme.com"], "bob");
  EXPECT_EQ(host_.meta["router.account.initech.com"], "alice");
  // Nothing changed since: nothing is written.
  const int writes = host_.meta_writes;
  router_->Flush();
  EXPECT_EQ(host_.meta_writes, writes);

  std::vector<RepView> before = router_->Reps();
  Restart();
  std::vector<RepView> after = router_->Reps();
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].id, before[i].id);
    EXPECT_EQ(after[i].online, before[i].online) << before[i].id;
    EXPECT_EQ(after[i].open, before[i].open) << before[i].id;
    EXPECT_EQ(after[i].today, before[i].today) << before[i].id;
    EXPECT_EQ(after[i].current_weight, before[i].current_weight) << before[i].id;
    EXPECT_EQ(after[i].queued_in_team, before[i].queued_in_team) << before[i].id;
    EXPECT_EQ(after[i].why_not, before[i].why_not) << before[i].id;
  }
  EXPECT_EQ(router_->AccountOwner("acme.com"), "bob");
  EXPECT_EQ(router_->AccountOwner("initech.com"), "alice");
  router_->Tick();
  EXPECT_TRUE(Take().empty());

  // The sequence goes on where it was: (1,3) -> bob.
  Qualified("s3", R"({"employees":500})");
  EXPECT_EQ(TakeRoutedReps(), Seq({"bob"}));
  ASSERT_OK(router_->SetOnline("carol", true));
  router_->Tick();
  recs = Take();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].lead, "q1");
  EXPECT_EQ(recs[1].lead, "q2");
  Load(R"(
routing:
  stage: sql
  teams:
    - id: everyone
      reps: [{id: dan}]
)");
  recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].lead, "u1");
  EXPECT_EQ(recs[0].rep, "dan");
}

// A long queue costs a record per lead that enters or leaves it, not a rewrite per commit (the
// queues were one JSON value, rewritten whole at every commit that changed any of them).
TEST_F(RouterTest, QueueChangesWriteOneRecordEach) {
  Load(R"(
routing:
  stage: sql
  teams:
    - id: small
      reps: [{id: carol}]
)");
  ASSERT_OK(router_->SetOnline("carol", false));
  for (int i = 0; i < 1000; ++i) {
    Qualified("q" + std::to_string(i));
  }
  router_->Flush();
  EXPECT_EQ(View("carol")->queued_in_team, 1000u);

  size_t before = host_.meta_bytes;
  Qualified("late");
  router_->Flush();
  // Its queue record, and the reps' counters (one small record): a rewrite of the queue would
  // be over 10 KB.
  EXPECT_LT(host_.meta_bytes - before, 256u);
  before = host_.meta_bytes;
  router_->Forget(&host_.leads["q500"]);
  router_->Flush();
  EXPECT_LT(host_.meta_bytes - before, 256u);

  // First in, first out across a restart, the forgotten lead gone.
  Restart();
  Qualified("later");
  EXPECT_EQ(View("carol")->queued_in_team, 1001u);
  ASSERT_OK(router_->SetOnline("carol", true));
  router_->Tick();
  std::vector<std::string> order;
  for (const Rec& r : Take()) {
    order.push_back(r.lead);
  }
  std::vector<std::string> want;
  for (int i = 0; i < 1000; ++i) {
    if (i != 500) {
      want.push_back("q" + std::to_string(i));
    }
  }
  want.push_back("late");
  want.push_back("later");
  EXPECT_EQ(order, want);
  router_->Flush();
  EXPECT_TRUE(QueueRecords().empty());
}

// A data directory of an earlier version holds the queues, escalations and account owners as
// one JSON value each: they are read, and rewritten as records of their own at the next Flush.
TEST_F(RouterTest, RestoresTheEarlierOneRecordForms) {
  ASSERT_NO_FATAL_FAILURE(QueueQ1AndQ2ForOfflineCarol());
  std::erase_if(host_.meta, [](const auto& kv) { return kv.first != "router.reps"; });
  host_.meta["router.queues"] = R"({"small":["q2","q1"]})";
  host_.meta["router.escalated"] = R"({"q2":["carol"]})";
  host_.meta["router.accounts"] = R"({"acme.com":"carol"})";
  // Records of this version that the earlier one ignored when it ran after it: stale.
  host_.meta["router.queue.00000000000000ff"] = QueueRecord("small", "gone");
  host_.meta["router.parked.gone"] = ParkedRecord("carol", /*with_generations=*/false);

  Restart();
  EXPECT_EQ(View("carol")->queued_in_team, 2u);
  EXPECT_EQ(router_->AccountOwner("acme.com"), "carol");
  router_->Flush();
  EXPECT_EQ(QueueRecords(), Seq({"small:q2", "small:q1"}));
  EXPECT_EQ(host_.meta["router.parked.q2"], ParkedRecord("carol"));
  EXPECT_EQ(host_.meta["router.account.acme.com"], "carol");
  EXPECT_FALSE(host_.meta.contains("router.queues"));
  EXPECT_FALSE(host_.meta.contains("router.escalated"));
  EXPECT_FALSE(host_.meta.contains("router.accounts"));
  EXPECT_FALSE(host_.meta.contains("router.parked.gone"));

  // q2 was escalated before the restart: it waits for carol to become eligible, then goes
  // first, as it was first in its queue.
  ASSERT_OK(router_->SetOnline("carol", true));
  router_->Tick();
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].lead, "q2");
  EXPECT_EQ(recs[1].lead, "q1");
  router_->Flush();
  EXPECT_TRUE(QueueRecords().empty());
  EXPECT_FALSE(host_.meta.contains("router.parked.q2"));
}

// Records no run of this version writes (a lead queued twice, an escalation of a lead that waits
// in no team's queue) are dropped at restore and deleted at the next Flush, so they cannot come
// back at a later restart.
TEST_F(RouterTest, RestoreDeletesSupersededRecords) {
  ASSERT_NO_FATAL_FAILURE(QueueQ1AndQ2ForOfflineCarol());
  host_.meta["router.queue.0000000000000000"] = QueueRecord("small", "q2");  // before q2's own
  host_.meta["router.parked.nowhere"] = ParkedRecord("carol", /*with_generations=*/false);

  Restart();
  EXPECT_EQ(View("carol")->queued_in_team, 2u);
  router_->Flush();
  EXPECT_EQ(QueueRecords(), Seq({"small:q1", "small:q2"}));
  EXPECT_FALSE(host_.meta.contains("router.queue.0000000000000000"));
  EXPECT_FALSE(host_.meta.contains("router.parked.nowhere"));
}

TEST_F(RouterTest, RestoreRejectsGarbage) {
  Router fresh(&host_, &clock_, &metrics_);
  host_.meta["router.reps"] = "not json";
  EXPECT_FALSE(fresh.Restore(host_.Reader()).ok());
  host_.meta.erase("router.reps");
  host_.meta["router.queue.0000000000000001"] = "\x05short";  // a string past the end
  EXPECT_FALSE(fresh.Restore(host_.Reader()).ok());
  host_.meta.erase("router.queue.0000000000000001");
  host_.meta["router.parked.l1"] = std::string("\0\x80", 2);  // generations cut short
  EXPECT_FALSE(fresh.Restore(host_.Reader()).ok());
  host_.meta.erase("router.parked.l1");
  host_.meta["router.generations"] = std::string("\x01t\x01", 3);  // no release generation
  EXPECT_FALSE(fresh.Restore(host_.Reader()).ok());
}

// Every lead goes to team `rest` (bob): the rule file a restart finds changed in these tests.
constexpr std::string_view kRestOnly = R"(
routing:
  stage: sql
  teams:
    - id: rest
      reps: [{id: bob}]
)";

TEST_F(RouterTest, RestartReroutesTheUnroutedQueueUnderTheRulesInForce) {
  Load(R"(
routing:
  stage: sql
  teams:
    - id: big
      when: traits.employees >= 1000
      reps: [{id: alice}]
)");
  Qualified("tiny");
  ASSERT_EQ(Take().size(), 1u);
  // The daemon restarts on a rule file that changed while it was down.
  Restart(kRestOnly);
  router_->Tick();
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].lead, "tiny");
  EXPECT_EQ(recs[0].rep, "bob");
}

// A start on changed rules counts as a reload and routes as one: a lead that was waiting in a
// team's queue keeps its place ahead of an unrouted lead the new rules give that team (SPEC 7,
// first in, first out). Found by a white-box routing review: the restart routed the unrouted
// lead first.
class RerouteOrderTest : public RouterTest,
                         public ::testing::WithParamInterface<bool /*by a restart*/> {};

TEST_P(RerouteOrderTest, ALeadWaitingInItsTeamsQueueGoesBeforeAnUnroutedOne) {
  Load(R"(
routing:
  stage: sql
  teams:
    - id: sales
      when: traits.x == 1
      reps: [{id: a, max_open: 1}]
)");
  Qualified("u1", R"({"x":1})");
  Qualified("u2", R"({"x":1})");  // a is full: waits in sales' queue
  Qualified("u9");                // no team: unrouted
  ASSERT_EQ(Take().size(), 2u);
  const std::string changed = R"(
routing:
  stage: sql
  teams:
    - id: sales
      when: "true"
      reps: [{id: a, max_open: 2}]
)";
  if (GetParam()) {
    Restart(changed);
  } else {
    Load(changed);
  }
  router_->Tick();
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "routed");
  EXPECT_EQ(recs[0].lead, "u2");
  EXPECT_EQ(View("a")->queued_in_team, 1u);  // u9, behind it
}

INSTANTIATE_TEST_SUITE_P(ReloadOrRestart, RerouteOrderTest, ::testing::Bool());

// A crash after a start on changed rules has stored them, but before its first drain rerouted the
// unrouted queue: the next start is on the same rules, and still reroutes it (the reroute was
// stored as pending).
TEST_F(RouterTest, AReroutePendingAtACrashIsDoneAtTheNextStart) {
  Load(kBigOnly);
  Qualified("tiny", R"({"employees":3})");
  ASSERT_EQ(Take().size(), 1u);  // unrouted
  Restart(kRestOnly);
  Restart();  // no drain in between: killed
  router_->Tick();
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].lead, "tiny");
  EXPECT_EQ(recs[0].rep, "bob");
  router_->Flush();
  EXPECT_FALSE(host_.meta.contains("router.reroute_pending"));
}

// SPEC 7: an unrouted lead waits "until a reload gives it" a team. A restart on the same rules is
// no reload, even when the lead's traits would now match a team: it waits on, as it would have
// without the restart, until a reload.
TEST_F(RouterTest, RestartOnTheSameRulesLeavesTheUnroutedQueueWaiting) {
  Load(kBigOnly);
  Qualified("tiny", R"({"employees":3})");
  ASSERT_EQ(Take().size(), 1u);  // unrouted
  host_.leads["tiny"].traits.Set("employees", Value::Number(5000));
  router_->Tick();
  EXPECT_TRUE(Take().empty());
  Restart();
  router_->Tick();
  clock_.Advance(kHour);
  router_->Tick();
  EXPECT_TRUE(Take().empty());
  EXPECT_FALSE(host_.leads["tiny"].owner.has_value());
  Load(kBigOnly);  // a reload, of the same rules: now a team takes it
  router_->Tick();
  std::vector<Rec> recs = Take();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, "routed");
  EXPECT_EQ(recs[0].rep, "alice");
}

}  // namespace
}  // namespace handoff
