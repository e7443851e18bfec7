// Recursive-descent parser of SPEC 5.1 expressions, loosest level first:
//
//   or         := and (("||" | "or") and)*
//   and        := not (("&&" | "and") not)*
//   not        := ("!" | "not") not | comparison
//   comparison := sum (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "contains" |
//                       "starts_with" | "ends_with" | "matches") sum)*
//   sum        := product (("+" | "-") product)*
//   product    := unary (("*" | "/") unary)*
//   unary      := "-" unary | primary
//   primary    := NUMBER | STRING | true | false | null | list | "(" or ")" | call | path
//   list       := "[" [literal ("," literal)*] "]"       (literals only, lists may nest)
//   call       := IDENT "(" [or ("," or)*] ")"
//   path       := IDENT ("." IDENT | "[" STRING "]")*
//
// Every binary level associates to the left. Because `!` sits above the comparisons,
// `!a == b` is `!(a == b)`, and `a == !b` is a syntax error with a hint to parenthesize.
//
// Choices where SPEC 5.1 is silent:
// - A keyword after "." (`properties.in`) is an error that shows the bracket form.
// - Keys below `type`, `event`, `score.NAME` or `lead.id`/`lead.stage` are load errors (they
//   could only ever read null), as are bare `score` and `lead`.
// - Strings follow JSON strictly: raw control characters and unpaired surrogates are errors.
// - `x not in L` is an error that suggests `!(x in L)`.
// - Syntax errors stop at the first one; unknown names, invisible paths, bad regexes and wrong
//   arity are collected in the same pass (their operand becomes null so parsing continues).
#include "rules/expression_parser.h"

#include <algorithm>
#include <utility>

#include "rules/expression_lexer.h"
#include "rules/suggest.h"

namespace handoff::expression_internal {
namespace {

using NodePtr = std::unique_ptr<ExpressionNode>;

// Parentheses, lists, calls and prefix operators nest the parser's recursion; this bounds it.
constexpr int kMaxNesting = 100;
// Long chains of one binary operator make a deep (left-leaning) tree; evaluation recurses on it.
constexpr int kMaxDepth = 1000;

std::string Quote(std::string_view s) {
  std::string out = "\"";
  out.append(s);
  out.push_back('"');
  return out;
}

// The name NearestName picks among `names` (any list of strings), or "" when none is close.
template <typename Names>
std::string_view Nearest(std::string_view name, const Names& names) {
  return NearestName(name, std::vector<std::string_view>(std::begin(names), std::end(names)));
}

// "; did you mean \"x\"?" for the nearest candidate, else "".
template <typename Names>
std::string Suggestion(std::string_view name, const Names& candidates) {
  const std::string_view nearest = Nearest(name, candidates);
  return nearest.empty() ? "" : "; did you mean " + Quote(nearest) + "?";
}

struct Function {
  std::string_view name;
  Op op;
};
constexpr Function kFunctions[] = {
    {"exists", Op::kExists}, {"lower", Op::kLower}, {"len", Op::kLen}, {"domain", Op::kDomain}};
constexpr std::string_view kFunctionNames[] = {"exists", "lower", "len", "domain"};
constexpr std::string_view kRootNames[] = {"type",   "event", "properties", "context",
                                           "traits", "score", "lead"};

struct PathKey {
  std::string key;
  size_t offset;
};

class Parser {
 public:
  Parser(std::string_view text, ExpressionScope scope, const std::vector<std::string>& score_names,
         std::vector<ExpressionError>* errors)
      : text_(text), scope_(scope), score_names_(score_names), errors_(errors) {}

