// Identity merges (SPEC 8) through the engine: a merged lead equals the lead the same events
// build under one id, whatever the interleaving of anonymous events, identifies and aliases.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "api/lead_json.h"
#include "base/json_parser.h"
#include "core/engine.h"
#include "outbox/stored_record.h"
#include "rules/sha256.h"
#include "tests/core/memory_store.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

using handoff::testing::MemoryStore;
using handoff::testing::TempDir;

constexpr EpochSeconds kStart = 1'800'000'000;

constexpr char kRules[] = R"(scores:
  fit: {kind: profile}
  engagement: {kind: event, half_life: 14d}
rules:
  - id: senior
    score: fit
    when: traits.title matches "(?i)head|vp"
    points: 20
  - id: pricing
    score: engagement
    when: type == "page" && properties.path starts_with "/pricing"
    points: 10
    cap: {points: 25, per: 1d}
  - id: webinar
    score: engagement
    when: event == "Webinar Attended"
    points: 15
  - id: demo
    score: engagement
    when: event == "Demo Requested"
    points: 50
    once: true
stages:
  - name: mql
    enter: score.engagement >= 40
  - name: sql
    enter: score.engagement >= 80 && score.fit >= 10
    exit: score.engagement < 60
)";

Event Make(EventType type, std::string user, std::string anon, EpochSeconds at) {
  Event e;
  e.type = type;
  e.user_id = std::move(user);
  e.anonymous_id = std::move(anon);
  e.timestamp = at;
  e.has_timestamp = true;
  return e;
}
Event Page(std::string user, std::string anon, std::string path, EpochSeconds at) {
  Event e = Make(EventType::kPage, std::move(user), std::move(anon), at);
  e.properties = Value::MakeObject();
  e.properties.Set("path", Value::String(std::move(path)));
  return e;
}
Event Track(std::string user, std::string anon, std::string name, EpochSeconds at) {
  Event e = Make(EventType::kTrack, std::move(user), std::move(anon), at);
  e.name = std::move(name);
  e.has_name = true;
  return e;
}
Event Identify(std::string user, std::string anon, std::string title, EpochSeconds at) {
  Event e = Make(EventType::kIdentify, std::move(user), std::move(anon), at);
  e.traits = Value::MakeObject();
  e.traits.Set("title", Value::String(std::move(title)));
  return e;
}
Event Alias(std::string user, std::string previous, EpochSeconds at) {
  Event e = Make(EventType::kAlias, std::move(user), "", at);
  e.previous_id = std::move(previous);
  return e;
}

// One engine over an in-memory store.
class Daemonless {
 public:
  // `routing_log`: cluster mode's one router (EngineOptions::routing_log), this engine node
  // `node_id` of four partitions.
  // `tweak` changes the engine's options last.
  explicit Daemonless(const std::string& rules_path, RoutingLog* routing_log = nullptr,
                      const std::string& node_id = "",
                      const std::function<void(EngineOptions*)>& tweak = {})
      : clock_(kStart + 86400) {
    options_.rules_path = rules_path;
    options_.watch_rules = false;
    options_.stage_check_interval = 0;
    if (routing_log != nullptr) {
      options_.routing_log = routing_log;
      options_.node_id = node_id;
      options_.lead_partitions = 4;
      options_.lead_partition = [](std::string_view id, uint32_t n) {
        return static_cast<uint32_t>(id.size() % n);
      };
    }
    if (tweak) {
      tweak(&options_);
    }
    engine_ = std::make_unique<Engine>(options_, &store_, &clock_, &metrics_);
    EXPECT_OK(engine_->Start());
  }
  // Applies routing inputs (cluster mode) and waits until they are committed; `position`, when
  // not empty, is the routing log's position they bring the node to; `replay`: applied before.
  void Route(std::vector<RoutingInput> inputs, const std::string& position = "",
             bool replay = false) {
    std::promise<Status> done;
    RoutingBatch batch;
    batch.inputs = std::move(inputs);
    batch.replay = replay;
    if (!position.empty()) {
      batch.log_positions.emplace_back("cluster.applied_seq.routing", position);
    }
    batch.done = [&done](const Status& st) { done.set_value(st); };
    engine_->SubmitRouting(std::move(batch));
    EXPECT_OK(done.get_future().get());
  }
  // Reloads the rule file (rewritten by the test); whether the new rules are in force.
  bool Reload() {
    std::promise<bool> reloaded;
    engine_->RequestReload([&](const ReloadOutcome& o) { reloaded.set_value(o.ok); });
    return reloaded.get_future().get();
  }
  // A new engine on the same store, as after a restart; `tweak` changes its options first.
  void Restart(const std::function<void(EngineOptions*)>& tweak = {}) {
    if (tweak) {
      tweak(&options_);
    }
    engine_->Stop();
    engine_ = std::make_unique<Engine>(options_, &store_, &clock_, &metrics_);
    EXPECT_OK(engine_->Start());
  }
  // What IdentityView::HandedOverAfter says of `id`: "<into>@<after_seq>", or "" when nothing.
  std::string MovedTo(const std::string& id) {
    std::string into;
    uint64_t after_seq = 0;
    return engine_->HandedOverAfter(id, &into, &after_seq) ? into + "@" + std::to_string(after_seq)
                                                           : std::string();
  }
  void Send(std::vector<Event> events) {
    std::promise<Status> done;
    IngestBatch batch;
    batch.events = std::move(events);
    batch.received_at = clock_.Now();
    batch.received_mono = std::chrono::steady_clock::now();
    batch.done = [&done](const Status& st) { done.set_value(st); };
    engine_->Submit(std::move(batch));
    EXPECT_OK(done.get_future().get());
  }
  // The lead `id` resolves to, as the API shows it (scores read at a fixed time); "" if none.
  std::string LeadJson(const std::string& id) {
    std::promise<std::string> out;
    engine_->RunOnEngine([&] {
      std::string json;
      Lead* lead = engine_->FindLead(engine_->ResolveId(id));
      if (lead != nullptr) {
        AppendLeadJson(engine_->scorer(), lead, kStart + 3 * 86400, &json, nullptr,
                       &engine_->OwnerOf(*lead));
      }
      out.set_value(json);
    });
    return out.get_future().get();
  }
  // The history of the lead `id` resolves to, an entry a line: its event's type, name and time,
  // then the points each rule awarded it (not the apply seq or the id it came under).
  std::string HistoryText(const std::string& id) {
    std::promise<std::string> out;
    engine_->RunOnEngine([&] {
      std::string text;
      Lead* lead = engine_->FindLead(engine_->ResolveId(id));
      std::vector<HistoryEntry> entries;
      if (lead != nullptr) {
        EXPECT_OK(engine_->History(*lead, &entries));
      }
      for (const HistoryEntry& e : entries) {
        text += std::to_string(static_cast<int>(e.event.type)) + " " + e.event.name + " " +
                std::to_string(e.event.timestamp) + ":";
        for (const auto& [rule, points] : e.awards) {
          text += " " + rule + "=" + std::to_string(points);
        }
        text += "\n";
      }
      out.set_value(text);
    });
    return out.get_future().get();
  }
  std::string Root(const std::string& id) {
    std::promise<std::string> out;
    engine_->RunOnEngine([&] { out.set_value(std::string(engine_->ResolveId(id))); });
    return out.get_future().get();
  }
  bool Exists(const std::string& id) {
    std::promise<bool> out;
    engine_->RunOnEngine([&] { out.set_value(engine_->FindLead(id) != nullptr); });
    return out.get_future().get();
  }
  ManualClock& clock() { return clock_; }
  Engine& engine() { return *engine_; }
  // Merges so far, from the metrics.
  int Merges() {
    const std::string text = metrics_.RenderPrometheus();
    const std::string name = "handoff_identity_merges_total ";
    const size_t at = text.find("\n" + name);
    return at == std::string::npos ? -1 : std::stoi(text.substr(at + 1 + name.size()));
  }
  MemoryStore& store() { return store_; }
  // Each event in its own batch with the given apply order (cluster mode: its place in the log).
  void SendInOrder(const std::vector<std::pair<Event, uint64_t>>& events) {
    for (const auto& [event, order] : events) {
      std::promise<Status> done;
      IngestBatch batch;
      batch.events = {event};
      batch.origins = {EventOrigin{Transport::kTcp, clock_.Now(), order}};
      batch.received_at = clock_.Now();
      batch.received_mono = std::chrono::steady_clock::now();
      batch.done = [&done](const Status& st) { done.set_value(st); };
      engine_->Submit(std::move(batch));
      EXPECT_OK(done.get_future().get());
    }
  }
  // Applies a partition's control (cluster mode), as the log applier hands it over.
  void Control(PartitionControl control) {
    std::promise<Status> done;
    IngestBatch batch;
    batch.controls = {std::move(control)};
    batch.received_at = clock_.Now();
    batch.received_mono = std::chrono::steady_clock::now();
    batch.done = [&done](const Status& st) { done.set_value(st); };
    engine_->Submit(std::move(batch));
    EXPECT_OK(done.get_future().get());
  }
  // Runs fn on the engine thread and waits for it.
  template <typename Fn>
  auto OnEngine(Fn fn) {
    std::promise<decltype(fn())> out;
    engine_->RunOnEngine([&] { out.set_value(fn()); });
    return out.get_future().get();
  }

