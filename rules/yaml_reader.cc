#include "rules/yaml_reader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "rules/duration.h"
#include "rules/suggest.h"

namespace handoff::rules_internal {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsWordChar(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

int HexValue(std::string_view s, bool* ok) {
  int v = 0;
  for (char c : s) {
    v *= 16;
    if (c >= '0' && c <= '9') {
      v += c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v += c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v += c - 'A' + 10;
    } else {
      *ok = false;
      return 0;
    }
  }
  return v;
}

size_t Utf8Length(int codepoint) {
  if (codepoint < 0x80) {
    return 1;
  }
  if (codepoint < 0x800) {
    return 2;
  }
  if (codepoint < 0x10000) {
    return 3;
  }
  return 4;
}

// A double-quoted escape starting at text[s] == '\\': how many source bytes it spans and how
// many bytes of the decoded value it produces (YAML 1.2 section 5.7).
void DoubleQuotedEscape(std::string_view text, size_t s, size_t* source_len, size_t* produced) {
  *source_len = 2;
  *produced = 1;
  if (s + 1 >= text.size()) {
    *source_len = 1;
    return;
  }
  const char c = text[s + 1];
  size_t hex_digits = 0;
  switch (c) {
    case 'x':
      hex_digits = 2;
      break;
    case 'u':
      hex_digits = 4;
      break;
    case 'U':
      hex_digits = 8;
      break;
    case 'N':
    case '_':
      *produced = 2;  // U+0085, U+00A0
      return;
    case 'L':
    case 'P':
      *produced = 3;  // U+2028, U+2029
      return;
    case '\r':
    case '\n': {  // an escaped line break: nothing, and the next line's indentation is dropped
      size_t i = s + 1;
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
        ++i;
      }
      ++i;
      while (i < text.size() && IsBlank(text[i])) {
        ++i;
      }
      *source_len = i - s;
      *produced = 0;
      return;
    }
    default:
      return;
  }
  if (s + 2 + hex_digits > text.size()) {
    return;
  }
  bool ok = true;
  const int cp = HexValue(text.substr(s + 2, hex_digits), &ok);
  if (ok) {
    *source_len = 2 + hex_digits;
    *produced = Utf8Length(cp);
  }
}

std::string Quote(std::string_view s) {
  constexpr size_t kMax = 60;
  std::string out = "\"";
  if (s.size() > kMax) {
    out.append(s.substr(0, kMax));
    out.append("...");
  } else {
    out.append(s);
  }
  out.push_back('"');
  return out;
}

std::string JoinNames(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) {
      out.append(", ");
    }
    out.append(n);
  }
  return out;
}

}  // namespace

// ---- SourceFile ----

SourceFile::SourceFile(std::string name, std::string text)
    : name_(std::move(name)), text_(std::move(text)) {
  line_starts_.push_back(0);
  for (size_t i = 0; i < text_.size(); ++i) {
    if (text_[i] == '\n') {
      line_starts_.push_back(i + 1);
    }
  }
}

SourcePos SourceFile::PosAt(size_t pos) const {
  pos = std::min(pos, text_.size());
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), pos);
  const size_t line = static_cast<size_t>(it - line_starts_.begin()) - 1;
  int col = 1;
  for (size_t i = line_starts_[line]; i < pos; ++i) {
    if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) {
      ++col;
    }
  }
  return SourcePos{name_, static_cast<int>(line) + 1, col};
}

size_t SourceFile::NodeBytePos(const YAML::Node& node) const {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null() || mark.pos < 0) {
    return 0;
  }
  return std::min(static_cast<size_t>(mark.pos), text_.size());
}

bool SourceFile::IsExplicitNull(const YAML::Node& node) const {
  if (!node.IsNull()) {
    return false;
  }
  const std::string_view rest = std::string_view(text_).substr(NodeBytePos(node));
  size_t len = 0;
  if (!rest.empty() && rest[0] == '~') {
    len = 1;
  } else if (rest.starts_with("null") || rest.starts_with("Null") || rest.starts_with("NULL")) {
    len = 4;
  } else {
    return false;
  }
  return len == rest.size() || !IsWordChar(rest[len]);
}