  NodePtr Run(bool* reads_event, bool* reads_score) {
    tokens_ = Lex(text_);
    NodePtr root = ParseOr();
    if (root != nullptr && Peek().kind != TokenKind::kEnd) {
      const Token& t = Peek();
      if (t.kind == TokenKind::kRParen) {
        Fail(t.offset, "unexpected \")\" with no matching \"(\"");
      } else if (t.kind == TokenKind::kNot) {
        NotAfterOperand(t);
      } else {
        Unexpected(t, "unexpected " + Quote(t.text) +
                          "; expected an operator (such as ==, &&, ||) or the end of the "
                          "expression");
      }
    }
    *reads_event = reads_event_;
    *reads_score = reads_score_;
    if (failed_ || semantic_errors_) {
      return nullptr;
    }
    return root;
  }

 private:
  const Token& Peek() const { return tokens_[pos_]; }
  const Token& PeekAt(size_t ahead) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  // Consumes one token; the final kEnd/kError token is never passed.
  const Token& Next() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) {
      ++pos_;
    }
    return t;
  }

  // A syntax error: parsing stops, and only the first one is reported.
  std::nullptr_t Fail(size_t offset, std::string message) {
    if (!failed_) {
      errors_->push_back({offset, std::move(message)});
      failed_ = true;
    }
    return nullptr;
  }
  // Reports `message` about token `t`, unless `t` is a lexical error: then that is the error.
  std::nullptr_t Unexpected(const Token& t, std::string message) {
    if (t.kind == TokenKind::kError) {
      return Fail(t.offset, t.value);
    }
    return Fail(t.offset, std::move(message));
  }
  std::nullptr_t NotAfterOperand(const Token& t) {
    return Fail(t.offset,
                "\"not\" cannot follow an operand; to negate a test, write not (a in b) or "
                "!(a in b)");
  }
  // An error that does not stop parsing (unknown name, bad regex, ...): the offending operand is
  // replaced by null so that later errors are found in the same pass.
  NodePtr SemanticError(size_t offset, std::string message) {
    errors_->push_back({offset, std::move(message)});
    semantic_errors_ = true;
    NodePtr n = Const(Value());
    n->placeholder = true;
    return n;
  }

  bool Enter(const Token& t) {
    if (++nesting_ > kMaxNesting) {
      Fail(t.offset,
           "expression nested too deeply (more than " + std::to_string(kMaxNesting) + " levels)");
      return false;
    }
    return true;
  }
  void Leave() { --nesting_; }

  static NodePtr Const(Value v) {
    auto n = std::make_unique<ExpressionNode>();
    n->op = Op::kConst;
    n->constant = std::move(v);
    return n;
  }

  NodePtr Unary(Op op, NodePtr operand, const Token& at) {
    auto n = std::make_unique<ExpressionNode>();
    n->op = op;
    n->depth = operand->depth + 1;
    n->lhs = std::move(operand);
    return CheckDepth(std::move(n), at);
  }

  NodePtr Binary(Op op, NodePtr lhs, NodePtr rhs, const Token& at) {
    auto n = std::make_unique<ExpressionNode>();
    n->op = op;
    n->depth = std::max(lhs->depth, rhs->depth) + 1;
    n->lhs = std::move(lhs);
    n->rhs = std::move(rhs);
    return CheckDepth(std::move(n), at);
  }

  NodePtr CheckDepth(NodePtr n, const Token& at) {
    if (n->depth > kMaxDepth) {
      return Fail(at.offset, "expression too long (more than " + std::to_string(kMaxDepth) +
                                 " nested operations)");
    }
    return n;
  }

  // or := and (("||" | "or") and)*
  NodePtr ParseOr() {
    NodePtr lhs = ParseAnd();
    while (lhs != nullptr && (Peek().kind == TokenKind::kOrOr || Peek().kind == TokenKind::kOr)) {
      const Token& op = Next();
      NodePtr rhs = ParseAnd();
      if (rhs == nullptr) {
        return nullptr;
      }
      lhs = Binary(Op::kOr, std::move(lhs), std::move(rhs), op);
    }
    return lhs;
  }

