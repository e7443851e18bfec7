// The group commit on the engine thread: building a CommitBatch of N changed leads and N new
// messageIds (storage/commit_batch.h), and that build plus RocksStore::Commit on a temporary
// data directory, for `process` (WAL write) and `fsync` durability. Items are leads: the ns per
// item of a large N is the per-lead cost, N = 1 shows the fixed cost of one commit. Each
// benchmark checks its answer once before it times. (store_bench.cc has commits shaped like
// 1,000 events with outbox records, and the dedupe lookups.)
#include <benchmark/benchmark.h>

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_fixtures.h"
#include "storage/commit_batch.h"
#include "storage/lead_codec.h"
#include "storage/rocks_store.h"

namespace handoff {
namespace {

using bench::Verify;

constexpr EpochSeconds kNow = 1'795'410'000;
constexpr size_t kLeadPool = 100'000;  // leads written are drawn from these (some overwrite)

// What a commit writes, made before timing: lead ids and a typical lead's encoded state.
struct Leads {
  Leads() {
    bench::SampleRecord sample;
    EncodeLeadState(sample.lead(), &state);
    for (size_t i = 0; i < kLeadPool; ++i) {
      ids.push_back("user-" + std::to_string(i * 7919 % kLeadPool));
    }
  }
  std::vector<std::string> ids;
  std::string state;
};

// A messageId that no earlier call returned (`*next` counts them); points into `buf`.
std::string_view NextMessageId(uint64_t* next, char (&buf)[32]) {
  constexpr std::string_view kPrefix = "msg-2026-11-22-";
  kPrefix.copy(buf, kPrefix.size());
  auto [end, ec] = std::to_chars(buf + kPrefix.size(), buf + sizeof buf, (*next)++);
  return std::string_view(buf, static_cast<size_t>(end - buf));
}

// Adds n leads (from *cursor on) and n new messageIds, and the next outbox seq, as one engine
// loop pass does.
void Fill(const Leads& leads, size_t n, size_t* cursor, uint64_t* next_msg, CommitBatch* batch) {
  char buf[32];
  for (size_t i = 0; i < n; ++i) {
    batch->PutLead(leads.ids[*cursor], leads.state);
    *cursor = (*cursor + 1) % leads.ids.size();
    batch->PutDedupe(NextMessageId(next_msg, buf), kNow);
  }
  batch->PutMeta("outbox.next_seq", "1234568");
}

void BM_BuildCommitBatch(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const Leads leads;
  CommitBatch batch;
  size_t cursor = 0;
  uint64_t next_msg = 0;
  {
    // Check the answer: the batch holds what was put, in order.
    Fill(leads, n, &cursor, &next_msg, &batch);
    size_t i = 0;
    bool same = true;
    const bool decodes = batch.ForEach([&](const CommitBatch::Entry& e) {
      if (i < 2 * n) {
        same = same && (i % 2 == 0 ? e.op == CommitBatch::Op::kPutLead &&
                                         e.key == leads.ids[i / 2] && e.value == leads.state
                                   : e.op == CommitBatch::Op::kPutDedupe &&
                                         e.key == "msg-2026-11-22-" + std::to_string(i / 2));
      } else {
        same = same && e.op == CommitBatch::Op::kPutMeta && e.key == "outbox.next_seq";
      }
      ++i;
    });
    if (!Verify(state, decodes && same && i == 2 * n + 1 && batch.count() == 2 * n + 1,
                "batch holds the leads, ids and meta put")) {
      return;
    }
    batch.Clear();
  }
  size_t bytes = 0;
  for (auto _ : state) {
    Fill(leads, n, &cursor, &next_msg, &batch);
    bytes += batch.size_bytes();
    batch.Clear();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_BuildCommitBatch)->Arg(1)->Arg(100)->Arg(1000);

// Args: leads per commit, durability (0 process, 1 fsync).
void BM_CommitBatch(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const auto durability = static_cast<Durability>(state.range(1));
  const Leads leads;
  bench::TempDir dir;
  std::unique_ptr<RocksStore> store = bench::OpenStore(dir.path() + "/data", durability);
  CommitBatch batch;
  size_t cursor = 0;
  uint64_t next_msg = 0;
  {
    // Check the answer: a committed batch reads back.
    Fill(leads, n, &cursor, &next_msg, &batch);
    if (!Verify(state, store->Commit(&batch).ok() && batch.empty(), "first commit")) {
      return;
    }
    std::string lead;
    std::string meta;
    Result<bool> seen = store->SeenMessage("msg-2026-11-22-" + std::to_string(n - 1), kNow + 1);
    Result<bool> unseen = store->SeenMessage("msg-2026-11-22-" + std::to_string(n), kNow + 1);
    if (!Verify(state, store->GetLead(leads.ids[n - 1], &lead).ok() && lead == leads.state,
                "a committed lead reads back") ||
        !Verify(state, seen.ok() && *seen && unseen.ok() && !*unseen,
                "committed messageIds are seen, others not") ||
        !Verify(state, store->GetMeta("outbox.next_seq", &meta).ok() && meta == "1234568",
                "committed meta reads back")) {
      return;
    }
  }
  size_t bytes = 0;
  for (auto _ : state) {
    Fill(leads, n, &cursor, &next_msg, &batch);
    bytes += batch.size_bytes();
    if (!store->Commit(&batch).ok()) {
      state.SkipWithError("commit failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetLabel(durability == Durability::kFsync ? "fsync" : "process");
}
BENCHMARK(BM_CommitBatch)
    ->Args({1, 0})
    ->Args({100, 0})
    ->Args({1000, 0})
    ->Args({1, 1})
    ->Args({1000, 1})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
}  // namespace handoff
