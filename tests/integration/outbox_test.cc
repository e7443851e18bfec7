// The outbox over the real subscriber port (SPEC 5.3, 9): stage and routed records in seq order
// with their fields, filters, resuming by `from` across a restart, and the wall-clock stage
// re-check publishing a demotion with no event.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "tests/integration/daemon_harness.h"
#include "tests/integration/decay_rules.h"
#include "tests/testutil.h"

namespace handoff::testing {
namespace {

// warm at 2 clicks, hot at 4; hot leads are routed round-robin to carol, then dan.
constexpr std::string_view kRoutingRules =
    "scores:\n"
    "  clicks: {kind: event}\n"
    "rules:\n"
    "  - id: click\n"
    "    score: clicks\n"
    "    when: event == \"Click\"\n"
    "    points: 1\n"
    "stages:\n"
    "  - name: warm\n"
    "    enter: score.clicks >= 2\n"
    "  - name: hot\n"
    "    enter: score.clicks >= 4\n"
    "routing:\n"
    "  stage: hot\n"
    "  teams:\n"
    "    - id: sales\n"
    "      when: true\n"
    "      strategy: round_robin\n"
    "      reps: [{id: carol}, {id: dan}]\n";

std::string Click(const std::string& user, const std::string& message_id) {
  return R"({"type":"track","userId":")" + user + R"(","event":"Click","messageId":")" +
         message_id + R"(","timestamp":1767225600})";
}

std::vector<std::string> Clicks(const std::string& user, int n) {
  std::vector<std::string> lines;
  for (int i = 1; i <= n; ++i) {
    lines.push_back(Click(user, user + "-" + std::to_string(i)));
  }
  return lines;
}

// What a test expects of one record; empty fields are checked to be absent.
struct Expect {
  double seq;
  std::string kind;
  std::string lead;
  std::string from;  // stage records
  std::string to;
  std::string rep;  // routed records
  std::string stage;
  double clicks;
  std::string trigger;
};

void CheckRecord(const Value& r, const Expect& e) {
  SCOPED_TRACE(r.ToJson());
  EXPECT_EQ(JsonNumber(r, "seq"), e.seq);
  EXPECT_EQ(JsonString(r, "kind"), e.kind);
  EXPECT_EQ(JsonString(r, "lead"), e.lead);
  EXPECT_EQ(JsonString(r, "stage"), e.stage);
  EXPECT_EQ(JsonNumber(r, "scores.clicks"), e.clicks);
  const Value* traits = JsonAt(r, "traits");
  ASSERT_NE(traits, nullptr);
  EXPECT_TRUE(traits->is_object());
  const std::string at = JsonString(r, "at");
  EXPECT_EQ(at.size(), 24u) << at;  // 2026-11-22T14:03:07.123Z
  EXPECT_EQ(at.back(), 'Z');
  if (e.trigger.empty()) {
    EXPECT_EQ(r.Find("trigger"), nullptr);
  } else {
    EXPECT_EQ(JsonString(r, "trigger"), e.trigger);
  }
  if (e.kind == "stage") {
    EXPECT_EQ(JsonString(r, "from"), e.from);
    EXPECT_EQ(JsonString(r, "to"), e.to);
    EXPECT_EQ(JsonString(r, "to"), e.stage);
    EXPECT_EQ(r.Find("rep"), nullptr);
  } else {
    EXPECT_EQ(JsonString(r, "rep"), e.rep);
    EXPECT_EQ(JsonString(r, "team"), "sales");
    EXPECT_EQ(JsonString(r, "reason"), "round_robin");
  }
}

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_.WriteRules(kRoutingRules);
    ASSERT_OK(daemon_.Start());
  }
  void TearDown() override {
    if (daemon_.running()) {
      EXPECT_OK(daemon_.Stop());
    }
  }
  void Send(const std::vector<std::string>& lines) {
    IngestClient client;
    ASSERT_OK(client.Connect(daemon_.ingest_port()));
    ASSERT_OK(client.SendLines(lines));
    ASSERT_OK(client.WaitForAck(lines.size()));
    EXPECT_TRUE(client.errors().empty());
  }
  std::vector<Value> ReadFrom(uint64_t from, size_t count) {
    SubscriberClient sub;
    EXPECT_OK(sub.Connect(daemon_.subscribe_port()));
    EXPECT_OK(sub.Subscribe(from));
    std::vector<Value> records;
    EXPECT_OK(sub.ReadRecords(count, &records));
    EXPECT_TRUE(sub.NothingWithin(0.3)) << "more records than expected";
    return records;
  }

  DaemonProcess daemon_{DaemonOptions{}};
};