  // and := not (("&&" | "and") not)*
  NodePtr ParseAnd() {
    NodePtr lhs = ParseNot();
    while (lhs != nullptr &&
           (Peek().kind == TokenKind::kAndAnd || Peek().kind == TokenKind::kAnd)) {
      const Token& op = Next();
      NodePtr rhs = ParseNot();
      if (rhs == nullptr) {
        return nullptr;
      }
      lhs = Binary(Op::kAnd, std::move(lhs), std::move(rhs), op);
    }
    return lhs;
  }

  // not := ("!" | "not") not | comparison
  // `!` is looser than the comparisons, so `!a == b` is `!(a == b)`.
  NodePtr ParseNot() {
    if (Peek().kind != TokenKind::kBang && Peek().kind != TokenKind::kNot) {
      return ParseComparison();
    }
    const Token& op = Next();
    if (!Enter(op)) {
      return nullptr;
    }
    NodePtr operand = ParseNot();
    Leave();
    if (operand == nullptr) {
      return nullptr;
    }
    return Unary(Op::kNot, std::move(operand), op);
  }

  static bool ComparisonOp(TokenKind kind, Op* op) {
    switch (kind) {
      case TokenKind::kEq:
        *op = Op::kEq;
        return true;
      case TokenKind::kNe:
        *op = Op::kNe;
        return true;
      case TokenKind::kLt:
        *op = Op::kLt;
        return true;
      case TokenKind::kLe:
        *op = Op::kLe;
        return true;
      case TokenKind::kGt:
        *op = Op::kGt;
        return true;
      case TokenKind::kGe:
        *op = Op::kGe;
        return true;
      case TokenKind::kIn:
        *op = Op::kIn;
        return true;
      case TokenKind::kContains:
        *op = Op::kContains;
        return true;
      case TokenKind::kStartsWith:
        *op = Op::kStartsWith;
        return true;
      case TokenKind::kEndsWith:
        *op = Op::kEndsWith;
        return true;
      case TokenKind::kMatches:
        *op = Op::kMatches;
        return true;
      default:
        return false;
    }
  }

  // comparison := sum (cmp-op sum)*
  // All comparison operators form ONE level and associate to the left, as SPEC 5.1 says:
  // `a == b == c` is `(a == b) == c` and `1 < 2 < 3` is `true < 3`, which is false.
  NodePtr ParseComparison() {
    NodePtr lhs = ParseSum();
    while (lhs != nullptr) {
      Op op;
      if (!ComparisonOp(Peek().kind, &op)) {
        if (Peek().kind == TokenKind::kNot) {
          return NotAfterOperand(Peek());
        }
        return lhs;
      }
      const Token& op_token = Next();
      const size_t rhs_offset = Peek().offset;
      NodePtr rhs = ParseSum();
      if (rhs == nullptr) {
        return nullptr;
      }
      if (op == Op::kMatches) {
        lhs = Matches(std::move(lhs), *rhs, rhs_offset, op_token);
      } else {
        lhs = Binary(op, std::move(lhs), std::move(rhs), op_token);
      }
    }
    return lhs;
  }

  // The pattern must be a literal so it is compiled (and checked) once, here.
  NodePtr Matches(NodePtr lhs, const ExpressionNode& pattern, size_t pattern_offset,
                  const Token& op_token) {
    if (pattern.op != Op::kConst || !pattern.constant.is_string()) {
      if (pattern.placeholder) {
        return lhs;  // its error is already reported
      }
      SemanticError(pattern_offset,
                    "the pattern after \"matches\" must be a string literal, such as "
                    "traits.email matches \"@acme\\\\.com$\"");
      return lhs;
    }
    RE2::Options options;
    options.set_log_errors(false);
    auto regex = std::make_unique<RE2>(pattern.constant.as_string(), options);
    if (!regex->ok()) {
      SemanticError(pattern_offset, "invalid regular expression " +
                                        Quote(pattern.constant.as_string()) + ": " +
                                        regex->error());
      return lhs;
    }
    auto n = std::make_unique<ExpressionNode>();
    n->op = Op::kMatches;
    n->depth = lhs->depth + 1;
    n->lhs = std::move(lhs);
    n->regex = std::move(regex);
    return CheckDepth(std::move(n), op_token);
  }

