// The group commit on the engine thread, as core/engine.cc StartCommit builds it: N changed leads
// in key order, the dedupe-log block of the N new messageIds the pass recorded
// (storage/dedupe_index.h) and the next outbox seq, put into a CommitBatch
// (storage/commit_batch.h); then that build plus RocksStore::Commit on a temporary data
// directory, for `process` (WAL write) and `fsync` durability. Items are leads (each with one new
// messageId): the ns per item of a large N is the per-lead cost, N = 1 shows the fixed cost of one
// commit. Recording each messageId in the dedupe index happens per event, before scoring:
// BM_DedupeCheckAndRecord times it. Each benchmark checks its answer once before it times.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_fixtures.h"
#include "storage/commit_batch.h"
#include "storage/dedupe_index.h"
#include "storage/lead_codec.h"
#include "storage/rocks_store.h"
#include "storage/store_format.h"

namespace handoff {
namespace {

using bench::Verify;

constexpr EpochSeconds kNow = 1'795'410'000;
constexpr double kDedupeWindow = 86'400;
constexpr size_t kLeadPool = 100'000;  // leads written are drawn from these (some overwrite)
constexpr std::string_view kMessageIdPrefix = "msg-2026-11-22-";
constexpr std::string_view kNextSeq = "1234568";
constexpr uint64_t kSeed = 0x5eed;

std::string MessageId(uint64_t n) { return std::string(kMessageIdPrefix) + std::to_string(n); }

// Builds what one engine loop pass commits, pass after pass: n leads drawn in turn from a
// shuffled pool, a typical lead's encoded state for each, and the dedupe block of n messageIds
// (those of the first pass, recorded once: the index's own cost is BM_DedupeCheckAndRecord's).
class PassBuilder {
 public:
  explicit PassBuilder(size_t n) : n_(n) {
    bench::SampleRecord sample;
    EncodeLeadState(sample.lead(), &state_);
    for (size_t i = 0; i < kLeadPool; ++i) {
      pool_.push_back("user-" + std::to_string(i * 7919 % kLeadPool));
    }
    DedupeIndex dedupe(kDedupeWindow);
    dedupe.SetSeed(kSeed);
    for (size_t i = 0; i < n; ++i) {
      dedupe.CheckAndRecord(MessageId(i), kNow);
    }
    dedupe.TakeBlock(&block_);
  }

  // Adds one pass to `batch`.
  void Fill(CommitBatch* batch) {
    ids_.clear();
    for (size_t i = 0; i < n_; ++i) {
      ids_.push_back(pool_[cursor_]);
      cursor_ = (cursor_ + 1) % pool_.size();
    }
    std::sort(ids_.begin(), ids_.end());  // the engine puts dirty leads in key order
    for (std::string_view id : ids_) {
      batch->PutLead(id, state_);
    }
    batch->PutDedupeBlock(next_block_++, kNow, block_);
    batch->PutMeta("outbox.next_seq", kNextSeq);
  }

  const std::string& state() const { return state_; }

