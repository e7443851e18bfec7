// The engine loop over an in-memory store and a manual clock: group commit, acks after the
// commit, dedupe, outbox order, restart, the wall-clock stage re-check and rule reloads.
#include "core/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "base/json_parser.h"
#include "base/timestamp.h"
#include "history/event_codec.h"
#include "outbox/stored_record.h"
#include "storage/lead_codec.h"
#include "tests/core/memory_store.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

using handoff::testing::MemoryStore;
using handoff::testing::TempDir;

constexpr EpochSeconds kStart = 1'800'000'000;
constexpr auto kGuard = std::chrono::seconds(10);

constexpr char kRules[] = R"(scores:
  engagement: {kind: event, half_life: 1d}
rules:
  - id: demo
    score: engagement
    when: event == "Demo Requested"
    points: 50
  - id: visit
    score: engagement
    when: type == "page"
    points: 1
stages:
  - name: mql
    enter: score.engagement >= 40
    exit: score.engagement < 30
)";

Event Track(std::string user, std::string name, std::string message_id, EpochSeconds at) {
  Event e;
  e.type = EventType::kTrack;
  e.user_id = std::move(user);
  e.name = std::move(name);
  e.has_name = true;
  e.message_id = std::move(message_id);
  e.timestamp = at;
  e.has_timestamp = true;
  return e;
}

Event Page(std::string user, std::string message_id, EpochSeconds at) {
  Event e = Track(std::move(user), "", std::move(message_id), at);
  e.type = EventType::kPage;
  e.has_name = false;
  return e;
}

