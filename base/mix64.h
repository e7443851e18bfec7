// Mix64: a 64-bit finalizer (xor-shift, multiply, xor-shift, multiply, xor-shift) that spreads
// every input bit over every output bit. Not a keyed hash on its own.
//
// The dedupe log stores hashes built with it (storage/dedupe_index.cc): its constants are part of
// the on-disk format and must not change.
#pragma once

#include <cstdint>

namespace handoff {

inline uint64_t Mix64(uint64_t x) {
  x ^= x >> 31;
  x *= 0x7fb5d329728ea185ULL;
  x ^= x >> 27;
  x *= 0x81dadef4bc2dd44dULL;
  x ^= x >> 33;
  return x;
}

}  // namespace handoff
