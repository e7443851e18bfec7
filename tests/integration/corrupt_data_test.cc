// Corrupt or foreign data in the data directory (issue 12): the daemon refuses to start with a
// clear error naming the store and exits with status 1; it never crashes (no signal) and never
// starts on state it cannot read.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "storage/store_format.h"
#include "tests/integration/daemon_harness.h"
#include "tests/testutil.h"

namespace handoff::testing {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kRules =
    "scores:\n"
    "  clicks: {kind: event}\n"
    "rules:\n"
    "  - id: click\n"
    "    score: clicks\n"
    "    when: event == \"Click\"\n"
    "    points: 1\n"
    "stages:\n"
    "  - name: hot\n"
    "    enter: score.clicks >= 1\n"
    "routing:\n"
    "  stage: hot\n"
    "  teams:\n"
    "    - id: sales\n"
    "      reps: [{id: alice}]\n";

class CorruptDataTest : public ::testing::Test {
 protected:
  void SetUp() override { daemon_.WriteRules(kRules); }
  void TearDown() override {
    if (daemon_.running()) {
      EXPECT_OK(daemon_.Stop());
    }
  }

  // Starts the daemon, ingests one click (a routed lead, held in memory, so a restart loads it) and
  // stops it.
  void WriteSomeState() {
    ASSERT_OK(daemon_.Start());
    IngestClient client;
    ASSERT_OK(client.Connect(daemon_.ingest_port()));
    ASSERT_OK(client.SendLines(
        {R"({"type":"track","userId":"u1","event":"Click","messageId":"m1","timestamp":1767225600})"}));
    ASSERT_OK(client.WaitForAck(1));
    ASSERT_OK(daemon_.Stop());
  }

  // The start must fail cleanly: exit code 1 and "cannot start" with `reason` in the log.
  void ExpectCleanRefusal(const std::string& reason) {
    Status st = daemon_.Start();
    ASSERT_FALSE(st.ok()) << "the daemon started on corrupt data";
    EXPECT_NE(st.message().find("exit code 1"), std::string::npos) << st.ToString();
    EXPECT_NE(st.message().find("cannot start"), std::string::npos) << st.ToString();
    EXPECT_NE(st.message().find(reason), std::string::npos) << st.ToString();
  }

  std::vector<fs::path> Files(const std::string& suffix) {
    std::vector<fs::path> out;
    for (const auto& entry : fs::directory_iterator(daemon_.data_dir())) {
      if (entry.path().filename().string().find(suffix) != std::string::npos) {
        out.push_back(entry.path());
      }
    }
    return out;
  }

  DaemonProcess daemon_{DaemonOptions{}};
};

TEST_F(CorruptDataTest, GarbageCurrentFile) {
  WriteSomeState();
  std::ofstream(daemon_.data_dir() + "/CURRENT", std::ios::trunc) << "garbage\n";
  ExpectCleanRefusal("Corruption");
}

TEST_F(CorruptDataTest, TruncatedTableFiles) {
  WriteSomeState();
  const std::vector<fs::path> tables = Files(".sst");
  ASSERT_FALSE(tables.empty());
  for (const fs::path& table : tables) {
    fs::resize_file(table, 100);
  }
  ExpectCleanRefusal("Corruption");
}

TEST_F(CorruptDataTest, TheDataDirectoryIsAFile) {
  fs::remove_all(daemon_.data_dir());
  std::ofstream(daemon_.data_dir()) << "not a directory\n";
  ExpectCleanRefusal("cannot open the store");
}

// Another program's RocksDB in the data directory (column families Handoff does not know).
TEST_F(CorruptDataTest, AForeignRocksDb) {
  fs::remove_all(daemon_.data_dir());
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, daemon_.data_dir(), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::ColumnFamilyHandle* cf = nullptr;
  ASSERT_TRUE(db->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), "sessions", &cf).ok());
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf, "k", "v").ok());
  ASSERT_TRUE(db->DestroyColumnFamilyHandle(cf).ok());
  ASSERT_TRUE(db->Close().ok());
  db.reset();
  ExpectCleanRefusal("sessions");
}

// A lead record that does not decode (bit rot, or another version's format): refused at start
// rather than scored from zero and overwritten.
TEST_F(CorruptDataTest, ALeadRecordThatDoesNotDecode) {
  WriteSomeState();
  {
    rocksdb::DBOptions options;
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(options, daemon_.data_dir(), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const std::string& name : names) {
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, daemon_.data_dir(), descriptors, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == store_format::kLeads) {
        ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[i], "u1", "\xff\xfe garbage").ok());
      }
    }
    for (rocksdb::ColumnFamilyHandle* h : handles) {
      ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    }
    ASSERT_TRUE(db->Close().ok());
  }
  ExpectCleanRefusal("u1");
}

}  // namespace
}  // namespace handoff::testing
