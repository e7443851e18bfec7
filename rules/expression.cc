// Evaluation of compiled expressions (SPEC 5.1). Parsing and checking are in expression_parser.cc.
//
// Evaluation is a recursive switch over the node tree. Intermediate values (Val) borrow their
// strings and composites from the context, the tree or a per-evaluation scratch arena, so a
// condition that builds no string (no lower()/domain() of a string with upper-case letters)
// allocates nothing. Conditions go through Truthy(), which evaluates &&, ||, ! and comparisons to
// a plain bool without materializing intermediate values.
//
// Choices where SPEC 5.1 is silent:
// - Arithmetic whose result is not finite (overflow, 0/0, x/0) is null, like division by zero.
// - `lead.id` and `lead.stage` are always strings (empty when the context has none); a missing
//   event makes every event path null; missing scores make score paths null.
// - `event` is null for identify/group/alias, and for page/screen without a name.
// - `x in V` is false when V is not an array (any operand is accepted at load time).
#include "rules/expression.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <utility>

#include "rules/expression_parser.h"

namespace handoff {
namespace {

using expression_internal::Op;
using expression_internal::PathRoot;

// An intermediate value; owns nothing.
struct Val {
  Value::Type type = Value::Type::kNull;
  bool boolean = false;
  bool built = false;  // `string` lives in the evaluation's Scratch
  double number = 0;
  std::string_view string;
  const Value* composite = nullptr;  // kArray, kObject
};

// Backing store for strings built during one evaluation. Small strings use the inline buffer;
// only long ones allocate.
class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  char* Allocate(size_t n) {
    if (n <= sizeof(inline_) - used_) {
      char* p = inline_ + used_;
      used_ += n;
      return p;
    }
    overflow_.push_back(std::make_unique<char[]>(n));
    return overflow_.back().get();
  }

