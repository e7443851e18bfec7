// Parser of the rule expression language (SPEC 5.1) and the compiled tree it builds. Internal to
// rules/expression*.cc; the public face is rules/expression.h.
//
// The tree is what evaluation walks: each node is one operation chosen by a switch on `op` (no
// virtual calls), paths are already split into keys and classified by root, `score.NAME` is an
// index and `matches` holds its compiled RE2. Nodes are immutable after parsing.
#pragma once

#include <re2/re2.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "handoff/value.h"
#include "rules/expression.h"

namespace handoff {

namespace expression_internal {

enum class Op : uint8_t {
  kConst,  // `constant`
  kPath,   // `root`, `keys`, `score_index`
  // Logic: operands count as true only if they are the boolean true.
  kAnd,
  kOr,
  kNot,
  // Comparisons (one precedence level, left-associative).
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kIn,
  kContains,
  kStartsWith,
  kEndsWith,
  kMatches,  // rhs is unused: `regex` holds the compiled literal pattern
  // Arithmetic.
  kAdd,
  kSub,
  kMul,
  kDiv,
  kNeg,
  // Functions (one argument, in lhs).
  kExists,
  kLower,
  kLen,
  kDomain,
};

enum class PathRoot : uint8_t {
  kType,        // the event type name
  kEvent,       // track: event name; page/screen: name
  kProperties,  // event properties, then `keys`
  kContext,     // event context, then `keys`
  kTraits,      // the lead's traits, then `keys`
  kScore,       // scores[score_index]
  kLeadId,
  kLeadStage,
};

}  // namespace expression_internal

class ExpressionNode {
 public:
  expression_internal::Op op = expression_internal::Op::kConst;
  expression_internal::PathRoot root = expression_internal::PathRoot::kType;
  int score_index = 0;
  int depth = 1;                     // height of the subtree, to bound recursion
  bool placeholder = false;          // stands in for an operand whose error was reported
  std::vector<std::string> keys;     // kPath: object keys walked below the root
  Value constant;                    // kConst
  std::unique_ptr<const RE2> regex;  // kMatches
  std::unique_ptr<ExpressionNode> lhs;
  std::unique_ptr<ExpressionNode> rhs;
};

namespace expression_internal {

// Parses and checks `text`. Returns the tree, or nullptr after appending at least one error.
// Sets *reads_event when the expression reads an event path.
std::unique_ptr<ExpressionNode> Parse(std::string_view text, ExpressionScope scope,
                                      const std::vector<std::string>& score_names,
                                      std::vector<ExpressionError>* errors, bool* reads_event,
                                      bool* reads_score);

}  // namespace expression_internal
}  // namespace handoff
