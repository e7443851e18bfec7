#include "base/utf8.h"

namespace handoff {

size_t Utf8SequenceLength(std::string_view in, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(in[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    return 1;
  }
  size_t n = 0;
  unsigned char lo = 0x80;  // allowed range of the second byte
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    lo = b0 == 0xE0 ? 0xA0 : 0x80;  // no overlong forms
    hi = b0 == 0xED ? 0x9F : 0xBF;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    lo = b0 == 0xF0 ? 0x90 : 0x80;  // no overlong forms
    hi = b0 == 0xF4 ? 0x8F : 0xBF;  // nothing past U+10FFFF
  } else {
    return 0;
  }
  if (i + n > in.size() || byte(i + 1) < lo || byte(i + 1) > hi) {
    return 0;
  }
  for (size_t k = 2; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      return 0;
    }
  }
  return n;
}

namespace {

// The code unit of the escape "\\uXXXX" at json[i] (json[i] is the backslash), or -1.
int EscapedCodeUnit(std::string_view json, size_t i) {
  if (i + 6 > json.size() || json[i] != '\\' || json[i + 1] != 'u') {
    return -1;
  }
  int unit = 0;
  for (size_t k = i + 2; k < i + 6; ++k) {
    const char c = json[k];
    int digit = 0;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      return -1;
    }
    unit = unit * 16 + digit;
  }
  return unit;
}

bool IsHighSurrogate(int unit) { return unit >= 0xD800 && unit <= 0xDBFF; }
bool IsLowSurrogate(int unit) { return unit >= 0xDC00 && unit <= 0xDFFF; }

}  // namespace

bool ReplaceLoneSurrogateEscapes(std::string_view json, std::string* out) {
  constexpr std::string_view kReplacement = "\\ufffd";
  bool changed = false;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (!in_string) {
      in_string = c == '"';
      continue;
    }
    if (c == '"') {
      in_string = false;
      continue;
    }
    if (c != '\\' || i + 1 >= json.size()) {
      continue;
    }
    const int unit = EscapedCodeUnit(json, i);
    if (unit < 0) {
      ++i;  // a one-character escape (or a bad one, the parser's to refuse): skip what it escapes
      continue;
    }
    if (IsHighSurrogate(unit) && IsLowSurrogate(EscapedCodeUnit(json, i + 6))) {
      i += 11;  // a pair: one character
      continue;
    }
    if (IsHighSurrogate(unit) || IsLowSurrogate(unit)) {
      if (!changed) {
        out->assign(json);
        changed = true;
      }
      out->replace(i, kReplacement.size(), kReplacement);
    }
    i += 5;
  }
  return changed;
}

}  // namespace handoff
