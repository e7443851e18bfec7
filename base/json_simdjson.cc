#include "base/json_simdjson.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/timestamp.h"

namespace handoff {

namespace ondemand = simdjson::ondemand;
using simdjson::error_code;
using simdjson::SUCCESS;

simdjson::padded_string_view PaddedBuffer::Pad(std::string_view json, bool wrap_in_array) {
  const size_t size = json.size() + (wrap_in_array ? 2 : 0);
  const size_t needed = size + simdjson::SIMDJSON_PADDING;
  if (needed > capacity_) {
    capacity_ = std::max({needed, capacity_ * 2, size_t{4096}});
    buffer_ = std::make_unique<char[]>(capacity_);
  }
  char* p = buffer_.get();
  if (wrap_in_array) {
    *p++ = '[';
  }
  std::memcpy(p, json.data(), json.size());
  p += json.size();
  if (wrap_in_array) {
    *p++ = ']';
  }
  std::memset(p, 0, simdjson::SIMDJSON_PADDING);
  return simdjson::padded_string_view(buffer_.get(), size, capacity_);
}

bool AtDocumentEnd(ondemand::document& doc) {
  return doc.current_location().error() == simdjson::OUT_OF_BOUNDS;
}

std::string JsonErrorMessage(error_code error) {
  switch (error) {
    case simdjson::INCORRECT_TYPE:  // our walkers only ask for the type a token announced
    case simdjson::T_ATOM_ERROR:
    case simdjson::F_ATOM_ERROR:
    case simdjson::N_ATOM_ERROR:
      return "invalid JSON: bad literal (expected true, false or null)";
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT:
      // simdjson reports this whenever the last bracket does not close the first: text after a
      // complete object ({...}x) as well as an object cut short. Its own message names only
      // the second.
      return "invalid JSON: the text does not end where its outermost object or array closes (a "
             "closing bracket is missing, or something follows it)";
    default:
      return std::string("invalid JSON: ") + simdjson::error_message(error);
  }
}

namespace {

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Below this many members, duplicate keys are found by comparing every pair (no allocation);
// above it, by sorting member indexes by key.
constexpr size_t kSmallObject = 32;

bool HasDuplicateKeys(const Value::Object& members) {
  const size_t n = members.size();
  if (n < 2) {
    return false;
  }
  if (n <= kSmallObject) {
    for (size_t i = 1; i < n; ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (members[i].first == members[j].first) {
          return true;
        }
      }
    }
    return false;
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return members[a].first < members[b].first; });
  for (size_t i = 1; i < n; ++i) {
    if (members[order[i]].first == members[order[i - 1]].first) {
      return true;
    }
  }
  return false;
}

// Keeps one member per key: the first one's position, the last one's value (as Value::Set
// would have done member by member). Rare: only objects that really have duplicates get here.
void RemoveDuplicateKeys(Value::Object* members) {
  std::unordered_map<std::string, size_t> position;
  size_t kept = 0;
  for (size_t i = 0; i < members->size(); ++i) {
    auto [it, inserted] = position.try_emplace((*members)[i].first, kept);
    if (!inserted) {
      (*members)[it->second].second = std::move((*members)[i].second);
      continue;
    }
    if (kept != i) {
      (*members)[kept] = std::move((*members)[i]);
    }
    ++kept;
  }
  members->erase(members->begin() + static_cast<std::ptrdiff_t>(kept), members->end());
}

}  // namespace

std::string_view JsonNumberText(ondemand::value json) {
  std::string_view raw = json.raw_json_token();  // with the whitespace after it
  while (!raw.empty() && IsJsonSpace(raw.back())) {
    raw.remove_suffix(1);
  }
  return raw;
}

error_code JsonNumberToDouble(ondemand::value json, double* out) {
  const error_code err = json.get_double().get(*out);
  if (err != simdjson::NUMBER_ERROR) {
    return err;
  }
  // simdjson refuses numbers it cannot hold as a finite double (1e400). JSON has no such limit,
  // so if the token is a well-formed number, let strtod give the nearest double (+-inf or 0).
  const std::string_view raw = JsonNumberText(json);
  if (!IsJsonNumberText(raw)) {
    return simdjson::NUMBER_ERROR;
  }
  const std::string terminated(raw);
  *out = std::strtod(terminated.c_str(), nullptr);
  return SUCCESS;
}