 private:
  EngineOptions options_;
  ManualClock clock_;
  MemoryStore store_;
  Metrics metrics_;
  std::unique_ptr<Engine> engine_;
};

class IdentityMergeTest : public ::testing::Test {
 protected:
  IdentityMergeTest() { rules_path_ = dir_.WriteFile("rules.yaml", kRules); }

  // Lead u1 after `long_ago`, 100 days, then `recent`, every event sent under user id u1 alone:
  // what a merge across a trimmed history must equal.
  static std::string OneIdLeadJson(const std::string& rules_path, std::vector<Event> long_ago,
                                   std::vector<Event> recent) {
    for (std::vector<Event>* events : {&long_ago, &recent}) {
      for (Event& e : *events) {
        e.user_id = "u1";
        e.anonymous_id.clear();
      }
    }
    Daemonless single(rules_path);
    single.Send(long_ago);
    single.clock().Advance(100 * 86400);
    single.Send(recent);
    return single.LeadJson("u1");
  }

  TempDir dir_;
  std::string rules_path_;
};

// The issue's walk-through: anon-42 views pricing pages and attends a webinar, identifies as
// kim@acme.com (Head of Growth), then requests a demo.
TEST_F(IdentityMergeTest, AnAnonymousVisitorsPastCountsForTheKnownLead) {
  Daemonless merged(rules_path_);
  merged.Send({Page("", "anon-42", "/pricing", kStart),
               Page("", "anon-42", "/pricing/enterprise", kStart + 60),
               Track("", "anon-42", "Webinar Attended", kStart + 120)});
  merged.Send({Identify("kim@acme.com", "anon-42", "Head of Growth", kStart + 180)});
  merged.Send({Track("kim@acme.com", "", "Demo Requested", kStart + 240)});
  EXPECT_EQ(merged.Root("anon-42"), "kim@acme.com");
  EXPECT_FALSE(merged.Exists("anon-42"));  // no orphan lead
  EXPECT_EQ(merged.store().link_count(), 1u);
  EXPECT_EQ(merged.Merges(), 1);

  Daemonless single(rules_path_);
  single.Send({Page("kim@acme.com", "", "/pricing", kStart),
               Page("kim@acme.com", "", "/pricing/enterprise", kStart + 60),
               Track("kim@acme.com", "", "Webinar Attended", kStart + 120),
               Identify("kim@acme.com", "", "Head of Growth", kStart + 180),
               Track("kim@acme.com", "", "Demo Requested", kStart + 240)});
  EXPECT_EQ(merged.LeadJson("kim@acme.com"), single.LeadJson("kim@acme.com"));
  EXPECT_NE(merged.LeadJson("kim@acme.com").find("\"stage\":\"sql\""), std::string::npos);
}

// history_retention trims old blocks. A merge then starts from the state of the lead whose
// history misses events (it holds what they gave: traits, once and cap memory, first_seen, the
// event count) and replays the other lead's events on top; it used to replay only what history
// held, from nothing, so a customer known for longer than the retention lost their profile and a
// `once` rule paid again. When the trimmed lead's events all came first, as here in both cases,
// that equals the one id's run.
TEST_F(IdentityMergeTest, AMergeWithALeadWhoseOldHistoryIsTrimmedKeepsWhatItsStateHolds) {
  for (const bool known_is_old : {true, false}) {
    SCOPED_TRACE(known_is_old ? "the known lead's history is trimmed"
                              : "the anonymous lead's history is trimmed");
    const std::string old_id = known_is_old ? "u1" : "a9";
    auto old_event = [&](Event e) {
      if (known_is_old) {
        return e;
      }
      e.anonymous_id = "a9";
      e.user_id.clear();
      return e;
    };
    std::vector<Event> long_ago = {old_event(Identify("u1", "", "VP", kStart)),
                                   old_event(Track("u1", "", "Demo Requested", kStart + 10)),
                                   old_event(Page("u1", "", "/pricing", kStart + 20))};
    std::vector<Event> recent = {
        Page(known_is_old ? "" : "u1", known_is_old ? "a9" : "", "/pricing", kStart + 86400),
        Identify("u1", "a9", "VP", kStart + 86400 + 10),
        Track("u1", "", "Demo Requested", kStart + 86400 + 20)};
    Daemonless merged(rules_path_);
    merged.Send(long_ago);
    merged.clock().Advance(100 * 86400);
    ASSERT_OK(merged.store().TrimHistory(merged.clock().Now()));
    ASSERT_EQ(merged.HistoryText(old_id), "");
    merged.Send(recent);
    ASSERT_EQ(merged.Merges(), 1);
    EXPECT_EQ(merged.LeadJson("u1"), OneIdLeadJson(rules_path_, long_ago, recent));
    EXPECT_NE(merged.LeadJson("u1").find("\"title\":\"VP\""), std::string::npos);
    EXPECT_NE(merged.LeadJson("u1").find("\"events\":6"), std::string::npos)
        << merged.LeadJson("u1");
  }
}

// Events applied while the history was off (`history: false`, then on) are missing from it as
// trimmed ones are: the lead that misses them is the base, as README's merge choice says, not a
// replay of what the history holds from nothing (which lost both leads' past). Found by a
// white-box review.
TEST_F(IdentityMergeTest, AMergeWithEventsAppliedWhileHistoryWasOffKeepsWhatTheStateHolds) {
  auto history = [](bool on) { return [on](EngineOptions* o) { o->history = on; }; };
  {
    SCOPED_TRACE("only the anonymous lead's events came while history was off");
    const std::vector<Event> long_ago = {Page("", "a9", "/pricing", kStart),
                                         Track("", "a9", "Demo Requested", kStart + 10)};
    const std::vector<Event> recent = {Identify("u1", "", "VP", kStart + 86400),
                                       Identify("u1", "a9", "VP", kStart + 86400 + 10)};
    Daemonless merged(rules_path_, nullptr, "", history(false));
    merged.Send(long_ago);
    merged.clock().Advance(100 * 86400);
    merged.Restart(history(true));
    merged.Send(recent);
    ASSERT_EQ(merged.Merges(), 1);
    EXPECT_EQ(merged.LeadJson("u1"), OneIdLeadJson(rules_path_, long_ago, recent));
  }
  {
    SCOPED_TRACE("both leads' events came while history was off");
    Daemonless merged(rules_path_, nullptr, "", history(false));
    merged.Send({Page("", "a9", "/pricing", kStart), Identify("u1", "", "VP", kStart + 10),
                 Track("u1", "", "Demo Requested", kStart + 20)});
    const std::string known = merged.LeadJson("u1");
    merged.Restart(history(true));
    merged.Send({Identify("u1", "a9", "VP", kStart + 30)});
    ASSERT_EQ(merged.Merges(), 1);
    // u1 is the base; the anonymous lead's page view is what is lost.
    const std::string after = merged.LeadJson("u1");
    EXPECT_NE(after.find("\"events\":3"), std::string::npos) << after;
    EXPECT_NE(after.find("\"title\":\"VP\""), std::string::npos) << after;
    EXPECT_NE(known.find("\"events\":2"), std::string::npos) << known;
  }
}

