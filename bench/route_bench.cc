// Routing on the engine thread (routing/router.h): a lead crossing into the routing stage, as the
// engine reports an event's stage change: the team decision (each team's `when`), the rep
// selection (availability in the rep's time zone and working hours, limits, skill, smooth
// weighted round robin or least loaded) and the `routed` record handed to the host. Rules shaped
// like rules/examples/default.yaml: three teams, seven reps in five time zones, one of them
// outside its hours.
//
// The host is a stand-in for the engine (as in tests/routing/router_test.cc) that numbers the
// records and keeps nothing: the engine's Publish also reads the lead's scores and appends the
// record to the outbox (outbox_bench.cc). An iteration routes 300 leads qualifying 1 ms apart;
// between iterations, untimed, each is closed (`lost`) and moved back to stage "new", and the
// clock set back, so the next iteration routes them again in the same state. Checks every lead's
// team and rep before it times.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/metrics.h"
#include "bench/bench_fixtures.h"
#include "routing/router.h"
#include "rules/rule_loader.h"
#include "scoring/scorer.h"

namespace handoff {
namespace {

using bench::Verify;

// Monday 2026-01-12 17:00 UTC: 12:00 in New York, 11:00 in Chicago, 09:00 in Los Angeles, 10:00
// in Denver, 18:00 in Berlin (chloe is outside her hours).
constexpr EpochSeconds kMonday1700Utc = 1'768'237'200;

constexpr int kStageNew = 0;
constexpr int kStageSql = 2;
constexpr int kLeadsPerIteration = 300;

// Stages move by hand (Scorer::SetStage), as the engine's stage machine would move them.
constexpr char kRules[] = R"(
stages:
  - {name: mql, enter: false}
  - {name: sql, enter: false}
routing:
  stage: sql
  account_match: true
  sla: {accept_within: 10m, max_reassign: 2}
  teams:
    - id: enterprise
      when: traits.company.employees >= 1000 || traits.employees >= 1000
      strategy: weighted_round_robin
      skill: lower(traits.language)
      reps:
        - {id: alice, weight: 2, max_open: 100000, timezone: America/New_York,
           hours: "Mon-Fri 09:00-17:00", skills: [en, de]}
        - {id: bob, weight: 1, max_open: 100000, timezone: America/Chicago,
           hours: "Mon-Fri 08:00-16:00", skills: [en, es]}
        - {id: chloe, weight: 1, max_open: 100000, timezone: Europe/Berlin,
           hours: "Mon-Thu 08:30-17:30, Fri 08:30-14:00", skills: [de, en, fr]}
    - id: mid-market
      when: traits.company.employees >= 200 || traits.employees >= 200
      strategy: least_loaded
      reps:
        - {id: dan, max_open: 100000, timezone: America/Los_Angeles, hours: "Mon-Fri 08:00-17:00"}
        - {id: erin, max_open: 100000, timezone: America/Denver, hours: "Mon-Fri 08:00-17:00"}
    - id: everyone-else
      when: true
      strategy: round_robin
      reps: [{id: frank}, {id: grace}]
)";

// The engine's part, reduced to what the router needs: leads by id, record seqs.
class BenchHost final : public RouterHost {
 public:
  struct Routed {
    std::string lead;
    std::string rep;
    std::string team;
    OutboxKind kind;
  };

  Lead* FindLead(std::string_view id) override {
    auto it = leads_.find(std::string(id));
    return it == leads_.end() ? nullptr : it->second.get();
  }
  void LeadChanged(Lead*) override {}
  uint64_t Publish(OutboxRecord* record, Lead* lead, EpochSeconds) override {
    record->seq = next_seq_++;
    if (keep_records_) {
      records_.push_back(
          Routed{lead->id, std::string(record->rep), std::string(record->team), record->kind});
    }
    return record->seq;
  }
  void PutMeta(std::string_view, std::string_view) override {}
  void DeleteMeta(std::string_view) override {}

  Lead* AddLead(std::string id, int employees, std::string_view language) {
    auto lead = std::make_unique<Lead>();
    lead->id = std::move(id);
    lead->traits.Set("email", Value::String(lead->id + "@example.com"));
    lead->traits.Set("employees", Value::Number(employees));
    if (!language.empty()) {
      lead->traits.Set("language", Value::String(std::string(language)));
    }
    Lead* raw = lead.get();
    leads_[raw->id] = std::move(lead);
    return raw;
  }
  void KeepRecords(bool keep) { keep_records_ = keep; }
  std::vector<Routed> TakeRecords() { return std::move(records_); }