  // sum := product (("+" | "-") product)*
  NodePtr ParseSum() {
    NodePtr lhs = ParseProduct();
    while (lhs != nullptr &&
           (Peek().kind == TokenKind::kPlus || Peek().kind == TokenKind::kMinus)) {
      const Token& op = Next();
      NodePtr rhs = ParseProduct();
      if (rhs == nullptr) {
        return nullptr;
      }
      lhs = Binary(op.kind == TokenKind::kPlus ? Op::kAdd : Op::kSub, std::move(lhs),
                   std::move(rhs), op);
    }
    return lhs;
  }

  // product := unary (("*" | "/") unary)*
  NodePtr ParseProduct() {
    NodePtr lhs = ParseUnary();
    while (lhs != nullptr &&
           (Peek().kind == TokenKind::kStar || Peek().kind == TokenKind::kSlash)) {
      const Token& op = Next();
      NodePtr rhs = ParseUnary();
      if (rhs == nullptr) {
        return nullptr;
      }
      lhs = Binary(op.kind == TokenKind::kStar ? Op::kMul : Op::kDiv, std::move(lhs),
                   std::move(rhs), op);
    }
    return lhs;
  }

  // unary := "-" unary | primary. A negated number literal is folded into a constant.
  NodePtr ParseUnary() {
    if (Peek().kind != TokenKind::kMinus) {
      return ParsePrimary();
    }
    const Token& op = Next();
    if (!Enter(op)) {
      return nullptr;
    }
    NodePtr operand = ParseUnary();
    Leave();
    if (operand == nullptr) {
      return nullptr;
    }
    if (operand->op == Op::kConst && operand->constant.is_number()) {
      operand->constant = Value::Number(-operand->constant.as_number());
      return operand;
    }
    return Unary(Op::kNeg, std::move(operand), op);
  }

  NodePtr ParsePrimary() {
    const Token& t = Peek();
    switch (t.kind) {
      case TokenKind::kNumber:
        Next();
        return Const(Value::Number(t.number));
      case TokenKind::kString:
        Next();
        return Const(Value::String(t.value));
      case TokenKind::kTrue:
        Next();
        return Const(Value::Bool(true));
      case TokenKind::kFalse:
        Next();
        return Const(Value::Bool(false));
      case TokenKind::kNull:
        Next();
        return Const(Value());
      case TokenKind::kLBracket: {
        Value list;
        if (!ParseList(&list)) {
          return nullptr;
        }
        return Const(std::move(list));
      }
      case TokenKind::kLParen: {
        const Token& open = Next();
        if (!Enter(open)) {
          return nullptr;
        }
        NodePtr inner = ParseOr();
        Leave();
        if (inner == nullptr) {
          return nullptr;
        }
        const Token& close = Peek();
        if (close.kind == TokenKind::kEnd) {
          return Fail(open.offset, "unclosed \"(\": expected \")\"");
        }
        if (close.kind != TokenKind::kRParen) {
          return Unexpected(close, "expected \")\" or an operator, found " + Quote(close.text));
        }
        Next();
        return inner;
      }
      case TokenKind::kIdent:
        if (PeekAt(1).kind == TokenKind::kLParen) {
          return ParseCall();
        }
        return ParsePath();
      default:
        return MissingOperand(t);
    }
  }

