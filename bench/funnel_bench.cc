// The funnel (funnel/funnel.h) on the engine thread: Observe per record, in the mix of one lead's
// way through the funnel (two stage records, routed with 8 rules, accepted, closed won), and a
// GET /v1/funnel query over a day of history with two partial hours (read from RocksDB). The
// counters give the sizes docs/funnel.md quotes: bytes of hour totals per day, bytes of facts
// per record. Checks the figures before timing.
#include <benchmark/benchmark.h>

#include <cmath>
#include <string>
#include <vector>

#include "bench/bench_fixtures.h"
#include "funnel/funnel.h"
#include "funnel/funnel_totals.h"
#include "storage/commit_batch.h"

namespace handoff {
namespace {

using bench::Verify;

constexpr EpochSeconds kDay = 1767225600;
constexpr int kTeams = 5;
constexpr int kRepsPerTeam = 10;

const std::vector<FunnelRule>& EightRules() {
  static const std::vector<FunnelRule> rules = [] {
    std::vector<FunnelRule> r;
    for (int i = 0; i < 8; ++i) {
      r.push_back({"rule-" + std::to_string(i * 3), i < 6 ? "engagement" : "fit"});
    }
    return r;
  }();
  return rules;
}

// One lead's five records at `at`, through `funnel` (stored at its next Flush).
void OneLead(Funnel* funnel, uint64_t* seq, int lead_number, EpochSeconds at) {
  const std::string lead = "lead-" + std::to_string(lead_number);
  const std::string team = "team-" + std::to_string(lead_number % kTeams);
  const std::string rep = team + "-rep-" + std::to_string(lead_number % kRepsPerTeam);
  OutboxRecord r;
  r.lead = lead;
  FunnelContext context;
  auto publish = [&](OutboxKind kind) {
    r.seq = (*seq)++;
    r.kind = kind;
    r.at = at;
    funnel->Observe(r, context);
    at += 0.5;
  };
  r.from = "new";
  r.to = "mql";
  publish(OutboxKind::kStage);
  r.from = "mql";
  r.to = "sql";
  context.reaches_routing_stage = true;
  context.received_at = at - 0.0004;
  publish(OutboxKind::kStage);
  r.from = r.to = "";
  context = FunnelContext();
  r.rep = rep;
  r.team = team;
  context.rules_now = &EightRules();
  publish(OutboxKind::kRouted);
  context = FunnelContext();
  context.routed_at = at - 0.5;
  publish(OutboxKind::kAccepted);
  context = FunnelContext();
  r.outcome = "won";
  r.amount = 1000 + lead_number % 7;
  publish(OutboxKind::kClosed);
  r.outcome = "";
  r.amount.reset();
}

void BM_FunnelObserve(benchmark::State& state) {
  bench::TempDir dir;
  auto store = bench::OpenStore(dir.path());
  Funnel funnel(FunnelOptions(), store.get());
  CommitBatch batch;
  uint64_t seq = 1;
  int lead = 0;
  size_t fact_bytes = 0;
  for (auto _ : state) {
    OneLead(&funnel, &seq, lead, kDay + lead * 0.864);
    ++lead;
    if (lead % 200 == 0) {
      funnel.Flush(&batch);
      fact_bytes += batch.size_bytes();
      batch.Clear();
    }
  }
  if (!Verify(state, funnel.all_time().routed == static_cast<uint64_t>(lead),
              "every routed record counted")) {
    return;
  }
  state.SetItemsProcessed(state.iterations() * 5);
  state.counters["batch_bytes_per_record"] =
      static_cast<double>(fact_bytes) / std::max(1.0, (lead / 200) * 200 * 5.0);
}
BENCHMARK(BM_FunnelObserve);

// What the funnel does for each dirty hour at every group commit: encode its totals, whose
// speed-to-lead histograms hold ~1,000 buckets once a few thousand leads were routed.
void BM_FunnelTotalsEncode(benchmark::State& state) {
  FunnelTotals totals;
  for (int i = 0; i < 20'000; ++i) {
    totals.to_routed.Add(0.05 * std::pow(1.0007, i));  // 0.05 ms to ~60 ms
    totals.to_accepted.Add(1000.0 * (1 + i % 600));
  }
  std::string bytes;
  totals.Encode(&bytes);
  FunnelTotals back;
  if (!Verify(state, back.Decode(bytes) && back == totals, "the totals decode to themselves")) {
    return;
  }
  for (auto _ : state) {
    bytes.clear();
    totals.Encode(&bytes);
    benchmark::DoNotOptimize(bytes.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes.size());
}
BENCHMARK(BM_FunnelTotalsEncode);

void BM_FunnelQueryOverADay(benchmark::State& state) {
  bench::TempDir dir;
  auto store = bench::OpenStore(dir.path());
  Funnel funnel(FunnelOptions(), store.get());
  CommitBatch batch;
  uint64_t seq = 1;
  constexpr int kLeads = 20000;  // 100,000 records over 24 hours
  size_t stored = 0;
  for (int lead = 0; lead < kLeads; ++lead) {
    OneLead(&funnel, &seq, lead, kDay + lead * (86400.0 / kLeads));
    if (lead % 500 == 499) {
      funnel.Flush(&batch);
      stored += batch.size_bytes();
      bench::Require(store->Commit(&batch).ok(), "commit");
    }
  }
  FunnelWindow window;
  window.since = kDay + 1800.25;          // partial first hour
  window.until = kDay + 23 * 3600 + 600;  // partial last hour
  FunnelTotals totals;
  if (!Verify(state, funnel.Query(window, &totals).ok(), "query")) {
    return;
  }
  // Leads whose routed record (at + 1 s) lies in the window.
  uint64_t expected = 0;
  for (int lead = 0; lead < kLeads; ++lead) {
    const double routed_at = kDay + lead * (86400.0 / kLeads) + 1.0;
    expected += routed_at >= *window.since && routed_at < *window.until ? 1 : 0;
  }
  if (!Verify(state, totals.routed == expected, "window counts exactly")) {
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(funnel.Query(window, &totals));
  }
  state.counters["hour_bytes_per_day"] = static_cast<double>(funnel.hour_bytes());
  state.counters["stored_bytes_per_record"] = static_cast<double>(stored) / (kLeads * 5.0);
}
BENCHMARK(BM_FunnelQueryOverADay)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace handoff