// A merge that starts from the older lead's state (its history trimmed) gives that state the
// newer lead's id: profile scores read under the older id must not outlive it (a profile rule
// may read lead.id).
TEST_F(IdentityMergeTest, AMergedLeadsProfileScoresAreReadUnderItsNewId) {
  std::string rules = kRules;
  // `known` makes fit 25 only under the id u1; `fit-bonus` reads fit as the scorer holds it
  // before the page after the merge (a profile score read under the older id: 20, no bonus).
  const std::string known_rule =
      "rules:\n  - id: known\n    score: fit\n    when: lead.id == \"u1\"\n    points: 5\n"
      "  - id: fit-bonus\n    score: engagement\n"
      "    when: properties.path == \"/pricing/plans\" && score.fit >= 25\n    points: 7\n";
  rules.replace(rules.find("rules:\n"), 7, known_rule);
  const std::string rules_path = dir_.WriteFile("rules-known.yaml", rules);
  auto anonymous = [](Event e) {
    e.anonymous_id = "a9";
    e.user_id.clear();
    return e;
  };
  std::vector<Event> long_ago = {anonymous(Identify("u1", "", "VP", kStart)),
                                 anonymous(Page("u1", "", "/pricing", kStart + 20))};
  // An alias: the link itself changes no trait, so nothing else makes the profile stale.
  std::vector<Event> recent = {Alias("u1", "a9", kStart + 86400),
                               Page("u1", "", "/pricing/plans", kStart + 86400 + 20)};
  Daemonless merged(rules_path);
  merged.Send(long_ago);
  merged.clock().Advance(100 * 86400);
  ASSERT_OK(merged.store().TrimHistory(merged.clock().Now()));
  merged.Send(recent);
  ASSERT_EQ(merged.Merges(), 1);
  EXPECT_EQ(merged.LeadJson("u1"), OneIdLeadJson(rules_path, long_ago, recent));
  EXPECT_NE(merged.LeadJson("u1").find("\"fit\":25"), std::string::npos) << merged.LeadJson("u1");
}

// Two merges in one group commit whose leads' entries share a history bucket of a stored block,
// each giving an entry the replay's points (a `once` rule the anonymous past paid first): the
// second rewrite of that bucket used to start from the store, which did not have the first yet,
// and put the first lead's logged points back (the crash loop caught it, as only the grouping of
// events into commits decides whether two merges share one).
TEST_F(IdentityMergeTest, TwoMergesInOneCommitKeepEachOthersRewrittenPoints) {
  const std::string k1 = "k1";
  std::string k2 = "k2";
  for (int i = 0; HistoryLog::BucketOf(k2) != HistoryLog::BucketOf(k1); ++i) {
    k2 = "k2-" + std::to_string(i);
  }
  Daemonless merged(rules_path_);
  merged.Send(
      {Track("", "v1", "Demo Requested", kStart), Track("", "v2", "Demo Requested", kStart)});
  merged.Send({Track(k1, "", "Demo Requested", kStart + 100),
               Track(k2, "", "Demo Requested", kStart + 100)});
  merged.Send({Alias(k1, "v1", kStart + 200), Alias(k2, "v2", kStart + 200)});  // one commit
  EXPECT_EQ(merged.Merges(), 2);

  Daemonless single(rules_path_);
  single.Send({Track(k1, "", "Demo Requested", kStart), Track(k2, "", "Demo Requested", kStart)});
  single.Send({Track(k1, "", "Demo Requested", kStart + 100),
               Track(k2, "", "Demo Requested", kStart + 100)});
  single.Send({Alias(k1, "v1", kStart + 200), Alias(k2, "v2", kStart + 200)});
  for (const std::string& id : {k1, k2}) {
    EXPECT_EQ(merged.HistoryText(id), single.HistoryText(id)) << id;
    EXPECT_EQ(merged.LeadJson(id), single.LeadJson(id)) << id;
  }
  merged.Restart();
  EXPECT_EQ(merged.HistoryText(k1), single.HistoryText(k1));
}

// A merge replays both leads' events and rewrites an entry's logged points only where the replay
// awards something else. The same awards listed in another order are the same: after the rule
// file lists its rules in another order (or for entries logged before awards were listed in rule
// order), the entries stay as logged instead of being rewritten for nothing.
TEST_F(IdentityMergeTest, AReplayThatAwardsTheSamePointsInAnotherOrderLeavesTheEntries) {
  // Two rules that both award a webinar, listed in the given order.
  auto rules_in_order = [](const std::vector<std::pair<std::string, int>>& rules) {
    std::string text = "scores:\n  engagement: {kind: event, half_life: 14d}\nrules:\n";
    for (const auto& [id, points] : rules) {
      text += "  - id: " + id +
              "\n    score: engagement\n    when: event == \"Webinar Attended\"\n    points: " +
              std::to_string(points) + "\n";
    }
    return text;
  };
  const std::string kAlphaFirst = rules_in_order({{"alpha", 15}, {"beta", 5}});
  const std::string kBetaFirst = rules_in_order({{"beta", 5}, {"alpha", 15}});
  const std::string path = dir_.WriteFile("order.yaml", kAlphaFirst);
  Daemonless d(path);
  d.Send(
      {Track("u1", "", "Webinar Attended", kStart), Track("", "a1", "Webinar Attended", kStart)});
  const std::string logged = std::to_string(static_cast<int>(EventType::kTrack)) +
                             " Webinar Attended " + std::to_string(kStart) +
                             ": alpha=15.000000 beta=5.000000\n";
  ASSERT_EQ(d.HistoryText("u1"), logged);
  ASSERT_EQ(d.HistoryText("a1"), logged);

  dir_.WriteFile("order.yaml", kBetaFirst);
  ASSERT_TRUE(d.Reload());
  d.Send({Alias("u1", "a1", kStart + 60)});
  ASSERT_EQ(d.Merges(), 1);
  // Both replayed entries as logged (alpha first); only the link's own entry is new.
  const std::string history = d.HistoryText("u1");
  EXPECT_EQ(history, logged + logged + std::to_string(static_cast<int>(EventType::kAlias)) + "  " +
                         std::to_string(kStart + 60) + ":\n");
  EXPECT_EQ(history.find("beta=5.000000 alpha"), std::string::npos);
}
// Past max_merge_replay_events together, a merge replays only the smaller lead's events, on top of
// the larger lead's state as it is: a lead's whole history is not read and replayed at every
// merge (one lead merging thousands of anonymous ids held the engine for minutes). Told apart
// here by a reload that changed the webinar's points: an exact merge replays every event under
// the new rules and gives every entry the new points; a bounded one leaves the base's entries.
TEST_F(IdentityMergeTest, AMergePastTheReplayBoundReplaysOnlyTheSmallerLeadOnTheLargerOne) {
  auto rules = [](int points) {
    return "scores:\n  engagement: {kind: event}\nrules:\n  - id: webinar\n    score: engagement\n"
           "    when: event == \"Webinar Attended\"\n    points: " +
           std::to_string(points) + "\n";
  };
  auto history_points = [](const std::string& history) {
    std::vector<std::string> points;
    for (size_t at = history.find("webinar="); at != std::string::npos;
         at = history.find("webinar=", at + 1)) {
      points.push_back(history.substr(at + 8, history.find('.', at) - at - 8));
    }
    return points;
  };
  for (const bool known_is_larger : {true, false}) {
    SCOPED_TRACE(known_is_larger ? "the known lead is the larger"
                                 : "the anonymous lead is the larger");
    for (const uint64_t bound : {uint64_t{3}, uint64_t{4096}}) {
      SCOPED_TRACE("bound " + std::to_string(bound));
      const std::string path = dir_.WriteFile("bound.yaml", rules(15));
      Daemonless d(path, nullptr, "",
                   [bound](EngineOptions* o) { o->max_merge_replay_events = bound; });
      const std::string larger = known_is_larger ? "u1" : "";
      const std::string larger_anon = known_is_larger ? "" : "a1";
      d.Send({Track(larger, larger_anon, "Webinar Attended", kStart),
              Track(larger, larger_anon, "Webinar Attended", kStart + 1),
              Track(larger, larger_anon, "Webinar Attended", kStart + 2)});
      d.Send({Track(known_is_larger ? "" : "u1", known_is_larger ? "a1" : "", "Webinar Attended",
                    kStart + 3)});
      dir_.WriteFile("bound.yaml", rules(20));
      ASSERT_TRUE(d.Reload());
      d.Send({Alias("u1", "a1", kStart + 10)});
      ASSERT_EQ(d.Merges(), 1);
      const std::vector<std::string> points = history_points(d.HistoryText("u1"));
      if (bound == 3) {  // 4 events together: past it
        EXPECT_EQ(points, (std::vector<std::string>{"15", "15", "15", "20"}));
        EXPECT_NE(d.LeadJson("u1").find("\"engagement\":65"), std::string::npos)
            << d.LeadJson("u1");
      } else {
        EXPECT_EQ(points, (std::vector<std::string>{"20", "20", "20", "20"}));
        EXPECT_NE(d.LeadJson("u1").find("\"engagement\":80"), std::string::npos)
            << d.LeadJson("u1");
      }
    }
  }
}

