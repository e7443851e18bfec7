// The backtest's speed (SPEC 13; issue: 1M leads with 10 events each in <= 2 minutes on two
// cores): a RocksDB store holding N leads' state and their 10 events each in the history log,
// written the way the engine writes them (one history block per 16,384-event group commit, the
// leads' rounds interleaved), then one whole backtest of it under a candidate of the 50-rule
// model with other stage thresholds.
//
//   build/backtest_bench                                 100,000 leads (about a minute)
//   HANDOFF_BACKTEST_LEADS=1000000 build/backtest_bench  the scale (store: ~2-3 minutes)
//
// The store is built once, outside the timing; the counters say leads, events, events/s and the
// process's resident memory after the run.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "backtest/backtest.h"
#include "bench/bench_fixtures.h"
#include "history/history_log.h"
#include "rules/rule_loader.h"
#include "scoring/scorer.h"
#include "storage/lead_codec.h"
#include "storage/rocks_store.h"

namespace handoff {
namespace {

using bench::Require;

constexpr EpochSeconds kT0 = 1'800'000'000;
constexpr int kEventsPerLead = 10;
constexpr size_t kEventsPerCommit = 4096;  // EngineOptions::max_commit_events

size_t LeadCount() {
  const char* env = std::getenv("HANDOFF_BACKTEST_LEADS");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : 100'000;
}

double ResidentMegabytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::strtod(line.c_str() + 6, nullptr) / 1024;
    }
  }
  return 0;
}

// Event `round` of lead `l`: an identify first, then tracks and page views the model scores.
Event MakeEvent(const std::string& lead, size_t l, int round) {
  Event e;
  e.user_id = lead;
  e.message_id = lead + "-" + std::to_string(round);
  e.timestamp = kT0 + round * 3600.0 + static_cast<double>(l % 3600);
  e.has_timestamp = true;
  if (round == 0) {
    e.type = EventType::kIdentify;
    e.traits = Value::MakeObject();
    e.traits.Set("title", Value::String(l % 4 == 0 ? "VP Marketing" : "Engineer"));
    Value company = Value::MakeObject();
    company.Set("employees", Value::Number(static_cast<double>(l % 1200)));
    e.traits.Set("company", std::move(company));
    return e;
  }
  e.properties = Value::MakeObject();
  if (round % 2 == 1) {
    e.type = EventType::kTrack;
    e.name = "Event " + std::to_string((l + round) % 20);
    e.has_name = true;
    e.properties.Set("plan", Value::String("tier" + std::to_string(l % 5)));
  } else {
    e.type = EventType::kPage;
    e.properties.Set("path", Value::String("/p" + std::to_string((l + round) % 15)));
  }
  return e;
}

// A store with `leads` leads and their history, as the engine would have left it.
struct BacktestStore {
  bench::TempDir dir;
  std::unique_ptr<RocksStore> store;
  std::shared_ptr<const RuleSet> live;
  std::shared_ptr<const RuleSet> candidate;
  double build_seconds = 0;

  explicit BacktestStore(size_t leads) {
    const auto started = std::chrono::steady_clock::now();
    store = bench::OpenStore(dir.path() + "/db");
    live = bench::LoadFiftyRuleModel();
    std::string model = bench::FiftyRuleModel();
    const std::string from = "enter: 'score.engagement >= 40";
    model.replace(model.find(from), from.size(), "enter: 'score.engagement >= 18");
    LoadResult loaded = LoadRulesFromString(model, "candidate.yaml");
    Require(loaded.ok(), "candidate loads");
    candidate = loaded.rules;

    const Scorer scorer(live);
    std::vector<Lead> state(leads);
    HistoryLog history(store.get(), /*enabled=*/true);
    Require(history.Restore().ok(), "history restores");
    CommitBatch batch;
    std::vector<AwardedPoints> awarded;
    std::vector<std::pair<std::string_view, double>> awards;
    size_t in_batch = 0;
    for (int round = 0; round < kEventsPerLead; ++round) {
      for (size_t l = 0; l < leads; ++l) {
        Lead& lead = state[l];
        if (round == 0) {
          lead.id = "lead-" + std::to_string(l);
          lead.history.push_back({lead.id, 0});
        }
        const Event e = MakeEvent(lead.id, l, round);
        (void)scorer.Apply(e, &lead, &awarded);
        awards.clear();
        for (const AwardedPoints& a : awarded) {
          awards.emplace_back(live->rules[a.rule_index].id, a.points);
        }
        history.Append(&lead.history[0], e.timestamp, e, awards);
        if (++in_batch == kEventsPerCommit) {
          history.Flush(&batch, e.timestamp);
          Require(store->Commit(&batch).ok(), "history commits");
          in_batch = 0;
        }
      }
    }
    history.Flush(&batch, kT0);
    std::string encoded;
    for (size_t l = 0; l < leads; ++l) {
      encoded.clear();
      EncodeLeadState(state[l], &encoded);
      batch.PutLead(state[l].id, encoded);
      if (l % 10'000 == 9'999) {
        Require(store->Commit(&batch).ok(), "leads commit");
      }
    }
    Require(store->Commit(&batch).ok(), "leads commit");
    build_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }
};

void BM_BacktestWholeStore(benchmark::State& state) {
  const size_t leads = LeadCount();
  static BacktestStore* fixture = new BacktestStore(leads);  // built once, kept to exit
  BacktestRequest request;
  request.live = fixture->live;
  request.candidate = fixture->candidate;
  request.at = kT0 + 30 * 86400;
  BacktestReport report;
  for (auto _ : state) {
    std::unique_ptr<StoreSnapshot> snapshot = fixture->store->Snapshot();
    Status st = RunBacktest(*snapshot, request, BacktestControl{}, &report);
    if (!bench::Verify(state, st.ok(), "backtest runs") ||
        !bench::Verify(state, report.leads == leads, "every lead compared") ||
        !bench::Verify(state, report.events == leads * kEventsPerLead, "every event replayed")) {
      return;
    }
  }
  if (std::getenv("HANDOFF_BACKTEST_PRINT") != nullptr) {
    std::fprintf(stderr, "%s\n", BacktestReportJson(report).c_str());
  }
  state.counters["leads"] = static_cast<double>(report.leads);
  state.counters["events"] = static_cast<double>(report.events);
  state.counters["events_per_s"] = benchmark::Counter(
      static_cast<double>(report.events) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
  state.counters["changed"] = 0;
  for (const auto& [change, n] : report.changes) {
    state.counters["changed"] += static_cast<double>(n);
  }
  for (const auto& [stage, n] : report.stages_candidate) {
    state.counters["candidate_" + stage] = static_cast<double>(n);
  }
  for (const auto& [stage, n] : report.stages_now) {
    state.counters["now_" + stage] = static_cast<double>(n);
  }
  double candidate_points = 0;
  for (const BacktestReport::RuleTotal& r : report.rules) {
    candidate_points += r.candidate;
  }
  state.counters["candidate_points_per_lead"] = candidate_points / static_cast<double>(leads);
  state.counters["store_build_s"] = fixture->build_seconds;
  state.counters["rss_mb"] = ResidentMegabytes();
}
BENCHMARK(BM_BacktestWholeStore)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

}  // namespace
}  // namespace handoff