TEST_F(OutboxTest, StageAndRoutedRecordsInSeqOrderWithTheirFields) {
  // Subscribed before anything happens: sees the records live. A second subscriber without
  // "from" sees only records after its subscription.
  SubscriberClient live;
  ASSERT_OK(live.Connect(daemon_.subscribe_port()));
  ASSERT_OK(live.Subscribe(0));

  std::vector<std::string> lines = Clicks("a", 4);
  std::vector<std::string> b = Clicks("b", 4);
  lines.insert(lines.end(), b.begin(), b.end());
  Send(lines);

  const std::vector<Expect> expected = {
      {1, "stage", "a", "new", "warm", "", "warm", 2, "a-2"},
      {2, "stage", "a", "warm", "hot", "", "hot", 4, "a-4"},
      {3, "routed", "a", "", "", "carol", "hot", 4, "a-4"},
      {4, "stage", "b", "new", "warm", "", "warm", 2, "b-2"},
      {5, "stage", "b", "warm", "hot", "", "hot", 4, "b-4"},
      {6, "routed", "b", "", "", "dan", "hot", 4, "b-4"},
  };
  std::vector<Value> records;
  ASSERT_OK(live.ReadRecords(expected.size(), &records));
  for (size_t i = 0; i < expected.size(); ++i) {
    CheckRecord(records[i], expected[i]);
  }

  // Resuming from any point gives exactly the rest, identical.
  std::vector<Value> rest = ReadFrom(4, 2);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0], records[4]);
  EXPECT_EQ(rest[1], records[5]);

  // Filters.
  SubscriberClient routed_only;
  ASSERT_OK(routed_only.Connect(daemon_.subscribe_port()));
  ASSERT_OK(routed_only.SendLine(R"({"subscribe":{"kinds":["routed"]},"from":0})"));
  std::vector<Value> routed;
  ASSERT_OK(routed_only.ReadRecords(2, &routed));
  EXPECT_EQ(JsonNumber(routed[0], "seq"), 3);
  EXPECT_EQ(JsonNumber(routed[1], "seq"), 6);
  SubscriberClient dans;
  ASSERT_OK(dans.Connect(daemon_.subscribe_port()));
  ASSERT_OK(dans.SendLine(R"({"subscribe":{"rep":"dan"},"from":0})"));
  std::vector<Value> dan;
  ASSERT_OK(dans.ReadRecords(1, &dan));
  EXPECT_EQ(JsonNumber(dan[0], "seq"), 6);
  EXPECT_TRUE(dans.NothingWithin(0.3));

  // A subscriber without "from" gets only what happens next.
  SubscriberClient fresh;
  ASSERT_OK(fresh.Connect(daemon_.subscribe_port()));
  ASSERT_OK(fresh.Subscribe(std::nullopt));
  // Its subscription is registered once the server has read the line; a record published
  // before that would not be "new" to it. A round trip through another command orders it.
  Value answer;
  ASSERT_OK(fresh.SendLine(R"({"accept":999999})"));
  ASSERT_OK(fresh.ReadMessage(&answer));
  EXPECT_EQ(JsonString(answer, "error").empty(), false) << answer.ToJson();
  Send(Clicks("c", 2));
  std::vector<Value> next;
  ASSERT_OK(fresh.ReadRecords(1, &next));
  CheckRecord(next[0], {7, "stage", "c", "new", "warm", "", "warm", 2, "c-2"});
  std::vector<Value> more;
  ASSERT_OK(live.ReadRecords(1, &more));
  EXPECT_EQ(more[0], next[0]);
}

TEST_F(OutboxTest, AcceptAnswersOkAndPublishesAccepted) {
  SubscriberClient carol;
  ASSERT_OK(carol.Connect(daemon_.subscribe_port()));
  ASSERT_OK(carol.SendLine(R"({"subscribe":{"rep":"carol"},"from":0})"));
  Send(Clicks("a", 4));
  std::vector<Value> records;
  ASSERT_OK(carol.ReadRecords(1, &records));
  ASSERT_EQ(JsonString(records[0], "kind"), "routed");
  const double seq = JsonNumber(records[0], "seq");
  ASSERT_OK(carol.SendLine(R"({"accept":)" + std::to_string(static_cast<int>(seq)) + "}"));
  // The ok and the accepted record, in either order.
  bool ok = false;
  bool accepted = false;
  for (int i = 0; i < 2; ++i) {
    Value m;
    ASSERT_OK(carol.ReadMessage(&m));
    if (m.Find("ok") != nullptr) {
      EXPECT_EQ(JsonNumber(m, "ok"), seq);
      ok = true;
    } else {
      EXPECT_EQ(JsonString(m, "kind"), "accepted") << m.ToJson();
      EXPECT_EQ(JsonString(m, "lead"), "a");
      EXPECT_EQ(JsonString(m, "rep"), "carol");
      accepted = true;
    }
  }
  EXPECT_TRUE(ok);
  EXPECT_TRUE(accepted);
  Value lead = HttpClient(daemon_.http_port()).Get("/v1/leads/a").Json();
  EXPECT_EQ(JsonString(lead, "owner.rep"), "carol");
  const Value* acc = JsonAt(lead, "owner.accepted");
  ASSERT_NE(acc, nullptr);
  EXPECT_EQ(*acc, Value::Bool(true));
}

