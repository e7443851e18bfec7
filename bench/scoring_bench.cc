// The scoring core's hot path, as the engine thread runs it: parse + validate one event and score
// it with a 50-rule model (issue target: <= 1 us per event), score alone, and a page event under
// 1,000 rules told apart by their path prefix (CandidateRules). Each benchmark checks its result
// once before it times. (The lead codec's benchmarks are in encode_bench.cc.)
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/bench_fixtures.h"
#include "ingest/event_parser.h"
#include "rules/rule_loader.h"
#include "scoring/scorer.h"

namespace handoff {
namespace {

using bench::kSampleTrackEvent;
using bench::Verify;

// One event applied to a fresh lead: "Event 7" awards track-7's 1 engagement point, nothing else.
bool ScoresOnePoint(const Scorer& scorer, const Event& event) {
  Lead lead;
  lead.id = "user-48213";
  (void)scorer.Apply(event, &lead);
  std::vector<double> scores;
  scorer.ReadScores(&lead, event.timestamp, &scores);
  return lead.events == 1 && scores[scorer.rules().FindScore("engagement")] == 1 &&
         scores[scorer.rules().FindScore("intent")] == 0;
}

// Times applying `event` to one lead, a second later each time (so decay has work to do).
void TimeApply(benchmark::State& state, const Scorer& scorer, Event event,
               std::vector<AwardedPoints>* awarded) {
  Lead lead;
  lead.id = "user-48213";
  double t = event.timestamp;
  for (auto _ : state) {
    event.timestamp = (t += 1);
    benchmark::DoNotOptimize(scorer.Apply(event, &lead, awarded));
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_ParseAndScore50Rules(benchmark::State& state) {
  Scorer scorer(bench::LoadFiftyRuleModel());
  EventParser parser;
  Event event;
  ParseError err;
  if (!Verify(state, parser.Parse(kSampleTrackEvent, &event, &err), "event parses") ||
      !Verify(state, event.name == "Event 7" && event.user_id == "user-48213", "parsed fields") ||
      !Verify(state, ScoresOnePoint(scorer, event), "Event 7 awards 1 point")) {
    return;
  }
  Lead lead;
  lead.id = "user-48213";
  lead.traits.Set("title", Value::String("VP Marketing"));
  double t = event.timestamp;
  for (auto _ : state) {
    parser.Parse(kSampleTrackEvent, &event, &err);
    event.timestamp = (t += 1);
    benchmark::DoNotOptimize(scorer.Apply(event, &lead));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kSampleTrackEvent.size()));
}
BENCHMARK(BM_ParseAndScore50Rules);

void BM_Score50RulesOnly(benchmark::State& state) {
  Scorer scorer(bench::LoadFiftyRuleModel());
  EventParser parser;
  Event event;
  ParseError err;
  if (!Verify(state, parser.Parse(kSampleTrackEvent, &event, &err), "event parses") ||
      !Verify(state, ScoresOnePoint(scorer, event), "Event 7 awards 1 point")) {
    return;
  }
  TimeApply(state, scorer, event, nullptr);
}
BENCHMARK(BM_Score50RulesOnly);

// 1,000 rules `type == "page" && properties.path starts_with "/docs/N"`, one point each: a page
// at /docs/7 meets one of them (the longer prefixes do not fit it).
void BM_ScorePageUnder1000PrefixRules(benchmark::State& state) {
  std::string text = "scores:\n  engagement: {kind: event, half_life: 14d}\nrules:\n";
  for (int i = 0; i < 1000; ++i) {
    text += "  - {id: docs-" + std::to_string(i) +
            ", score: engagement, points: 1, when: 'type == \"page\" && properties.path "
            "starts_with \"/docs/" +
            std::to_string(i) + "\"'}\n";
  }
  LoadResult loaded = LoadRulesFromString(text, "rules.yaml");
  if (!Verify(state, loaded.ok(), "the 1,000 rules load")) {
    return;
  }
  Scorer scorer(loaded.rules);
  Event event;
  event.type = EventType::kPage;
  event.user_id = "user-48213";
  event.properties = Value::MakeObject();
  event.properties.Set("path", Value::String("/docs/7"));
  event.timestamp = 1795305600;
  event.has_timestamp = true;
  std::vector<AwardedPoints> awarded;
  Lead check;
  check.id = "user-48213";
  (void)scorer.Apply(event, &check, &awarded);
  if (!Verify(state,
              awarded.size() == 1 && scorer.rules().rules[awarded[0].rule_index].id == "docs-7",
              "only docs-7 awards")) {
    return;
  }
  TimeApply(state, scorer, event, &awarded);
}
BENCHMARK(BM_ScorePageUnder1000PrefixRules);

}  // namespace
}  // namespace handoff