TEST_F(IdentityMergeTest, ALinkBeforeAnyAnonymousEventOnlyLinks) {
  Daemonless d(rules_path_);
  d.Send({Identify("kim", "anon-1", "VP Sales", kStart)});
  d.Send({Page("", "anon-1", "/pricing", kStart + 10)});
  EXPECT_EQ(d.Root("anon-1"), "kim");
  EXPECT_FALSE(d.Exists("anon-1"));
  EXPECT_NE(d.LeadJson("kim").find("\"events\":2"), std::string::npos) << d.LeadJson("kim");
}

TEST_F(IdentityMergeTest, ChainsAndAliasesBetweenKnownIdsLandOnTheLastLead) {
  Daemonless d(rules_path_);
  d.Send({Page("a", "", "/pricing", kStart), Page("b", "", "/pricing", kStart + 1),
          Page("c", "", "/pricing", kStart + 2)});
  d.Send({Alias("b", "a", kStart + 3), Alias("c", "b", kStart + 4)});
  d.Send({Page("a", "", "/x", kStart + 5)});
  EXPECT_EQ(d.Root("a"), "c");
  EXPECT_EQ(d.Root("b"), "c");
  EXPECT_FALSE(d.Exists("a"));
  EXPECT_FALSE(d.Exists("b"));
  EXPECT_NE(d.LeadJson("c").find("\"events\":6"), std::string::npos) << d.LeadJson("c");
  // Linking ids of one lead again changes nothing but the link.
  d.Send({Alias("c", "a", kStart + 6)});
  EXPECT_NE(d.LeadJson("c").find("\"events\":7"), std::string::npos);
}

// One user identified under many anonymous ids in turn: each link is written once, when its id
// joins the group. Every link of the group used to be written again at each merge, so the N-th
// id cost N writes (a review's 20,000 ids ran past 10 minutes); the links still hold after a
// restart of the engine over the same store.
TEST_F(IdentityMergeTest, LinkingIdsOneByOneWritesEachLinkOnce) {
  constexpr int kIds = 40;
  Daemonless d(rules_path_);
  for (int i = 0; i < kIds; ++i) {
    const std::string anon = "anon-" + std::to_string(i);
    d.Send({Page("", anon, "/pricing", kStart + 2 * i)});
    d.Send({Identify("kim", anon, "VP", kStart + 2 * i + 1)});
  }
  // One chain of links as well: a group linked into another moves whole, each id written again
  // once, under its new root.
  d.Send({Page("lee", "", "/pricing", kStart + 100)});
  d.Send({Alias("lee", "kim", kStart + 101)});
  EXPECT_EQ(d.store().link_count(), static_cast<size_t>(kIds + 1));
  EXPECT_EQ(d.store().link_puts(), static_cast<size_t>(2 * kIds + 1));
  d.Restart();
  for (int i = 0; i < kIds; ++i) {
    EXPECT_EQ(d.Root("anon-" + std::to_string(i)), "lee");
  }
  EXPECT_EQ(d.Root("kim"), "lee");
  EXPECT_NE(d.LeadJson("lee").find("\"events\":" + std::to_string(2 * kIds + 2)), std::string::npos)
      << d.LeadJson("lee");
}

// Random interleavings of anonymous events, identifies and aliases: every merged lead equals the
// lead its events build when all are sent under its final id, in the same order.
TEST_F(IdentityMergeTest, RandomInterleavingsMatchSingleIdRuns) {
  int merges = 0;
  for (uint32_t seed = 1; seed <= 25; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    dir_.WriteFile("rules.yaml", kRules);
    std::mt19937 rng(seed);
    const std::vector<std::string> users = {"u1", "u2", "u3"};
    const std::vector<std::string> anons = {"a1", "a2", "a3", "a4", "a5"};
    std::vector<Event> events;
    EpochSeconds t = kStart;
    for (int i = 0; i < 60; ++i) {
      t += std::uniform_int_distribution<int>(-3000, 9000)(rng);  // out of order sometimes
      const std::string& user = users[rng() % users.size()];
      const std::string& anon = anons[rng() % anons.size()];
      const bool anonymous = rng() % 2 == 0;
      switch (rng() % 6) {
        case 0:
          events.push_back(Identify(user, anon, rng() % 2 ? "VP" : "Engineer", t));
          break;
        case 1:
          events.push_back(rng() % 3 == 0 ? Alias(users[rng() % users.size()], user, t)
                                          : Alias(user, anon, t));
          break;
        case 2:
          events.push_back(Track(anonymous ? "" : user, anonymous ? anon : "",
                                 rng() % 2 ? "Webinar Attended" : "Demo Requested", t));
          break;
        default:
          events.push_back(Page(anonymous ? "" : user, anonymous ? anon : "",
                                rng() % 2 ? "/pricing" : "/docs", t));
          break;
      }
    }
    Daemonless merged(rules_path_);
    // Sent in batches of random sizes, so merges happen within and across commits.
    for (size_t i = 0; i < events.size();) {
      const size_t n = std::min<size_t>(events.size() - i, 1 + rng() % 7);
      merged.Send(std::vector<Event>(events.begin() + i, events.begin() + i + n));
      i += n;
    }
    // The control: every event under the final root of its lead, links made inert.
    Daemonless single(rules_path_);
    std::vector<Event> rewritten;
    std::set<std::string> roots;
    for (Event e : events) {
      const std::string root = merged.Root(std::string(e.lead_key()));
      roots.insert(root);
      e.user_id = root;
      e.anonymous_id.clear();
      if (e.type == EventType::kAlias) {
        e.previous_id = root;
      }
      rewritten.push_back(std::move(e));
    }
    single.Send(rewritten);
    merges += merged.Merges();
    for (const std::string& root : roots) {
      EXPECT_EQ(merged.LeadJson(root), single.LeadJson(root)) << root;
      // The history too: each event with the points the one id's lead was given for it.
      EXPECT_EQ(merged.HistoryText(root), single.HistoryText(root)) << root;
    }
    // A reload that changes the half-life and the cap's window refolds both alike from the
    // history (SPEC 5.2), which holds what the one id was given, merges or not.
    std::string changed = kRules;
    changed.replace(changed.find("half_life: 14d"), 14, "half_life: 5d");
    changed.replace(changed.find("per: 1d"), 7, "per: 2d");
    dir_.WriteFile("rules.yaml", changed);
    ASSERT_TRUE(merged.Reload());
    ASSERT_TRUE(single.Reload());
    for (const std::string& root : roots) {
      EXPECT_EQ(merged.LeadJson(root), single.LeadJson(root)) << root << " after the reload";
    }
  }
  EXPECT_GT(merges, 25);  // the workload does merge, many times
}

