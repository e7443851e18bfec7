#include "rules/expression_lexer.h"

#include <charconv>
#include <cmath>

namespace handoff::expression_internal {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }

int HexDigit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

struct Keyword {
  std::string_view word;
  TokenKind kind;
};

constexpr Keyword kKeywords[] = {
    {"and", TokenKind::kAnd},
    {"or", TokenKind::kOr},
    {"not", TokenKind::kNot},
    {"in", TokenKind::kIn},
    {"contains", TokenKind::kContains},
    {"starts_with", TokenKind::kStartsWith},
    {"ends_with", TokenKind::kEndsWith},
    {"matches", TokenKind::kMatches},
    {"true", TokenKind::kTrue},
    {"false", TokenKind::kFalse},
    {"null", TokenKind::kNull},
};

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  std::vector<Token> Run() {
    while (true) {
      SkipSpace();
      if (pos_ >= text_.size()) {
        Emit(TokenKind::kEnd, pos_, pos_);
        break;
      }
      if (!LexOne()) {
        break;  // the kError token is already emitted
      }
    }
    return std::move(tokens_);
  }

 private:
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  Token& Emit(TokenKind kind, size_t start, size_t end) {
    Token& t = tokens_.emplace_back();
    t.kind = kind;
    t.offset = start;
    t.text = text_.substr(start, end - start);
    return t;
  }

  bool Fail(size_t offset, std::string message) {
    Token& t = Emit(TokenKind::kError, offset, offset);
    t.value = std::move(message);
    return false;
  }

  bool Peek(size_t ahead, char c) const {
    return pos_ + ahead < text_.size() && text_[pos_ + ahead] == c;
  }

  bool Punct(TokenKind kind, size_t len) {
    Emit(kind, pos_, pos_ + len);
    pos_ += len;
    return true;
  }

  bool LexOne() {
    const char c = text_[pos_];
    if (c == '"') {
      return LexString();
    }
    if (IsDigit(c)) {
      return LexNumber();
    }
    if (IsIdentStart(c)) {
      size_t start = pos_;
      while (pos_ < text_.size() && IsIdentChar(text_[pos_])) {
        ++pos_;
      }
      std::string_view word = text_.substr(start, pos_ - start);
      TokenKind kind = TokenKind::kIdent;
      for (const Keyword& k : kKeywords) {
        if (k.word == word) {
          kind = k.kind;
          break;
        }
      }
      Emit(kind, start, pos_);
      return true;
    }
    switch (c) {
      case '|':
        if (Peek(1, '|')) {
          return Punct(TokenKind::kOrOr, 2);
        }
        return Fail(pos_, "unexpected \"|\"; did you mean \"||\"?");
      case '&':
        if (Peek(1, '&')) {
          return Punct(TokenKind::kAndAnd, 2);
        }
        return Fail(pos_, "unexpected \"&\"; did you mean \"&&\"?");
      case '=':
        if (Peek(1, '=')) {
          return Punct(TokenKind::kEq, 2);
        }
        return Fail(pos_, "unexpected \"=\"; to compare, write \"==\"");
      case '!':
        return Peek(1, '=') ? Punct(TokenKind::kNe, 2) : Punct(TokenKind::kBang, 1);
      case '<':
        return Peek(1, '=') ? Punct(TokenKind::kLe, 2) : Punct(TokenKind::kLt, 1);
      case '>':
        return Peek(1, '=') ? Punct(TokenKind::kGe, 2) : Punct(TokenKind::kGt, 1);
      case '+':
        return Punct(TokenKind::kPlus, 1);
      case '-':
        return Punct(TokenKind::kMinus, 1);
      case '*':
        return Punct(TokenKind::kStar, 1);
      case '/':
        return Punct(TokenKind::kSlash, 1);
      case '(':
        return Punct(TokenKind::kLParen, 1);
      case ')':
        return Punct(TokenKind::kRParen, 1);
      case '[':
        return Punct(TokenKind::kLBracket, 1);
      case ']':
        return Punct(TokenKind::kRBracket, 1);
      case ',':
        return Punct(TokenKind::kComma, 1);
      case '.':
        return Punct(TokenKind::kDot, 1);
      case '\'':
        return Fail(pos_, "strings are written in double quotes (\"...\"), not single quotes");
      default:
        break;
    }
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      return Fail(pos_,
                  "unexpected non-ASCII character outside a string; text is written in "
                  "double quotes");
    }
    if (u < 0x20 || u == 0x7F) {
      return Fail(pos_, "unexpected control character outside a string");
    }
    return Fail(pos_, std::string("unexpected character \"") + c + "\"");
  }

  // JSON number syntax without the sign (a leading `-` is the unary minus operator).
  bool LexNumber() {
    const size_t start = pos_;
    auto bad = [&](const char* why) {
      size_t end = pos_;
      while (end < text_.size() && (IsIdentChar(text_[end]) || text_[end] == '.')) {
        ++end;
      }
      return Fail(start, "invalid number \"" + std::string(text_.substr(start, end - start)) +
                             "\": " + why);
    };
    if (text_[pos_] == '0') {
      ++pos_;
      if (pos_ < text_.size() && IsDigit(text_[pos_])) {
        return bad("a number cannot start with 0");
      }
    } else {
      while (pos_ < text_.size() && IsDigit(text_[pos_])) {
        ++pos_;
      }
    }
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (pos_ >= text_.size() || !IsDigit(text_[pos_])) {
        return bad("expected digits after \".\"");
      }
      while (pos_ < text_.size() && IsDigit(text_[pos_])) {
        ++pos_;
      }
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) {
        ++pos_;
      }
      if (pos_ >= text_.size() || !IsDigit(text_[pos_])) {
        return bad("expected digits in the exponent");
      }
      while (pos_ < text_.size() && IsDigit(text_[pos_])) {
        ++pos_;
      }
    }
    if (pos_ < text_.size() && (IsIdentChar(text_[pos_]) || text_[pos_] == '.')) {
      return bad("a number must be followed by a space, an operator or a bracket");
    }
    // from_chars, unlike strtod, ignores the locale.
    const std::string_view literal = text_.substr(start, pos_ - start);
    double d = 0;
    auto [ptr, ec] = std::from_chars(literal.data(), literal.data() + literal.size(), d);
    if (ec == std::errc::result_out_of_range && IsUnderflow(literal)) {
      d = 0;  // a tiny number is 0, as in JSON parsers
    } else if (ec != std::errc() || !std::isfinite(d)) {
      return Fail(start, "number \"" + std::string(literal) + "\" is out of range");
    }
    Emit(TokenKind::kNumber, start, pos_).number = d;
    return true;
  }

  // For an out-of-range literal: true when it is too small rather than too large.
  static bool IsUnderflow(std::string_view literal) {
    size_t e = literal.find_first_of("eE");
    if (e != std::string_view::npos) {
      return e + 1 < literal.size() && literal[e + 1] == '-';
    }
    return literal[0] == '0';  // 0.000...1
  }

  // A JSON string. Errors point at the opening quote: the string is the offending token.
  bool LexString() {
    const size_t start = pos_;
    std::string out;
    size_t i = pos_ + 1;
    while (true) {
      if (i >= text_.size()) {
        return Fail(start, "unterminated string: expected a closing \"");
      }
      const char c = text_[i];
      if (c == '"') {
        ++i;
        break;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return Fail(start,
                    "control character in a string; write it as an escape (\\n, \\t, "
                    "\\u0001, ...)");
      }
      if (c != '\\') {
        out.push_back(c);
        ++i;
        continue;
      }
      if (i + 1 >= text_.size()) {
        return Fail(start, "unterminated string: expected a closing \"");
      }
      const char e = text_[i + 1];
      i += 2;
      switch (e) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          int cp = ReadHex4(i);
          if (cp < 0) {
            return Fail(start, "invalid \\u escape in a string: expected 4 hex digits");
          }
          i += 4;
          if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return Fail(start, "invalid \\u escape in a string: unpaired low surrogate");
          }
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            int low = -1;
            if (i + 1 < text_.size() && text_[i] == '\\' && text_[i + 1] == 'u') {
              low = ReadHex4(i + 2);
            }
            if (low < 0xDC00 || low > 0xDFFF) {
              return Fail(start,
                          "invalid \\u escape in a string: a high surrogate must be "
                          "followed by a \\u escape of a low surrogate");
            }
            i += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          AppendUtf8(static_cast<uint32_t>(cp), &out);
          break;
        }
        default:
          return Fail(start, std::string("invalid escape \"\\") + e +
                                 "\" in a string; valid escapes are \\\" \\\\ \\/ \\b \\f \\n "
                                 "\\r \\t \\uXXXX");
      }
    }
    Emit(TokenKind::kString, start, i).value = std::move(out);
    pos_ = i;
    return true;
  }

  int ReadHex4(size_t at) const {
    if (at + 4 > text_.size()) {
      return -1;
    }
    int cp = 0;
    for (size_t k = 0; k < 4; ++k) {
      int h = HexDigit(text_[at + k]);
      if (h < 0) {
        return -1;
      }
      cp = cp * 16 + h;
    }
    return cp;
  }

  std::string_view text_;
  size_t pos_ = 0;
  std::vector<Token> tokens_;
};

}  // namespace

bool IsKeyword(TokenKind kind) { return kind >= TokenKind::kAnd && kind <= TokenKind::kNull; }

std::vector<Token> Lex(std::string_view text) { return Lexer(text).Run(); }

}  // namespace handoff::expression_internal