 private:
  std::unordered_map<std::string, std::unique_ptr<Lead>> leads_;
  std::vector<Routed> records_;
  uint64_t next_seq_ = 1;
  bool keep_records_ = false;
};

// A lead of each kind in turn: enterprise in English, mid-market, small, enterprise in German.
std::vector<Lead*> MakeLeads(BenchHost* host) {
  std::vector<Lead*> leads;
  for (int i = 0; i < kLeadsPerIteration; ++i) {
    const std::string id = "user-" + std::to_string(i);
    switch (i % 4) {
      case 0:
        leads.push_back(host->AddLead(id, 5000, "EN"));
        break;
      case 1:
        leads.push_back(host->AddLead(id, 300, ""));
        break;
      case 2:
        leads.push_back(host->AddLead(id, 20, ""));
        break;
      default:
        leads.push_back(host->AddLead(id, 2000, "de"));
        break;
    }
  }
  return leads;
}

// The team and reps each kind of lead may go to (chloe is outside her hours; bob speaks no de).
bool RightRep(int i, const BenchHost::Routed& r) {
  auto in = [&](std::initializer_list<std::string_view> reps) {
    return std::find(reps.begin(), reps.end(), r.rep) != reps.end();
  };
  switch (i % 4) {
    case 0:
      return r.team == "enterprise" && in({"alice", "bob"});
    case 1:
      return r.team == "mid-market" && in({"dan", "erin"});
    case 2:
      return r.team == "everyone-else" && in({"frank", "grace"});
    default:
      return r.team == "enterprise" && r.rep == "alice";
  }
}

// Closes each lead's routing (a lost deal) and moves it back to "new", as the engine would; then
// lets the SLA deadlines pass so the router drops them (stale: the leads are closed), and sets
// the clock back for the next round.
bool Release(Router* router, ManualClock* clock, const Scorer& scorer,
             const std::vector<Lead*>& leads) {
  for (Lead* lead : leads) {
    SalesAction close;
    close.kind = SalesActionKind::kClose;
    close.seq = lead->owner->seq;
    close.outcome = "lost";
    if (!router->Act(close).result.ok) {
      return false;
    }
    scorer.SetStage(lead, kStageNew);
    router->OnStageChange(lead, StageChange{kStageSql, kStageNew}, "", clock->Now());
  }
  clock->Set(kMonday1700Utc + 700);
  router->Tick();
  clock->Set(kMonday1700Utc);
  return true;
}

void BM_RouteQualifiedLead(benchmark::State& state) {
  LoadResult loaded = LoadRulesFromString(kRules, "route_bench.yaml");
  for (const LoadError& e : loaded.errors) {
    std::fprintf(stderr, "%s\n", e.ToString().c_str());
  }
  bench::Require(loaded.ok(), "routing rules load");
  const Scorer scorer(loaded.rules);
  ManualClock clock(kMonday1700Utc);
  Metrics metrics;
  BenchHost host;
  Router router(&host, &clock, &metrics);
  router.SetRules(&scorer);
  router.Tick();  // the first drain after start
  const std::vector<Lead*> leads = MakeLeads(&host);

  // Leads qualify 1 ms apart, so their SLA deadlines differ as they would.
  auto route_all = [&] {
    EpochSeconds t = kMonday1700Utc;
    for (Lead* lead : leads) {
      clock.Set(t += 0.001);
      scorer.SetStage(lead, kStageSql);
      router.OnStageChange(lead, StageChange{kStageNew, kStageSql}, "m-1", t);
    }
  };

  // Check the answer: every lead routed once, to a rep of the right team.
  host.KeepRecords(true);
  route_all();
  const std::vector<BenchHost::Routed> routed = host.TakeRecords();
  host.KeepRecords(false);
  bool right = routed.size() == leads.size();
  for (size_t i = 0; right && i < routed.size(); ++i) {
    right = routed[i].kind == OutboxKind::kRouted && routed[i].lead == leads[i]->id &&
            RightRep(static_cast<int>(i), routed[i]) && leads[i]->owner.has_value() &&
            leads[i]->owner->rep == routed[i].rep;
  }
  if (!Verify(state, right, "each lead routed to a rep of its team") ||
      !Verify(state, Release(&router, &clock, scorer, leads), "routed leads close")) {
    return;
  }

  for (auto _ : state) {
    route_all();
    state.PauseTiming();
    if (!Release(&router, &clock, scorer, leads)) {
      state.SkipWithError("close failed");
      return;
    }
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kLeadsPerIteration);
}
BENCHMARK(BM_RouteQualifiedLead)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace handoff