TEST_F(IdentityMergeTest, MergedLeadsAndLinksSurviveARestart) {
  TempDir data;
  auto store = std::make_unique<MemoryStore>();
  ManualClock clock(kStart + 86400);
  Metrics metrics;
  EngineOptions options;
  options.rules_path = rules_path_;
  options.watch_rules = false;
  options.stage_check_interval = 0;
  std::string before;
  {
    Engine engine(options, store.get(), &clock, &metrics);
    ASSERT_OK(engine.Start());
    std::promise<void> done;
    IngestBatch batch;
    batch.events = {Page("", "anon", "/pricing", kStart),
                    Identify("kim", "anon", "VP", kStart + 1)};
    batch.received_at = clock.Now();
    batch.done = [&](const Status&) { done.set_value(); };
    engine.Submit(std::move(batch));
    done.get_future().wait();
    engine.Stop();
  }
  Engine engine(options, store.get(), &clock, &metrics);
  ASSERT_OK(engine.Start());
  std::promise<void> done;
  IngestBatch batch;
  batch.events = {Page("", "anon", "/pricing", kStart + 2)};
  batch.received_at = clock.Now();
  batch.done = [&](const Status&) { done.set_value(); };
  engine.Submit(std::move(batch));
  done.get_future().wait();
  std::promise<std::string> json;
  engine.RunOnEngine([&] {
    std::string out;
    Lead* lead = engine.FindLead(engine.ResolveId("anon"));
    ASSERT_NE(lead, nullptr);
    EXPECT_EQ(lead->id, "kim");
    EXPECT_EQ(lead->events, 3u);
    std::vector<HistoryEntry> history;
    EXPECT_OK(engine.History(*lead, &history));
    EXPECT_EQ(history.size(), 3u);
    json.set_value(out);
  });
  json.get_future().wait();
  engine.Stop();
}

constexpr char kRoutedRules[] = R"(scores:
  engagement: {kind: event}
rules:
  - id: demo
    score: engagement
    when: event == "Demo Requested"
    points: 50
  - id: visit
    score: engagement
    when: type == "page"
    points: 1
  - id: unsubscribed
    score: engagement
    when: event == "Unsubscribed"
    points: -50
stages:
  - name: sql
    enter: score.engagement >= 50
routing:
  stage: sql
  teams:
    - id: sales
      when: true
      strategy: round_robin
      reps: [{id: ann}, {id: bo}]
)";

// Every committed record, parsed.
std::vector<Value> Records(Engine& engine) {
  std::vector<std::pair<uint64_t, std::string>> stored;
  EXPECT_OK(engine.outbox().Read(1, engine.outbox().head(), 1000, &stored));
  std::vector<Value> out;
  JsonParser parser;
  for (const auto& [seq, bytes] : stored) {
    RecordHeader header;
    std::string_view json;
    EXPECT_TRUE(DecodeStoredRecord(bytes, &header, &json));
    Value v;
    EXPECT_OK(parser.Parse(json, &v));
    out.push_back(std::move(v));
  }
  return out;
}

// Every committed record as (kind, lead, rep, outcome, into).
std::vector<std::string> RecordLines(Engine& engine) {
  std::vector<std::string> out;
  for (const Value& v : Records(engine)) {
    std::string line;
    for (const char* field : {"kind", "lead", "rep", "to", "outcome", "into"}) {
      const Value* f = v.Find(field);
      line += std::string(field) + "=" + (f != nullptr ? f->as_string() : "") + " ";
    }
    out.push_back(line);
  }
  return out;
}

// Cluster mode merges leads held in two partitions by handing the older lead over (docs/
// cluster.md "Several nodes"): exported by one engine, carried as bytes, imported by another,
// the older lead merges there exactly as one engine merges it, its events in their log order
// among the newer lead's. The first engine keeps only the link; importing again changes nothing.
TEST_F(IdentityMergeTest, ALeadHandedToAnotherEngineMergesThereAsInOne) {
  // Apply orders 1..8 as one engine numbers them; split by lead over two engines.
  Event first_page = Page("", "anon-7", "/pricing", kStart);
  first_page.message_id = "m-anon-7-first";
  const std::vector<std::pair<Event, uint64_t>> anon = {
      {first_page, 1},
      {Identify("", "anon-7", "Intern", kStart + 60), 3},
      {Track("", "anon-7", "Webinar Attended", kStart + 120), 4},
  };
  const std::vector<std::pair<Event, uint64_t>> user = {
      {Identify("kim", "", "VP Sales", kStart + 30), 2},
      {Page("kim", "", "/pricing/enterprise", kStart + 150), 5},
  };
  const std::vector<std::pair<Event, uint64_t>> after = {
      {Alias("kim", "anon-7", kStart + 200), 6},
      {Track("kim", "", "Demo Requested", kStart + 260), 7},
      {Page("", "anon-7", "/pricing", kStart + 300), 8},
  };
  Daemonless single(rules_path_);
  for (uint64_t order = 1; order <= 5; ++order) {
    for (const auto* part : {&anon, &user}) {
      for (const auto& [event, o] : *part) {
        if (o == order) {
          single.SendInOrder({{event, 0}});
        }
      }
    }
  }
  single.SendInOrder({{after[0].first, 0}, {after[1].first, 0}, {after[2].first, 0}});

  Daemonless older(rules_path_);
  Daemonless newer(rules_path_);
  older.SendInOrder(anon);
  newer.SendInOrder(user);
  std::string bytes = older.OnEngine([&] {
    LeadHandOver lead;
    std::string out;
    EXPECT_OK(older.engine().ExportLead("anon-7", 6, &lead));
    lead.Encode(&out);
    return out;
  });
  EXPECT_OK(older.OnEngine([&] { return older.engine().HandOverLead("anon-7", "kim"); }));
  LeadHandOver carried;
  ASSERT_TRUE(carried.Decode(bytes));
  EXPECT_EQ(carried.entries.size(), 3u);
  // What the log applier adds: the lead it goes into, and how far its home partition is covered.
  carried.into = "kim";
  carried.covered_seq = 42;
  newer.OnEngine([&] {
    newer.engine().ImportLead(carried);
    return true;
  });
  newer.SendInOrder(after);
  EXPECT_EQ(newer.LeadJson("kim"), single.LeadJson("kim"));
  EXPECT_EQ(newer.LeadJson("anon-7"), single.LeadJson("kim"));
  EXPECT_EQ(newer.Merges(), 1);
  // The older engine: no lead left; the id is seen (routed, read) as the lead it went into.
  EXPECT_FALSE(older.Exists("anon-7"));
  EXPECT_EQ(older.OnEngine([&] {
    std::string root;
    return older.engine().MergedInto("anon-7", &root) ? root : std::string("not merged");
  }),
            "kim");
  // A replayed import does nothing.
  newer.OnEngine([&] {
    newer.engine().ImportLead(carried);
    return true;
  });
  EXPECT_EQ(newer.LeadJson("kim"), single.LeadJson("kim"));
  // Both engines see anon-7 as moved into kim; the one that took it in, after sequence 42 of
  // anon-7's partition, also after a restart: reading that partition again from before 42 there
  // neither applies anon-7's events to kim again nor answers for it (the bug: a node that took
  // a lead in, then took the older id's partition over from an older position, counted the
  // lead's anonymous history twice).
  EXPECT_EQ(older.MovedTo("anon-7"), "kim@0");
  EXPECT_EQ(newer.MovedTo("anon-7"), "kim@42");
  newer.Restart();
  EXPECT_EQ(newer.MovedTo("anon-7"), "kim@42");
  EXPECT_EQ(newer.MovedTo("kim"), "");
  EXPECT_EQ(newer.LeadJson("anon-7"), single.LeadJson("kim"));
  // A tracker resends anon-7's first event: the engine it now lands on took its messageId in with
  // the lead, so it is a duplicate there, as on one engine (it was applied twice).
  newer.SendInOrder({{first_page, 0}});
  single.SendInOrder({{first_page, 0}});
  EXPECT_EQ(newer.LeadJson("kim"), single.LeadJson("kim"));
}