 private:
  char inline_[256];
  size_t used_ = 0;
  std::vector<std::unique_ptr<char[]>> overflow_;
};

Val MakeBool(bool b) {
  Val v;
  v.type = Value::Type::kBool;
  v.boolean = b;
  return v;
}

// Non-finite numbers (overflow, NaN) become null.
Val MakeNumber(double d) {
  Val v;
  if (std::isfinite(d)) {
    v.type = Value::Type::kNumber;
    v.number = d;
  }
  return v;
}

Val MakeString(std::string_view s, bool built = false) {
  Val v;
  v.type = Value::Type::kString;
  v.string = s;
  v.built = built;
  return v;
}

Val FromValue(const Value* value) {
  Val v;
  if (value == nullptr) {
    return v;
  }
  switch (value->type()) {
    case Value::Type::kNull:
      break;
    case Value::Type::kBool:
      return MakeBool(value->as_bool());
    case Value::Type::kNumber:
      v.type = Value::Type::kNumber;
      v.number = value->as_number();
      break;
    case Value::Type::kString:
      return MakeString(value->as_string());
    case Value::Type::kArray:
    case Value::Type::kObject:
      v.type = value->type();
      v.composite = value;
      break;
  }
  return v;
}

bool Equal(const Val& a, const Val& b) {
  if (a.type != b.type) {
    return false;
  }
  switch (a.type) {
    case Value::Type::kNull:
      return true;
    case Value::Type::kBool:
      return a.boolean == b.boolean;
    case Value::Type::kNumber:
      return a.number == b.number;
    case Value::Type::kString:
      return a.string == b.string;
    case Value::Type::kArray:
    case Value::Type::kObject:
      return *a.composite == *b.composite;
  }
  return false;
}

bool EqualToValue(const Val& a, const Value& b) {
  if (a.type != b.type()) {
    return false;
  }
  switch (a.type) {
    case Value::Type::kNull:
      return true;
    case Value::Type::kBool:
      return a.boolean == b.as_bool();
    case Value::Type::kNumber:
      return a.number == b.as_number();
    case Value::Type::kString:
      return a.string == b.as_string();
    case Value::Type::kArray:
    case Value::Type::kObject:
      return *a.composite == b;
  }
  return false;
}

// Two numbers numerically, two strings byte-wise (unsigned), anything else false.
bool Order(Op op, const Val& a, const Val& b) {
  int c;
  if (a.type == Value::Type::kNumber && b.type == Value::Type::kNumber) {
    if (op == Op::kLt) {
      return a.number < b.number;
    }
    if (op == Op::kLe) {
      return a.number <= b.number;
    }
    if (op == Op::kGt) {
      return a.number > b.number;
    }
    return a.number >= b.number;
  }
  if (a.type == Value::Type::kString && b.type == Value::Type::kString) {
    c = a.string.compare(b.string);  // char_traits<char> compares as unsigned char
  } else {
    return false;
  }
  switch (op) {
    case Op::kLt:
      return c < 0;
    case Op::kLe:
      return c <= 0;
    case Op::kGt:
      return c > 0;
    default:
      return c >= 0;
  }
}

Val EventName(const Event* event) {
  if (event == nullptr) {
    return Val();
  }
  switch (event->type) {
    case EventType::kTrack:
      return MakeString(event->name);
    case EventType::kPage:
    case EventType::kScreen:
      return event->has_name ? MakeString(event->name) : Val();
    default:
      return Val();
  }
}

Val ReadPath(const ExpressionNode& n, const EvalContext& ctx) {
  const Value* base = nullptr;
  switch (n.root) {
    case PathRoot::kType:
      return ctx.event != nullptr ? MakeString(EventTypeName(ctx.event->type)) : Val();
    case PathRoot::kEvent:
      return EventName(ctx.event);
    case PathRoot::kProperties:
      if (ctx.event == nullptr) {
        return Val();
      }
      base = &ctx.event->properties;
      break;
    case PathRoot::kContext:
      if (ctx.event == nullptr) {
        return Val();
      }
      base = &ctx.event->context;
      break;
    case PathRoot::kTraits:
      base = ctx.traits;
      break;
    case PathRoot::kScore:
      return ctx.scores != nullptr ? MakeNumber(ctx.scores[n.score_index]) : Val();
    case PathRoot::kLeadId:
      return MakeString(ctx.lead_id);
    case PathRoot::kLeadStage:
      return MakeString(ctx.lead_stage);
  }
  return FromValue(base == nullptr ? nullptr : base->FindPath(n.keys));
}

// ASCII lowercase. Returns the input itself when it has no upper-case letter.
Val Lower(const Val& s, Scratch& scratch) {
  size_t i = 0;
  while (i < s.string.size() && !(s.string[i] >= 'A' && s.string[i] <= 'Z')) {
    ++i;
  }
  if (i == s.string.size()) {
    return s;
  }
  char* out = scratch.Allocate(s.string.size());
  std::memcpy(out, s.string.data(), s.string.size());
  for (; i < s.string.size(); ++i) {
    if (out[i] >= 'A' && out[i] <= 'Z') {
      out[i] = static_cast<char>(out[i] - 'A' + 'a');
    }
  }
  return MakeString(std::string_view(out, s.string.size()), true);
}

Val Eval(const ExpressionNode& n, const EvalContext& ctx, Scratch& scratch);

bool Compare(const ExpressionNode& n, const EvalContext& ctx, Scratch& scratch) {
  const Val a = Eval(*n.lhs, ctx, scratch);
  if (n.op == Op::kMatches) {
    return a.type == Value::Type::kString &&
           n.regex->Match(re2::StringPiece(a.string.data(), a.string.size()), 0, a.string.size(),
                          RE2::UNANCHORED, nullptr, 0);
  }
  const Val b = Eval(*n.rhs, ctx, scratch);
  switch (n.op) {
    case Op::kEq:
      return Equal(a, b);
    case Op::kNe:
      return !Equal(a, b);
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe:
      return Order(n.op, a, b);
    case Op::kIn:
      if (b.type != Value::Type::kArray) {
        return false;
      }
      for (const Value& element : b.composite->as_array()) {
        if (EqualToValue(a, element)) {
          return true;
        }
      }
      return false;
    case Op::kContains:
      if (a.type == Value::Type::kString) {
        return b.type == Value::Type::kString && a.string.find(b.string) != std::string_view::npos;
      }
      if (a.type == Value::Type::kArray) {
        for (const Value& element : a.composite->as_array()) {
          if (EqualToValue(b, element)) {
            return true;
          }
        }
      }
      return false;
    case Op::kStartsWith:
      return a.type == Value::Type::kString && b.type == Value::Type::kString &&
             a.string.starts_with(b.string);
    case Op::kEndsWith:
      return a.type == Value::Type::kString && b.type == Value::Type::kString &&
             a.string.ends_with(b.string);
    default:
      return false;
  }
}

bool IsComparison(Op op) { return op >= Op::kEq && op <= Op::kMatches; }

// The condition value of `n`: true only if it evaluates to the boolean true.
bool Truthy(const ExpressionNode& n, const EvalContext& ctx, Scratch& scratch) {
  switch (n.op) {
    case Op::kAnd:
      return Truthy(*n.lhs, ctx, scratch) && Truthy(*n.rhs, ctx, scratch);
    case Op::kOr:
      return Truthy(*n.lhs, ctx, scratch) || Truthy(*n.rhs, ctx, scratch);
    case Op::kNot:
      return !Truthy(*n.lhs, ctx, scratch);
    default:
      if (IsComparison(n.op)) {
        return Compare(n, ctx, scratch);
      }
      const Val v = Eval(n, ctx, scratch);
      return v.type == Value::Type::kBool && v.boolean;
  }
}

Val Arithmetic(Op op, const Val& a, const Val& b) {
  if (a.type != Value::Type::kNumber || b.type != Value::Type::kNumber) {
    return Val();
  }
  switch (op) {
    case Op::kAdd:
      return MakeNumber(a.number + b.number);
    case Op::kSub:
      return MakeNumber(a.number - b.number);
    case Op::kMul:
      return MakeNumber(a.number * b.number);
    default:
      return b.number == 0 ? Val() : MakeNumber(a.number / b.number);
  }
}

Val Eval(const ExpressionNode& n, const EvalContext& ctx, Scratch& scratch) {
  switch (n.op) {
    case Op::kConst:
      return FromValue(&n.constant);
    case Op::kPath:
      return ReadPath(n, ctx);
    case Op::kAnd:
    case Op::kOr:
    case Op::kNot:
      return MakeBool(Truthy(n, ctx, scratch));
    case Op::kEq:
    case Op::kNe:
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe:
    case Op::kIn:
    case Op::kContains:
    case Op::kStartsWith:
    case Op::kEndsWith:
    case Op::kMatches:
      return MakeBool(Compare(n, ctx, scratch));
    case Op::kAdd:
    case Op::kSub:
    case Op::kMul:
    case Op::kDiv:
      return Arithmetic(n.op, Eval(*n.lhs, ctx, scratch), Eval(*n.rhs, ctx, scratch));
    case Op::kNeg: {
      const Val a = Eval(*n.lhs, ctx, scratch);
      return a.type == Value::Type::kNumber ? MakeNumber(-a.number) : Val();
    }
    case Op::kExists:
      return MakeBool(Eval(*n.lhs, ctx, scratch).type != Value::Type::kNull);
    case Op::kLower: {
      const Val a = Eval(*n.lhs, ctx, scratch);
      return a.type == Value::Type::kString ? Lower(a, scratch) : Val();
    }
    case Op::kLen: {
      const Val a = Eval(*n.lhs, ctx, scratch);
      switch (a.type) {
        case Value::Type::kString:
          return MakeNumber(static_cast<double>(a.string.size()));
        case Value::Type::kArray:
          return MakeNumber(static_cast<double>(a.composite->as_array().size()));
        case Value::Type::kObject:
          return MakeNumber(static_cast<double>(a.composite->as_object().size()));
        default:
          return Val();
      }
    }
    case Op::kDomain: {
      Val a = Eval(*n.lhs, ctx, scratch);
      if (a.type != Value::Type::kString) {
        return Val();
      }
      const size_t at = a.string.rfind('@');
      if (at == std::string_view::npos) {
        return Val();
      }
      a.string.remove_prefix(at + 1);
      return Lower(a, scratch);
    }
  }
  return Val();
}

}  // namespace

