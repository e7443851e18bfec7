// Micro-benchmarks of rule expressions: evaluation of typical conditions (the per-event hot path)
// and, for scale, compilation. Each benchmark checks the condition's answer before timing it.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "handoff/event.h"
#include "handoff/value.h"
#include "rules/expression.h"

namespace handoff {
namespace {

const std::vector<std::string>& ScoreNames() {
  static const auto* names = new std::vector<std::string>{"engagement", "fit"};
  return *names;
}

// A realistic lead: a tracked event or page view with a handful of properties, and traits.
struct Fixture {
  Event track;
  Event page;
  Value traits;
  std::vector<double> scores = {45, 20};

  Fixture() {
    track.type = EventType::kTrack;
    track.user_id = "user-1234";
    track.name = "Demo Requested";
    track.has_name = true;
    track.properties = Value::MakeObject({
        {"source", Value::String("website")},
        {"form", Value::String("contact-sales")},
        {"plan", Value::String("enterprise")},
        {"seats", Value::Number(120)},
    });
    track.context = Value::MakeObject(
        {{"ip", Value::String("203.0.113.9")}, {"locale", Value::String("en-US")}});
    page = track;
    page.type = EventType::kPage;
    page.name = "Pricing";
    page.properties = Value::MakeObject({
        {"url", Value::String("https://example.com/pricing/enterprise?ref=nav")},
        {"referrer", Value::String("https://www.google.com/")},
        {"title", Value::String("Pricing - Example")},
        {"path", Value::String("/pricing/enterprise")},
        {"search", Value::String("?ref=nav")},
    });
    traits = Value::MakeObject({
        {"email", Value::String("Jane.Doe@Acme.com")},
        {"name", Value::String("Jane Doe")},
        {"title", Value::String("Director of Marketing Operations")},
        {"company", Value::MakeObject({{"name", Value::String("Acme")},
                                       {"industry", Value::String("SaaS")},
                                       {"employees", Value::Number(450)}})},
        {"country", Value::String("DE")},
        {"plan", Value::String("trial")},
    });
  }

  EvalContext Context(const Event& event) const {
    EvalContext ctx;
    ctx.event = &event;
    ctx.traits = &traits;
    ctx.scores = scores.data();
    ctx.lead_id = "user-1234";
    ctx.lead_stage = "mql";
    return ctx;
  }
};

Expression MustCompile(const char* text) {
  std::vector<ExpressionError> errors;
  Expression e = Expression::Compile(text, ExpressionScope::kEventRule, ScoreNames(), &errors);
  if (!e.ok()) {
    std::fprintf(stderr, "%s: %s\n", text, errors.empty() ? "?" : errors[0].message.c_str());
    std::abort();
  }
  return e;
}

void BM_Test(benchmark::State& state, const char* text, bool on_page, bool expected) {
  Fixture f;
  const Expression e = MustCompile(text);
  const EvalContext ctx = f.Context(on_page ? f.page : f.track);
  if (e.Test(ctx) != expected) {
    state.SkipWithError("wrong answer");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(e.Test(ctx));
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_CAPTURE(BM_Test, event_eq_hit, "event == \"Demo Requested\"", false, true);
BENCHMARK_CAPTURE(BM_Test, event_eq_miss, "event == \"Unsubscribed\"", false, false);
BENCHMARK_CAPTURE(BM_Test, pricing_page,
                  "type == \"page\" && properties.path starts_with \"/pricing\"", true, true);
BENCHMARK_CAPTURE(BM_Test, pricing_page_on_track,
                  "type == \"page\" && properties.path starts_with \"/pricing\"", false, false);
BENCHMARK_CAPTURE(BM_Test, stage_enter, "score.engagement >= 40 || score.fit >= 50", false, true);
BENCHMARK_CAPTURE(BM_Test, event_in_list_and_prop,
                  "type == \"track\" && event in [\"Trial Started\", \"Contact Sales\", "
                  "\"Demo Requested\"] && properties.plan != \"free\"",
                  false, true);
BENCHMARK_CAPTURE(BM_Test, nested_trait, "traits.company.employees > 200", false, true);
BENCHMARK_CAPTURE(BM_Test, title_regex,
                  "traits.title matches \"(?i)\\\\b(vp|head|chief|director)\\\\b\"", false, true);
BENCHMARK_CAPTURE(BM_Test, domain_in_list,
                  "domain(traits.email) in [\"globex.com\", \"initech.com\", \"acme.com\"]", false,
                  true);

void BM_Evaluate(benchmark::State& state) {
  Fixture f;
  const Expression e = MustCompile("lower(traits.title)");
  const EvalContext ctx = f.Context(f.track);
  if (e.Evaluate(ctx).string != "director of marketing operations") {
    state.SkipWithError("wrong answer");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(e.Evaluate(ctx));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Evaluate);

void BM_Compile(benchmark::State& state) {
  const char* text =
      "type == \"page\" && properties.path starts_with \"/pricing\" || "
      "traits.title matches \"(?i)\\\\b(vp|head)\\\\b\" && score.fit >= 50";
  for (auto _ : state) {
    benchmark::DoNotOptimize(MustCompile(text));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Compile);

}  // namespace
}  // namespace handoff
