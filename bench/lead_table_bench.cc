// The engine's lead lookup (core/engine.cc FindEntry, once per event): a lead found by id among
// many, then read. As a node map (what the engine had: StringIncrementalMap of unique_ptr) against
// KeyedTable, without and with the prefetch a few events ahead that ApplyBatch does. The table
// is far larger than the caches, as the lead cache is; ids come in random order.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base/incremental_map.h"
#include "base/keyed_table.h"
#include "storage/lead_id_filter.h"

namespace handoff {
namespace {

struct FakeLead {
  std::string id;
  double score = 0;
  char rest[400] = {};  // a lead's state is a few hundred bytes; its neighbours are not cached
};
struct FakeLeadId {
  const std::string& operator()(const FakeLead& lead) const { return lead.id; }
};

std::string LeadId(size_t i) { return "user-" + std::to_string(i); }

std::vector<std::string> RandomIds(size_t leads, size_t count) {
  std::mt19937_64 rng(42);
  std::vector<std::string> ids;
  ids.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    ids.push_back(LeadId(rng() % leads));
  }
  return ids;
}

constexpr size_t kLookups = 1 << 16;
constexpr size_t kAhead = 8;

void BM_LeadLookupNodeMap(benchmark::State& state) {
  const auto leads = static_cast<size_t>(state.range(0));
  StringIncrementalMap<std::unique_ptr<FakeLead>> map;
  for (size_t i = 0; i < leads; ++i) {
    auto lead = std::make_unique<FakeLead>();
    lead->id = LeadId(i);
    lead->score = static_cast<double>(i);
    map.TryEmplace(lead->id, std::move(lead));
  }
  const std::vector<std::string> ids = RandomIds(leads, kLookups);
  if (map.Find(ids[0]) == nullptr || (*map.Find(ids[0]))->id != ids[0]) {
    state.SkipWithError("lookup returned the wrong lead");
    return;
  }
  size_t i = 0;
  for (auto _ : state) {
    std::unique_ptr<FakeLead>* lead = map.Find(ids[i]);
    benchmark::DoNotOptimize((*lead)->score += 1);
    i = (i + 1) & (kLookups - 1);
  }
}
BENCHMARK(BM_LeadLookupNodeMap)->Arg(100'000)->Arg(1'000'000);

// kPrefetch 0: none; 1: the slot kAhead lookups ahead; 2: also the object kAhead / 2 ahead.
template <int kPrefetch>
void BM_LeadLookupKeyedTable(benchmark::State& state) {
  const auto leads = static_cast<size_t>(state.range(0));
  KeyedTable<FakeLead, FakeLeadId> table;
  for (size_t i = 0; i < leads; ++i) {
    auto lead = std::make_unique<FakeLead>();
    lead->id = LeadId(i);
    lead->score = static_cast<double>(i);
    table.Insert(std::move(lead));
  }
  const std::vector<std::string> ids = RandomIds(leads, kLookups);
  if (table.Find(ids[0]) == nullptr || table.Find(ids[0])->id != ids[0]) {
    state.SkipWithError("lookup returned the wrong lead");
    return;
  }
  size_t i = 0;
  for (auto _ : state) {
    if (kPrefetch >= 1) {
      table.Prefetch(ids[(i + kAhead) & (kLookups - 1)]);
    }
    if (kPrefetch >= 2) {
      table.PrefetchObject(ids[(i + kAhead / 2) & (kLookups - 1)]);
    }
    FakeLead* lead = table.Find(ids[i]);
    benchmark::DoNotOptimize(lead->score += 1);
    i = (i + 1) & (kLookups - 1);
  }
}
BENCHMARK(BM_LeadLookupKeyedTable<0>)->Arg(100'000)->Arg(1'000'000);
BENCHMARK(BM_LeadLookupKeyedTable<1>)->Arg(100'000)->Arg(1'000'000);
BENCHMARK(BM_LeadLookupKeyedTable<2>)->Arg(100'000)->Arg(1'000'000);

// A new lead (core/engine.cc FindEntry when every event names a new lead, as in the 10M-lead
// send): the lead cache misses, then the lead-id filter answers "never created". The filter holds
// 10M ids (four segments: four cache lines a lookup), the cache 1M leads. Between lookups, 150
// dependent multiply-adds (~0.2 us) stand for the rest of an event's work: with nothing between,
// the CPU overlaps the misses of consecutive lookups by itself, which an engine event does not
// let it. kPrefetch: ApplyBatch's prefetch of the next event's filter blocks when its lead is not
// cached (both variants prefetch the table's slot two events ahead and the object one ahead).
template <bool kPrefetch>
void BM_NewLeadLookup(benchmark::State& state) {
  constexpr size_t kCached = 1'000'000;
  static const auto* const table = [] {
    auto* t = new KeyedTable<FakeLead, FakeLeadId>();
    for (size_t i = 0; i < kCached; ++i) {
      auto lead = std::make_unique<FakeLead>();
      lead->id = LeadId(i);
      t->Insert(std::move(lead));
    }
    return t;
  }();
  static const auto* const filter = [] {
    auto* f = new LeadIdFilter();
    for (size_t i = 0; i < 10'000'000; ++i) {
      f->Add("stored-" + std::to_string(i));
    }
    return f;
  }();
  std::vector<std::string> ids;
  ids.reserve(kLookups);
  for (size_t i = 0; i < kLookups; ++i) {
    ids.push_back("new-" + std::to_string(i * 7919));
  }
  size_t i = 0;
  uint64_t work = 1;
  size_t maybe = 0;
  for (auto _ : state) {
    table->Prefetch(ids[(i + 2) & (kLookups - 1)]);
    const std::string& next = ids[(i + 1) & (kLookups - 1)];
    if (!table->PrefetchObject(next) && kPrefetch) {
      filter->Prefetch(next);
    }
    for (int k = 0; k < 150; ++k) {
      work = work * 6364136223846793005ULL + 1442695040888963407ULL;
    }
    benchmark::DoNotOptimize(work);
    if (table->Find(ids[i]) == nullptr && filter->MayContain(ids[i])) {
      ++maybe;
    }
    i = (i + 1) & (kLookups - 1);
  }
  state.counters["maybe"] =
      benchmark::Counter(static_cast<double>(maybe), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_NewLeadLookup<false>);
BENCHMARK(BM_NewLeadLookup<true>);

}  // namespace
}  // namespace handoff

BENCHMARK_MAIN();
