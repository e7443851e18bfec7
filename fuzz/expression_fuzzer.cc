// The rule expression language (SPEC 5.1): compile any text in each scope, evaluate what
// compiles against a few leads and events.
//
// Invariants:
//   - Compile either succeeds with no errors, or fails with at least one error whose offset lies
//     within the text and whose message is not empty.
//   - Evaluation never fails (the contract): Test() is true exactly when Evaluate() is the
//     boolean true; a composite result points at a value; the result converts to a Value that
//     prints as valid JSON (when the text is UTF-8, as rule files are).
//   - The guard (what the scorer indexes rules by) is a necessary condition: when an expression
//     is true for an event, the event has the guard's type and name.
//   - reads_event() is false outside event rules, and false only if the expression gives the
//     same result without an event.
//   - ScoreThresholds (what the stage re-check skips leads on): when it says the expression reads
//     scores only against numbers, moving every score without passing or touching one of its
//     numbers leaves the result as it was.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "base/json_parser.h"
#include "fuzz/fuzz_check.h"
#include "handoff/event.h"
#include "handoff/value.h"
#include "rules/expression.h"

namespace handoff {
namespace {

Value S(std::string s) { return Value::String(std::move(s)); }
Value N(double d) { return Value::Number(d); }

struct World {
  std::vector<Event> events;
  Value traits;
  Value empty_traits = Value::MakeObject();
  std::vector<double> scores = {12.5, -3, 0};
  std::vector<std::string> score_names = {"fit", "engagement", "intent"};
  JsonParser json;
  bool utf8_input = true;  // the current input is valid UTF-8

