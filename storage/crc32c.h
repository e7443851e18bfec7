// CRC32C (Castagnoli) with the CPU's crc32 instruction, for RocksDB's own checksums.
//
// RocksDB checksums every write-ahead log record, every table block and the MANIFEST with
// CRC32C, through one function, `rocksdb::crc32c::Extend`. Debian's librocksdb is built
// portable (no SSE4.2 at compile time), so that function is a table loop: about a third of the
// commit thread's time (bench/README.md, 2026-12-07). storage/crc32c.cc defines
// `rocksdb::crc32c::Extend` as well. Its library's calls go through its PLT, and a definition in
// the executable comes first in the dynamic linker's lookup, so RocksDB's calls land here: the
// same checksums, computed 8 bytes an instruction. Files written by either stay readable by the
// other.
//
// The definition is linked into an executable only with this file's object, which
// RocksStore::Open pulls in through RocksDbCrc32cIsHardware. Where the CPU lacks SSE4.2 (or the
// build is not for x86-64) the checksum is a portable table loop like RocksDB's.
//
// Thread safety: all functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace handoff {

// The CRC32C of `data` appended to bytes whose CRC32C is `crc` (0 for none): RocksDB's
// crc32c::Extend contract. Uses the crc32 instruction when the CPU has it.
uint32_t Crc32cExtend(uint32_t crc, const char* data, size_t size);

// The same, always by table (the reference the tests compare the instruction with).
uint32_t Crc32cExtendPortable(uint32_t crc, const char* data, size_t size);

// True when the CPU's instruction computes the checksum (SSE4.2).
bool Crc32cHasHardware();

// True when RocksDB's calls to its checksum reach Crc32cExtend (the dynamic linker resolves the
// symbol to this file's definition) and that uses the instruction. Logged at each open.
bool RocksDbCrc32cIsHardware();

}  // namespace handoff
