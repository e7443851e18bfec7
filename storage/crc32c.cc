#include "storage/crc32c.h"

#include <dlfcn.h>

#include <array>
#include <atomic>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

// RocksDB's buffers are read here on RocksDB's threads, whose hand-offs TSan does not see in an
// uninstrumented library: reports would be RocksDB's, not ours.
#define HANDOFF_NO_TSAN __attribute__((no_sanitize("thread")))

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
HANDOFF_NO_TSAN __attribute__((target("sse4.2"))) uint32_t ExtendWithInstruction(uint32_t crc,
                                                                                 const char* data,
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

constexpr const char* kRocksDbExtendSymbol = "_ZN7rocksdb6crc32c6ExtendEjPKcm";
using ExtendFunction = uint32_t (*)(uint32_t, const char*, size_t);

// Without the instruction, RocksDB's own function (the next definition after the executable's:
// its loop is faster than the portable one here, and on other CPUs it may use their own
// instructions). Null before static initialization reaches it, or where there is none.
const ExtendFunction kLibraryExtend =
    kHasInstruction ? nullptr
                    : reinterpret_cast<ExtendFunction>(dlsym(RTLD_NEXT, kRocksDbExtendSymbol));

// Calls RocksDB made to the executable's definition (relaxed: a count, not a hand-off).
std::atomic<uint64_t> interposed_calls{0};

}  // namespace

HANDOFF_NO_TSAN uint32_t Crc32cExtendPortable(uint32_t crc, const char* data, size_t size) {
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

uint64_t RocksDbCrc32cCalls() { return interposed_calls.load(std::memory_order_relaxed); }

}  // namespace handoff

// RocksDB's checksum entry point (its util/crc32c.h), defined here so that the executable's
// definition is the one librocksdb's calls resolve to (see storage/crc32c.h).
namespace rocksdb::crc32c {
uint32_t Extend(uint32_t crc, const char* data, size_t size);
uint32_t Extend(uint32_t crc, const char* data, size_t size) {
  handoff::interposed_calls.fetch_add(1, std::memory_order_relaxed);
  if (!handoff::kHasInstruction && handoff::kLibraryExtend != nullptr) {
    return handoff::kLibraryExtend(crc, data, size);
  }
  return handoff::Crc32cExtend(crc, data, size);
}
}  // namespace rocksdb::crc32c