EvalResult::EvalResult(const EvalResult& other) { *this = other; }

EvalResult::EvalResult(EvalResult&& other) noexcept { *this = std::move(other); }

EvalResult& EvalResult::operator=(const EvalResult& other) {
  if (this == &other) {
    return *this;
  }
  const bool in_owned = !other.owned.empty() && other.string.data() == other.owned.data();
  type = other.type;
  boolean = other.boolean;
  number = other.number;
  composite = other.composite;
  owned = other.owned;
  string = in_owned ? std::string_view(owned) : other.string;
  return *this;
}

EvalResult& EvalResult::operator=(EvalResult&& other) noexcept {
  if (this == &other) {
    return *this;
  }
  const bool in_owned = !other.owned.empty() && other.string.data() == other.owned.data();
  type = other.type;
  boolean = other.boolean;
  number = other.number;
  composite = other.composite;
  owned = std::move(other.owned);
  string = in_owned ? std::string_view(owned) : other.string;
  return *this;
}

Value EvalResult::ToValue() const {
  switch (type) {
    case Value::Type::kNull:
      return Value();
    case Value::Type::kBool:
      return Value::Bool(boolean);
    case Value::Type::kNumber:
      return Value::Number(number);
    case Value::Type::kString:
      return Value::String(std::string(string));
    case Value::Type::kArray:
    case Value::Type::kObject:
      return composite != nullptr ? *composite : Value();
  }
  return Value();
}