TEST_F(OutboxTest, ResumeByFromAcrossARestartMissesNothingAndRepeatsNothing) {
  Send(Clicks("a", 4));  // seq 1..3
  std::vector<Value> first = ReadFrom(0, 3);
  ASSERT_EQ(first.size(), 3u);
  const uint64_t last_seen = 3;

  ASSERT_OK(daemon_.Restart());

  // Resumes live on the restarted daemon: sees only what comes after `from`.
  SubscriberClient resumed;
  ASSERT_OK(resumed.Connect(daemon_.subscribe_port()));
  ASSERT_OK(resumed.Subscribe(last_seen));
  Send(Clicks("b", 4));  // seq 4..6
  std::vector<Value> after;
  ASSERT_OK(resumed.ReadRecords(3, &after));
  EXPECT_TRUE(resumed.NothingWithin(0.3));
  CheckRecord(after[0], {4, "stage", "b", "new", "warm", "", "warm", 2, "b-2"});
  CheckRecord(after[1], {5, "stage", "b", "warm", "hot", "", "hot", 4, "b-4"});
  CheckRecord(after[2], {6, "routed", "b", "", "", "dan", "hot", 4, "b-4"});

  // The whole history is still there, unchanged, after a second restart.
  ASSERT_OK(daemon_.Restart());
  std::vector<Value> all = ReadFrom(0, 6);
  ASSERT_EQ(all.size(), 6u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(all[i], first[i]);
  }
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(all[3 + i], after[i]);
  }
}

// --- the wall-clock stage re-check ---

TEST(StageRecheckTest, SweepDemotesADecayedLeadWithoutAnyEvent) {
  DaemonProcess daemon{DaemonOptions{}};
  daemon.WriteRules(kDecayRules);
  daemon.options().stage_check_interval = "1s";
  ASSERT_OK(daemon.Start());

  SubscriberClient sub;
  ASSERT_OK(sub.Connect(daemon.subscribe_port()));
  ASSERT_OK(sub.Subscribe(0));
  // Timestamped now: 50 points of heat that halve every second. A second lead's score does not
  // decay, so the sweep must leave it where it is.
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  char ts[64];
  std::snprintf(ts, sizeof(ts), "%.3f", now);
  IngestClient client;
  ASSERT_OK(client.Connect(daemon.ingest_port()));
  ASSERT_OK(client.SendLines(
      {std::string(R"({"type":"track","userId":"cooling","event":"Demo Requested",)") +
           R"("messageId":"cool-1","timestamp":)" + ts + "}",
       std::string(R"({"type":"track","userId":"steady","event":"Signed Up",)") +
           R"("messageId":"steady-1","timestamp":)" + ts + "}"}));
  ASSERT_OK(client.WaitForAck(2));
  EXPECT_TRUE(client.errors().empty());

  std::vector<Value> records;
  ASSERT_OK(sub.ReadRecords(3, &records, 60));
  // Promotions, in the order sent, triggered by their events.
  EXPECT_EQ(JsonString(records[0], "lead"), "cooling");
  EXPECT_EQ(JsonString(records[0], "to"), "mql");
  EXPECT_EQ(JsonString(records[0], "trigger"), "cool-1");
  EXPECT_EQ(JsonString(records[1], "lead"), "steady");
  EXPECT_EQ(JsonString(records[1], "trigger"), "steady-1");
  // The demotion: a stage record with no trigger, scores read at the wall clock.
  const Value& demoted = records[2];
  SCOPED_TRACE(demoted.ToJson());
  EXPECT_EQ(JsonNumber(demoted, "seq"), 3);
  EXPECT_EQ(JsonString(demoted, "kind"), "stage");
  EXPECT_EQ(JsonString(demoted, "lead"), "cooling");
  EXPECT_EQ(JsonString(demoted, "from"), "mql");
  EXPECT_EQ(JsonString(demoted, "to"), "new");
  EXPECT_EQ(demoted.Find("trigger"), nullptr);
  EXPECT_LT(JsonNumber(demoted, "scores.heat"), 20);

  HttpClient http(daemon.http_port());
  EXPECT_EQ(JsonString(http.Get("/v1/leads/cooling").Json(), "stage"), "new");
  EXPECT_EQ(JsonString(http.Get("/v1/leads/steady").Json(), "stage"), "mql");
  EXPECT_EQ(JsonNumber(http.Get("/v1/leads/cooling").Json(), "events"), 1);
  // The demotion is durable like any other change.
  ASSERT_OK(daemon.Restart());
  HttpClient http2(daemon.http_port());
  EXPECT_EQ(JsonString(http2.Get("/v1/leads/cooling").Json(), "stage"), "new");
  EXPECT_OK(daemon.Stop());
}

}  // namespace
}  // namespace handoff::testing