// anon-9 routed to ann, kim to bo, then kim identifies as anon-9: the records, in order.
const std::vector<std::string> kBothOwnedRecords = {
    "kind=stage lead=anon-9 rep= to=sql outcome= into= ",
    "kind=routed lead=anon-9 rep=ann to= outcome= into= ",
    "kind=stage lead=kim rep= to=sql outcome= into= ",
    "kind=routed lead=kim rep=bo to= outcome= into= ",
    "kind=closed lead=anon-9 rep=ann to= outcome=merged into=kim ",
};

TEST(IdentityMergeOwnerTest, BothOwnedTheOlderOwnerIsClosedAsMerged) {
  TempDir dir;
  Daemonless d(dir.WriteFile("rules.yaml", kRoutedRules));
  d.Send({Track("", "anon-9", "Demo Requested", kStart)});   // routed to ann
  d.Send({Track("kim", "", "Demo Requested", kStart + 1)});  // routed to bo
  d.Send({Identify("kim", "anon-9", "VP", kStart + 2)});
  EXPECT_EQ(RecordLines(d.engine()), kBothOwnedRecords);
  const std::string kim = d.LeadJson("anon-9");
  EXPECT_NE(kim.find("\"owner\":{\"rep\":\"bo\""), std::string::npos) << kim;
}

// A merge that moves the merged lead publishes its stage record before the routing records it
// causes, the older owner's `merged` close among them (SPEC 5.3).
const std::vector<std::string> kRaisedByTheMergeRecords = {
    "kind=stage lead=anon-9 rep= to=sql outcome= into= ",
    "kind=routed lead=anon-9 rep=ann to= outcome= into= ",
    "kind=stage lead=kim rep= to=sql outcome= into= ",
    "kind=routed lead=kim rep=bo to= outcome= into= ",
    "kind=stage lead=kim rep= to=new outcome= into= ",  // still bo's
    "kind=stage lead=kim rep= to=sql outcome= into= ",  // the merge: 50 + 50 - 50
    "kind=closed lead=anon-9 rep=ann to= outcome=merged into=kim ",
};

TEST(IdentityMergeOwnerTest, TheMergesStageRecordComesBeforeTheMergedClose) {
  TempDir dir;
  Daemonless d(dir.WriteFile("rules.yaml", kRoutedRules));
  d.Send({Track("", "anon-9", "Demo Requested", kStart)});   // routed to ann
  d.Send({Track("kim", "", "Demo Requested", kStart + 1)});  // routed to bo
  d.Send({Track("kim", "", "Unsubscribed", kStart + 2)});    // back to new, still bo's
  d.Send({Identify("kim", "anon-9", "VP", kStart + 3)});
  EXPECT_EQ(RecordLines(d.engine()), kRaisedByTheMergeRecords);
  const std::string kim = d.LeadJson("anon-9");
  EXPECT_NE(kim.find("\"owner\":{\"rep\":\"bo\""), std::string::npos) << kim;
}

// The routing log of a test: what engines logged, in order. Stores at once, or, while holding,
// only when released.
class ListRoutingLog final : public RoutingLog {
 public:
  void Append(std::vector<RoutingInput> inputs, std::function<void()> stored) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (RoutingInput& input : inputs) {
      inputs_.push_back(std::move(input));
    }
    if (holding_) {
      held_.push_back(std::move(stored));
    } else {
      stored();
    }
  }
  std::vector<RoutingInput> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<RoutingInput> out;
    out.swap(inputs_);
    return out;
  }
  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    holding_ = true;
  }
  // The log never stores what it holds (it died with them).
  void DropHeld() {
    std::lock_guard<std::mutex> lock(mu_);
    held_.clear();
  }
  void LogStageReset(uint32_t partition, std::string lead, std::string reset_id,
                     EpochSeconds at) override {
    std::lock_guard<std::mutex> lock(mu_);
    PartitionControl reset;
    reset.kind = PartitionControl::Kind::kStageReset;
    reset.partition = partition;
    reset.lead = std::move(lead);
    reset.reset_id = std::move(reset_id);
    reset.at = at;
    resets_.push_back(std::move(reset));
  }
  std::vector<PartitionControl> TakeResets() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<PartitionControl> out;
    out.swap(resets_);
    return out;
  }
  void Release() {
    std::vector<std::function<void()>> held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      holding_ = false;
      held.swap(held_);
    }
    for (auto& stored : held) {
      stored();
    }
  }

 private:
  std::mutex mu_;
  std::vector<RoutingInput> inputs_;
  std::vector<PartitionControl> resets_;
  bool holding_ = false;
  std::vector<std::function<void()>> held_;
};

// Cluster mode's one router (docs/cluster.md, "The router and the outbox"): the engine applying
// the leads logs their stage changes and the merge instead of routing; every engine given that
// log back publishes what one engine publishes, under the same seqs. A sales answer asked of one
// engine is answered once that engine applies it from the log.
TEST(IdentityMergeOwnerTest, WithTheClusterRouterEveryNodePublishesWhatOneEnginePublishes) {
  TempDir dir;
  const std::string rules = dir.WriteFile("rules.yaml", kRoutedRules);
  ListRoutingLog log;
  Daemonless a(rules, &log, "node-a");
  Daemonless b(rules, &log, "node-b");
  a.SendInOrder({{Track("", "anon-9", "Demo Requested", kStart), 1}});
  a.SendInOrder({{Track("kim", "", "Demo Requested", kStart + 1), 2}});
  a.SendInOrder({{Identify("kim", "anon-9", "VP", kStart + 2), 3}});
  a.OnEngine([] { return true; });               // after the last commit: its inputs are logged
  EXPECT_TRUE(RecordLines(a.engine()).empty());  // the partition's engine publishes nothing
  const std::vector<RoutingInput> inputs = log.Take();
  ASSERT_EQ(inputs.size(), 3u);  // two stage changes, the merge
  EXPECT_EQ(inputs[2].kind, RoutingInputKind::kMerge);
  // Each placed by the event that caused it: a node applying the partition again places it
  // alike, and routers drop it.
  EXPECT_EQ(inputs[0].place.order, 1u);
  EXPECT_EQ(inputs[1].place.order, 2u);
  EXPECT_EQ(inputs[2].place.order, 3u);
  EXPECT_EQ(inputs[2].place.partition, 3u);  // kim's: "kim".size() % 4
  EXPECT_EQ(inputs[2].place.index, 0u);
  for (Daemonless* node : {&a, &b}) {
    node->Route(inputs);
    EXPECT_EQ(RecordLines(node->engine()), kBothOwnedRecords);
  }
  // The same inputs again (a partition applied again after a takeover): nothing new.
  b.Route(inputs);
  EXPECT_EQ(RecordLines(b.engine()).size(), 5u);

  // A merge that moves the merged lead: one input, routed with its stage record first.
  ListRoutingLog moved_log;
  Daemonless c(dir.WriteFile("rules-c.yaml", kRoutedRules), &moved_log, "node-c");
  c.SendInOrder({{Track("", "anon-9", "Demo Requested", kStart), 1}});
  c.SendInOrder({{Track("kim", "", "Demo Requested", kStart + 1), 2}});
  c.SendInOrder({{Track("kim", "", "Unsubscribed", kStart + 2), 3}});
  c.SendInOrder({{Identify("kim", "anon-9", "VP", kStart + 3), 4}});
  c.OnEngine([] { return true; });
  const std::vector<RoutingInput> moved = moved_log.Take();
  ASSERT_EQ(moved.size(), 4u);  // three stage changes, the merge with the fourth
  EXPECT_EQ(moved[3].kind, RoutingInputKind::kMerge);
  EXPECT_EQ(moved[3].to_stage, "sql");
  c.Route(moved);
  EXPECT_EQ(RecordLines(c.engine()), kRaisedByTheMergeRecords);

  // bo accepts kim on node-b: answered once node-b's router has it from the log.
  SalesAction accept;
  accept.kind = SalesActionKind::kAccept;
  accept.seq = 4;
  std::promise<SalesActionResult> answer;
  b.engine().SubmitSalesAction(accept,
                               [&answer](const SalesActionResult& r) { answer.set_value(r); });
  std::future<SalesActionResult> answered = answer.get_future();
  b.OnEngine([] { return true; });
  std::vector<RoutingInput> asked = log.Take();
  // The log had no rules: each node's first routing batch logged its rule file as the router's
  // starting rules (revision 0; the first one logged counts), so a restart replays under them.
  const auto starting = std::count_if(asked.begin(), asked.end(), [](const RoutingInput& in) {
    return in.kind == RoutingInputKind::kRules && in.rules_revision == 0 &&
           in.rules_yaml == kRoutedRules;
  });
  EXPECT_EQ(starting, 2);
  asked.erase(
      std::remove_if(asked.begin(), asked.end(),
                     [](const RoutingInput& in) { return in.kind == RoutingInputKind::kRules; }),
      asked.end());
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].asked_by, "node-b");
  a.Route(asked);
  b.Route(asked);
  EXPECT_TRUE(answered.get().ok);
  EXPECT_EQ(RecordLines(a.engine()), RecordLines(b.engine()));
  EXPECT_EQ(RecordLines(a.engine()).back(), "kind=accepted lead=kim rep=bo to= outcome= into= ");
  // Both show kim's owner as the router gave it.
  EXPECT_NE(a.LeadJson("kim").find("\"owner\":{\"rep\":\"bo\""), std::string::npos)
      << a.LeadJson("kim");
}

