// StringPrefix: the first 16 bytes of a string as two integers that order as the strings do.
//
// Sorting many strings that live far apart in memory (the engine's changed leads, by id, at
// every commit) costs a cache miss per comparison when each comparison reads both strings. A
// prefix read once per string lets the sort compare integers in a compact array and read the
// strings only for the few pairs whose first 16 bytes are equal.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace handoff {

struct StringPrefix {
  uint64_t high = 0;  // bytes 0-7, big-endian, zero-padded
  uint64_t low = 0;   // bytes 8-15

  // For strings a and b: a < b (std::string_view's order, bytes unsigned) implies
  // Of(a) <= Of(b); when the prefixes differ, they order as the strings do.
  static StringPrefix Of(std::string_view s) {
    unsigned char bytes[16] = {};
    std::memcpy(bytes, s.data(), std::min<size_t>(s.size(), sizeof bytes));
    StringPrefix p;
    std::memcpy(&p.high, bytes, 8);
    std::memcpy(&p.low, bytes + 8, 8);
    if constexpr (std::endian::native == std::endian::little) {
      p.high = __builtin_bswap64(p.high);
      p.low = __builtin_bswap64(p.low);
    }
    return p;
  }

  friend bool operator==(const StringPrefix&, const StringPrefix&) = default;
  friend bool operator<(const StringPrefix& a, const StringPrefix& b) {
    return a.high != b.high ? a.high < b.high : a.low < b.low;
  }
};

}  // namespace handoff