Expression Expression::Compile(std::string_view text, ExpressionScope scope,
                               const std::vector<std::string>& score_names,
                               std::vector<ExpressionError>* errors) {
  std::vector<ExpressionError> local;
  Expression e;
  e.source_ = std::string(text);
  bool reads_event = false;
  bool reads_score = false;
  std::unique_ptr<ExpressionNode> root = expression_internal::Parse(
      text, scope, score_names, errors != nullptr ? errors : &local, &reads_event, &reads_score);
  if (root != nullptr) {
    e.root_ = std::move(root);
    e.reads_event_ = reads_event;
    e.reads_score_ = reads_score;
  }
  return e;
}

namespace {

bool ReadsRoot(const ExpressionNode* node, expression_internal::PathRoot root) {
  if (node == nullptr) {
    return false;
  }
  if (node->op == expression_internal::Op::kPath && node->root == root) {
    return true;
  }
  return ReadsRoot(node->lhs.get(), root) || ReadsRoot(node->rhs.get(), root);
}

// `<root> == "<text>"` (either side first), where <root> is a bare path root such as `event` or
// `type`: the shape an event guard is read off.
struct RootEqualsString {
  expression_internal::PathRoot root;
  const std::string* text;  // points into the node's literal
};

std::optional<RootEqualsString> AsRootEqualsString(const ExpressionNode* node) {
  using expression_internal::Op;
  if (node == nullptr || node->op != Op::kEq || node->lhs == nullptr || node->rhs == nullptr) {
    return std::nullopt;
  }
  const ExpressionNode* path = node->lhs.get();
  const ExpressionNode* literal = node->rhs.get();
  if (path->op != Op::kPath) {
    std::swap(path, literal);
  }
  if (path->op != Op::kPath || literal->op != Op::kConst || !path->keys.empty() ||
      !literal->constant.is_string()) {
    return std::nullopt;
  }
  return RootEqualsString{path->root, &literal->constant.as_string()};
}

void CollectGuard(const ExpressionNode* node, EventGuard* guard) {
  using expression_internal::Op;
  using expression_internal::PathRoot;
  if (node == nullptr) {
    return;
  }
  if (node->op == Op::kAnd) {
    CollectGuard(node->lhs.get(), guard);
    CollectGuard(node->rhs.get(), guard);
    return;
  }
  const std::optional<RootEqualsString> equality = AsRootEqualsString(node);
  if (!equality.has_value()) {
    return;
  }
  if (equality->root == PathRoot::kEvent && !guard->name.has_value()) {
    guard->name = *equality->text;
  } else if (equality->root == PathRoot::kType && !guard->type.has_value()) {
    // A name that is no type makes the expression never true; no guard is still correct.
    guard->type = EventTypeFromName(*equality->text);
  }
}

bool FindDiscriminator(const ExpressionNode* node, EventDiscriminator* out) {
  using expression_internal::Op;
  using expression_internal::PathRoot;
  if (node == nullptr) {
    return false;
  }
  if (node->op == Op::kAnd) {
    return FindDiscriminator(node->lhs.get(), out) || FindDiscriminator(node->rhs.get(), out);
  }
  if ((node->op != Op::kEq && node->op != Op::kStartsWith && node->op != Op::kIn) ||
      node->lhs == nullptr || node->rhs == nullptr) {
    return false;
  }
  const ExpressionNode* path = node->lhs.get();
  const ExpressionNode* literal = node->rhs.get();
  if (node->op == Op::kEq && path->op != Op::kPath) {
    std::swap(path, literal);  // `==` is symmetric; `starts_with` is not
  }
  if (path->op != Op::kPath || literal->op != Op::kConst ||
      (path->root != PathRoot::kProperties && path->root != PathRoot::kContext)) {
    return false;
  }
  const Value& constant = literal->constant;
  if (node->op == Op::kIn) {
    // (A null, boolean or list element could equal a missing field or a non-scalar: not indexed.)
    if (!constant.is_array() || constant.as_array().empty() ||
        !std::all_of(constant.as_array().begin(), constant.as_array().end(),
                     [](const Value& v) { return v.is_string() || v.is_number(); })) {
      return false;
    }
  } else if (!constant.is_string() && !(node->op == Op::kEq && constant.is_number())) {
    return false;
  }
  out->context = path->root == PathRoot::kContext;
  out->keys = path->keys;
  out->prefix = node->op == Op::kStartsWith;
  out->literal = constant;
  return true;
}

// An order or equality comparison (not `in`, `contains`, ...).
bool IsOrderComparison(expression_internal::Op op) {
  using expression_internal::Op;
  return op == Op::kEq || op == Op::kNe || op == Op::kLt || op == Op::kLe || op == Op::kGt ||
         op == Op::kGe;
}

// A number literal, or a negated one (the parser reads `-30` as a negation of 30).
std::optional<double> NumberLiteral(const ExpressionNode* node) {
  using expression_internal::Op;
  if (node == nullptr) {
    return std::nullopt;
  }
  if (node->op == Op::kConst) {
    return node->constant.is_number() ? std::optional<double>(node->constant.as_number())
                                      : std::nullopt;
  }
  if (node->op == Op::kNeg) {
    const std::optional<double> inner = NumberLiteral(node->lhs.get());
    return inner.has_value() ? std::optional<double>(-*inner) : std::nullopt;
  }
  return std::nullopt;
}

bool IsScorePath(const ExpressionNode* node) {
  using expression_internal::Op;
  using expression_internal::PathRoot;
  return node != nullptr && node->op == Op::kPath && node->root == PathRoot::kScore;
}

bool CollectThresholds(const ExpressionNode* node, std::vector<ScoreThreshold>* out) {
  if (node == nullptr) {
    return true;
  }
  if (IsScorePath(node)) {
    return false;  // a score read outside a comparison with a number
  }
  if (IsOrderComparison(node->op)) {
    const ExpressionNode* score = node->lhs.get();
    const ExpressionNode* other = node->rhs.get();
    if (!IsScorePath(score)) {
      std::swap(score, other);
    }
    if (IsScorePath(score)) {
      const std::optional<double> value = NumberLiteral(other);
      if (!value.has_value()) {
        return false;
      }
      out->push_back({score->score_index, *value});
      return true;
    }
  }
  return CollectThresholds(node->lhs.get(), out) && CollectThresholds(node->rhs.get(), out);
}

}  // namespace