// The router's rules are the routing log's (kRules), not the node's file: two nodes whose files
// differ route alike once the log gives them rules, and a revision logged late changes nothing.
TEST(IdentityMergeOwnerTest, TheRoutersRulesAreTheLogsNotTheNodesFile) {
  TempDir dir;
  std::string other_rules = kRoutedRules;
  other_rules.replace(other_rules.find("[{id: ann}, {id: bo}]"), 21, "[{id: cy}]");
  ListRoutingLog log;
  Daemonless a(dir.WriteFile("a.yaml", kRoutedRules), &log, "node-a");
  Daemonless b(dir.WriteFile("b.yaml", other_rules), &log, "node-b");
  // What every node's admin watcher logs for the bucket's rules, revision 7.
  RoutingInput rules;
  rules.kind = RoutingInputKind::kRules;
  rules.rules_revision = 7;
  rules.rules_yaml = kRoutedRules;
  RoutingInput late = rules;
  late.rules_revision = 6;
  late.rules_yaml = other_rules;
  a.SendInOrder({{Track("", "anon-9", "Demo Requested", kStart), 1}});
  a.SendInOrder({{Track("kim", "", "Demo Requested", kStart + 1), 2}});
  a.SendInOrder({{Identify("kim", "anon-9", "VP", kStart + 2), 3}});
  a.OnEngine([] { return true; });
  std::vector<RoutingInput> inputs = log.Take();
  ASSERT_EQ(inputs.size(), 3u);
  inputs.insert(inputs.begin(), {rules, late});
  for (Daemonless* node : {&a, &b}) {
    node->Route(inputs);
    EXPECT_EQ(RecordLines(node->engine()), kBothOwnedRecords);
  }
  // node-b's engine keeps its own file for scoring; only the router follows the log.
  EXPECT_EQ(b.engine().rules_info().sha256, Sha256Hex(other_rules));
}

// Rules applied with a re-evaluation (POST /v1/rules/apply): the re-evaluation goes into the
// partitions' logs only once this node's router has the new rules, so the stage changes it causes
// reach every router after the rules do (a stage the old rules lack would be dropped).
TEST(IdentityMergeOwnerTest, AReevaluationIsLoggedOnceTheRouterHasTheRules) {
  TempDir dir;
  ListRoutingLog log;
  std::atomic<int> logged{0};
  Daemonless a(dir.WriteFile("rules.yaml", kRoutedRules), &log, "node-a",
               [&logged](EngineOptions* options) {
                 options->stage_checks_from_log = true;
                 options->log_reevaluation = [&logged] { ++logged; };
               });
  a.Route({});  // the first routing batch: the log has no rules, this node logs its file's
  // Logged after the batch's commit, which may be after the batch is answered: an engine task
  // runs after it. (Without this wait the test failed 56 runs in 200.)
  a.OnEngine([] { return true; });
  std::vector<RoutingInput> starting = log.Take();
  ASSERT_EQ(starting.size(), 1u);
  a.Route(starting);  // the router has the file's rules (revision 0)

  std::string newer = kRoutedRules;
  newer.replace(newer.find("points: 50"), 10, "points: 60");
  std::promise<ReloadOutcome> loaded;
  a.engine().ReplaceRules(newer, [&loaded](const ReloadOutcome& o) { loaded.set_value(o); });
  ASSERT_TRUE(loaded.get_future().get().ok);
  std::promise<uint64_t> answered;
  a.OnEngine([&] {
    a.engine().ReevaluateStages([&answered](uint64_t, uint64_t) { answered.set_value(0); });
    return true;
  });
  answered.get_future().get();
  EXPECT_EQ(logged.load(), 0);  // the router still routes under the old rules
  RoutingInput rules;
  rules.kind = RoutingInputKind::kRules;
  rules.rules_revision = 3;
  rules.rules_yaml = newer;
  rules.rules_sha256 = Sha256Hex(newer);
  a.Route({rules});
  EXPECT_EQ(logged.load(), 1);
  a.Route({rules});  // every node logs the rules: asked once, logged once
  EXPECT_EQ(logged.load(), 1);
}

// A `recycled` close (SPEC 9): the router publishes the lead's stage record; the lead's partition
// sets its stage back through its own log (a stage reset), so a node rebuilding the partition
// does too. Every node asks for the reset; the partition takes it once.
TEST(IdentityMergeOwnerTest, ARecycledLeadsStageGoesBackThroughItsPartitionsLog) {
  TempDir dir;
  ListRoutingLog log;
  Daemonless a(dir.WriteFile("rules.yaml", kRoutedRules), &log, "node-a");
  a.SendInOrder({{Track("", "anon-9", "Demo Requested", kStart), 1}});
  a.OnEngine([] { return true; });
  a.Route(log.Take());  // its stage record and routing (to ann, seq 2)
  a.Route(log.Take());  // the router's starting rules, logged by the first batch
  SalesAction close;
  close.kind = SalesActionKind::kClose;
  close.seq = 2;
  close.outcome = "recycled";
  std::promise<SalesActionResult> answer;
  a.engine().SubmitSalesAction(close,
                               [&answer](const SalesActionResult& r) { answer.set_value(r); });
  a.OnEngine([] { return true; });
  a.Route(log.Take());
  ASSERT_TRUE(answer.get_future().get().ok);
  a.OnEngine([] { return true; });  // after the commit: the reset is asked for
  EXPECT_EQ(RecordLines(a.engine()).back(), "kind=stage lead=anon-9 rep= to=new outcome= into= ");
  std::vector<PartitionControl> resets = log.TakeResets();
  ASSERT_EQ(resets.size(), 1u);
  EXPECT_EQ(resets[0].lead, "anon-9");
  EXPECT_EQ(resets[0].partition, 2u);  // "anon-9".size() % 4
  auto stage = [&a] {
    const std::string json = a.LeadJson("anon-9");
    const size_t at = json.find("\"stage\":\"") + 9;
    return json.substr(at, json.find('"', at) - at);
  };
  EXPECT_EQ(stage(), "sql");  // not yet: at its place in the partition's log
  a.Control(resets[0]);
  EXPECT_EQ(stage(), "new");
  // Qualified again, then another node's copy of the same reset: taken once only.
  a.SendInOrder({{Track("", "anon-9", "Demo Requested", kStart + 5), 9}});
  EXPECT_EQ(stage(), "sql");
  a.Control(resets[0]);
  EXPECT_EQ(stage(), "sql");
}

