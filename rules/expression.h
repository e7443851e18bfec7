// Expression: the rule language of SPEC 5.1, compiled once at load and evaluated per event.
//
// Compile() turns source text into a tree whose paths are pre-split and pre-classified (no name
// lookup by string beyond the JSON keys themselves), whose `score.NAME` references are resolved to
// indexes, and whose regexes are compiled RE2 objects. Evaluation never fails: wrong types give
// null or false as the contract says. A compiled Expression is immutable and safe to evaluate from
// many threads at once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "handoff/event.h"
#include "handoff/value.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace handoff {

// What an expression may see, by where it is used (SPEC 5.1 "Paths").
enum class ExpressionScope : uint8_t {
  kEventRule,    // `when` of a rule of an event score: everything
  kProfileRule,  // `when` of a rule of a profile score: traits and lead only
  kLead,         // stages and routing: traits, score and lead
};

// A load-time error. `offset` is the 0-based byte offset into the expression text of the first
// character of the offending token (the rule loader turns it into FILE:LINE:COL).
struct ExpressionError {
  size_t offset = 0;
  std::string message;
};

// What an evaluation reads. Pointers are borrowed for the duration of one evaluation; any of them
// may be null (a null event makes every event path read as null).
struct EvalContext {
  const Event* event = nullptr;
  const Value* traits = nullptr;   // the lead's traits, an object
  const double* scores = nullptr;  // score values, indexed like RuleSet::scores
  std::string_view lead_id;
  std::string_view lead_stage;
};

// The result of evaluating an expression to a value (used where a rule needs more than a
// condition, e.g. a routing team's `skill`). Strings may point into the context or the expression;
// `owned` backs strings the evaluation built (lower(), domain()).
struct EvalResult {
  Value::Type type = Value::Type::kNull;
  bool boolean = false;
  double number = 0;
  std::string_view string;
  const Value* composite = nullptr;  // array or object
  std::string owned;

  EvalResult() = default;
  // Copies and moves keep `string` pointing into `owned` when it pointed into the source's.
  EvalResult(const EvalResult& other);
  EvalResult(EvalResult&& other) noexcept;
  EvalResult& operator=(const EvalResult& other);
  EvalResult& operator=(EvalResult&& other) noexcept;

  // The result as an owned Value (copies composites).
  Value ToValue() const;
};

class ExpressionNode;  // defined in rules/expression_parser.h

// A score compared with a number in an expression (`score.engagement < 30`, either side). Such a
// comparison can change its value only when the score passes `value`.
struct ScoreThreshold {
  int score = 0;  // index into RuleSet::scores
  double value = 0;
};

// A necessary condition of an expression, read off its tree at compile time: when the expression
// can only be true for events of one type, or with one event name (`event == "X"`, alone or
// and-ed with anything), that type or name. The scorer indexes rules by it, so an event only
// evaluates the rules that could hold for it.
struct EventGuard {
  std::optional<EventType> type;
  std::optional<std::string> name;
};

// Another necessary condition, on one field of the event: a conjunct (alone or and-ed with
// anything) `properties.K... == literal` or `context.K... == literal` (the literal a string or a
// number, either side), `properties.K... in [literals]` (a non-empty list of strings and numbers
// only), or `properties.K... starts_with "literal"` (or `context.K...` for each). Equality is of
// type and value (SPEC 5.1), so an event can only pass when the field holds that very string or
// number (one of the list's), or a string with that prefix. The scorer indexes rules by it within
// their EventGuard's group.
struct EventDiscriminator {
  bool context = false;           // the path is context.KEYS, else properties.KEYS
  std::vector<std::string> keys;  // below properties or context
  bool prefix = false;            // `starts_with`, else `==` or `in`
  Value literal;  // a string, or (not `starts_with`) a number, or (`in`) an array of those
};

// An expression that is exactly `traits.K... matches "pattern"` and nothing more: it holds when
// the trait at that path is a string the pattern matches (unanchored). Profile rules of this form
// with the same path are matched all at once (scoring/profile_regexes.h).
struct TraitRegexTest {
  std::vector<std::string> keys;    // below traits
  const re2::RE2* regex = nullptr;  // compiled; owned by the expression's tree
};

class Expression {
 public:
  // Compiles `text`. `score_names[i]` is the name of score i: `score.NAME` compiles to index i,
  // and a name not in the list is an error ("unknown score"). On failure returns an Expression
  // for which ok() is false and appends every error found to `errors` (at least one; `errors`
  // may be null). Syntax errors stop at the first; unknown names, paths the scope cannot see and
  // bad regexes are all reported in one pass.
  static Expression Compile(std::string_view text, ExpressionScope scope,
                            const std::vector<std::string>& score_names,
                            std::vector<ExpressionError>* errors);
  // An expression that is the constant `v` (a YAML `when: true`).
  static Expression Constant(Value v);

  Expression() = default;  // the constant null: never true
  bool ok() const { return root_ != nullptr; }

  // True only if the expression evaluates to the boolean `true`.
  bool Test(const EvalContext& ctx) const;
  // The full value.
  EvalResult Evaluate(const EvalContext& ctx) const;

  // True when the expression reads any event path (type, event, properties, context).
  bool reads_event() const { return reads_event_; }
  // See EventGuard.
  EventGuard guard() const;
  // See EventDiscriminator: the first one found, walking the conjuncts left to right.
  std::optional<EventDiscriminator> discriminator() const;
  // See TraitRegexTest. Valid while this expression (or a copy sharing its tree) lives.
  std::optional<TraitRegexTest> trait_regex() const;
  // The same test for events known to pass `guard` (one of its type or name set, as the scorer
  // indexes rules by; see EventGuard): an `&&` with that comparison on one side is its other
  // side, the comparison alone is `true`, anything else is unchanged. Shares this tree.
  Expression AssumingGuard(const EventGuard& guard) const;
  // True when the expression reads `lead.stage` (walks the tree: not for a hot path).
  bool reads_lead_stage() const;
  // True when the expression reads any `score.NAME`.
  bool reads_score() const { return reads_score_; }
  // Appends every comparison of a score with a number literal (<, <=, >, >=, ==, !=) to `out`
  // and returns true when those are the only places the expression reads a score: its value
  // then depends on the scores only through those comparisons, so it cannot change while no
  // score passes its threshold (the stage re-check skips leads on this). False when a score is
  // read any other way (arithmetic, `in`, a function, compared with another score).
  bool ScoreThresholds(std::vector<ScoreThreshold>* out) const;
  const std::string& source() const { return source_; }

 private:
  std::shared_ptr<const ExpressionNode> root_;
  std::string source_;
  bool reads_event_ = false;
  bool reads_score_ = false;
};

}  // namespace handoff