bool Expression::ScoreThresholds(std::vector<ScoreThreshold>* out) const {
  return CollectThresholds(root_.get(), out);
}

namespace {

// Whether `node` is the comparison `guard` was read off (`event == "<name>"` for a name guard,
// else `type == "<type>"`), so that it holds for every event the guard lets through.
bool IsGuardComparison(const ExpressionNode* node, const EventGuard& guard) {
  using expression_internal::PathRoot;
  const std::optional<RootEqualsString> equality = AsRootEqualsString(node);
  if (!equality.has_value()) {
    return false;
  }
  if (guard.name.has_value()) {
    return equality->root == PathRoot::kEvent && *equality->text == *guard.name;
  }
  return guard.type.has_value() && equality->root == PathRoot::kType &&
         *equality->text == EventTypeName(*guard.type);
}

}  // namespace

Expression Expression::AssumingGuard(const EventGuard& guard) const {
  if (root_ == nullptr) {
    return *this;
  }
  if (IsGuardComparison(root_.get(), guard)) {
    Expression always = Constant(Value::Bool(true));
    always.source_ = source_;
    always.reads_event_ = reads_event_;
    always.reads_score_ = reads_score_;
    return always;
  }
  if (root_->op != expression_internal::Op::kAnd) {
    return *this;
  }
  const ExpressionNode* rest = nullptr;
  if (IsGuardComparison(root_->lhs.get(), guard)) {
    rest = root_->rhs.get();
  } else if (IsGuardComparison(root_->rhs.get(), guard)) {
    rest = root_->lhs.get();
  }
  if (rest == nullptr) {
    return *this;
  }
  Expression left = *this;
  left.root_ = std::shared_ptr<const ExpressionNode>(root_, rest);  // keeps the whole tree alive
  return left;
}