error_code SkipJsonValue(ondemand::value json, int max_depth) {
  ondemand::json_type type;
  HANDOFF_JSON_TRY(json.type().get(type));
  switch (type) {
    case ondemand::json_type::object: {
      if (max_depth <= 0) {
        return simdjson::DEPTH_ERROR;
      }
      ondemand::object object;
      HANDOFF_JSON_TRY(json.get_object().get(object));
      for (auto field : object) {
        std::string_view key;
        HANDOFF_JSON_TRY(field.unescaped_key().get(key));
        ondemand::value child;
        HANDOFF_JSON_TRY(field.value().get(child));
        HANDOFF_JSON_TRY(SkipJsonValue(child, max_depth - 1));
      }
      return SUCCESS;
    }
    case ondemand::json_type::array: {
      if (max_depth <= 0) {
        return simdjson::DEPTH_ERROR;
      }
      ondemand::array array;
      HANDOFF_JSON_TRY(json.get_array().get(array));
      for (auto element : array) {
        ondemand::value child;
        HANDOFF_JSON_TRY(element.get(child));
        HANDOFF_JSON_TRY(SkipJsonValue(child, max_depth - 1));
      }
      return SUCCESS;
    }
    case ondemand::json_type::string: {
      std::string_view s;
      return json.get_string().get(s);
    }
    case ondemand::json_type::number: {
      double d;
      return JsonNumberToDouble(json, &d);
    }
    case ondemand::json_type::boolean: {
      bool b;
      return json.get_bool().get(b);
    }
    case ondemand::json_type::null: {
      bool is_null = false;
      HANDOFF_JSON_TRY(json.is_null().get(is_null));
      return is_null ? SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::TAPE_ERROR;
}

error_code JsonToValue(ondemand::value json, Value* out, int max_depth) {
  ondemand::json_type type;
  HANDOFF_JSON_TRY(json.type().get(type));
  switch (type) {
    case ondemand::json_type::object: {
      if (max_depth <= 0) {
        return simdjson::DEPTH_ERROR;
      }
      ondemand::object object;
      HANDOFF_JSON_TRY(json.get_object().get(object));
      if (!out->is_object()) {
        *out = Value::MakeObject();
      }
      // Overwrite the members already there (keeping their strings' and containers' storage),
      // then drop the ones left over.
      Value::Object& members = out->mutable_object();
      size_t n = 0;
      for (auto field : object) {
        std::string_view key;
        HANDOFF_JSON_TRY(field.unescaped_key().get(key));
        ondemand::value child;
        HANDOFF_JSON_TRY(field.value().get(child));
        if (n < members.size()) {
          members[n].first.assign(key);
        } else {
          members.emplace_back(std::string(key), Value());
        }
        HANDOFF_JSON_TRY(JsonToValue(child, &members[n].second, max_depth - 1));
        ++n;
      }
      members.erase(members.begin() + static_cast<std::ptrdiff_t>(n), members.end());
      if (HasDuplicateKeys(members)) {
        RemoveDuplicateKeys(&members);
      }
      return SUCCESS;
    }
    case ondemand::json_type::array: {
      if (max_depth <= 0) {
        return simdjson::DEPTH_ERROR;
      }
      ondemand::array array;
      HANDOFF_JSON_TRY(json.get_array().get(array));
      if (!out->is_array()) {
        *out = Value::MakeArray();
      }
      Value::Array& elements = out->mutable_array();
      size_t n = 0;
      for (auto element : array) {
        ondemand::value child;
        HANDOFF_JSON_TRY(element.get(child));
        if (n == elements.size()) {
          elements.emplace_back();
        }
        HANDOFF_JSON_TRY(JsonToValue(child, &elements[n], max_depth - 1));
        ++n;
      }
      elements.erase(elements.begin() + static_cast<std::ptrdiff_t>(n), elements.end());
      return SUCCESS;
    }
    case ondemand::json_type::string: {
      std::string_view s;
      HANDOFF_JSON_TRY(json.get_string().get(s));
      out->AssignString(s);
      return SUCCESS;
    }
    case ondemand::json_type::number: {
      double d;
      HANDOFF_JSON_TRY(JsonNumberToDouble(json, &d));
      *out = Value::Number(d);
      return SUCCESS;
    }
    case ondemand::json_type::boolean: {
      bool b;
      HANDOFF_JSON_TRY(json.get_bool().get(b));
      *out = Value::Bool(b);
      return SUCCESS;
    }
    case ondemand::json_type::null: {
      bool is_null = false;
      HANDOFF_JSON_TRY(json.is_null().get(is_null));
      if (!is_null) {
        return simdjson::N_ATOM_ERROR;
      }
      *out = Value();
      return SUCCESS;
    }
  }
  return simdjson::TAPE_ERROR;
}

}  // namespace handoff
