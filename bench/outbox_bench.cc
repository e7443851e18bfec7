// Outbox append on the engine thread (outbox/outbox.h): a `routed` record given its seq, encoded
// (JSON, then the stored form: header + JSON) and added to the group commit's CommitBatch; every
// 1,000 records the batch is sealed (the records go to the outbox's memory for readers) and
// cleared, as a commit would. The encoders alone are in
// encode_bench.cc. Checks that an appended record, once committed, reads back before it times.
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json_parser.h"
#include "bench/bench_fixtures.h"
#include "outbox/outbox.h"
#include "outbox/outbox_record.h"
#include "outbox/stored_record.h"
#include "storage/commit_batch.h"

namespace handoff {
namespace {

using bench::Verify;

constexpr int kRecordsPerCommit = 1000;

// Commits `batch` and reads record `seq` back through the outbox: its stored header and JSON.
bool ReadsBack(Store* store, Outbox* outbox, CommitBatch* batch, uint64_t seq,
               const std::string& expected_json) {
  const uint64_t sealed_next_seq = outbox->Seal(batch);
  if (sealed_next_seq != seq + 1 || !store->Commit(batch).ok()) {
    return false;
  }
  outbox->Committed(sealed_next_seq);
  std::vector<std::pair<uint64_t, std::string>> out;
  if (outbox->head() != seq || !outbox->Read(seq, seq, 1, &out).ok() || out.size() != 1 ||
      out[0].first != seq) {
    return false;
  }
  RecordHeader header;
  std::string_view json;
  if (!DecodeStoredRecord(out[0].second, &header, &json)) {
    return false;
  }
  JsonParser parser;
  Value v;
  const Value* got_seq = nullptr;
  return header.kind == OutboxKind::kRouted && header.rep == "alice" &&
         header.team == "enterprise" && json == expected_json && parser.Parse(json, &v).ok() &&
         (got_seq = v.Find("seq")) != nullptr && got_seq->is_number() &&
         got_seq->as_number() == static_cast<double>(seq);
}

void BM_OutboxAppend(benchmark::State& state) {
  bench::SampleRecord sample;
  bench::TempDir dir;
  std::unique_ptr<RocksStore> store = bench::OpenStore(dir.path() + "/data");
  Outbox outbox(store.get());
  if (!Verify(state, outbox.Restore().ok(), "outbox restores")) {
    return;
  }
  CommitBatch batch;
  {
    const uint64_t seq = outbox.Append(sample.mutable_record(), &batch);
    std::string json;
    AppendOutboxRecordJson(sample.record(), &json);  // the record now carries its seq
    if (!Verify(state, seq == 1 && sample.record().seq == 1 && batch.count() == 1,
                "first record gets seq 1") ||
        !Verify(state, ReadsBack(store.get(), &outbox, &batch, seq, json),
                "appended record reads back")) {
      return;
    }
  }
  int in_batch = 0;
  size_t bytes = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(outbox.Append(sample.mutable_record(), &batch));
    if (++in_batch == kRecordsPerCommit) {
      benchmark::DoNotOptimize(outbox.Seal(&batch));
      bytes += batch.size_bytes();
      batch.Clear();
      in_batch = 0;
    }
  }
  bytes += batch.size_bytes();
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["bytes_per_record"] =
      static_cast<double>(bytes) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_OutboxAppend);

}  // namespace
}  // namespace handoff