size_t SourceFile::ScalarBytePos(const YAML::Node& scalar, size_t offset) const {
  const size_t node_pos = NodeBytePos(scalar);
  const std::string& value = scalar.Scalar();
  if (value.empty()) {
    return node_pos;  // an empty value: point at its quotes, if any
  }
  const std::string_view text(text_);
  size_t s = node_pos;
  // A tag or an anchor may come first (`!!str x`, `&a x`).
  while (s < text.size() && (text[s] == '!' || text[s] == '&')) {
    while (s < text.size() && !IsBlank(text[s]) && text[s] != '\n') {
      ++s;
    }
    while (s < text.size() && (IsBlank(text[s]) || text[s] == '\n' || text[s] == '\r')) {
      ++s;
    }
  }
  if (s >= text.size()) {
    return node_pos;
  }
  enum class Style { kPlain, kSingle, kDouble, kBlock } style = Style::kPlain;
  if (text[s] == '"') {
    style = Style::kDouble;
    ++s;
  } else if (text[s] == '\'') {
    style = Style::kSingle;
    ++s;
  } else if (!IsPlain(scalar) && (text[s] == '|' || text[s] == '>')) {
    style = Style::kBlock;
    while (s < text.size() && text[s] != '\n') {  // the header line: indicators, a comment
      ++s;
    }
    ++s;
  }

  // Walk the decoded value and the source together: a value byte matches the next source byte
  // equal to it; source bytes that produce nothing (indentation, line breaks folded away, the
  // second quote of '') are skipped; escapes produce their bytes at the backslash.
  size_t i = 0;
  size_t after_last = s;
  size_t skipped = 0;
  constexpr size_t kMaxSkipped = 4096;  // give up rather than wander through the file
  while (s < text.size() && skipped < kMaxSkipped) {
    if (style == Style::kDouble && text[s] == '\\') {
      size_t len = 0;
      size_t produced = 0;
      DoubleQuotedEscape(text, s, &len, &produced);
      if (offset < i + produced) {
        return s;
      }
      i += produced;
      s += len;
      after_last = s;
      continue;
    }
    if (style == Style::kDouble && text[s] == '"') {
      break;  // the closing quote
    }
    if (style == Style::kSingle && text[s] == '\'') {
      if (s + 1 < text.size() && text[s + 1] == '\'' && i < value.size() && value[i] == '\'') {
        if (offset == i) {
          return s;
        }
        ++i;
        s += 2;
        after_last = s;
        continue;
      }
      break;  // the closing quote
    }
    if (i >= value.size()) {
      break;
    }
    if (text[s] == value[i]) {
      if (offset == i) {
        return s;
      }
      ++i;
      ++s;
      after_last = s;
    } else {
      ++s;
      ++skipped;
    }
  }
  if (offset >= value.size() && i >= value.size()) {
    return after_last;
  }
  return node_pos;
}

// ---- MapFields ----

const Field* MapFields::Find(std::string_view name) const {
  for (const Field& f : fields_) {
    if (f.name == name) {
      return &f;
    }
  }
  return nullptr;
}

// ---- YamlReader ----

SourcePos YamlReader::Pos(const YAML::Node& node) const {
  return file_->PosAt(file_->NodeBytePos(node));
}

void YamlReader::Error(const YAML::Node& node, std::string message) {
  ErrorAtByte(file_->NodeBytePos(node), std::move(message));
}

void YamlReader::ErrorAtByte(size_t pos, std::string message) {
  SourcePos p = file_->PosAt(pos);
  errors_->push_back(LoadError{std::move(p.file), p.line, p.col, std::move(message)});
}

std::string YamlReader::Describe(const YAML::Node& node) const {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return node.size() == 0 ? "an empty map" : "a map";
    case YAML::NodeType::Sequence:
      return node.size() == 0 ? "an empty list" : "a list";
    case YAML::NodeType::Null:
      return file_->IsExplicitNull(node) ? "null" : "no value";
    case YAML::NodeType::Scalar:
      return IsPlain(node) ? Quote(node.Scalar()) : "the string " + Quote(node.Scalar());
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

std::optional<MapFields> YamlReader::ReadMap(const YAML::Node& node, std::string_view what,
                                             const std::vector<std::string_view>& allowed) {
  if (!node.IsMap()) {
    Error(node, std::string(what) + " must be a map (keys: " + JoinNames(allowed) + "), got " +
                    Describe(node));
    return std::nullopt;
  }
  MapFields fields;
  fields.node = node;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;
    if (!key.IsScalar()) {
      Error(key, "keys in " + std::string(what) + " must be names, got " + Describe(key));
      continue;
    }
    const std::string& name = key.Scalar();
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string hint = DidYouMean(name, allowed);
      if (hint.empty()) {
        hint = " (expected one of: " + JoinNames(allowed) + ")";
      }
      Error(key, "unknown key " + Quote(name) + " in " + std::string(what) + hint);
      continue;
    }
    if (const Field* first = fields.Find(name)) {
      Error(key, "duplicate key " + Quote(name) + " in " + std::string(what) +
                     " (first given at line " + std::to_string(Pos(first->key).line) + ")");
      continue;
    }
    fields.mutable_all()->push_back(Field{name, key, it->second});
  }
  return fields;
}

