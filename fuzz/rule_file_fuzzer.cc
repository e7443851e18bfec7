// Rule files (SPEC 5 and 7): any text through the loader, as POST /v1/rules/validate and a reload
// give it; what loads is then evaluated.
//
// Invariants:
//   - A load succeeds whole with no errors, or fails with at least one error: each names the file,
//     has a message, and a position inside the text (or none), in line and column order.
//   - A loaded RuleSet is consistent: its path and sha256 are the text's; stage 0 is "new"; rule
//     ids and stage names are unique; each rule's score exists and the rule is listed once, under
//     its score's kind; routing's stage is a stage; reps have weight >= 1, a time zone and
//     working hours inside one week; every compiled expression evaluates without harm.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "handoff/event.h"
#include "rules/rule_loader.h"
#include "rules/rule_set.h"
#include "rules/sha256.h"

namespace handoff {
namespace {

constexpr std::string_view kFile = "fuzz.yaml";
constexpr int kMinutesPerWeek = 7 * 24 * 60;

void Evaluate(const Expression& expr, const EvalContext& ctx) {
  const EvalResult result = expr.Evaluate(ctx);
  FUZZ_CHECK(expr.Test(ctx) == (result.type == Value::Type::kBool && result.boolean));
  (void)result.ToValue().ToJson();
}

void CheckRuleSet(const RuleSet& rules, std::string_view text) {
  FUZZ_CHECK(rules.path == kFile);
  FUZZ_CHECK(rules.sha256 == Sha256Hex(text));
  FUZZ_CHECK(!rules.stages.empty() && rules.stages[0].name == "new");

  Event event;
  event.type = EventType::kTrack;
  event.user_id = "u1";
  event.name = "Demo Requested";
  event.has_name = true;
  event.properties = Value::MakeObject({{"plan", Value::String("pro")}});
  const Value traits = Value::MakeObject({{"email", Value::String("a@b.example")}});
  const std::vector<double> scores(rules.scores.size(), 10.0);
  EvalContext ctx;
  ctx.event = &event;
  ctx.traits = &traits;
  ctx.scores = scores.data();
  ctx.lead_id = "u1";
  ctx.lead_stage = "new";

  std::set<std::string> ids;
  for (const RuleDef& rule : rules.rules) {
    FUZZ_CHECK(ids.insert(rule.id).second);
    FUZZ_CHECK(rule.score >= 0 && static_cast<size_t>(rule.score) < rules.scores.size());
    FUZZ_CHECK(rules.FindRule(rule.id) >= 0);
    if (rule.cap.has_value()) {
      FUZZ_CHECK(rule.cap->per > 0);
    }
    Evaluate(rule.when, ctx);
  }
  FUZZ_CHECK(rules.event_rules.size() + rules.profile_rules.size() == rules.rules.size());
  for (int i : rules.event_rules) {
    FUZZ_CHECK(rules.scores[rules.rules[i].score].kind == ScoreKind::kEvent);
  }
  for (int i : rules.profile_rules) {
    FUZZ_CHECK(rules.scores[rules.rules[i].score].kind == ScoreKind::kProfile);
  }
  std::set<std::string> names;
  for (const ScoreDef& score : rules.scores) {
    FUZZ_CHECK(names.insert(score.name).second);
    FUZZ_CHECK(score.half_life >= 0);
  }
  names.clear();
  for (const StageDef& stage : rules.stages) {
    FUZZ_CHECK(names.insert(stage.name).second);
    Evaluate(stage.enter, ctx);
    Evaluate(stage.exit, ctx);
  }
  const RoutingDef& routing = rules.routing;
  if (routing.enabled) {
    FUZZ_CHECK(routing.stage_index >= 0 &&
               static_cast<size_t>(routing.stage_index) < rules.stages.size());
    FUZZ_CHECK(rules.stages[routing.stage_index].name == routing.stage);
    for (const TeamDef& team : routing.teams) {
      Evaluate(team.when, ctx);
      if (team.skill.has_value()) {
        Evaluate(*team.skill, ctx);
      }
      for (const RepDef& rep : team.reps) {
        FUZZ_CHECK(rep.weight >= 1);
        FUZZ_CHECK(rep.tz != nullptr);
        for (const auto& [start, end] : rep.hours.intervals) {
          FUZZ_CHECK(0 <= start && start < end && end <= kMinutesPerWeek);
        }
        (void)rep.hours.Contains(0);
        (void)rep.hours.Contains(kMinutesPerWeek - 1);
      }
    }
  }
}

}  // namespace
}  // namespace handoff

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace handoff;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const LoadResult result = LoadRulesFromString(text, kFile);
  if (result.ok()) {
    FUZZ_CHECK(result.errors.empty());
    CheckRuleSet(*result.rules, text);
    return 0;
  }
  FUZZ_CHECK(!result.errors.empty());
  const int lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  for (size_t i = 0; i < result.errors.size(); ++i) {
    const LoadError& e = result.errors[i];
    FUZZ_CHECK(e.file == kFile);
    FUZZ_CHECK(!e.message.empty());
    FUZZ_CHECK(e.line >= 0 && e.line <= lines);
    FUZZ_CHECK(e.col >= 0);
    FUZZ_CHECK(!e.ToString().empty());
    if (i > 0) {
      const LoadError& prev = result.errors[i - 1];
      FUZZ_CHECK(prev.line < e.line || (prev.line == e.line && prev.col <= e.col));
    }
  }
  return 0;
}
