// The history log's costs (SPEC 8): appending one applied event on the engine thread, its bytes
// per event, and one merge's work (read two leads' histories of 1,000 events each from RocksDB and
// replay them through the scorer). Each benchmark checks its answer before it times anything.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/bench_fixtures.h"
#include "history/history_log.h"
#include "rules/rule_loader.h"
#include "scoring/scorer.h"
#include "storage/rocks_store.h"

namespace handoff {
namespace {

using bench::Require;
using bench::Verify;

constexpr EpochSeconds kT0 = 1'800'000'000;

constexpr char kRules[] = R"(scores:
  engagement: {kind: event, half_life: 14d}
rules:
  - id: pricing
    score: engagement
    when: type == "page" && properties.path starts_with "/pricing"
    points: 10
    cap: {points: 30, per: 1d}
  - id: webinar
    score: engagement
    when: event == "Webinar Attended"
    points: 15
stages:
  - name: mql
    enter: score.engagement >= 40
)";

// A page view like a web tracker's, with a context object.
Event TypicalEvent(const std::string& lead, int i) {
  Event e;
  e.type = i % 3 == 0 ? EventType::kTrack : EventType::kPage;
  e.user_id = lead;
  e.message_id = "m-" + std::to_string(i);
  e.timestamp = kT0 + i;
  e.has_timestamp = true;
  if (e.type == EventType::kTrack) {
    e.name = "Webinar Attended";
    e.has_name = true;
  }
  e.properties = Value::MakeObject();
  e.properties.Set("path", Value::String("/pricing/enterprise"));
  e.properties.Set("referrer", Value::String("https://example.com/blog/lead-scoring"));
  e.context = Value::MakeObject();
  Value library = Value::MakeObject();
  library.Set("name", Value::String("analytics.js"));
  library.Set("version", Value::String("4.1.0"));
  e.context.Set("library", std::move(library));
  return e;
}

// A history log on a store in a fresh temporary directory (unique, so runs at the same time do
// not share a RocksDB lock).
struct Fixture {
  Fixture() : store(bench::OpenStore(dir.path() + "/data")) {
    log = std::make_unique<HistoryLog>(store.get(), true);
    Require(log->Restore().ok(), "log restores");
  }
  ~Fixture() {
    log.reset();
    store.reset();
  }
  void Commit() {
    CommitBatch batch;
    log->Flush(&batch, kT0);
    Require(store->Commit(&batch).ok(), "commit");
  }
  bench::TempDir dir;
  std::unique_ptr<RocksStore> store;
  std::unique_ptr<HistoryLog> log;
};

// One applied event appended to the log, with a group commit every 4,096 events (as under load);
// reports the stored bytes per event before RocksDB's compression.
void BM_HistoryAppend(benchmark::State& state) {
  Fixture f;
  std::vector<HistoryChain> chains(1000);
  for (size_t i = 0; i < chains.size(); ++i) {
    chains[i].lead = "user-" + std::to_string(i);
  }
  std::vector<Event> events;
  for (int i = 0; i < 4096; ++i) {
    events.push_back(TypicalEvent(chains[i % chains.size()].lead, i));
  }
  const std::vector<std::pair<std::string_view, double>> awards = {{"pricing", 10}};
  {
    HistoryChain probe{"probe", 0};
    f.log->Append(&probe, kT0, events[0], awards);
    f.Commit();
    std::vector<HistoryEntry> back;
    if (!Verify(state,
                f.log->Read({probe}, &back).ok() && back.size() == 1 &&
                    back[0].event.properties == events[0].properties &&
                    back[0].event.message_id == events[0].message_id,
                "an appended event reads back")) {
      return;
    }
  }
  size_t i = 0;
  uint64_t bytes = 0;
  for (auto _ : state) {
    f.log->Append(&chains[i % chains.size()], kT0, events[i % events.size()], awards);
    if (++i % 4096 == 0) {
      CommitBatch batch;
      f.log->Flush(&batch, kT0);
      bytes += batch.size_bytes();
      if (!f.store->Commit(&batch).ok()) {
        state.SkipWithError("commit failed");
        return;
      }
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(i));
  if (i >= 4096) {
    state.counters["bytes_per_event"] =
        static_cast<double>(bytes) / static_cast<double>(i / 4096 * 4096);
  }
}
BENCHMARK(BM_HistoryAppend);

// The work of one merge of two leads with 1,000 events each, logged over 500 commits among other
// leads' events: read both chains from RocksDB, then replay the 2,000 events in apply order.
void BM_MergeTwoLeadsOf1000Events(benchmark::State& state) {
  Fixture f;
  LoadResult loaded = LoadRulesFromString(kRules, "bench.yaml");
  Require(loaded.ok(), "rules load");
  Scorer scorer(loaded.rules);
  HistoryChain a{"anon-1", 0};
  HistoryChain b{"kim", 0};
  std::vector<HistoryChain> others(200);
  for (size_t i = 0; i < others.size(); ++i) {
    others[i].lead = "other-" + std::to_string(i);
  }
  const std::vector<std::pair<std::string_view, double>> awards = {{"pricing", 10}};
  int n = 0;
  for (int commit = 0; commit < 500; ++commit) {
    for (int k = 0; k < 2; ++k) {
      f.log->Append(&a, kT0, TypicalEvent(a.lead, n++), awards);
      f.log->Append(&b, kT0, TypicalEvent(b.lead, n++), awards);
    }
    for (int k = 0; k < 20; ++k) {
      HistoryChain& o = others[(commit * 20 + k) % others.size()];
      f.log->Append(&o, kT0, TypicalEvent(o.lead, n++), awards);
    }
    f.Commit();
  }
  Require(f.store->CompactAll().ok(), "compact");
  {
    std::vector<HistoryEntry> entries;
    if (!Verify(state, f.log->Read({b, a}, &entries).ok() && entries.size() == 2000,
                "2,000 events read")) {
      return;
    }
    Lead merged;
    merged.id = "kim";
    for (const HistoryEntry& e : entries) {
      (void)scorer.Apply(e.event, &merged);
    }
    if (!Verify(state, merged.events == 2000, "2,000 events replayed")) {
      return;
    }
  }
  for (auto _ : state) {
    std::vector<HistoryEntry> entries;
    if (!f.log->Read({b, a}, &entries).ok()) {
      state.SkipWithError("read failed");
      return;
    }
    Lead merged;
    merged.id = "kim";
    for (const HistoryEntry& e : entries) {
      (void)scorer.Apply(e.event, &merged);
    }
    benchmark::DoNotOptimize(merged.events);
  }
}
BENCHMARK(BM_MergeTwoLeadsOf1000Events)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace handoff
