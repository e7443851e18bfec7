// The scoring core's hot path, as the engine thread runs it: parse + validate one event and score
// it with a 50-rule model (issue target: <= 1 us per event), and encode/decode a lead's state.
// Each benchmark checks its result once before it times.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ingest/event_parser.h"
#include "rules/rule_loader.h"
#include "scoring/scorer.h"
#include "storage/lead_codec.h"

namespace handoff {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "benchmark self-check failed: %s\n", what);
    std::abort();
  }
}

// 50 rules: 10 profile rules and 40 event rules of the shapes admins write (event names, page
// paths, property checks, caps, once, score thresholds).
std::string FiftyRuleModel() {
  std::string y =
      "scores:\n"
      "  fit: {kind: profile}\n"
      "  engagement: {kind: event, half_life: 14d}\n"
      "  intent: {kind: event, half_life: 7d}\n"
      "rules:\n";
  const char* titles[] = {"vp", "head", "chief", "director", "manager"};
  for (int i = 0; i < 5; ++i) {
    y += "  - {id: title-" + std::to_string(i) +
         ", score: fit, when: 'traits.title matches \"(?i)\\\\b" + titles[i] +
         "\\\\b\"', points: " + std::to_string(5 + i) + "}\n";
  }
  for (int i = 0; i < 5; ++i) {
    y += "  - {id: size-" + std::to_string(i) +
         ", score: fit, when: 'traits.company.employees >= " + std::to_string((i + 1) * 200) +
         "', points: 5}\n";
  }
  for (int i = 0; i < 20; ++i) {
    y += "  - {id: track-" + std::to_string(i) + ", score: engagement, when: 'event == \"Event " +
         std::to_string(i) + "\"', points: " + std::to_string(i % 7 + 1) +
         (i % 4 == 0 ? ", once: true" : "") + "}\n";
  }
  for (int i = 0; i < 15; ++i) {
    y += "  - {id: page-" + std::to_string(i) +
         ", score: intent, when: 'type == \"page\" && properties.path starts_with \"/p" +
         std::to_string(i) + "\"', points: 3, cap: {points: 9, per: 1d}}\n";
  }
  for (int i = 0; i < 5; ++i) {
    y += "  - {id: plan-" + std::to_string(i) +
         ", score: intent, when: 'properties.plan == \"tier" + std::to_string(i) +
         "\" && score.engagement >= " + std::to_string(i * 10) + "', points: 4}\n";
  }
  y += "stages:\n"
       "  - {name: mql, enter: 'score.engagement >= 40 || score.fit >= 50'}\n"
       "  - {name: sql, enter: 'score.engagement >= 80 && score.intent >= 20', "
       "exit: 'score.engagement < 60'}\n";
  return y;
}

constexpr std::string_view kEvent =
    R"({"type":"track","event":"Event 7","userId":"user-48213","messageId":"msg-183",)"
    R"("timestamp":"2026-11-22T10:00:00.123Z","properties":{"plan":"tier2","seats":25,)"
    R"("referrer":"https://www.example.com/blog"},"context":{"ip":"203.0.113.7",)"
    R"("page":{"path":"/pricing"},"userAgent":"Mozilla/5.0"}})";

std::shared_ptr<const RuleSet> LoadModel() {
  LoadResult loaded = LoadRulesFromString(FiftyRuleModel(), "bench.yaml");
  if (!loaded.ok()) {
    for (const LoadError& e : loaded.errors) {
      std::fprintf(stderr, "%s\n", e.ToString().c_str());
    }
  }
  Check(loaded.ok(), "50-rule model loads");
  Check(loaded.rules->rules.size() == 50, "model has 50 rules");
  return loaded.rules;
}

void BM_ParseAndScore50Rules(benchmark::State& state) {
  Scorer scorer(LoadModel());
  EventParser parser;
  Event event;
  ParseError err;
  Lead lead;
  lead.id = "user-48213";
  lead.traits.Set("title", Value::String("VP Marketing"));
  Check(parser.Parse(kEvent, &event, &err), "event parses");
  scorer.Apply(event, &lead);
  std::vector<double> scores;
  scorer.ReadScores(&lead, event.timestamp, &scores);
  Check(scores[scorer.rules().FindScore("engagement")] == 1, "Event 7 awards 1 point");
  double t = event.timestamp;
  for (auto _ : state) {
    parser.Parse(kEvent, &event, &err);
    event.timestamp = (t += 1);
    benchmark::DoNotOptimize(scorer.Apply(event, &lead));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kEvent.size()));
}
BENCHMARK(BM_ParseAndScore50Rules);

void BM_Score50RulesOnly(benchmark::State& state) {
  Scorer scorer(LoadModel());
  EventParser parser;
  Event event;
  ParseError err;
  Check(parser.Parse(kEvent, &event, &err), "event parses");
  Lead lead;
  lead.id = "user-48213";
  double t = event.timestamp;
  for (auto _ : state) {
    event.timestamp = (t += 1);
    benchmark::DoNotOptimize(scorer.Apply(event, &lead));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Score50RulesOnly);

Lead TypicalLead(const Scorer& scorer) {
  EventParser parser;
  Event event;
  ParseError err;
  Lead lead;
  lead.id = "user-48213";
  Check(parser.Parse(R"({"type":"identify","userId":"user-48213","traits":{"email":"ann@acme.com",)"
                     R"("title":"VP Marketing","company":{"name":"Acme","employees":900}}})",
                     &event, &err),
        "identify parses");
  scorer.Apply(event, &lead);
  for (int i = 0; i < 20; ++i) {
    std::string json = R"({"type":"page","userId":"user-48213","properties":{"path":"/p)" +
                       std::to_string(i % 15) + R"("},"timestamp":)" +
                       std::to_string(1795341600 + i * 3600) + "}";
    Check(parser.Parse(json, &event, &err), "page parses");
    scorer.Apply(event, &lead);
  }
  return lead;
}

void BM_EncodeLeadState(benchmark::State& state) {
  Scorer scorer(LoadModel());
  Lead lead = TypicalLead(scorer);
  std::string out;
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
  Scorer scorer(LoadModel());
  Lead lead = TypicalLead(scorer);
  std::string bytes;
  EncodeLeadState(lead, &bytes);
  Lead back;
  Check(DecodeLeadState(bytes, &back).ok() && back.awards.size() == lead.awards.size(),
        "lead state round-trips");
  for (auto _ : state) {
    Status st = DecodeLeadState(bytes, &back);
    benchmark::DoNotOptimize(st.ok());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes.size()));
}
BENCHMARK(BM_DecodeLeadState);

}  // namespace
}  // namespace handoff
