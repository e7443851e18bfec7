#include "handoff/value.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "base/utf8.h"

namespace handoff {
namespace {

// A byte JSON must escape, or the first byte of a multi-byte character (checked for UTF-8).
bool NeedsLook(unsigned char u) { return u < 0x20 || u == '"' || u == '\\' || u >= 0x80; }

// The index of the first byte at or after `i` that JSON must escape or that is not ASCII, or
// s.size(). Sixteen bytes a step where SSE2 is there (every x86-64): URLs, titles and traits pass
// in a few steps. Most strings of a record are short ids and names, where the call costs more
// than the bytes, so BM_OutboxRecordJson moved only 615 -> 597 ns.
size_t NextToLook(std::string_view s, size_t i) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i control_max = _mm_set1_epi8(0x1f);
  for (; i + 16 <= s.size(); i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    // v <= 0x1f, unsigned: min(v, 0x1f) == v.
    const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, control_max), v);
    const __m128i special = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
    // The high bit of each byte: not ASCII.
    const int mask = _mm_movemask_epi8(_mm_or_si128(control, special)) | _mm_movemask_epi8(v);
    if (mask != 0) {
      return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    }
  }
#endif
  for (; i < s.size(); ++i) {
    if (NeedsLook(static_cast<unsigned char>(s[i]))) {
      return i;
    }
  }
  return s.size();
}

}  // namespace

const Value* Value::Find(std::string_view key) const {
  if (!is_object()) {
    return nullptr;
  }
  for (const Member& m : as_object()) {
    if (m.first == key) {
      return &m.second;
    }
  }
  return nullptr;
}

const Value* Value::FindPath(const std::vector<std::string>& keys) const {
  const Value* value = this;
  for (const std::string& key : keys) {
    value = value->Find(key);
    if (value == nullptr) {
      return nullptr;
    }
  }
  return value;
}

Value* Value::FindMutable(std::string_view key) {
  return const_cast<Value*>(static_cast<const Value*>(this)->Find(key));
}

void Value::Set(std::string_view key, Value v) {
  if (!is_object()) {
    data_ = Object{};
  }
  if (Value* existing = FindMutable(key)) {
    *existing = std::move(v);
    return;
  }
  mutable_object().emplace_back(std::string(key), std::move(v));
}

bool Value::Erase(std::string_view key) {
  if (!is_object()) {
    return false;
  }
  Object& obj = mutable_object();
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (it->first == key) {
      obj.erase(it);
      return true;
    }
  }
  return false;
}

bool Value::operator==(const Value& other) const {
  if (type() != other.type()) {
    return false;
  }
  switch (type()) {
    case Type::kNull:
      return true;
    case Type::kBool:
      return as_bool() == other.as_bool();
    case Type::kNumber:
      return as_number() == other.as_number();
    case Type::kString:
      return as_string() == other.as_string();
    case Type::kArray:
      return as_array() == other.as_array();
    case Type::kObject: {
      if (as_object().size() != other.as_object().size()) {
        return false;
      }
      for (const Member& m : as_object()) {
        const Value* theirs = other.Find(m.first);
        if (theirs == nullptr || !(*theirs == m.second)) {
          return false;
        }
      }
      return true;
    }
  }
  return false;
}

void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  // Runs of bytes that need no escape (nearly all of them) are copied in one append. A string
  // need not be UTF-8 (a decoded path, a header value, bytes of a file quoted in a message): each
  // byte that starts no well-formed character becomes U+FFFD, so the text stays JSON.
  size_t run = 0;
  size_t i = NextToLook(s, 0);
  while (i < s.size()) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u >= 0x80) {
      if (const size_t n = Utf8SequenceLength(s, i); n > 0) {
        i = NextToLook(s, i + n);  // a character: part of the run
        continue;
      }
      out->append(s.data() + run, i - run);
      out->append("\xEF\xBF\xBD");
      run = i + 1;
      i = NextToLook(s, i + 1);
      continue;
    }
    out->append(s.data() + run, i - run);
    run = i + 1;
    i = NextToLook(s, i + 1);
    switch (u) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        out->append("\\u00");
        out->push_back(kHex[u >> 4]);
        out->push_back(kHex[u & 0xf]);
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

std::string JsonQuoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  AppendJsonString(s, &out);
  return out;
}

void AppendJsonNumber(double d, std::string* out) {
  if (!std::isfinite(d)) {
    out->append("null");
    return;
  }
  if (d == 0) {
    out->push_back('0');  // also for -0: JSON readers treat both alike
    return;
  }
  // The shortest form that reads back as the same double, but never in exponent form where a
  // person (or a reader that maps integers to integer types) expects digits: plain
  // std::to_chars picks "1e+05" for 100000 (a won amount, a trait, a count) because it is one
  // character shorter. Integers below 1e16 print as integers, other values from 1e-5 to 1e16
  // in fixed notation (still the shortest digits that round-trip), and only the rest in
  // exponent form, as JSON encoders of other languages do.
  char buf[64];
  const double magnitude = std::fabs(d);
  char* end = buf;
  if (magnitude < 1e16 && d == std::trunc(d)) {
    end = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(d)).ptr;
  } else if (magnitude >= 1e-5 && magnitude < 1e16) {
    end = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::fixed).ptr;
  } else {
    end = std::to_chars(buf, buf + sizeof(buf), d).ptr;
  }
  out->append(buf, end);
}

void Value::AppendJson(std::string* out) const {
  switch (type()) {
    case Type::kNull:
      out->append("null");
      return;
    case Type::kBool:
      out->append(as_bool() ? "true" : "false");
      return;
    case Type::kNumber:
      AppendJsonNumber(as_number(), out);
      return;
    case Type::kString:
      AppendJsonString(as_string(), out);
      return;
    case Type::kArray: {
      out->push_back('[');
      bool first = true;
      for (const Value& v : as_array()) {
        if (!first) {
          out->push_back(',');
        }
        first = false;
        v.AppendJson(out);
      }
      out->push_back(']');
      return;
    }
    case Type::kObject: {
      out->push_back('{');
      bool first = true;
      for (const Member& m : as_object()) {
        if (!first) {
          out->push_back(',');
        }
        first = false;
        AppendJsonString(m.first, out);
        out->push_back(':');
        m.second.AppendJson(out);
      }
      out->push_back('}');
      return;
    }
  }
}

std::string Value::ToJson() const {
  std::string out;
  AppendJson(&out);
  return out;
}

}  // namespace handoff
