// Internal to the rule loader: reading typed values out of yaml-cpp nodes while collecting
// FILE:LINE:COL errors.
//
// yaml-cpp gives each node a Mark with a 0-based byte position; SourceFile turns byte positions
// into 1-based line and character columns, and maps an offset inside a scalar's decoded value
// (an expression error, a bad `hours` token) back to the byte in the file it came from, through
// quotes, escapes and block-scalar indentation.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/expression.h"
#include "rules/rule_loader.h"
#include "rules/rule_set.h"

namespace handoff::rules_internal {

// One rule file's text with a line index.
class SourceFile {
 public:
  SourceFile(std::string name, std::string text);

  const std::string& name() const { return name_; }
  const std::string& text() const { return text_; }

  // The 1-based line and column (in UTF-8 characters) of byte `pos`; clamped to the text.
  SourcePos PosAt(size_t pos) const;
  // The byte in the file that produced byte `offset` of the decoded value of `scalar` (a scalar
  // node parsed from this text); `offset` == the value's size maps just past its last character.
  // Falls back to the node's own position when the text does not line up.
  size_t ScalarBytePos(const YAML::Node& scalar, size_t offset) const;
  // The byte position of `node` (its first character), skipping a tag or an anchor before it.
  size_t NodeBytePos(const YAML::Node& node) const;
  // True when `node` is a null written explicitly (`~`, `null`), not an empty value.
  bool IsExplicitNull(const YAML::Node& node) const;

 private:
  std::string name_;
  std::string text_;
  std::vector<size_t> line_starts_;
};

// A key and its value in a checked map.
struct Field {
  std::string name;
  YAML::Node key;
  YAML::Node value;
};

class MapFields {
 public:
  const Field* Find(std::string_view name) const;
  const std::vector<Field>& all() const { return fields_; }
  std::vector<Field>* mutable_all() { return &fields_; }
  YAML::Node node;  // the map itself

 private:
  std::vector<Field> fields_;
};

// Reads nodes of one file and appends errors to a shared list.
class YamlReader {
 public:
  YamlReader(const SourceFile* file, std::vector<LoadError>* errors)
      : file_(file), errors_(errors) {}

  const SourceFile& file() const { return *file_; }
  SourcePos Pos(const YAML::Node& node) const;
  void Error(const YAML::Node& node, std::string message);
  void ErrorAtByte(size_t pos, std::string message);
  size_t error_count() const { return errors_->size(); }

  // Checks that `node` is a map; reports every key not in `allowed` (suggesting the nearest),
  // every duplicate key and every non-scalar key. Returns the known keys in document order, or
  // nullopt when `node` is not a map (reported as "`what` must be a map ..."). `what` names the
  // map in messages ("rule", "team", ...).
  std::optional<MapFields> ReadMap(const YAML::Node& node, std::string_view what,
                                   const std::vector<std::string_view>& allowed);
  // Reports each key of `required` missing from `fields`, at the map. False when any is missing.
  bool Require(const MapFields& fields, std::string_view what,
               const std::vector<std::string_view>& required);

  // Typed values. Each reports a wrong value at the value (an empty value at its key) with a
  // message that names the key and what it expects, and returns nullopt.
  std::optional<std::string> String(const Field& f);  // a scalar's text
  std::optional<bool> Bool(const Field& f);
  std::optional<double> Number(const Field& f);  // finite
  std::optional<int64_t> Integer(const Field& f, int64_t min);
  std::optional<double> Duration(const Field& f);  // seconds
  // A YAML boolean, number or null is that constant; any other scalar is compiled in `scope`.
  // Compile errors are reported at the offending token's position in the file.
  std::optional<Expression> Expr(const Field& f, ExpressionScope scope,
                                 const std::vector<std::string>& score_names);
  // A list of scalars as values: a plain YAML boolean or number is that (`[1, true]`), any other
  // scalar (quoted, or plain text) a string.
  std::optional<std::vector<Value>> ValueList(const Field& f);

  // For messages: `a map`, `a list`, `no value`, `"text"` (plain), `the string "text"` (quoted).
  std::string Describe(const YAML::Node& node) const;

 private:
  // Reports a missing value; true when `f` has none.
  bool Empty(const Field& f, std::string_view expected);

  const SourceFile* file_;
  std::vector<LoadError>* errors_;
};

// YAML 1.2 core-schema spellings, for plain scalars.
bool IsPlain(const YAML::Node& scalar);
std::optional<bool> ParseYamlBool(std::string_view text);
// A finite number: decimal, 0o octal or 0x hexadecimal; nullopt for anything else.
std::optional<double> ParseYamlNumber(std::string_view text);
// `.inf`, `-.inf`, `+.inf` or `.nan` (in their three spellings); nullopt for anything else.
std::optional<double> ParseYamlNonFinite(std::string_view text);

// True when `s` is non-empty and every character is in [a-z0-9_-].
bool IsSlug(std::string_view s);

}  // namespace handoff::rules_internal
