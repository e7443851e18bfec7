#include "storage/crc32c.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

#include "storage/commit_batch.h"
#include "storage/rocks_store.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

constexpr const char* kRocksDbExtend = "_ZN7rocksdb6crc32c6ExtendEjPKcm";
using ExtendFunction = uint32_t (*)(uint32_t, const char*, size_t);

uint32_t Of(const std::string& bytes) { return Crc32cExtend(0, bytes.data(), bytes.size()); }

// RFC 3720 (iSCSI), appendix B.4, and the usual check value.
TEST(Crc32cTest, KnownValues) {
  EXPECT_EQ(Of("123456789"), 0xE3069283u);
  EXPECT_EQ(Of(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Of(std::string(32, '\xFF')), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<char>(i));
  }
  EXPECT_EQ(Of(ascending), 0x46DD794Eu);
  EXPECT_EQ(Of(""), 0u);
}

// Every length and alignment the word loop and its tail can meet, and extension in pieces.
TEST(Crc32cTest, TheInstructionAgreesWithTheTableAndExtendsInPieces) {
  std::mt19937_64 random(7);
  std::string bytes(300, '\0');
  for (char& c : bytes) {
    c = static_cast<char>(random());
  }
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t size = 0; offset + size <= bytes.size(); size += (size < 40 ? 1 : 37)) {
      const char* data = bytes.data() + offset;
      uint32_t whole = Crc32cExtend(0, data, size);
      ASSERT_EQ(whole, Crc32cExtendPortable(0, data, size)) << offset << " " << size;
      size_t half = size / 2;
      ASSERT_EQ(Crc32cExtend(Crc32cExtend(0, data, half), data + half, size - half), whole);
      ASSERT_EQ(Crc32cExtend(0x12345678u, data, size),
                Crc32cExtendPortable(0x12345678u, data, size));
    }
  }
}

// RocksDB's calls land on ours (counted across an open, a commit and a reopen, which checksum the
// MANIFEST and the log), and ours computes what RocksDB's own function (the library's
// definition, found past the executable's) computes: files either wrote read with the other.
TEST(Crc32cTest, RocksDbsCallsReachOursAndAgreeWithItsOwnFunction) {
  testing::TempDir dir;
  StoreOptions options;
  options.path = dir.path();
  uint64_t calls = RocksDbCrc32cCalls();
  {
    auto store = RocksStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_EQ(store.value()->checksums_in_hardware(), Crc32cHasHardware());
    EXPECT_GT(RocksDbCrc32cCalls(), calls);
    calls = RocksDbCrc32cCalls();
    CommitBatch batch;
    batch.PutMeta("k", std::string(5000, 'v'));
    ASSERT_TRUE(store.value()->Commit(&batch).ok());
    EXPECT_GT(RocksDbCrc32cCalls(), calls);
  }
  auto reopened = RocksStore::Open(options);  // replays the log: its checksums are checked
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  std::string value;
  ASSERT_TRUE(reopened.value()->GetMeta("k", &value).ok());
  EXPECT_EQ(value, std::string(5000, 'v'));

  auto library = reinterpret_cast<ExtendFunction>(dlsym(RTLD_NEXT, kRocksDbExtend));
  ASSERT_NE(library, nullptr);
  ASSERT_NE(reinterpret_cast<void*>(library), dlsym(RTLD_DEFAULT, kRocksDbExtend));
  std::mt19937_64 random(11);
  std::string bytes(4096, '\0');
  for (char& c : bytes) {
    c = static_cast<char>(random());
  }
  for (size_t size : {0, 1, 7, 8, 9, 63, 64, 65, 1000, 4096}) {
    EXPECT_EQ(Crc32cExtend(0, bytes.data(), size), library(0, bytes.data(), size)) << size;
    EXPECT_EQ(Crc32cExtend(0xCAFEu, bytes.data(), size), library(0xCAFEu, bytes.data(), size));
  }
}

}  // namespace
}  // namespace handoff
