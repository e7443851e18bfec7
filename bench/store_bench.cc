// Store throughput: group commits shaped like the engine's, and dedupe lookups.
//
// A commit here is what 1000 events produce: 1000 lead states (~200 B each, over a pool of
// leads so some are overwrites), 1000 messageIds, a few outbox records and one meta value.
// Reports commits/s (iterations), events/s (items) and bytes/s of batch payload, for
// `process` durability (WAL write) and `fsync` durability (WAL fsync per commit).
//
//   build/store_bench --benchmark_filter=Commit
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "bench/bench_fixtures.h"
#include "storage/rocks_store.h"

namespace handoff {
namespace {

constexpr int kEventsPerCommit = 1000;
constexpr int kLeadPool = 200'000;
constexpr int kOutboxPerCommit = 5;

// Fills `batch` with one commit's worth of writes; `*next_msg` and `*next_seq` keep ids unique.
void FillBatch(std::mt19937_64& rng, uint64_t* next_msg, uint64_t* next_seq, CommitBatch* batch) {
  std::string state(200, 's');
  std::uniform_int_distribution<int> lead(0, kLeadPool - 1);
  for (int i = 0; i < kEventsPerCommit; ++i) {
    const std::string id = "lead-" + std::to_string(lead(rng));
    state.replace(0, id.size(), id);  // vary the bytes a little so compression is not trivial
    batch->PutLead(id, state);
    batch->PutDedupe("msg-" + std::to_string((*next_msg)++) + "-0123456789abcdef", 1.8e9);
  }
  const std::string record(300, 'r');
  for (int i = 0; i < kOutboxPerCommit; ++i) {
    batch->PutOutbox((*next_seq)++, 1.8e9, record);
  }
  batch->PutMeta("outbox.next_seq", std::to_string(*next_seq));
}

void BM_Commit(benchmark::State& state) {
  const auto durability = static_cast<Durability>(state.range(0));
  bench::TempDir dir;
  auto store = bench::OpenStore(dir.path() + "/data", durability);
  std::mt19937_64 rng(42);
  uint64_t next_msg = 0;
  uint64_t next_seq = 1;
  CommitBatch batch;

  // Check the answer before timing: a committed batch reads back.
  FillBatch(rng, &next_msg, &next_seq, &batch);
  if (!store->Commit(&batch).ok() || store->OldestOutboxSeq() != 1) {
    state.SkipWithError("first commit did not read back");
    return;
  }
  std::string meta;
  if (!store->GetMeta("outbox.next_seq", &meta).ok() || meta != std::to_string(next_seq)) {
    state.SkipWithError("meta did not read back");
    return;
  }

  int64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();  // building the batch is the engine's cost, not the store's
    FillBatch(rng, &next_msg, &next_seq, &batch);
    bytes += static_cast<int64_t>(batch.size_bytes());
    state.ResumeTiming();
    if (!store->Commit(&batch).ok()) {
      state.SkipWithError("commit failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * kEventsPerCommit);
  state.SetBytesProcessed(bytes);
  state.SetLabel(durability == Durability::kFsync ? "fsync" : "process");
}
BENCHMARK(BM_Commit)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace handoff
