// Right to erasure (SPEC 8) down to the bytes: after DELETE and a full compaction, no key or
// value in any column family mentions the erased lead or its linked ids.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <future>
#include <string>
#include <vector>

#include "core/engine.h"
#include "storage/rocks_store.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

using handoff::testing::TempDir;

constexpr EpochSeconds kStart = 1'800'000'000;
// No stages: no outbox records (those are not rewritten; they expire with the outbox retention).
constexpr char kRules[] = R"(scores:
  engagement: {kind: event}
rules:
  - id: visit
    score: engagement
    when: type == "page"
    points: 1
)";

Event Make(EventType type, std::string user, std::string anon, std::string message_id) {
  Event e;
  e.type = type;
  e.user_id = std::move(user);
  e.anonymous_id = std::move(anon);
  e.message_id = std::move(message_id);
  e.timestamp = kStart;
  e.has_timestamp = true;
  return e;
}

// Every column family's keys and values, as one string per entry.
std::vector<std::string> EverythingStored(const std::string& path) {
  std::vector<std::string> names;
  EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  EXPECT_TRUE(
      rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), path, descriptors, &handles, &db).ok());
  std::vector<std::string> out;
  for (size_t i = 0; i < handles.size(); ++i) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[i]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      out.push_back(names[i] + ": " + it->key().ToString() + " = " + it->value().ToString());
    }
  }
  for (auto* h : handles) {
    db->DestroyColumnFamilyHandle(h);
  }
  delete db;
  return out;
}

TEST(ErasureTest, NoKeyOrValueOfAnErasedLeadRemainsAfterACompaction) {
  TempDir dir;
  const std::string rules = dir.WriteFile("rules.yaml", kRules);
  StoreOptions store_options;
  store_options.path = dir.path() + "/data";
  ManualClock clock(kStart);
  store_options.clock = &clock;
  auto opened = RocksStore::Open(store_options);
  ASSERT_OK(opened.status());
  std::unique_ptr<RocksStore> store = std::move(opened).value();
  Metrics metrics;
  EngineOptions options;
  options.rules_path = rules;
  options.watch_rules = false;
  options.stage_check_interval = 0;
  {
    Engine engine(options, store.get(), &clock, &metrics);
    ASSERT_OK(engine.Start());
    std::promise<void> done;
    IngestBatch batch;
    batch.events = {Make(EventType::kPage, "", "anon-erase", "m1"),
                    Make(EventType::kPage, "keep-me", "", "m2"),
                    Make(EventType::kIdentify, "kim-erase", "anon-erase", "m3"),
                    Make(EventType::kPage, "kim-erase", "", "m4")};
    batch.received_at = kStart;
    batch.done = [&](const Status&) { done.set_value(); };
    engine.Submit(std::move(batch));
    done.get_future().wait();
    std::promise<std::vector<std::string>> erased;
    engine.RunOnEngine([&] {
      std::vector<std::string> ids;
      size_t events = 0;
      EXPECT_OK(engine.Erase("anon-erase", &ids, &events));
      EXPECT_EQ(events, 3u);
      engine.AfterCommit([&, ids] { erased.set_value(ids); });
    });
    EXPECT_EQ(erased.get_future().get(), (std::vector<std::string>{"kim-erase", "anon-erase"}));
    engine.Stop();
  }
  ASSERT_OK(store->CompactAll());
  store.reset();
  const std::vector<std::string> stored = EverythingStored(store_options.path);
  bool kept = false;
  for (const std::string& entry : stored) {
    EXPECT_EQ(entry.find("kim-erase"), std::string::npos) << entry;
    EXPECT_EQ(entry.find("anon-erase"), std::string::npos) << entry;
    kept = kept || entry.find("keep-me") != std::string::npos;
  }
  EXPECT_TRUE(kept);  // the other lead is untouched
}

}  // namespace
}  // namespace handoff