 private:
  const size_t n_;
  std::string state_;
  std::vector<std::string> pool_;
  size_t cursor_ = 0;
  std::vector<std::string_view> ids_;
  std::string block_;
  uint64_t next_block_ = 0;
};

// A fresh index restored from a stored dedupe-log block knows the block's ids and no other.
bool BlockHolds(std::string_view hashes, uint64_t first_id, uint64_t ids) {
  DedupeIndex restored(kDedupeWindow);
  restored.SetSeed(kSeed);
  return hashes.size() == ids * DedupeIndex::kBlockEntrySize &&
         restored.RestoreBlock(hashes, kNow, kNow) &&
         restored.CheckAndRecord(MessageId(first_id), kNow + 1) &&
         restored.CheckAndRecord(MessageId(first_id + ids - 1), kNow + 1) &&
         !restored.CheckAndRecord(MessageId(first_id + ids), kNow + 1);
}

void BM_BuildCommitBatch(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  PassBuilder pass(n);
  CommitBatch batch;
  {
    // Check the answer: n leads in key order, then the dedupe block of n ids, then the meta.
    pass.Fill(&batch);
    size_t leads = 0;
    std::string_view last;
    bool ordered = true;
    bool block = false;
    bool meta = false;
    const bool decodes = batch.ForEach([&](const CommitBatch::Entry& e) {
      if (e.op == CommitBatch::Op::kPutLead && !block) {
        ordered = ordered && (leads == 0 || last < e.key) && e.value == pass.state();
        last = e.key;
        ++leads;
      } else if (e.op == CommitBatch::Op::kPutDedupeBlock && !block) {
        block = e.key == store_format::SeqKey(0) && e.value.size() > store_format::kTimeSize &&
                BlockHolds(e.value.substr(store_format::kTimeSize), 0, n);
      } else if (e.op == CommitBatch::Op::kPutMeta && block) {
        meta = e.key == "outbox.next_seq" && e.value == kNextSeq;
      }
    });
    if (!Verify(state, decodes && leads == n && ordered && block && meta && batch.count() == n + 2,
                "batch holds the leads in order, the dedupe block and the meta")) {
      return;
    }
    batch.Clear();
  }
  size_t bytes = 0;
  for (auto _ : state) {
    pass.Fill(&batch);
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
  PassBuilder pass(n);
  bench::TempDir dir;
  std::unique_ptr<RocksStore> store = bench::OpenStore(dir.path() + "/data", durability);
  CommitBatch batch;
  {
    // Check the answer: a committed pass reads back, the dedupe block as a restorable index.
    pass.Fill(&batch);
    if (!Verify(state, store->Commit(&batch).ok() && batch.empty(), "first commit")) {
      return;
    }
    std::string lead;
    std::string meta;
    int blocks = 0;
    bool block_holds = false;
    const Status scanned =
        store->ScanDedupe([&](std::string_view, EpochSeconds) { block_holds = false; },
                          [&](uint64_t block, EpochSeconds at, std::string_view hashes) {
                            ++blocks;
                            block_holds = block == 0 && at == kNow && BlockHolds(hashes, 0, n);
                          });
    if (!Verify(state, store->GetLead("user-0", &lead).ok() && lead == pass.state(),
                "a committed lead reads back") ||
        !Verify(state, scanned.ok() && blocks == 1 && block_holds,
                "the committed dedupe block restores the pass's messageIds") ||
        !Verify(state, store->GetMeta("outbox.next_seq", &meta).ok() && meta == kNextSeq,
                "committed meta reads back")) {
      return;
    }
  }
  size_t bytes = 0;
  for (auto _ : state) {
    pass.Fill(&batch);
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

// New leads streaming in (each lead written once, as when 10M distinct visitors arrive): the
// store writes them in place into the `leads` column family (lead_journal_bytes 0 here; the
// journal stops journaling such leads on its own), n a commit in key order, each new id spread
// over the whole key space. Items are leads; the memtable fills and flushes as it would.
void BM_CommitNewLeadsInPlace(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  bench::TempDir dir;
  StoreOptions options;
  options.path = dir.path() + "/data";
  options.lead_journal_bytes = 0;
  std::unique_ptr<RocksStore> store = bench::OpenStore(options);
  std::string lead_state;
  EncodeLeadState(bench::SampleRecord().lead(), &lead_state);
  uint64_t next = 0;
  std::vector<std::string> ids;
  CommitBatch batch;
  auto fill = [&] {
    ids.clear();
    for (size_t i = 0; i < n; ++i) {
      // A multiplicative hash of a counter: distinct, and uniform over the key space.
      ids.push_back("lead-" + std::to_string((next++ * 0x9E3779B97F4A7C15ULL) >> 20));
    }
    std::sort(ids.begin(), ids.end());
    for (const std::string& id : ids) {
      batch.PutLead(id, lead_state);
    }
  };
  {
    fill();
    std::string read;
    if (!Verify(state,
                store->Commit(&batch).ok() && store->GetLead(ids.front(), &read).ok() &&
                    read == lead_state && store->GetLead(ids.back(), &read).ok() &&
                    read == lead_state && store->MemoryUsage().lead_journal == 0,
                "new leads read back, written in place")) {
      return;
    }
  }
  for (auto _ : state) {
    fill();
    if (!store->Commit(&batch).ok()) {
      state.SkipWithError("commit failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_CommitNewLeadsInPlace)->Arg(1000)->Unit(benchmark::kMicrosecond)->UseRealTime();

// One new messageId checked against the dedupe window and recorded, as the engine does for every
// event that has one. Arg: ids within the window. The clock moves a window per that many ids, so
// the index holds between one and two windows' worth (it drops a generation once it is a window
// old) whatever the run's length: 10,000 ids fit in the CPU's caches, 1,000,000 (a day at 12
// events/s under the default 24 h window) do not.
void BM_DedupeCheckAndRecord(benchmark::State& state) {
  const auto window_ids = static_cast<uint64_t>(state.range(0));
  const double step = kDedupeWindow / static_cast<double>(window_ids);
  DedupeIndex dedupe(kDedupeWindow);
  dedupe.SetSeed(kSeed);
  if (!Verify(state,
              !dedupe.CheckAndRecord(MessageId(0), kNow) &&
                  dedupe.CheckAndRecord(MessageId(0), kNow + 1) &&
                  !dedupe.CheckAndRecord(MessageId(1), kNow + 1) &&
                  !dedupe.CheckAndRecord(MessageId(0), kNow + kDedupeWindow),
              "a new id is recorded, a repeat within the window is a duplicate, later not")) {
    return;
  }
  std::string block;
  char buf[32];
  kMessageIdPrefix.copy(buf, kMessageIdPrefix.size());
  uint64_t next = 2;
  EpochSeconds now = kNow + kDedupeWindow;
  auto record = [&] {
    auto [end, ec] = std::to_chars(buf + kMessageIdPrefix.size(), buf + sizeof buf, next++);
    now += step;
    const bool seen =
        dedupe.CheckAndRecord(std::string_view(buf, static_cast<size_t>(end - buf)), now);
    if (next % 1024 == 0) {
      dedupe.TakeBlock(&block);  // once per commit, so the block does not grow without end
    }
    return seen;
  };
  for (uint64_t i = 0; i < 2 * window_ids; ++i) {
    record();  // two windows: the index at its steady size
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(record());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["ids_held"] = static_cast<double>(dedupe.size());
  state.counters["bytes_per_id"] =
      static_cast<double>(dedupe.memory_bytes()) / static_cast<double>(dedupe.size());
}
BENCHMARK(BM_DedupeCheckAndRecord)->Arg(10'000)->Arg(1'000'000);

}  // namespace
}  // namespace handoff