  std::nullptr_t MissingOperand(const Token& t) {
    if (t.kind == TokenKind::kError) {
      return Fail(t.offset, t.value);
    }
    const Token* prev = pos_ > 0 ? &tokens_[pos_ - 1] : nullptr;
    if (prev == nullptr) {
      if (t.kind == TokenKind::kEnd) {
        return Fail(0, "empty expression: expected a condition such as event == \"Signed Up\"");
      }
      if (t.kind == TokenKind::kRParen) {
        return Fail(t.offset, "unexpected \")\" with no matching \"(\"");
      }
      return Fail(t.offset, "unexpected " + Quote(t.text) +
                                "; expected an operand (a literal, a path or a function call)");
    }
    if (t.kind == TokenKind::kBang || t.kind == TokenKind::kNot) {
      return Fail(t.offset, Quote(t.text) +
                                " binds looser than comparisons and arithmetic; put it in "
                                "parentheses: " +
                                (t.kind == TokenKind::kBang ? "(!x)" : "(not x)"));
    }
    std::string message = "expected an operand after " + Quote(prev->text);
    if (t.kind == TokenKind::kEnd) {
      return Fail(prev->offset, message);
    }
    return Fail(t.offset, message + ", found " + Quote(t.text));
  }

  // list := "[" [literal ("," literal)*] "]"; a literal is a number (optionally negated), a
  // string, true, false, null or a list.
  bool ParseList(Value* out) {
    const Token& open = Next();
    if (!Enter(open)) {
      return false;
    }
    Value::Array items;
    if (Peek().kind == TokenKind::kRBracket) {
      Next();
    } else {
      while (true) {
        Value item;
        if (!ParseLiteral(&item, open)) {
          return false;
        }
        items.push_back(std::move(item));
        const Token& t = Peek();
        if (t.kind == TokenKind::kComma) {
          Next();
          continue;
        }
        if (t.kind == TokenKind::kRBracket) {
          Next();
          break;
        }
        if (t.kind == TokenKind::kEnd) {
          Fail(open.offset, "unclosed list: expected \"]\"");
          return false;
        }
        Unexpected(t, "expected \",\" or \"]\" in a list, found " + Quote(t.text));
        return false;
      }
    }
    Leave();
    *out = Value::MakeArray(std::move(items));
    return true;
  }

  bool ParseLiteral(Value* out, const Token& open) {
    const Token& t = Peek();
    switch (t.kind) {
      case TokenKind::kNumber:
        Next();
        *out = Value::Number(t.number);
        return true;
      case TokenKind::kMinus:
        if (PeekAt(1).kind == TokenKind::kNumber) {
          Next();
          *out = Value::Number(-Next().number);
          return true;
        }
        break;
      case TokenKind::kString:
        Next();
        *out = Value::String(t.value);
        return true;
      case TokenKind::kTrue:
      case TokenKind::kFalse:
        Next();
        *out = Value::Bool(t.kind == TokenKind::kTrue);
        return true;
      case TokenKind::kNull:
        Next();
        *out = Value();
        return true;
      case TokenKind::kLBracket:
        return ParseList(out);
      case TokenKind::kEnd:
        Fail(open.offset, "unclosed list: expected \"]\"");
        return false;
      default:
        break;
    }
    Unexpected(t,
               "a list holds only literals (numbers, strings, true, false, null, lists); "
               "found " +
                   Quote(t.text));
    return false;
  }

  // call := IDENT "(" [or ("," or)*] ")"
  NodePtr ParseCall() {
    const Token& name = Next();
    const Token& open = Next();
    if (!Enter(open)) {
      return nullptr;
    }
    std::vector<NodePtr> args;
    if (Peek().kind == TokenKind::kRParen) {
      Next();
    } else {
      while (true) {
        NodePtr arg = ParseOr();
        if (arg == nullptr) {
          return nullptr;
        }
        args.push_back(std::move(arg));
        const Token& t = Peek();
        if (t.kind == TokenKind::kComma) {
          Next();
          continue;
        }
        if (t.kind == TokenKind::kRParen) {
          Next();
          break;
        }
        if (t.kind == TokenKind::kEnd) {
          return Fail(open.offset,
                      "unclosed \"(\" of " + std::string(name.text) + "(...): expected \")\"");
        }
        return Unexpected(t, "expected \",\" or \")\" in the arguments of " +
                                 std::string(name.text) + "(...), found " + Quote(t.text));
      }
    }
    Leave();
    const Function* fn = nullptr;
    for (const Function& f : kFunctions) {
      if (f.name == name.text) {
        fn = &f;
      }
    }
    if (fn == nullptr) {
      std::string hint = Suggestion(name.text, kFunctionNames);
      if (hint.empty()) {
        hint = "; the functions are exists, lower, len and domain";
      }
      return SemanticError(name.offset, "unknown function " + Quote(name.text) + hint);
    }
    if (args.size() != 1) {
      return SemanticError(name.offset, std::string(name.text) + "() takes 1 argument, got " +
                                            std::to_string(args.size()));
    }
    return Unary(fn->op, std::move(args[0]), name);
  }

