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

}  // namespace
}  // namespace handoff

BENCHMARK_MAIN();
