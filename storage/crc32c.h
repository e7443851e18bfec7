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
// RocksStore::Open pulls in (RocksDbCrc32cCalls). Where the CPU lacks SSE4.2 (or the build is not
// for x86-64) it forwards to RocksDB's own function.
//
// Thread safety: every function is thread-safe.
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

// How many times RocksDB has called its checksum function here (the executable's definition).
// Rising across a RocksDB operation proves that the library's calls reach it; RocksStore::Open
// checks that across DB::Open, which checksums the MANIFEST it reads or writes.
uint64_t RocksDbCrc32cCalls();

}  // namespace handoff