  // path := IDENT ("." IDENT | "[" STRING "]")*
  NodePtr ParsePath() {
    const Token& root = Next();
    size_t end = root.offset + root.text.size();
    std::vector<PathKey> keys;
    while (true) {
      if (Peek().kind == TokenKind::kDot) {
        const Token& dot = Next();
        const Token& k = Peek();
        std::string so_far(text_.substr(root.offset, end - root.offset));
        if (k.kind == TokenKind::kIdent) {
          Next();
          keys.push_back({std::string(k.text), k.offset});
          end = k.offset + k.text.size();
          continue;
        }
        if (IsKeyword(k.kind)) {
          return Fail(k.offset, Quote(k.text) + " is a keyword; write the key in brackets: " +
                                    so_far + "[\"" + std::string(k.text) + "\"]");
        }
        if (k.kind == TokenKind::kEnd) {
          return Fail(dot.offset, "expected a key name after \".\"");
        }
        return Unexpected(k, "expected a key name after \".\", found " + Quote(k.text) +
                                 "; a key that is not an identifier is written in brackets: " +
                                 so_far + "[\"key\"]");
      }
      if (Peek().kind == TokenKind::kLBracket) {
        const Token& open = Next();
        const Token& k = Peek();
        if (k.kind != TokenKind::kString) {
          if (k.kind == TokenKind::kEnd) {
            return Fail(open.offset, "expected a quoted key after \"[\"");
          }
          return Unexpected(k,
                            "expected a quoted key after \"[\", such as "
                            "properties[\"utm-source\"]; found " +
                                Quote(k.text));
        }
        Next();
        const Token& close = Peek();
        if (close.kind != TokenKind::kRBracket) {
          if (close.kind == TokenKind::kEnd) {
            return Fail(open.offset, "unclosed \"[\": expected \"]\"");
          }
          return Unexpected(close, "expected \"]\" after the key " + std::string(k.text) +
                                       ", found " + Quote(close.text));
        }
        Next();
        keys.push_back({k.value, k.offset});
        end = close.offset + 1;
        continue;
      }
      break;
    }
    return ClassifyPath(root, std::move(keys), text_.substr(root.offset, end - root.offset));
  }

