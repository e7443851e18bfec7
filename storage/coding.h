// Byte coding shared by the store's value formats: varints, fixed doubles, length-prefixed
// strings. Readers take a view they advance and return false on truncation; they never read past
// the end, so any bytes from disk decode safely.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace handoff::coding {

inline void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

inline void PutDouble(double d, std::string* out) {
  char buf[8];
  std::memcpy(buf, &d, 8);
  out->append(buf, 8);
}

inline void PutString(std::string_view s, std::string* out) {
  PutVarint(s.size(), out);
  out->append(s);
}

[[nodiscard]] inline bool GetVarint(std::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && !in->empty(); shift += 7) {
    auto byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

[[nodiscard]] inline bool GetDouble(std::string_view* in, double* d) {
  if (in->size() < 8) {
    return false;
  }
  std::memcpy(d, in->data(), 8);
  in->remove_prefix(8);
  return true;
}

[[nodiscard]] inline bool GetByte(std::string_view* in, uint8_t* b) {
  if (in->empty()) {
    return false;
  }
  *b = static_cast<uint8_t>(in->front());
  in->remove_prefix(1);
  return true;
}

// A view of the string in place (valid as long as the input bytes are).
[[nodiscard]] inline bool GetStringView(std::string_view* in, std::string_view* s) {
  uint64_t n = 0;
  if (!GetVarint(in, &n) || n > in->size()) {
    return false;
  }
  *s = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

[[nodiscard]] inline bool GetString(std::string_view* in, std::string* s) {
  std::string_view view;
  if (!GetStringView(in, &view)) {
    return false;
  }
  s->assign(view);
  return true;
}

}  // namespace handoff::coding
