// Encoding on the engine thread, per group commit: a changed lead's state into the bytes the store
// keeps (storage/lead_codec.h), and an outbox record into its JSON and stored form (outbox/). And
// the lead decode, for scale (leads are decoded at start, not per event). Each benchmark checks
// its answer once before it times.
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "base/json_parser.h"
#include "bench/bench_fixtures.h"
#include "outbox/outbox_record.h"
#include "outbox/stored_record.h"
#include "storage/lead_codec.h"

namespace handoff {
namespace {

using bench::Verify;

// Decodes `bytes` and checks it is `lead`: the main fields, and the same bytes once re-encoded.
bool DecodesTo(std::string_view bytes, const LeadState& lead) {
  LeadState back;
  if (!DecodeLeadState(bytes, &back).ok()) {
    return false;
  }
  std::string again;
  EncodeLeadState(back, &again);
  return again == bytes && back.id == lead.id && back.stage == lead.stage &&
         back.traits == lead.traits && back.events == lead.events &&
         back.awards.size() == lead.awards.size() && back.last_seen == lead.last_seen;
}

void BM_EncodeLeadState(benchmark::State& state) {
  bench::SampleRecord sample;  // its lead: TypicalLead under the 50-rule model
  const Lead& lead = sample.lead();
  std::string out;
  EncodeLeadState(lead, &out);
  if (!Verify(state, lead.awards.size() == 15 && lead.events == 21, "typical lead scored") ||
      !Verify(state, DecodesTo(out, lead), "lead state round-trips")) {
    return;
  }
  for (auto _ : state) {
    out.clear();
    EncodeLeadState(lead, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(out.size()));
  state.counters["bytes_per_lead"] = static_cast<double>(out.size());
}
BENCHMARK(BM_EncodeLeadState);

void BM_DecodeLeadState(benchmark::State& state) {
  bench::SampleRecord sample;
  std::string bytes;
  EncodeLeadState(sample.lead(), &bytes);
  if (!Verify(state, DecodesTo(bytes, sample.lead()), "lead state round-trips")) {
    return;
  }
  Lead back;
  for (auto _ : state) {
    Status st = DecodeLeadState(bytes, &back);
    benchmark::DoNotOptimize(st.ok());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes.size()));
}
BENCHMARK(BM_DecodeLeadState);

// Parses the record's JSON and checks every field the sample sets.
bool JsonSays(std::string_view json, const bench::SampleRecord& sample) {
  JsonParser parser;
  Value v;
  if (!parser.Parse(json, &v).ok() || !v.is_object()) {
    return false;
  }
  auto str = [&](std::string_view key) {
    const Value* f = v.Find(key);
    return f != nullptr && f->is_string() ? std::string_view(f->as_string()) : "<missing>";
  };
  const OutboxRecord& r = sample.record();
  const Value* seq = v.Find("seq");
  const Value* scores = v.Find("scores");
  const Value* traits = v.Find("traits");
  if (seq == nullptr || !seq->is_number() || seq->as_number() != static_cast<double>(r.seq) ||
      scores == nullptr || !scores->is_object() || traits == nullptr ||
      !(*traits == sample.lead().traits)) {
    return false;
  }
  const std::vector<ScoreDef>& defs = sample.scorer().rules().scores;
  if (scores->as_object().size() != defs.size()) {
    return false;
  }
  for (size_t i = 0; i < defs.size(); ++i) {
    const Value* s = scores->Find(defs[i].name);
    if (s == nullptr || !s->is_number() || s->as_number() != sample.scores()[i]) {
      return false;
    }
  }
  return str("kind") == "routed" && str("at") == "2026-11-23T05:00:00.000Z" &&
         str("lead") == r.lead && str("rep") == r.rep && str("team") == r.team &&
         str("reason") == r.reason && str("stage") == r.stage && str("trigger") == r.trigger;
}

void BM_OutboxRecordJson(benchmark::State& state) {
  bench::SampleRecord sample;
  sample.mutable_record()->seq = 1'234'567;
  std::string out;
  AppendOutboxRecordJson(sample.record(), &out);
  if (!Verify(state, JsonSays(out, sample), "record JSON reads back")) {
    return;
  }
  for (auto _ : state) {
    out.clear();
    AppendOutboxRecordJson(sample.record(), &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(out.size()));
  state.counters["bytes_per_record"] = static_cast<double>(out.size());
}
BENCHMARK(BM_OutboxRecordJson);

// The stored form's header + a copy of the JSON (the JSON itself is BM_OutboxRecordJson).
void BM_EncodeStoredRecord(benchmark::State& state) {
  bench::SampleRecord sample;
  sample.mutable_record()->seq = 1'234'567;
  std::string json;
  AppendOutboxRecordJson(sample.record(), &json);
  std::string out;
  EncodeStoredRecord(sample.record(), json, &out);
  RecordHeader header;
  std::string_view back;
  if (!Verify(state, DecodeStoredRecord(out, &header, &back), "stored record decodes") ||
      !Verify(state,
              header.kind == OutboxKind::kRouted && header.rep == "alice" &&
                  header.team == "enterprise" && back == json,
              "stored record reads back")) {
    return;
  }
  for (auto _ : state) {
    out.clear();
    EncodeStoredRecord(sample.record(), json, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(out.size()));
}
BENCHMARK(BM_EncodeStoredRecord);

}  // namespace
}  // namespace handoff