struct LeadView {
  bool found = false;
  std::string stage;
  uint64_t events = 0;
};

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() : clock_(kStart) { rules_path_ = dir_.WriteFile("rules.yaml", kRules); }
  ~EngineTest() override { StopEngine(); }

  void StartEngine(double stage_check_interval = 0, double dedupe_window = 86400,
                   size_t lead_cache = 1'000'000) {
    EngineOptions options;
    options.dedupe_window = dedupe_window;
    options.lead_cache = lead_cache;
    options.rules_path = rules_path_;
    options.watch_rules = false;
    options.stage_check_interval = stage_check_interval;
    options.lead_partitions = lead_partitions_;
    if (lead_partitions_ > 0) {
      // A lead's partition: its id's last character, modulo the count.
      options.lead_partition = [](std::string_view id, uint32_t n) {
        return id.empty() ? 0 : static_cast<uint32_t>(id.back()) % n;
      };
    }
    engine_ = std::make_unique<Engine>(options, &store_, &clock_, &metrics_);
    ASSERT_OK(engine_->Start());
  }

  void StopEngine() {
    if (engine_) {
      engine_->Stop();
      engine_.reset();
    }
  }

  // Submits one batch and waits for its completion.
  Status Submit(std::vector<Event> events) {
    std::promise<Status> done;
    IngestBatch batch;
    batch.events = std::move(events);
    batch.received_at = clock_.Now();
    batch.received_mono = std::chrono::steady_clock::now();
    batch.done = [&done](const Status& st) { done.set_value(st); };
    engine_->Submit(std::move(batch));
    auto future = done.get_future();
    if (future.wait_for(kGuard) != std::future_status::ready) {
      return Status::Unavailable("no completion");
    }
    return future.get();
  }

  LeadView Lead(const std::string& id) {
    std::promise<LeadView> view;
    engine_->RunOnEngine([&] {
      LeadView v;
      if (handoff::Lead* lead = engine_->FindLead(id); lead != nullptr) {
        v.found = true;
        v.stage = lead->stage;
        v.events = lead->events;
      }
      view.set_value(v);
    });
    return view.get_future().get();
  }

  // Every committed outbox record's JSON, in seq order, checking each header against its JSON.
  std::vector<Value> Records() {
    std::vector<std::pair<uint64_t, std::string>> stored;
    EXPECT_OK(engine_->outbox().Read(1, engine_->outbox().head(), 1000, &stored));
    std::vector<Value> out;
    JsonParser parser;
    for (const auto& [seq, bytes] : stored) {
      RecordHeader header;
      std::string_view json;
      EXPECT_TRUE(DecodeStoredRecord(bytes, &header, &json)) << seq;
      Value v;
      EXPECT_OK(parser.Parse(json, &v));
      EXPECT_EQ(v.Find("seq")->as_number(), static_cast<double>(seq));
      EXPECT_EQ(v.Find("kind")->as_string(), OutboxKindName(header.kind));
      out.push_back(std::move(v));
    }
    return out;
  }

  // The engine's stage counts ("new=2 mql=1 "), of the partitions `held` says (every one: {}).
  std::string StageCountsText(const std::function<bool(uint32_t)>& held = {}) {
    std::promise<std::string> out;
    engine_->RunOnEngine([&] {
      std::string text;
      for (const auto& [stage, n] : engine_->StageCounts(held)) {
        text += stage + "=" + std::to_string(n) + " ";
      }
      out.set_value(text);
    });
    return out.get_future().get();
  }

  // Writes the rule file and reloads it; waits for the outcome.
  ReloadOutcome Reload(const std::string& rules) {
    dir_.WriteFile("rules.yaml", rules);
    std::promise<ReloadOutcome> reloaded;
    engine_->RequestReload([&](const ReloadOutcome& o) { reloaded.set_value(o); });
    return reloaded.get_future().get();
  }

  // Waits (bounded) until the outbox head reaches `seq`.
  bool WaitForHead(uint64_t seq) {
    const auto deadline = std::chrono::steady_clock::now() + kGuard;
    while (engine_->outbox_head() < seq) {
      if (std::chrono::steady_clock::now() > deadline) {
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  TempDir dir_;
  std::string rules_path_;
  uint32_t lead_partitions_ = 0;  // EngineOptions::lead_partitions of the next StartEngine
  ManualClock clock_;
  MemoryStore store_;
  Metrics metrics_;
  std::unique_ptr<Engine> engine_;
};

// Submit encodes each event's history bytes on the submitting thread: the history holds every
// event of a batch as applied, each its own (properties, traits, context, names), one sent
// without a timestamp with its receive time, and nothing of a duplicate between them.
TEST_F(EngineTest, TheHistoryHoldsEachEventOfABatchAsApplied) {
  StartEngine();
  JsonParser parser;
  std::vector<Event> events;
  events.push_back(Page("u1", "h1", kStart));
  ASSERT_OK(parser.Parse(R"({"url":"https://example.com/pricing","n":[1,true,null]})",
                         &events.back().properties));
  ASSERT_OK(
      parser.Parse(R"({"ip":"192.0.2.1","page":{"path":"/pricing"}})", &events.back().context));
  events.push_back(Track("u1", "Demo Requested", "h2", 0));
  events.back().has_timestamp = false;  // takes the receive time
  ASSERT_OK(parser.Parse(R"({"plan":"enterprise"})", &events.back().properties));
  events.push_back(Page("u1", "h1", kStart + 9));  // a duplicate: not applied, not logged
  ASSERT_OK(parser.Parse(R"({"url":"https://example.com/again"})", &events.back().properties));
  events.push_back(Page("u1", "", kStart - 5));
  events.back().type = EventType::kIdentify;
  ASSERT_OK(parser.Parse(R"({"email":"a@example.com","title":"VP"})", &events.back().traits));
  std::vector<Event> expected = events;
  expected[1].timestamp = clock_.Now();
  expected[1].has_timestamp = true;
  expected.erase(expected.begin() + 2);
  ASSERT_OK(Submit(std::move(events)));

  std::promise<std::vector<std::string>> logged;
  engine_->RunOnEngine([&] {
    std::vector<std::string> out;
    std::vector<HistoryEntry> entries;
    handoff::Lead* lead = engine_->FindLead("u1");
    EXPECT_NE(lead, nullptr);
    if (lead != nullptr) {
      EXPECT_OK(engine_->History(*lead, &entries));
    }
    for (const HistoryEntry& entry : entries) {
      out.emplace_back();
      EncodeEvent(entry.event, &out.back());
    }
    logged.set_value(std::move(out));
  });
  std::vector<std::string> got = logged.get_future().get();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    std::string want;
    EncodeEvent(expected[i], &want);
    EXPECT_EQ(got[i], want) << "event " << i;
  }
}

TEST_F(EngineTest, AppliesABatchAndAcknowledgesItAfterTheCommit) {
  StartEngine();
  const int commits_before = store_.commits();
  ASSERT_OK(Submit({Page("u1", "m1", kStart), Track("u1", "Demo Requested", "m2", kStart + 1)}));
  // The completion ran after the commit that holds the batch: the store already has it all.
  EXPECT_GT(store_.commits(), commits_before);
  EXPECT_EQ(store_.lead_count(), 1u);
  EXPECT_EQ(store_.dedupe_blocks(), 1u);  // both ids in the commit's one dedupe-log block
  const LeadView lead = Lead("u1");
  ASSERT_TRUE(lead.found);
  EXPECT_EQ(lead.events, 2u);
  EXPECT_EQ(lead.stage, "mql");
  const std::vector<Value> records = Records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].Find("kind")->as_string(), "stage");
  EXPECT_EQ(records[0].Find("from")->as_string(), "new");
  EXPECT_EQ(records[0].Find("to")->as_string(), "mql");
  EXPECT_EQ(records[0].Find("trigger")->as_string(), "m2");
  EXPECT_EQ(engine_->outbox_head(), 1u);
}

// A disk that refuses writes (SPEC 10: never acknowledge what is not durable): the engine does
// not abort; it retries the same batch, acknowledges nothing meanwhile, reports the store
// unhealthy, and goes on when writes succeed again.
// An idle engine writes a batch itself (no hand-off to the commit thread), but the store's
// deferred work after a commit (RocksStore's lead journal checkpoint) still follows every
// commit, on the commit thread: without it the journal's memory would only be bounded by the
// store's fallback at twice its setting.
TEST_F(EngineTest, EveryCommitIsFollowedByTheStoresDeferredWork) {
  StartEngine();
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK(Submit({Page("u" + std::to_string(i), "m" + std::to_string(i), kStart + i)}));
  }
  const int commits = store_.commits();
  ASSERT_GE(commits, 20);
  const auto deadline = std::chrono::steady_clock::now() + kGuard;
  while (store_.after_commits() < commits && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_GE(store_.after_commits(), commits);
}

// The router's clock state (a rep's working hours began, a new local day) changes with no lead
// changing; the idle loop still writes it, so a restart sees what the clock did before it.
TEST_F(EngineTest, TheRoutersClockStateIsWrittenWithoutALeadChange) {
  dir_.WriteFile("rules.yaml", std::string(kRules) + R"(routing:
  stage: mql
  teams:
    - id: t
      reps:
        - {id: z, hours: "Mon-Sun 10:00-23:30"}
)");
  // 2026-01-12 09:59:40 UTC; the clock then moves less than the engine's other timers (the
  // trims, a minute), whose commits would write the reps too.
  constexpr EpochSeconds kBeforeTen = 1'768'208'400 + 3600 - 20;
  clock_.Set(kBeforeTen);
  StartEngine();
  // Waits (the loop's cron runs at least every 0.5 s) until the stored reps say `in_hours`.
  const auto stored_in_hours = [&](int in_hours) {
    const std::string want = "\"seen_in_hours\":" + std::to_string(in_hours);
    const auto deadline = std::chrono::steady_clock::now() + kGuard;
    std::string reps;
    while (std::chrono::steady_clock::now() < deadline) {
      if (store_.GetMeta("router.reps", &reps).ok() && reps.find(want) != std::string::npos) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ADD_FAILURE() << "stored reps: " << reps;
    return false;
  };
  ASSERT_TRUE(stored_in_hours(0));
  clock_.Set(kBeforeTen + 30);  // 10:00:10: z's hours began
  EXPECT_TRUE(stored_in_hours(1));
}

TEST_F(EngineTest, AFailingStoreIsRetriedAndNothingIsAckedUntilWritesSucceed) {
  StartEngine();
  store_.set_fail_commits(true);
  std::promise<Status> done;
  IngestBatch batch;
  batch.events = {Page("u1", "m1", kStart), Track("u1", "Demo Requested", "m2", kStart + 1)};
  batch.received_at = clock_.Now();
  batch.received_mono = std::chrono::steady_clock::now();
  batch.done = [&done](const Status& st) { done.set_value(st); };
  engine_->Submit(std::move(batch));
  auto future = done.get_future();
  const auto deadline = std::chrono::steady_clock::now() + kGuard;
  while (store_.recovers() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GE(store_.recovers(), 3);
  EXPECT_NE(future.wait_for(std::chrono::milliseconds(0)), std::future_status::ready);
  EXPECT_NE(metrics_.StoreError(), "");
  EXPECT_NE(metrics_.RenderPrometheus().find("handoff_store_healthy 0\n"), std::string::npos);
  EXPECT_EQ(engine_->outbox_head(), 0u);

  store_.set_fail_commits(false);
  ASSERT_EQ(future.wait_for(kGuard), std::future_status::ready);
  EXPECT_OK(future.get());
  EXPECT_EQ(metrics_.StoreError(), "");
  EXPECT_EQ(store_.lead_count(), 1u);
  EXPECT_EQ(Lead("u1").events, 2u);
  ASSERT_EQ(Records().size(), 1u);
  EXPECT_EQ(engine_->outbox_head(), 1u);
  ASSERT_OK(Submit({Page("u1", "m3", kStart + 2)}));  // and it goes on
  EXPECT_EQ(Lead("u1").events, 3u);
}

TEST_F(EngineTest, StoppingWhileTheStoreFailsAnswersTheWaitersInsteadOfAborting) {
  StartEngine();
  store_.set_fail_commits(true);
  std::promise<Status> done;
  IngestBatch batch;
  batch.events = {Page("u1", "m1", kStart)};
  batch.received_at = clock_.Now();
  batch.received_mono = std::chrono::steady_clock::now();
  batch.done = [&done](const Status& st) { done.set_value(st); };
  engine_->Submit(std::move(batch));
  const auto deadline = std::chrono::steady_clock::now() + kGuard;
  while (store_.recovers() < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  StopEngine();
  auto future = done.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::milliseconds(0)), std::future_status::ready);
  EXPECT_FALSE(future.get().ok());
  // The store's deferred work follows every written commit (the stop waits for it), and no
  // failed one.
  EXPECT_EQ(store_.after_commits(), store_.written_commits());
}

TEST_F(EngineTest, AMessageIdIsAppliedOnceWithinABatchAndAcrossBatches) {
  StartEngine();
  ASSERT_OK(Submit({Page("u1", "m1", kStart), Page("u1", "m1", kStart)}));
  ASSERT_OK(Submit({Page("u1", "m1", kStart), Page("u1", "", kStart), Page("u1", "", kStart)}));
  // Events without a messageId are never deduplicated.
  EXPECT_EQ(Lead("u1").events, 3u);
}

// The dedupe window by the injected clock, across a restart (the index is rebuilt from the
// dedupe log), and an id applied again after it expired is remembered anew.
TEST_F(EngineTest, AnIdIsRememberedForTheWindowAcrossRestarts) {
  StartEngine(0, /*dedupe_window=*/100);
  ASSERT_OK(Submit({Page("u1", "m1", kStart)}));
  clock_.Advance(60);
  ASSERT_OK(Submit({Page("u1", "m1", kStart), Page("u1", "m2", kStart)}));
  EXPECT_EQ(Lead("u1").events, 2u);
  StopEngine();

  StartEngine(0, /*dedupe_window=*/100);
  clock_.Advance(30);  // m1 is 90 s old, m2 30 s: both still remembered
  ASSERT_OK(Submit({Page("u1", "m1", kStart), Page("u1", "m2", kStart)}));
  EXPECT_EQ(Lead("u1").events, 2u);
  clock_.Advance(20);  // m1 is 110 s old: expired; m2 50 s
  ASSERT_OK(Submit({Page("u1", "m1", kStart), Page("u1", "m2", kStart)}));
  EXPECT_EQ(Lead("u1").events, 3u);
  StopEngine();

  StartEngine(0, /*dedupe_window=*/100);
  clock_.Advance(10);  // m1 applied again 10 s ago: remembered from then
  ASSERT_OK(Submit({Page("u1", "m1", kStart)}));
  EXPECT_EQ(Lead("u1").events, 3u);
}

// A cache of two leads over many: leads leave memory and come back from the store unchanged, a
// staged lead is pinned in memory, listings page from the store, and a restart reads only the
// pinned leads (the rest on demand).
TEST_F(EngineTest, ALeadCacheSmallerThanTheLeadsLosesNothing) {
  StartEngine(0, 86400, /*lead_cache=*/2);
  for (int round = 0; round < 3; ++round) {
    std::vector<Event> events;
    for (int i = 0; i < 20; ++i) {
      events.push_back(Page("u" + std::to_string(i),
                            "m" + std::to_string(round) + "-" + std::to_string(i), kStart));
    }
    ASSERT_OK(Submit(std::move(events)));
  }
  ASSERT_OK(Submit({Track("hot", "Demo Requested", "d1", kStart)}));
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(Lead("u" + std::to_string(i)).events, 3u) << i;
  }
  EXPECT_EQ(Lead("hot").stage, "mql");
  EXPECT_EQ(metrics_.leads(), 21u);
  std::promise<std::vector<std::string>> listed;
  engine_->RunOnEngine([&] {
    std::vector<std::string> ids;
    engine_->ForEachLead("", "u18", [&](handoff::Lead* lead) {
      ids.push_back(lead->id);
      return true;
    });
    engine_->ForEachLead("mql", "", [&](handoff::Lead* lead) {
      ids.push_back(lead->id);
      return true;
    });
    engine_->ForEachLead("new", "u8", [&](handoff::Lead* lead) {
      ids.push_back(lead->id);
      return true;
    });
    listed.set_value(ids);
  });
  // In id order: after "u18" come "u19", "u2" ... "u9"; then the staged lead; then "new" ones.
  EXPECT_EQ(listed.get_future().get(),
            (std::vector<std::string>{"u19", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9", "hot",
                                      "u9"}));
  StopEngine();

  StartEngine(0, 86400, /*lead_cache=*/2);
  EXPECT_EQ(metrics_.leads(), 21u);
  EXPECT_EQ(Lead("hot").stage, "mql");
  ASSERT_OK(Submit({Page("u7", "after-restart", kStart)}));
  EXPECT_EQ(Lead("u7").events, 4u);
  EXPECT_EQ(Lead("u3").events, 3u);
}

// A stage's listing walks the stage index by id from the page's `after`, over more leads than
// one B-tree node holds, reading the leads the small cache let go as it goes.
TEST_F(EngineTest, AStagesListingPagesInIdOrderOverManyLeads) {
  StartEngine(0, 86400, /*lead_cache=*/4);
  std::vector<Event> events;
  std::vector<std::string> ids;
  for (int i = 0; i < 500; ++i) {
    char id[8];
    std::snprintf(id, sizeof(id), "m%03d", i);
    ids.emplace_back(id);
    events.push_back(Track(id, "Demo Requested", "d" + std::to_string(i), kStart));
  }
  std::reverse(events.begin(), events.end());  // filed out of id order
  ASSERT_OK(Submit(std::move(events)));
  std::promise<std::vector<std::string>> listed;
  engine_->RunOnEngine([&] {
    std::vector<std::string> seen;
    engine_->ForEachLead("mql", "m249", [&](handoff::Lead* lead) {
      seen.push_back(lead->id);
      return seen.size() < 200;  // a page of 200
    });
    listed.set_value(seen);
  });
  EXPECT_EQ(listed.get_future().get(),
            std::vector<std::string>(ids.begin() + 250, ids.begin() + 450));
}

// A lead whose stored state does not decode (bit rot) and is not pinned (so the start does not
// read it): its events are counted and not applied, the engine goes on for every other lead,
// the stored bytes are not overwritten, and erasing the lead lets its id start afresh.
TEST_F(EngineTest, AnUnreadableLeadIsSetApartNotScoredFromZero) {
  StartEngine();
  ASSERT_OK(Submit({Page("bad", "m1", kStart), Page("good", "m2", kStart)}));
  StopEngine();
  CommitBatch corrupt;
  corrupt.PutLead("bad", "\xff\xfe not a lead");
  ASSERT_OK(store_.Commit(&corrupt));

  StartEngine();
  ASSERT_OK(Submit({Page("bad", "m3", kStart), Page("good", "m4", kStart)}));
  Event alias = Page("bad", "m5", kStart);
  alias.type = EventType::kAlias;
  alias.previous_id = "anon-1";  // a link into the unreadable lead: neither applied nor linked
  ASSERT_OK(Submit({alias}));
  EXPECT_FALSE(Lead("bad").found);
  EXPECT_EQ(Lead("good").events, 2u);
  const std::string text = metrics_.RenderPrometheus();
  EXPECT_NE(text.find("\nhandoff_unreadable_lead_events_total 2\n"), std::string::npos) << text;
  std::string stored;
  ASSERT_OK(store_.GetLead("bad", &stored));
  EXPECT_EQ(stored, "\xff\xfe not a lead");  // left for repair, not overwritten

  std::promise<Status> erased;
  engine_->RunOnEngine([&] {
    std::vector<std::string> ids;
    size_t events = 0;
    erased.set_value(engine_->Erase("bad", &ids, &events));
  });
  ASSERT_OK(erased.get_future().get());
  ASSERT_OK(Submit({Page("bad", "m6", kStart)}));
  EXPECT_EQ(Lead("bad").events, 1u);
  EXPECT_EQ(metrics_.leads(), 2u);
}

// A store written before the pinned index (leads, no lead count): the first start reads every
// lead once, keeps the staged one in memory, counts them all and writes the index, so the next
// start reads only the pinned leads.
TEST_F(EngineTest, AStoreFromBeforeThePinnedIndexIsIndexedOnce) {
  CommitBatch batch;
  std::string encoded;
  for (const char* id : {"a", "b", "c"}) {
    LeadState lead;
    lead.id = id;
    lead.stage = std::string(id) == "b" ? "mql" : "new";
    lead.events = 1;
    encoded.clear();
    EncodeLeadState(lead, &encoded);
    batch.PutLead(id, encoded);
  }
  ASSERT_OK(store_.Commit(&batch));
  StartEngine(0, 86400, /*lead_cache=*/1000);
  EXPECT_EQ(metrics_.leads(), 3u);
  EXPECT_EQ(store_.pinned_count(), 1u);
  EXPECT_EQ(Lead("b").stage, "mql");
  EXPECT_EQ(Lead("c").events, 1u);
  StopEngine();
  StartEngine(0, 86400, /*lead_cache=*/1000);
  EXPECT_EQ(metrics_.leads(), 3u);
  ASSERT_OK(Submit({Page("d", "m1", kStart)}));
  EXPECT_EQ(metrics_.leads(), 4u);
  EXPECT_EQ(Lead("a").events, 1u);
}

TEST_F(EngineTest, RecordsOfOneBatchAppearInTheOrderSent) {
  StartEngine();
  ASSERT_OK(Submit({Track("b", "Demo Requested", "m1", kStart),
                    Track("a", "Demo Requested", "m2", kStart),
                    Track("c", "Demo Requested", "m3", kStart)}));
  const std::vector<Value> records = Records();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].Find("lead")->as_string(), "b");
  EXPECT_EQ(records[1].Find("lead")->as_string(), "a");
  EXPECT_EQ(records[2].Find("lead")->as_string(), "c");
}