bool YamlReader::Require(const MapFields& fields, std::string_view what,
                         const std::vector<std::string_view>& required) {
  bool ok = true;
  for (std::string_view name : required) {
    if (fields.Find(name) == nullptr) {
      Error(fields.node,
            "missing required key \"" + std::string(name) + "\" in " + std::string(what));
      ok = false;
    }
  }
  return ok;
}

bool YamlReader::Empty(const Field& f, std::string_view expected) {
  if (f.value.IsNull() && !file_->IsExplicitNull(f.value)) {
    Error(f.key, f.name + " has no value: expected " + std::string(expected));
    return true;
  }
  return false;
}

std::optional<std::string> YamlReader::String(const Field& f) {
  if (Empty(f, "a name")) {
    return std::nullopt;
  }
  if (!f.value.IsScalar()) {
    Error(f.value, f.name + " must be a single value, got " + Describe(f.value));
    return std::nullopt;
  }
  return f.value.Scalar();
}

std::optional<bool> YamlReader::Bool(const Field& f) {
  if (Empty(f, "true or false")) {
    return std::nullopt;
  }
  if (f.value.IsScalar() && IsPlain(f.value)) {
    if (std::optional<bool> b = ParseYamlBool(f.value.Scalar())) {
      return b;
    }
  }
  Error(f.value, f.name + " must be true or false, got " + Describe(f.value));
  return std::nullopt;
}

std::optional<double> YamlReader::Number(const Field& f) {
  if (Empty(f, "a number")) {
    return std::nullopt;
  }
  if (f.value.IsScalar() && IsPlain(f.value)) {
    if (std::optional<double> d = ParseYamlNumber(f.value.Scalar())) {
      return d;
    }
  }
  std::string message = f.name + " must be a number, got " + Describe(f.value);
  if (f.value.IsScalar() && !IsPlain(f.value) && ParseYamlNumber(f.value.Scalar())) {
    message += " (remove the quotes)";
  }
  Error(f.value, std::move(message));
  return std::nullopt;
}

std::optional<int64_t> YamlReader::Integer(const Field& f, int64_t min) {
  // The bound is said too: "a whole number >= 1, got 2147483648" read as a contradiction.
  const std::string expected = "a whole number from " + std::to_string(min) + " to " +
                               std::to_string(std::numeric_limits<int32_t>::max());
  if (Empty(f, expected)) {
    return std::nullopt;
  }
  if (f.value.IsScalar() && IsPlain(f.value)) {
    std::optional<double> d = ParseYamlNumber(f.value.Scalar());
    if (d && *d == std::floor(*d) && *d >= static_cast<double>(min) &&
        *d <= std::numeric_limits<int32_t>::max()) {
      return static_cast<int64_t>(*d);
    }
  }
  Error(f.value, f.name + " must be " + expected + ", got " + Describe(f.value));
  return std::nullopt;
}

std::optional<double> YamlReader::Duration(const Field& f) {
  if (Empty(f, "a duration like 90s, 10m or 14d")) {
    return std::nullopt;
  }
  if (!f.value.IsScalar()) {
    Error(f.value, f.name + " must be a duration like 90s, 10m or 14d, got " + Describe(f.value));
    return std::nullopt;
  }
  double seconds = 0;
  std::string error;
  if (!ParseDuration(f.value.Scalar(), &seconds, &error)) {
    Error(f.value, f.name + ": " + error);
    return std::nullopt;
  }
  return seconds;
}

std::optional<Expression> YamlReader::Expr(const Field& f, ExpressionScope scope,
                                           const std::vector<std::string>& score_names) {
  if (Empty(f, "an expression (write true to always hold)")) {
    return std::nullopt;
  }
  const YAML::Node& v = f.value;
  if (v.IsNull()) {
    return Expression::Constant(Value::Null());
  }
  if (!v.IsScalar()) {
    Error(v, f.name + " must be an expression, got " + Describe(v) +
                 " (quote an expression that starts with '[' or '{')");
    return std::nullopt;
  }
  const std::string& tag = v.Tag();
  if (tag != "?" && tag != "!" && tag != "tag:yaml.org,2002:str") {
    Error(v, f.name + ": YAML reads \"" + tag +
                 "\" as a tag; quote an expression that starts "
                 "with '!' (e.g. " +
                 f.name + ": '!traits.unsubscribed')");
    return std::nullopt;
  }
  if (IsPlain(v)) {
    if (std::optional<bool> b = ParseYamlBool(v.Scalar())) {
      return Expression::Constant(Value::Bool(*b));
    }
    if (std::optional<double> d = ParseYamlNumber(v.Scalar())) {
      return Expression::Constant(Value::Number(*d));
    }
    // `.inf` and `.nan` are YAML numbers too. As a condition only its truth counts, and a number
    // is never `true`; it is held as null so that no non-finite constant enters the rules.
    if (ParseYamlNonFinite(v.Scalar())) {
      return Expression::Constant(Value::Null());
    }
  }
  std::vector<ExpressionError> errors;
  Expression expr = Expression::Compile(v.Scalar(), scope, score_names, &errors);
  for (ExpressionError& e : errors) {
    ErrorAtByte(file_->ScalarBytePos(v, e.offset), std::move(e.message));
  }
  if (!expr.ok()) {
    if (errors.empty()) {
      Error(v, f.name + ": invalid expression");
    }
    return std::nullopt;
  }
  return expr;
}