  NodePtr ClassifyPath(const Token& root, std::vector<PathKey> keys, std::string_view text) {
    const std::string_view name = root.text;
    const size_t at = root.offset;
    auto n = std::make_unique<ExpressionNode>();
    n->op = Op::kPath;
    bool event_path = false;
    if (name == "type" || name == "event") {
      n->root = name == "type" ? PathRoot::kType : PathRoot::kEvent;
      event_path = true;
      if (!keys.empty()) {
        return SemanticError(
            at, Quote(name) + " is a string and has no keys; " + Quote(text) + " is not a path");
      }
    } else if (name == "properties" || name == "context") {
      n->root = name == "properties" ? PathRoot::kProperties : PathRoot::kContext;
      event_path = true;
    } else if (name == "traits") {
      n->root = PathRoot::kTraits;
    } else if (name == "score") {
      n->root = PathRoot::kScore;
      if (keys.empty()) {
        return SemanticError(at, "\"score\" needs a score name: score.NAME");
      }
      if (keys.size() > 1) {
        return SemanticError(
            at, "a score is a number and has no keys; " + Quote(text) + " is not a path");
      }
    } else if (name == "lead") {
      if (keys.size() == 1 && keys[0].key == "id") {
        n->root = PathRoot::kLeadId;
      } else if (keys.size() == 1 && keys[0].key == "stage") {
        n->root = PathRoot::kLeadStage;
      } else {
        return SemanticError(
            at, "unknown path " + Quote(text) + "; lead has only lead.id and lead.stage");
      }
      keys.clear();
    } else {
      for (std::string_view f : kFunctionNames) {
        if (f == name) {
          return SemanticError(
              at, Quote(name) + " is a function; call it as " + std::string(name) + "(...)");
        }
      }
      std::string hint;
      if (const std::string_view root = Nearest(name, kRootNames); !root.empty()) {
        // Suggest the whole path with the root corrected: "scores.fit" -> "score.fit".
        hint = "; did you mean " +
               Quote(std::string(root) + std::string(text.substr(name.size()))) + "?";
      } else {
        hint = "; a path starts with type, event, properties, context, traits, score or lead";
      }
      return SemanticError(at, "unknown path " + Quote(text) + hint);
    }

    const bool is_score = n->root == PathRoot::kScore;
    if (scope_ == ExpressionScope::kProfileRule && (event_path || is_score)) {
      return SemanticError(at, Quote(text) +
                                   " is not visible here: a profile rule sees only traits.* "
                                   "and lead.* (not event data or scores)");
    }
    if (scope_ == ExpressionScope::kLead && event_path) {
      return SemanticError(at, Quote(text) +
                                   " is not visible here: stages and routing see only traits.*, "
                                   "score.* and lead.* (not event data)");
    }
    if (is_score) {
      const std::string& score = keys[0].key;
      auto it = std::find(score_names_.begin(), score_names_.end(), score);
      if (it == score_names_.end()) {
        std::string hint = Suggestion(score, score_names_);
        if (hint.empty()) {
          if (score_names_.empty()) {
            hint = "; no scores are defined";
          } else {
            hint = "; the scores are";
            for (size_t i = 0; i < score_names_.size(); ++i) {
              hint += (i == 0 ? " " : ", ") + score_names_[i];
            }
          }
        }
        return SemanticError(at, "unknown score " + Quote(score) + hint);
      }
      n->score_index = static_cast<int>(it - score_names_.begin());
      reads_score_ = true;
      keys.clear();
    }
    reads_event_ = reads_event_ || event_path;
    for (PathKey& k : keys) {
      n->keys.push_back(std::move(k.key));
    }
    return n;
  }

  std::string_view text_;
  ExpressionScope scope_;
  const std::vector<std::string>& score_names_;
  std::vector<ExpressionError>* errors_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int nesting_ = 0;
  bool failed_ = false;           // a syntax error: parsing stopped
  bool semantic_errors_ = false;  // errors that let parsing go on
  bool reads_event_ = false;
  bool reads_score_ = false;
};

}  // namespace

std::unique_ptr<ExpressionNode> Parse(std::string_view text, ExpressionScope scope,
                                      const std::vector<std::string>& score_names,
                                      std::vector<ExpressionError>* errors, bool* reads_event,
                                      bool* reads_score) {
  const size_t first_new = errors->size();
  std::unique_ptr<ExpressionNode> root =
      Parser(text, scope, score_names, errors).Run(reads_event, reads_score);
  // Arguments are checked before their call: report in text order.
  std::stable_sort(
      errors->begin() + static_cast<std::ptrdiff_t>(first_new), errors->end(),
      [](const ExpressionError& a, const ExpressionError& b) { return a.offset < b.offset; });
  return root;
}

}  // namespace handoff::expression_internal