TEST_F(EngineTest, ARestartResumesFromTheStore) {
  StartEngine();
  ASSERT_OK(Submit({Track("u1", "Demo Requested", "m1", kStart)}));
  StopEngine();

  StartEngine();
  const LeadView lead = Lead("u1");
  ASSERT_TRUE(lead.found);
  EXPECT_EQ(lead.stage, "mql");
  EXPECT_EQ(lead.events, 1u);
  EXPECT_EQ(engine_->outbox_head(), 1u);
  // The dedupe id survived; a new qualifying lead gets the next seq.
  ASSERT_OK(Submit({Track("u1", "Demo Requested", "m1", kStart)}));
  EXPECT_EQ(Lead("u1").events, 1u);
  ASSERT_OK(Submit({Track("u2", "Demo Requested", "m2", kStart)}));
  const std::vector<Value> records = Records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].Find("seq")->as_number(), 2);
  EXPECT_EQ(records[1].Find("lead")->as_string(), "u2");
}

TEST_F(EngineTest, ARestartShowsTheRulesLoadTimeItShowedBefore) {
  // 0.9 ms past a millisecond: printed as that millisecond, though it rounds to the next.
  clock_.Set(kStart + 0.0519);
  StartEngine();
  const EpochSeconds shown = engine_->rules_info().loaded_at;
  std::string printed;
  AppendRfc3339Millis(shown, &printed);
  EXPECT_EQ(printed, "2027-01-15T08:00:00.051Z");
  StopEngine();
  clock_.Advance(60);
  StartEngine();  // the same rule bytes: the load time is the stored one
  EXPECT_EQ(engine_->rules_info().loaded_at, shown);
}