std::optional<TraitRegexTest> Expression::trait_regex() const {
  using expression_internal::Op;
  using expression_internal::PathRoot;
  if (root_ == nullptr || root_->op != Op::kMatches || root_->lhs == nullptr ||
      root_->lhs->op != Op::kPath || root_->lhs->root != PathRoot::kTraits ||
      root_->regex == nullptr) {
    return std::nullopt;
  }
  return TraitRegexTest{root_->lhs->keys, root_->regex.get()};
}

bool Expression::reads_lead_stage() const {
  return ReadsRoot(root_.get(), expression_internal::PathRoot::kLeadStage);
}

EventGuard Expression::guard() const {
  EventGuard guard;
  CollectGuard(root_.get(), &guard);
  return guard;
}

std::optional<EventDiscriminator> Expression::discriminator() const {
  EventDiscriminator found;
  if (!FindDiscriminator(root_.get(), &found)) {
    return std::nullopt;
  }
  return found;
}

Expression Expression::Constant(Value v) {
  Expression e;
  e.source_ = v.ToJson();
  auto node = std::make_unique<ExpressionNode>();
  node->op = Op::kConst;
  node->constant = std::move(v);
  e.root_ = std::move(node);
  return e;
}

bool Expression::Test(const EvalContext& ctx) const {
  if (root_ == nullptr) {
    return false;
  }
  Scratch scratch;
  return Truthy(*root_, ctx, scratch);
}

EvalResult Expression::Evaluate(const EvalContext& ctx) const {
  EvalResult result;
  if (root_ == nullptr) {
    return result;
  }
  Scratch scratch;
  const Val v = Eval(*root_, ctx, scratch);
  result.type = v.type;
  result.boolean = v.boolean;
  result.number = v.number;
  result.composite = v.composite;
  if (v.type == Value::Type::kString) {
    if (v.built) {
      result.owned.assign(v.string);
      result.string = result.owned;
    } else {
      result.string = v.string;
    }
  }
  return result;
}

}  // namespace handoff
