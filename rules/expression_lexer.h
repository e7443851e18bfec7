// Lexer of the rule expression language (SPEC 5.1). Internal to rules/expression*.cc.
//
// Lex() turns the whole text into tokens up front; expressions are short, and a token vector lets
// the parser look ahead one token without any state of its own in the lexer. A lexical error ends
// the token stream with a kError token carrying the message, so the parser can still report the
// semantic errors it found before that point.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace handoff::expression_internal {

enum class TokenKind : uint8_t {
  kEnd,     // end of the text
  kError,   // a lexical error; `value` is the message
  kNumber,  // `number`
  kString,  // `value` is the unescaped content
  kIdent,   // [A-Za-z_][A-Za-z0-9_]* that is not a keyword
  // Keywords.
  kAnd,
  kOr,
  kNot,
  kIn,
  kContains,
  kStartsWith,
  kEndsWith,
  kMatches,
  kTrue,
  kFalse,
  kNull,
  // Punctuation.
  kOrOr,
  kAndAnd,
  kBang,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kPlus,
  kMinus,
  kStar,
  kSlash,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kComma,
  kDot,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  size_t offset = 0;      // byte offset of the token's first character
  std::string_view text;  // the token as written (empty for kEnd)
  double number = 0;      // kNumber
  std::string value;      // kString: the unescaped string; kError: the message
};

// True for the keyword kinds (and, or, ..., null).
bool IsKeyword(TokenKind kind);

// Tokenizes `text`. The result always ends with one kEnd or kError token.
std::vector<Token> Lex(std::string_view text);

}  // namespace handoff::expression_internal
