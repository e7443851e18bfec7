// Value: a JSON value (null, bool, number, string, array, object) owned by value.
//
// Used for event properties/context/traits, lead traits and literal lists in rules. Objects keep
// their members in insertion order with unique keys (Set replaces in place), so a lead's traits
// print in the order they were first seen. Not thread-safe for concurrent mutation; const access
// from many threads is fine.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace handoff {

class Value {
 public:
  enum class Type : uint8_t { kNull = 0, kBool, kNumber, kString, kArray, kObject };
  using Array = std::vector<Value>;
  using Member = std::pair<std::string, Value>;
  using Object = std::vector<Member>;

  Value() = default;  // null
  static Value Null() { return Value(); }
  static Value Bool(bool b) { return Value(Storage(std::in_place_index<1>, b)); }
  static Value Number(double d) { return Value(Storage(std::in_place_index<2>, d)); }
  static Value String(std::string s) {
    return Value(Storage(std::in_place_index<3>, std::move(s)));
  }
  static Value MakeArray(Array a = {}) {
    return Value(Storage(std::in_place_index<4>, std::move(a)));
  }
  static Value MakeObject(Object o = {}) {
    return Value(Storage(std::in_place_index<5>, std::move(o)));
  }

  Type type() const { return static_cast<Type>(data_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  bool is_bool() const { return type() == Type::kBool; }
  bool is_number() const { return type() == Type::kNumber; }
  bool is_string() const { return type() == Type::kString; }
  bool is_array() const { return type() == Type::kArray; }
  bool is_object() const { return type() == Type::kObject; }

  // Accessors assert the type; check it first.
  bool as_bool() const { return std::get<1>(data_); }
  double as_number() const { return std::get<2>(data_); }
  const std::string& as_string() const { return std::get<3>(data_); }
  const Array& as_array() const { return std::get<4>(data_); }
  Array& mutable_array() { return std::get<4>(data_); }
  const Object& as_object() const { return std::get<5>(data_); }
  Object& mutable_object() { return std::get<5>(data_); }

  // Makes this the string `s`; a string already here keeps its storage (no allocation when it
  // has the room: the parser overwrites recycled events this way).
  void AssignString(std::string_view s) {
    if (auto* held = std::get_if<3>(&data_); held != nullptr) {
      held->assign(s);
    } else {
      data_.emplace<3>(s);
    }
  }

  // Object member lookup; nullptr when this is not an object or has no such key.
  const Value* Find(std::string_view key) const;
  // Find, key after key (a path such as `traits.company.size` below its root); nullptr as soon as
  // one step finds nothing. No keys: this value.
  const Value* FindPath(const std::vector<std::string>& keys) const;
  Value* FindMutable(std::string_view key);
  // Object: sets key to v (replacing an existing member in place). Turns a non-object into {}.
  void Set(std::string_view key, Value v);
  // Object: removes key; false when absent.
  bool Erase(std::string_view key);

  // Structural equality; numbers compare as doubles, objects compare order-insensitively.
  bool operator==(const Value& other) const;

  // Compact JSON. Numbers print in the shortest form that reads back to the same double;
  // non-finite numbers print as null.
  void AppendJson(std::string* out) const;
  std::string ToJson() const;

 private:
  using Storage = std::variant<std::monostate, bool, double, std::string, Array, Object>;
  explicit Value(Storage s) : data_(std::move(s)) {}
  Storage data_;
};

// JSON helpers shared by every writer of JSON text.
// With quotes and escapes. Bytes that start no well-formed UTF-8 character are written as
// U+FFFD, one each, so the result is JSON whatever `s` holds (valid UTF-8 passes unchanged).
void AppendJsonString(std::string_view s, std::string* out);
std::string JsonQuoted(std::string_view s);  // the same string literal, returned (for messages)
// The shortest digits that read back as `d`; integers below 1e16 as integers, and exponent form
// only below 1e-5 or from 1e16 up. Infinities and NaN (no JSON spelling) as null.
void AppendJsonNumber(double d, std::string* out);

}  // namespace handoff