std::optional<std::vector<Value>> YamlReader::ValueList(const Field& f) {
  if (Empty(f, "a list like [a, b]")) {
    return std::nullopt;
  }
  if (!f.value.IsSequence()) {
    Error(f.value, f.name + " must be a list like [a, b], got " + Describe(f.value));
    return std::nullopt;
  }
  std::vector<Value> out;
  bool ok = true;
  for (const YAML::Node& item : f.value) {
    if (!item.IsScalar()) {
      Error(item, "each item of " + f.name + " must be a single value, got " + Describe(item));
      ok = false;
      continue;
    }
    if (IsPlain(item)) {
      if (std::optional<bool> b = ParseYamlBool(item.Scalar())) {
        out.push_back(Value::Bool(*b));
        continue;
      }
      if (std::optional<double> d = ParseYamlNumber(item.Scalar())) {
        out.push_back(Value::Number(*d));
        continue;
      }
    }
    out.push_back(Value::String(item.Scalar()));
  }
  if (!ok) {
    return std::nullopt;
  }
  return out;
}

// ---- scalars ----

bool IsPlain(const YAML::Node& scalar) { return scalar.Tag() == "?"; }

std::optional<bool> ParseYamlBool(std::string_view text) {
  if (text == "true" || text == "True" || text == "TRUE") {
    return true;
  }
  if (text == "false" || text == "False" || text == "FALSE") {
    return false;
  }
  return std::nullopt;
}

namespace {

// The core schema's integers in another base: 0o[0-7]+ and 0x[0-9a-fA-F]+ (no sign).
std::optional<double> ParseYamlBaseInteger(std::string_view text) {
  if (text.size() < 3 || text[0] != '0' || (text[1] != 'o' && text[1] != 'x')) {
    return std::nullopt;
  }
  const int base = text[1] == 'o' ? 8 : 16;
  double value = 0;
  for (char c : text.substr(2)) {
    int digit = -1;
    if (IsDigit(c)) {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    }
    if (digit < 0 || digit >= base) {
      return std::nullopt;
    }
    value = value * base + digit;
  }
  if (!std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

std::optional<double> ParseYamlNonFinite(std::string_view text) {
  // YAML 1.2 core schema: [-+]? ( \.inf | \.Inf | \.INF ) and \.nan | \.NaN | \.NAN
  if (text == ".nan" || text == ".NaN" || text == ".NAN") {
    return std::numeric_limits<double>::quiet_NaN();
  }
  const bool negative = !text.empty() && text[0] == '-';
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    text.remove_prefix(1);
  }
  if (text == ".inf" || text == ".Inf" || text == ".INF") {
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  return std::nullopt;
}

std::optional<double> ParseYamlNumber(std::string_view text) {
  if (std::optional<double> d = ParseYamlBaseInteger(text)) {
    return d;
  }
  // YAML 1.2 core schema: [-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
  size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
    ++i;
  }
  size_t int_digits = 0;
  while (i < text.size() && IsDigit(text[i])) {
    ++i;
    ++int_digits;
  }
  size_t frac_digits = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && IsDigit(text[i])) {
      ++i;
      ++frac_digits;
    }
  }
  if (int_digits == 0 && frac_digits == 0) {
    return std::nullopt;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
      ++i;
    }
    size_t exp_digits = 0;
    while (i < text.size() && IsDigit(text[i])) {
      ++i;
      ++exp_digits;
    }
    if (exp_digits == 0) {
      return std::nullopt;
    }
  }
  if (i != text.size()) {
    return std::nullopt;
  }
  std::string_view digits = text[0] == '+' ? text.substr(1) : text;
  double d = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), d);
  if (ec != std::errc() || end != digits.data() + digits.size() || !std::isfinite(d)) {
    return std::nullopt;
  }
  return d;
}

bool IsSlug(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || IsDigit(c) || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

}  // namespace handoff::rules_internal
