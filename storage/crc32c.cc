#include "storage/crc32c.h"

#include <dlfcn.h>

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace handoff {
namespace {

// The reflected Castagnoli polynomial.
constexpr uint32_t kPolynomial = 0x82F63B78u;

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc >> 1) ^ ((crc & 1u) != 0 ? kPolynomial : 0u);
    }
    table[byte] = crc;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = MakeTable();

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t ExtendWithInstruction(uint32_t crc, const char* data,
                                                                 size_t size) {
  uint64_t state = ~crc;
  while (size >= 8) {
    uint64_t word;
    std::memcpy(&word, data, 8);
    state = _mm_crc32_u64(state, word);
    data += 8;
    size -= 8;
  }
  auto narrow = static_cast<uint32_t>(state);
  while (size > 0) {
    narrow = _mm_crc32_u8(narrow, static_cast<uint8_t>(*data));
    ++data;
    --size;
  }
  return ~narrow;
}

// Decided before main (a call during static initialization, before this is set, takes the
// portable loop: the same result).
const bool kHasInstruction = __builtin_cpu_supports("sse4.2") != 0;
#else
constexpr bool kHasInstruction = false;
#endif

}  // namespace

uint32_t Crc32cExtendPortable(uint32_t crc, const char* data, size_t size) {
  uint32_t state = ~crc;
  for (size_t i = 0; i < size; ++i) {
    state = kTable[(state ^ static_cast<uint8_t>(data[i])) & 0xFFu] ^ (state >> 8);
  }
  return ~state;
}

uint32_t Crc32cExtend(uint32_t crc, const char* data, size_t size) {
#if defined(__x86_64__)
  if (kHasInstruction) {
    return ExtendWithInstruction(crc, data, size);
  }
#endif
  return Crc32cExtendPortable(crc, data, size);
}

bool Crc32cHasHardware() { return kHasInstruction; }

}  // namespace handoff

// RocksDB's checksum entry point (its util/crc32c.h), defined here so that the executable's
// definition is the one librocksdb's calls resolve to (see storage/crc32c.h).
namespace rocksdb::crc32c {
uint32_t Extend(uint32_t crc, const char* data, size_t size);
uint32_t Extend(uint32_t crc, const char* data, size_t size) {
  return handoff::Crc32cExtend(crc, data, size);
}
}  // namespace rocksdb::crc32c

namespace handoff {

bool RocksDbCrc32cIsHardware() {
  // The address the dynamic linker gives librocksdb's calls (its PLT looks the symbol up from
  // the executable on); ours only when the executable exports its definition.
  void* resolved = dlsym(RTLD_DEFAULT, "_ZN7rocksdb6crc32c6ExtendEjPKcm");
  auto* ours = reinterpret_cast<void*>(&rocksdb::crc32c::Extend);
  return kHasInstruction && resolved == ours;
}

}  // namespace handoff