  World() {
    const Value properties = Value::MakeObject({
        {"path", S("/pricing/enterprise")},
        {"plan", S("pro")},
        {"seats", N(25)},
        {"tags", Value::MakeArray({S("a"), S("b"), N(3)})},
        {"nested", Value::MakeObject({{"deep", Value::MakeObject({{"x", N(1)}})}})},
        {"flag", Value::Bool(true)},
        {"nothing", Value()},
    });
    const Value context = Value::MakeObject(
        {{"ip", S("10.0.0.1")}, {"page", Value::MakeObject({{"url", S("https://a.example/p")}})}});
    for (size_t t = 0; t < kEventTypeCount; ++t) {
      Event e;
      e.type = static_cast<EventType>(t);
      e.user_id = "u1";
      e.timestamp = 1.7e9;
      e.has_timestamp = true;
      if (e.type == EventType::kTrack || e.type == EventType::kPage ||
          e.type == EventType::kScreen) {
        e.name = e.type == EventType::kTrack ? "Demo Requested" : "Pricing";
        e.has_name = true;
        e.properties = properties;
      } else {
        e.traits = Value::MakeObject({{"email", S("a@b.example")}});
      }
      e.context = context;
      events.push_back(e);
    }
    Event signup = events[0];
    signup.name = "Signed Up";
    events.push_back(signup);
    Event bare;
    bare.type = EventType::kTrack;
    bare.anonymous_id = "anon";
    bare.name = "x";
    bare.has_name = true;
    events.push_back(bare);
    // Events a guard must tell apart from the named ones above: a page without a name, and
    // names that differ from theirs only in case.
    const Event& page = events[static_cast<size_t>(EventType::kPage)];
    const Event& track = events[static_cast<size_t>(EventType::kTrack)];
    Event unnamed_page = page;
    unnamed_page.name.clear();
    unnamed_page.has_name = false;
    Event lower_page = page;
    lower_page.name = "pricing";
    Event lower_track = track;
    lower_track.name = "demo requested";
    events.push_back(unnamed_page);
    events.push_back(lower_page);
    events.push_back(lower_track);
    traits = Value::MakeObject({
        {"email", S("Jane.Doe@Sub.ACME.com")},
        {"title", S("VP of Sales")},
        {"company", Value::MakeObject({{"industry", S("SaaS")}, {"size", N(250)}})},
        {"roles", Value::MakeArray({S("admin"), S("buyer")})},
        {"empty", S("")},
    });
  }
};

void CheckResult(World& world, const Expression& expr, const EvalContext& ctx) {
  const EvalResult result = expr.Evaluate(ctx);
  const bool is_true = result.type == Value::Type::kBool && result.boolean;
  FUZZ_CHECK(expr.Test(ctx) == is_true);
  if (result.type == Value::Type::kArray || result.type == Value::Type::kObject) {
    FUZZ_CHECK(result.composite != nullptr);
    FUZZ_CHECK(result.composite->type() == result.type);
  }
  const Value value = result.ToValue();
  FUZZ_CHECK(value.type() == result.type);
  std::string json = value.ToJson();
  // Rule text is UTF-8 (yaml-cpp replaces bad bytes), and so is every result then; a raw
  // fuzzer input need not be.
  if (world.utf8_input) {
    Value back;
    FUZZ_CHECK(world.json.Parse(json, &back).ok());
  }
  // A copy keeps its string (EvalResult's copy constructor re-points into `owned`).
  const EvalResult copy = result;
  FUZZ_CHECK(copy.ToValue().ToJson() == json);

  if (is_true && ctx.event != nullptr) {
    const EventGuard guard = expr.guard();
    if (guard.type.has_value()) {
      FUZZ_CHECK(ctx.event->type == *guard.type);
    }
    if (guard.name.has_value()) {
      FUZZ_CHECK(ctx.event->name == *guard.name);
    }
  }

  // What the scorer tests for a candidate (the expression less what its index entry guarantees)
  // answers as the whole for every event that entry lets through: by name when the guard has
  // one (the event has that name), else by type.
  if (ctx.event != nullptr) {
    EventGuard guard = expr.guard();
    const Event& event = *ctx.event;
    const bool named =
        event.type == EventType::kTrack ||
        ((event.type == EventType::kPage || event.type == EventType::kScreen) && event.has_name);
    bool let_through = false;
    if (guard.name.has_value()) {
      guard.type.reset();
      let_through = named && event.name == *guard.name;
    } else if (guard.type.has_value()) {
      let_through = event.type == *guard.type;
    }
    if (let_through) {
      FUZZ_CHECK(expr.AssumingGuard(guard).Test(ctx) == expr.Test(ctx));
    }
  }
}

// Moves each score towards, but not onto, the nearest number it is compared with above it (by at
// most 1): no comparison of the expression may change, and so neither may its value.
void CheckThresholds(const World& world, const Expression& expr, EvalContext ctx) {
  std::vector<ScoreThreshold> thresholds;
  if (!expr.ScoreThresholds(&thresholds)) {
    FUZZ_CHECK(expr.reads_score());
    return;
  }
  std::vector<double> moved = world.scores;
  for (size_t s = 0; s < moved.size(); ++s) {
    double step = 1;
    double above = std::numeric_limits<double>::infinity();  // the nearest number above it
    bool on_one = false;
    for (const ScoreThreshold& t : thresholds) {
      FUZZ_CHECK(t.score >= 0 && static_cast<size_t>(t.score) < moved.size());
      if (static_cast<size_t>(t.score) != s) {
        continue;
      }
      if (t.value == world.scores[s]) {
        on_one = true;
      } else if (t.value > world.scores[s]) {
        step = std::min(step, (t.value - world.scores[s]) / 2);
        above = std::min(above, t.value);
      }
    }
    // (Numbers an ulp apart leave no room between them: the score stays.)
    if (!on_one && world.scores[s] + step < above) {
      moved[s] = world.scores[s] + step;
    }
  }
  const std::string before = expr.Evaluate(ctx).ToValue().ToJson();
  ctx.scores = moved.data();
  FUZZ_CHECK(expr.Evaluate(ctx).ToValue().ToJson() == before);
}

}  // namespace
}  // namespace handoff

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace handoff;
  static World* world = new World();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  world->utf8_input = fuzz::IsValidUtf8(text);

  for (ExpressionScope scope :
       {ExpressionScope::kEventRule, ExpressionScope::kProfileRule, ExpressionScope::kLead}) {
    std::vector<ExpressionError> errors;
    const Expression expr = Expression::Compile(text, scope, world->score_names, &errors);
    if (!expr.ok()) {
      FUZZ_CHECK(!errors.empty());
      for (const ExpressionError& e : errors) {
        FUZZ_CHECK(e.offset <= text.size());
        FUZZ_CHECK(!e.message.empty());
      }
      continue;
    }
    FUZZ_CHECK(errors.empty());
    // Only an event rule's `when` may see the event.
    FUZZ_CHECK(!expr.reads_event() || scope == ExpressionScope::kEventRule);
    EvalContext ctx;
    ctx.traits = &world->traits;
    ctx.scores = world->scores.data();
    ctx.lead_id = "u1";
    ctx.lead_stage = "mql";
    CheckResult(*world, expr, ctx);  // no event
    const std::string without_event = expr.Evaluate(ctx).ToValue().ToJson();
    for (const Event& event : world->events) {
      ctx.event = &event;
      CheckResult(*world, expr, ctx);
      if (!expr.reads_event()) {
        FUZZ_CHECK(expr.Evaluate(ctx).ToValue().ToJson() == without_event);
      }
    }
    ctx.event = nullptr;
    CheckThresholds(*world, expr, ctx);
    ctx.traits = &world->empty_traits;
    ctx.lead_stage = "";
    CheckResult(*world, expr, ctx);
  }
  return 0;
}