// An answer that goes through the routing log is waited for at most Engine::kAskedTimeout: a
// node whose log does not take it (NATS down) answers "unavailable" instead of never.
TEST(IdentityMergeOwnerTest, AnAnswerTheRouterDoesNotConfirmInTimeIsUnavailable) {
  TempDir dir;
  ListRoutingLog log;
  Daemonless a(dir.WriteFile("rules.yaml", kRoutedRules), &log, "node-a");
  SalesAction accept;
  accept.kind = SalesActionKind::kAccept;
  accept.seq = 4;
  std::promise<SalesActionResult> answer;
  a.engine().SubmitSalesAction(accept,
                               [&answer](const SalesActionResult& r) { answer.set_value(r); });
  std::promise<Status> changed;
  RoutingInput away;
  away.kind = RoutingInputKind::kRepAvailability;
  away.rep = "ann";
  away.online = false;
  a.engine().SubmitRoutingChange(away, [&changed](const Status& st) { changed.set_value(st); });
  a.OnEngine([] { return true; });
  EXPECT_EQ(log.Take().size(), 2u);  // logged, never applied back
  std::future<SalesActionResult> answered = answer.get_future();
  std::future<Status> change_answered = changed.get_future();
  EXPECT_EQ(answered.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  a.clock().Advance(Engine::kAskedTimeout + 1);
  ASSERT_EQ(answered.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  const SalesActionResult result = answered.get();
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.error, "unavailable");
  ASSERT_EQ(change_answered.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(change_answered.get().code(), Status::Code::kUnavailable);
}

// A replay of the routing log at start (inputs the outbox has already) writes no position: a
// stop in the middle of it must not move the stored position back, or the next start would
// publish the records after it again.
TEST(IdentityMergeOwnerTest, AReplayOfTheRoutingLogNeverMovesItsPositionBack) {
  TempDir dir;
  ListRoutingLog log;
  Daemonless a(dir.WriteFile("rules.yaml", kRoutedRules), &log, "node-a");
  a.Route({}, "9");
  std::string stored;
  ASSERT_OK(a.store().GetMeta("cluster.applied_seq.routing", &stored));
  EXPECT_EQ(stored, "9");
  a.Route({}, "5", /*replay=*/true);
  ASSERT_OK(a.store().GetMeta("cluster.applied_seq.routing", &stored));
  EXPECT_EQ(stored, "9");
}

// A node that dies before the log has its routing inputs logs them again when it starts: they
// are kept in its store until the log has them (after which a restart logs nothing again).
TEST(IdentityMergeOwnerTest, RoutingInputsTheLogDidNotStoreAreLoggedAgainAtStart) {
  TempDir dir;
  ListRoutingLog log;
  log.Hold();
  Daemonless a(dir.WriteFile("rules.yaml", kRoutedRules), &log, "node-a");
  a.SendInOrder({{Track("", "anon-9", "Demo Requested", kStart), 1}});
  a.OnEngine([] { return true; });
  ASSERT_EQ(log.Take().size(), 1u);
  log.DropHeld();
  a.Restart();
  a.OnEngine([] { return true; });
  const std::vector<RoutingInput> again = log.Take();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].kind, RoutingInputKind::kStage);
  EXPECT_EQ(again[0].lead.id, "anon-9");
  EXPECT_EQ(again[0].place.order, 1u);  // the same place: a router that has it drops it
  log.Release();
  a.OnEngine([] { return true; });  // a commit after the log stored them: nothing pending
  a.Restart();
  a.OnEngine([] { return true; });
  EXPECT_TRUE(log.Take().empty());
}

// A store of the first router release kept every pending input in one value ("routing.pending");
// a start logs them again and keeps them, in the per-commit form, until the log has them.
TEST(IdentityMergeOwnerTest, PendingRoutingInputsOfTheFirstFormAreLoggedAgainAtStart) {
  TempDir dir;
  ListRoutingLog log;
  log.Hold();
  Daemonless a(dir.WriteFile("rules.yaml", kRoutedRules), &log, "node-a");
  RoutingInput tick;
  tick.kind = RoutingInputKind::kTick;
  tick.at = kStart;
  std::string bytes;
  EncodeRoutingInputs({tick, tick}, &bytes);
  CommitBatch old;
  old.PutMeta("routing.pending", bytes);
  ASSERT_OK(a.store().Commit(&old));
  a.Restart();
  a.OnEngine([] { return true; });
  EXPECT_EQ(log.Take().size(), 2u);
  std::string gone;
  EXPECT_TRUE(a.store().GetMeta("routing.pending", &gone).IsNotFound());
  log.DropHeld();  // never stored: the next start logs them again
  a.Restart();
  a.OnEngine([] { return true; });
  EXPECT_EQ(log.Take().size(), 2u);
  log.Release();
  a.OnEngine([] { return true; });  // a commit after the log stored them: nothing pending
  a.Restart();
  a.OnEngine([] { return true; });
  EXPECT_TRUE(log.Take().empty());
}

// The linking event caused the close: the record names it as its trigger and shows the older
// lead's scores at the event's time, not at the wall clock (a replay of the same events must
// publish the same record).
TEST(IdentityMergeOwnerTest, TheMergedCloseCarriesTheLinkingEventAndReadsScoresAtItsTime) {
  TempDir dir;
  std::string rules = kRoutedRules;
  rules.replace(rules.find("{kind: event}"), 13, "{kind: event, half_life: 1d}");
  Daemonless d(dir.WriteFile("rules.yaml", rules));          // its clock: a day after kStart
  d.Send({Track("", "anon-9", "Demo Requested", kStart)});   // routed to ann
  d.Send({Track("kim", "", "Demo Requested", kStart + 1)});  // routed to bo
  Event link = Identify("kim", "anon-9", "VP", kStart + 2);
  link.message_id = "link-1";
  d.Send({link});
  const std::vector<Value> records = Records(d.engine());
  ASSERT_EQ(records.size(), 5u);
  const Value& closed = records[4];
  ASSERT_EQ(closed.Find("kind")->as_string(), "closed") << closed.ToJson();
  ASSERT_NE(closed.Find("trigger"), nullptr) << closed.ToJson();
  EXPECT_EQ(closed.Find("trigger")->as_string(), "link-1");
  // 50 points two seconds old; read a day later they would be 25.
  const double engagement = closed.Find("scores")->Find("engagement")->as_number();
  EXPECT_NEAR(engagement, 50 * std::exp2(-2.0 / 86400), 1e-9) << closed.ToJson();
}

TEST(IdentityMergeOwnerTest, TheOlderLeadsOpenOwnerCarriesOverWithoutNewRouting) {
  TempDir dir;
  Daemonless d(dir.WriteFile("rules.yaml", kRoutedRules));
  d.Send({Track("", "anon-9", "Demo Requested", kStart)});  // routed to ann
  d.Send({Page("kim", "", "/pricing", kStart + 1)});
  d.Send({Identify("kim", "anon-9", "VP", kStart + 2)});
  const std::vector<std::string> records = RecordLines(d.engine());
  // One stage record for kim (new -> sql), no routing record: ann keeps the lead.
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[2], "kind=stage lead=kim rep= to=sql outcome= into= ");
  const std::string kim = d.LeadJson("anon-9");
  EXPECT_NE(kim.find("\"owner\":{\"rep\":\"ann\""), std::string::npos) << kim;
  // Closed: the funnel's feedback counts the rules the lead had when it was routed (anon-9's
  // demo), not the visit that came later under kim (SPEC 12).
  SalesAction close;
  close.kind = SalesActionKind::kClose;
  close.seq = 2;  // anon-9's routed record
  close.outcome = "lost";
  std::promise<SalesActionResult> answer;
  d.engine().SubmitSalesAction(close,
                               [&answer](const SalesActionResult& r) { answer.set_value(r); });
  ASSERT_TRUE(answer.get_future().get().ok);
  std::promise<std::string> funnel;
  d.engine().RunOnEngine([&] {
    std::string json;
    EXPECT_OK(d.engine().FunnelJson(FunnelWindow(), &json));
    funnel.set_value(json);
  });
  const std::string json = funnel.get_future().get();
  EXPECT_NE(json.find("\"rule\":\"demo\""), std::string::npos) << json;
  EXPECT_EQ(json.find("\"rule\":\"visit\""), std::string::npos) << json;
}

}  // namespace
}  // namespace handoff
