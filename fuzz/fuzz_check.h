// Shared helpers of the fuzz targets (fuzz/*_fuzzer.cc).
//
// FUZZ_CHECK is the targets' assert: it stays on in every build type, prints the broken invariant
// and aborts, so libFuzzer records the input as a crash.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/json_parser.h"
#include "handoff/value.h"

#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (false)

namespace handoff::fuzz {

// Objects hold unique keys at every depth (the contract of handoff/value.h).
inline bool KeysUnique(const Value& v) {
  if (v.is_array()) {
    for (const Value& e : v.as_array()) {
      if (!KeysUnique(e)) {
        return false;
      }
    }
  } else if (v.is_object()) {
    const Value::Object& members = v.as_object();
    for (size_t i = 0; i < members.size(); ++i) {
      for (size_t j = i + 1; j < members.size(); ++j) {
        if (members[i].first == members[j].first) {
          return false;
        }
      }
      if (!KeysUnique(members[i].second)) {
        return false;
      }
    }
  }
  return true;
}

// Whether `text` is one valid JSON text (what every reply line and body must be).
inline bool IsJson(JsonParser& parser, std::string_view text, Value* out) {
  return parser.Parse(text, out).ok();
}

// Whether `s` is valid UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF): the only
// text JSON may carry (RFC 8259), and what the JSON parsers accept.
inline bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) {  // the sequence runs past the end
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

// A value printed as JSON reads back as the same value (non-finite numbers print as null, so the
// check is skipped for values that hold one).
inline bool HasNonFinite(const Value& v) {
  if (v.is_number()) {
    return !(v.as_number() - v.as_number() == 0);
  }
  if (v.is_array()) {
    for (const Value& e : v.as_array()) {
      if (HasNonFinite(e)) {
        return true;
      }
    }
  }
  if (v.is_object()) {
    for (const auto& [key, member] : v.as_object()) {
      if (HasNonFinite(member)) {
        return true;
      }
    }
  }
  return false;
}

inline void CheckJsonRoundTrip(JsonParser& parser, const Value& v) {
  if (HasNonFinite(v)) {
    return;
  }
  const std::string json = v.ToJson();
  Value back;
  FUZZ_CHECK(IsJson(parser, json, &back));
  FUZZ_CHECK(back == v);
}

}  // namespace handoff::fuzz