TEST_F(EngineTest, TheStageRecheckReadsScoresAtTheInjectedClock) {
  StartEngine(/*stage_check_interval=*/60);
  ASSERT_OK(Submit({Track("u1", "Demo Requested", "m1", kStart)}));
  ASSERT_EQ(Lead("u1").stage, "mql");
  // Two half-lives later the 50 points read 12.5 < 30: the next re-check moves the lead down.
  clock_.Advance(2 * 86400);
  ASSERT_TRUE(WaitForHead(2));
  const std::vector<Value> records = Records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].Find("from")->as_string(), "mql");
  EXPECT_EQ(records[1].Find("to")->as_string(), "new");
  EXPECT_EQ(records[1].Find("trigger"), nullptr);  // a timer caused it
  EXPECT_EQ(Lead("u1").stage, "new");
}

// Staged leads below the routing stage leave memory like any other; the stage index keeps them
// (counts, pages, the pinned index), and the wall-clock re-check reads one only when its exit
// can hold: not before, and not after a restart, which reads none of them.
TEST_F(EngineTest, StagedLeadsLeaveMemoryAndAreReadWhenTheirRecheckIsDue) {
  auto sync = [&] {
    for (int i = 0; i < 2; ++i) {  // the second pass starts after the first one's cron
      std::promise<void> done;
      engine_->RunOnEngine([&] { done.set_value(); });
      done.get_future().wait();
    }
  };
  auto in_memory = [&] {
    clock_.Advance(1);  // the memory gauges are taken once a second
    sync();
    return metrics_.leads_in_memory();
  };
  StartEngine(/*stage_check_interval=*/60, 86400, /*lead_cache=*/2);
  std::vector<Event> events;
  for (int i = 0; i < 10; ++i) {
    events.push_back(
        Track("s" + std::to_string(i), "Demo Requested", "d" + std::to_string(i), kStart));
  }
  ASSERT_OK(Submit(std::move(events)));
  for (int i = 0; i < 10; ++i) {
    ASSERT_OK(Submit({Page("p" + std::to_string(i), "p" + std::to_string(i), kStart)}));
  }
  EXPECT_LE(in_memory(), 2u);
  EXPECT_EQ(StageCountsText(), "new=10 mql=10 ");
  EXPECT_EQ(store_.pinned_count(), 10u);
  EXPECT_EQ(Lead("s3").stage, "mql");  // read back on demand
  ASSERT_EQ(engine_->outbox_head(), 10u);

  // 50 points under a 1-day half-life pass 30 at log2(5/3) days, 63,673 s.
  clock_.Advance(62'000);
  sync();
  EXPECT_LE(in_memory(), 2u);  // nothing was due: nothing was read
  EXPECT_EQ(engine_->outbox_head(), 10u);
  StopEngine();

  StartEngine(/*stage_check_interval=*/60, 86400, /*lead_cache=*/2);
  EXPECT_EQ(in_memory(), 0u);  // the start read the pinned index, not the leads
  EXPECT_EQ(StageCountsText(), "new=10 mql=10 ");
  clock_.Advance(1'800);  // past 63,673 s
  ASSERT_TRUE(WaitForHead(20));
  const std::vector<Value> records = Records();
  ASSERT_EQ(records.size(), 20u);
  for (size_t i = 10; i < 20; ++i) {
    EXPECT_EQ(records[i].Find("from")->as_string(), "mql");
    EXPECT_EQ(records[i].Find("to")->as_string(), "new");
  }
  EXPECT_EQ(StageCountsText(), "new=20 mql=0 ");
  EXPECT_EQ(store_.pinned_count(), 0u);
}

TEST_F(EngineTest, AReCheckOfMoreStagedLeadsThanOneLoopPassWalksReachesEveryOne) {
  // The walk of the stage index visits 8,192 entries a loop pass and re-checks 1,024 due leads:
  // 20,000 leads take several passes of each, with leads leaving the stage meanwhile.
  constexpr int kLeads = 20'000;
  StartEngine(/*stage_check_interval=*/60, 86400, /*lead_cache=*/100);
  std::vector<Event> events;
  for (int i = 0; i < kLeads; ++i) {
    events.push_back(
        Track("s" + std::to_string(i), "Demo Requested", "d" + std::to_string(i), kStart));
  }
  ASSERT_OK(Submit(std::move(events)));
  ASSERT_EQ(engine_->outbox_head(), static_cast<uint64_t>(kLeads));
  // 50 points under a 1-day half-life pass 30 at 63,673 s.
  clock_.Advance(64'000);
  ASSERT_TRUE(WaitForHead(2 * kLeads));
  EXPECT_EQ(StageCountsText(), "new=20000 mql=0 ");
  EXPECT_EQ(store_.pinned_count(), 0u);
}

TEST_F(EngineTest, ANewLeadIsCreatedWithoutAStoreLookupOnceTheStoredIdsAreScanned) {
  auto scanned = [&] {
    for (int i = 0; i < 1000; ++i) {
      std::promise<bool> done;
      engine_->RunOnEngine([&] { done.set_value(engine_->lead_ids_scanned()); });
      if (done.get_future().get()) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  };
  StartEngine(/*stage_check_interval=*/0, 86400, /*lead_cache=*/2);
  ASSERT_TRUE(scanned());
  for (int i = 0; i < 10; ++i) {
    ASSERT_OK(Submit({Page("old" + std::to_string(i), "a" + std::to_string(i), kStart)}));
  }
  StopEngine();

  StartEngine(/*stage_check_interval=*/0, 86400, /*lead_cache=*/2);
  ASSERT_TRUE(scanned());
  int reads = store_.lead_reads();
  for (int i = 0; i < 10; ++i) {
    ASSERT_OK(Submit({Page("new" + std::to_string(i), "b" + std::to_string(i), kStart)}));
  }
  EXPECT_EQ(store_.lead_reads(), reads);  // ten new leads, no lookup
  EXPECT_EQ(store_.lead_count(), 20u);

  // The stored leads, out of memory, are read and go on from what they held: not created anew.
  reads = store_.lead_reads();
  for (int i = 0; i < 10; ++i) {
    ASSERT_OK(Submit({Page("old" + std::to_string(i), "c" + std::to_string(i), kStart + 1)}));
  }
  EXPECT_GE(store_.lead_reads(), reads + 10);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(Lead("old" + std::to_string(i)).events, 2u) << i;
  }
  EXPECT_EQ(store_.lead_count(), 20u);
}

TEST_F(EngineTest, AReloadSwapsRulesBetweenBatchesAndABadFileKeepsThem) {
  StartEngine();
  EXPECT_EQ(engine_->rules_info().version, 1u);
  std::string better = kRules;
  better.replace(better.find("points: 1\n"), 10, "points: 45\n");
  dir_.WriteFile("rules.yaml", better);
  std::promise<ReloadOutcome> reloaded;
  engine_->RequestReload([&](const ReloadOutcome& o) { reloaded.set_value(o); });
  ReloadOutcome outcome = reloaded.get_future().get();
  ASSERT_TRUE(outcome.ok);
  EXPECT_EQ(outcome.version, 2u);
  ASSERT_OK(Submit({Page("u1", "m1", kStart)}));
  EXPECT_EQ(Lead("u1").stage, "mql");  // 45 points under the new rules

  dir_.WriteFile("rules.yaml", "scores: [\n");
  std::promise<ReloadOutcome> rejected;
  engine_->RequestReload([&](const ReloadOutcome& o) { rejected.set_value(o); });
  outcome = rejected.get_future().get();
  EXPECT_FALSE(outcome.ok);
  EXPECT_FALSE(outcome.errors.empty());
  EXPECT_EQ(outcome.version, 2u);
  EXPECT_EQ(engine_->rules_info().version, 2u);
}

// SPEC 5.2 decays every award under the score's half-life in force: a reload that changes the
// half-life folds each lead's awards again from its history, in memory and in the store alike,
// whether the lead was read before the reload or not.
TEST_F(EngineTest, AReloadThatChangesAHalfLifeDecaysEveryPastAwardUnderTheNewOne) {
  auto score = [&](const std::string& id, EpochSeconds at) {
    std::promise<double> out;
    engine_->RunOnEngine([&] {
      handoff::Lead* lead = engine_->FindLead(id);
      std::vector<double> scores;
      if (lead != nullptr) {
        engine_->scorer().ReadScores(lead, at, &scores);
      }
      out.set_value(scores.empty() ? -1 : scores[0]);
    });
    return out.get_future().get();
  };
  constexpr EpochSeconds kDay = 86400;
  StartEngine(/*stage_check_interval=*/0, /*dedupe_window=*/86400, /*lead_cache=*/1000);
  // Two awards of one rule a day apart, for two leads: u1 staged (kept in memory), u2 not, and
  // it leaves memory (a cache of 1,000 keeps the 2,000 filler leads' newest, not u2).
  ASSERT_OK(Submit({Track("u1", "Demo Requested", "u1a", kStart),
                    Track("u1", "Demo Requested", "u1b", kStart + kDay), Page("u2", "u2a", kStart),
                    Page("u2", "u2b", kStart + kDay)}));
  EXPECT_DOUBLE_EQ(score("u1", kStart + kDay), 50 * 0.5 + 50);
  EXPECT_DOUBLE_EQ(score("u2", kStart + kDay), 0.5 + 1);
  std::vector<Event> filler;
  for (int i = 0; i < 2000; ++i) {
    filler.push_back(Page("f" + std::to_string(i), "", kStart));
  }
  ASSERT_OK(Submit(filler));

  std::string slower = kRules;
  slower.replace(slower.find("half_life: 1d"), 13, "half_life: 2d");
  ASSERT_TRUE(Reload(slower).ok);
  const double at_latest = 50 * std::exp2(-0.5) + 50;
  const double two_days_on = 50 * std::exp2(-1.5) + 50 * std::exp2(-1);
  // A listing (GET /v1/leads reads a page of stored leads) shows u2 refolded too, before anything
  // read it by id.
  std::promise<double> listed;
  engine_->RunOnEngine([&] {
    double u2 = -1;
    engine_->ForEachLead("", "", [&](handoff::Lead* lead) {
      if (lead->id == "u2") {
        std::vector<double> scores;
        engine_->scorer().ReadScores(lead, kStart + kDay, &scores);
        u2 = scores[0];
        return false;
      }
      return true;
    });
    listed.set_value(u2);
  });
  EXPECT_DOUBLE_EQ(listed.get_future().get(), at_latest / 50);
  EXPECT_DOUBLE_EQ(score("u1", kStart + kDay), at_latest);
  EXPECT_DOUBLE_EQ(score("u2", kStart + kDay), at_latest / 50);
  EXPECT_DOUBLE_EQ(score("u2", kStart + 3 * kDay), two_days_on / 50);
  // A later award folds on top of the refolded value; a restart keeps it.
  ASSERT_OK(Submit({Track("u1", "Demo Requested", "u1c", kStart + 3 * kDay)}));
  EXPECT_DOUBLE_EQ(score("u1", kStart + 3 * kDay), two_days_on + 50);
  StopEngine();
  StartEngine();
  EXPECT_DOUBLE_EQ(score("u1", kStart + 3 * kDay), two_days_on + 50);
  EXPECT_DOUBLE_EQ(score("u2", kStart + 3 * kDay), two_days_on / 50);
}

// SPEC 5.2: within one window of a cap, a rule never awards a lead more than its points. A reload
// that changes the cap's `per`, or gives a rule a cap it lacked, counts the windows of the new cap
// from what the lead's history says the rule awarded, so what was awarded earlier that day counts.
TEST_F(EngineTest, AReloadThatChangesACapsWindowCountsThePastAwardsInTheNewWindows) {
  constexpr char kCapped[] = R"(scores:
  visits: {kind: event}
  demos: {kind: event}
rules:
  - {id: visit, score: visits, when: type == "page", points: 1, cap: {points: 3, per: 1h}}
  - {id: demo, score: demos, when: event == "Demo Requested", points: 1}
)";
  auto scores = [&](const std::string& id) {
    std::promise<std::vector<double>> out;
    engine_->RunOnEngine([&] {
      std::vector<double> s;
      if (handoff::Lead* lead = engine_->FindLead(id); lead != nullptr) {
        engine_->scorer().ReadScores(lead, clock_.Now(), &s);
      }
      out.set_value(s);
    });
    return out.get_future().get();
  };
  constexpr EpochSeconds kDay = 86400;
  const EpochSeconds day = std::floor(kStart / kDay) * kDay + kDay;  // a day's first second
  dir_.WriteFile("rules.yaml", kCapped);
  StartEngine();
  // Two hours of four visits each (three awarded an hour), and five demos without a cap.
  std::vector<Event> events;
  for (int hour = 0; hour < 2; ++hour) {
    for (int i = 0; i < 4; ++i) {
      events.push_back(Page("u1", "v" + std::to_string(hour) + std::to_string(i),
                            day + hour * 3600 + 60 * (i + 1)));
    }
  }
  for (int i = 0; i < 5; ++i) {
    events.push_back(Track("u1", "Demo Requested", "d" + std::to_string(i), day + 60 * (i + 1)));
  }
  ASSERT_OK(Submit(events));
  ASSERT_EQ(scores("u1"), (std::vector<double>{6, 5}));

  std::string daily = kCapped;
  daily.replace(daily.find("cap: {points: 3, per: 1h}"), 25, "cap: {points: 8, per: 1d}");
  daily.replace(daily.rfind("points: 1}"), 10, "points: 1, cap: {points: 6, per: 1d}}");
  ASSERT_TRUE(Reload(daily).ok);
  // The day's window already holds 6 visits of 8, and 5 demos of 6.
  events.clear();
  for (int i = 0; i < 4; ++i) {
    events.push_back(Page("u1", "w" + std::to_string(i), day + 3 * 3600 + 60 * (i + 1)));
    events.push_back(Track("u1", "Demo Requested", "e" + std::to_string(i), day + 3 * 3600 + i));
  }
  ASSERT_OK(Submit(events));
  EXPECT_EQ(scores("u1"), (std::vector<double>{8, 6}));
  // The windows' size is kept with them: after a restart nothing is counted again or forgotten.
  StopEngine();
  StartEngine();
  ASSERT_OK(Submit({Page("u1", "x", day + 4 * 3600), Page("u1", "y", day + kDay + 1)}));
  EXPECT_EQ(scores("u1"), (std::vector<double>{9, 6}));  // the next day's window is new
}

// A reload that removes a stage moves its leads at once: through the stage machine from the
// first stage, with a `stage` record from the stage they were in, so the record stream, the stage
// index and the funnel's counts agree before the lead's next event. A start on such rules too.
TEST_F(EngineTest, LeadsInAStageAReloadRemovesLeaveItAtOnceWithARecord) {
  std::string three = kRules;
  three += "  - name: sql\n    enter: score.engagement >= 80\n";
  dir_.WriteFile("rules.yaml", three);
  StartEngine();
  ASSERT_OK(Submit({Track("u1", "Demo Requested", "m1", kStart),
                    Track("u1", "Demo Requested", "m2", kStart),  // 100: sql
                    Track("u2", "Demo Requested", "m3", kStart),  // 50: mql
                    Page("u3", "m4", kStart)}));
  ASSERT_EQ(Lead("u1").stage, "sql");
  ASSERT_EQ(StageCountsText(), "new=1 mql=1 sql=1 ");
  ASSERT_EQ(Records().size(), 3u);  // u1 new>mql, mql>sql; u2 new>mql

  ASSERT_TRUE(Reload(kRules).ok);  // no sql
  ASSERT_TRUE(WaitForHead(4));
  std::vector<Value> records = Records();
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[3].Find("lead")->as_string(), "u1");
  EXPECT_EQ(records[3].Find("from")->as_string(), "sql");
  EXPECT_EQ(records[3].Find("to")->as_string(), "mql");  // 100 points still enter mql
  EXPECT_EQ(Lead("u1").stage, "mql");
  EXPECT_EQ(StageCountsText(), "new=1 mql=2 ");
  // Its next event starts from mql: no record, it stays.
  ASSERT_OK(Submit({Page("u1", "m5", kStart)}));
  EXPECT_EQ(Records().size(), 4u);

  // A start on rules without the stage a stored lead is in does the same.
  ASSERT_TRUE(Reload(three).ok);
  ASSERT_OK(Submit({Track("u2", "Demo Requested", "m6", kStart)}));  // 100: mql>sql
  ASSERT_EQ(Lead("u2").stage, "sql");
  StopEngine();
  dir_.WriteFile("rules.yaml", kRules);
  StartEngine();
  records = Records();
  ASSERT_EQ(records.size(), 6u);
  EXPECT_EQ(records[5].Find("lead")->as_string(), "u2");
  EXPECT_EQ(records[5].Find("from")->as_string(), "sql");
  EXPECT_EQ(records[5].Find("to")->as_string(), "mql");
  EXPECT_EQ(Lead("u2").stage, "mql");
  EXPECT_EQ(StageCountsText(), "new=1 mql=2 ");
}

// Cluster mode: a node counts the leads of the partitions it holds (GET /v1/funnel's stages,
// added up over the nodes). The counts by partition survive a restart, and a store written
// without them is counted once when they are first asked for.
TEST_F(EngineTest, StageCountsCountOnlyTheHeldPartitions) {
  auto counts = [&](std::function<bool(uint32_t)> held) { return StageCountsText(held); };
  auto even = [](uint32_t p) { return p == 0; };
  auto odd = [](uint32_t p) { return p == 1; };
  // '0' and '2' are even characters: u0, u2, u4 in partition 0; u1, u3 in partition 1.
  StartEngine();  // without partitions: the store has no counts by partition
  ASSERT_OK(Submit({Track("u0", "Demo Requested", "m0", kStart), Page("u1", "m1", kStart),
                    Page("u2", "m2", kStart)}));
  EXPECT_EQ(counts(even), "new=2 mql=1 ") << "no partitions: every lead counts";
  StopEngine();
  lead_partitions_ = 2;
  StartEngine();  // counts the stored leads by partition once
  EXPECT_EQ(counts(even), "new=1 mql=1 ");
  EXPECT_EQ(counts(odd), "new=1 mql=0 ");
  ASSERT_OK(Submit({Track("u3", "Demo Requested", "m3", kStart), Page("u4", "m4", kStart)}));
  EXPECT_EQ(counts(even), "new=2 mql=1 ");
  EXPECT_EQ(counts(odd), "new=1 mql=1 ");
  EXPECT_EQ(counts({}), "new=3 mql=2 ");
  EXPECT_EQ(counts([](uint32_t) { return false; }), "new=0 mql=0 ");
  // Erasing a lead counts it out of its partition.
  std::promise<Status> erased;
  engine_->RunOnEngine([&] {
    std::vector<std::string> ids;
    size_t events = 0;
    erased.set_value(engine_->Erase("u2", &ids, &events));
  });
  ASSERT_OK(erased.get_future().get());
  ASSERT_OK(Submit({}));  // the erasure's commit
  StopEngine();
  StartEngine();  // the stored counts
  EXPECT_EQ(counts(even), "new=1 mql=1 ");
  EXPECT_EQ(counts(odd), "new=1 mql=1 ");
  // The stream has 4 partitions where this node's setting says 2: the leads count by the
  // stream's (u0 and u4 in 0, u1 in 1, u3 in 3).
  engine_->SetLeadPartitions(4);
  EXPECT_EQ(counts(even), "new=1 mql=1 ");
  EXPECT_EQ(counts(odd), "new=1 mql=0 ");
  EXPECT_EQ(counts([](uint32_t p) { return p == 3; }), "new=0 mql=1 ");
}

TEST_F(EngineTest, LeadsArePagedInIdOrderFromTheIndexesByStage) {
  StartEngine();
  ASSERT_OK(Submit({Page("c", "m1", kStart), Track("b", "Demo Requested", "m2", kStart),
                    Page("a", "m3", kStart), Track("d", "Demo Requested", "m4", kStart)}));
  auto page = [&](std::string_view stage, std::string_view after, size_t limit) {
    std::promise<std::string> ids;
    engine_->RunOnEngine([&] {
      std::string out;
      size_t n = 0;
      engine_->ForEachLead(stage, after, [&](handoff::Lead* lead) {
        out += lead->id;
        return ++n < limit;
      });
      ids.set_value(out);
    });
    return ids.get_future().get();
  };
  EXPECT_EQ(page("", "", 10), "abcd");
  EXPECT_EQ(page("", "b", 10), "cd");
  EXPECT_EQ(page("", "", 2), "ab");
  EXPECT_EQ(page("mql", "", 10), "bd");
  EXPECT_EQ(page("new", "", 10), "ac");
  EXPECT_EQ(page("sql", "", 10), "");
  // A lead that changes stage moves between the stage indexes.
  ASSERT_OK(Submit({Track("c", "Demo Requested", "m5", kStart)}));
  EXPECT_EQ(page("mql", "", 10), "bcd");
  EXPECT_EQ(page("new", "", 10), "a");
  // After a restart the indexes are rebuilt from the store.
  StopEngine();
  StartEngine();
  EXPECT_EQ(page("mql", "b", 10), "cd");
}

}  // namespace
}  // namespace handoff
