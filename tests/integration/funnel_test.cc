// The funnel over the wire (SPEC 12): the real daemon routes leads, a sales tool accepts and
// closes them with deal values, and GET /v1/funnel and /metrics show the figures, windowed by
// time and team, the same after a restart. Every expectation is counted by hand.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "base/timestamp.h"
#include "tests/integration/daemon_harness.h"
#include "tests/testutil.h"

namespace handoff::testing {
namespace {

// Two event rules feed `engagement` (a Qualify is worth 100, a Pricing view 10), one profile
// rule feeds `fit`; `sql` is entered at 100 and routed to team `enterprise` (companies of 1000
// employees or more: alice) or `smb` (bob).
constexpr std::string_view kRules =
    "scores:\n"
    "  engagement: {kind: event}\n"
    "  fit: {kind: profile}\n"
    "rules:\n"
    "  - id: qualify\n"
    "    score: engagement\n"
    "    when: event == \"Qualify\"\n"
    "    points: 100\n"
    "  - id: pricing\n"
    "    score: engagement\n"
    "    when: event == \"Pricing\"\n"
    "    points: 10\n"
    "  - id: big\n"
    "    score: fit\n"
    "    when: traits.employees >= 1000\n"
    "    points: 50\n"
    "stages:\n"
    "  - name: mql\n"
    "    enter: score.engagement >= 10\n"
    "  - name: sql\n"
    "    enter: score.engagement >= 100\n"
    "routing:\n"
    "  stage: sql\n"
    "  teams:\n"
    "    - id: enterprise\n"
    "      when: traits.employees >= 1000\n"
    "      reps: [{id: alice}]\n"
    "    - id: smb\n"
    "      when: true\n"
    "      reps: [{id: bob}]\n";

std::string Identify(const std::string& lead, int employees) {
  return R"({"type":"identify","userId":")" + lead + R"(","messageId":"i-)" + lead +
         R"(","timestamp":1767225600,"traits":{"employees":)" + std::to_string(employees) + "}}";
}

std::string Track(const std::string& lead, const std::string& event, const std::string& id) {
  return R"({"type":"track","userId":")" + lead + R"(","event":")" + event + R"(","messageId":")" +
         id + R"(","timestamp":1767225600})";
}

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class FunnelTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (daemon_.running()) {
      EXPECT_OK(daemon_.Stop());
    }
  }

  void Send(const std::vector<std::string>& lines) {
    IngestClient ingest;
    ASSERT_OK(ingest.Connect(daemon_.ingest_port()));
    ASSERT_OK(ingest.SendLines(lines));
    ASSERT_OK(ingest.WaitForAck(ingest.lines_sent()));
    EXPECT_TRUE(ingest.errors().empty()) << ingest.errors().front().ToJson();
  }

  // Reads records until the routed one of `lead`; returns its seq.
  uint64_t RoutedSeq(const std::string& lead) {
    for (;;) {
      Value m;
      Status st = watcher_.ReadMessage(&m);
      if (!st.ok()) {
        ADD_FAILURE() << "no routed record for " << lead << ": " << st.ToString();
        return 0;
      }
      if (JsonString(m, "kind") == "routed" && JsonString(m, "lead") == lead) {
        return static_cast<uint64_t>(JsonNumber(m, "seq"));
      }
    }
  }

  // One command on the tool's connection; its reply.
  Value Command(const std::string& line) {
    EXPECT_OK(tool_.SendLine(line));
    Value reply;
    EXPECT_OK(tool_.ReadMessage(&reply));
    return reply;
  }

  Value Funnel(const std::string& query = "") {
    HttpResult r = HttpClient(daemon_.http_port()).Get("/v1/funnel" + query);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.Json();
  }

  DaemonProcess daemon_{DaemonOptions{}};
  SubscriberClient watcher_;
  SubscriberClient tool_;
};

TEST_F(FunnelTest, FiguresFromRoutingToClosedDealsWindowedAndAfterARestart) {
  daemon_.WriteRules(kRules);
  ASSERT_OK(daemon_.Start());
  ASSERT_OK(watcher_.Connect(daemon_.subscribe_port()));
  ASSERT_OK(watcher_.Subscribe(0));
  ASSERT_OK(tool_.Connect(daemon_.subscribe_port()));

  // e1, e2: enterprise (alice) after a Pricing view; s1: smb (bob) without; n1 stays new, m1 mql.
  Send({Identify("e1", 5000), Track("e1", "Pricing", "p-e1"), Track("e1", "Qualify", "q-e1"),
        Identify("e2", 2000), Track("e2", "Pricing", "p-e2"), Track("e2", "Qualify", "q-e2"),
        Identify("s1", 10), Track("s1", "Qualify", "q-s1"), Identify("m1", 10),
        Track("m1", "Pricing", "p-m1"), Identify("n1", 10), Track("n1", "Other", "o-n1")});
  const uint64_t e1 = RoutedSeq("e1");
  const uint64_t e2 = RoutedSeq("e2");
  const uint64_t s1 = RoutedSeq("s1");
  ASSERT_TRUE(e1 > 0 && e2 > 0 && s1 > 0);
  EXPECT_EQ(JsonNumber(Command(R"({"accept":)" + std::to_string(e1) + "}"), "ok"), e1);
  EXPECT_EQ(JsonNumber(Command(R"({"accept":)" + std::to_string(s1) + "}"), "ok"), s1);
  const double middle = Now();  // between the accepts and the closes
  EXPECT_EQ(JsonNumber(Command(R"({"close":)" + std::to_string(e1) +
                               R"(,"outcome":"won","amount":12000})"),
                       "ok"),
            e1);
  EXPECT_EQ(JsonNumber(
                Command(R"({"close":)" + std::to_string(e2) + R"(,"outcome":"lost","amount":500})"),
                "ok"),
            e2);
  EXPECT_EQ(JsonNumber(Command(R"({"close":)" + std::to_string(s1) + R"(,"outcome":"won"})"), "ok"),
            s1);
  Value bad = Command(R"({"close":)" + std::to_string(s1) + R"(,"outcome":"won","amount":-1})");
  EXPECT_EQ(JsonString(bad, "error"), "invalid_amount") << bad.ToJson();

  auto check_all = [&](const Value& f) {
    SCOPED_TRACE(f.ToJson());
    EXPECT_TRUE(JsonAt(f, "since")->is_null());
    EXPECT_TRUE(JsonAt(f, "team")->is_null());
    // Leads per stage now: closed leads keep their stage.
    EXPECT_EQ(JsonNumber(f, "stages.new"), 1);
    EXPECT_EQ(JsonNumber(f, "stages.mql"), 1);
    EXPECT_EQ(JsonNumber(f, "stages.sql"), 3);
    EXPECT_EQ(JsonNumber(f, "transitions.new>mql"), 3);  // e1, e2, m1
    EXPECT_EQ(JsonNumber(f, "transitions.mql>sql"), 2);  // e1, e2
    EXPECT_EQ(JsonNumber(f, "transitions.new>sql"), 1);  // s1
    EXPECT_EQ(JsonNumber(f, "routed"), 3);
    EXPECT_EQ(JsonNumber(f, "accepted"), 2);
    EXPECT_EQ(JsonNumber(f, "rejected"), 0);
    EXPECT_EQ(JsonNumber(f, "closed.won"), 2);
    EXPECT_EQ(JsonNumber(f, "closed.lost"), 1);
    EXPECT_EQ(JsonNumber(f, "won_amount"), 12000);
    EXPECT_EQ(JsonNumber(f, "speed_to_lead_ms.routed.count"), 3);
    EXPECT_GE(JsonNumber(f, "speed_to_lead_ms.routed.p50"), 0);
    EXPECT_EQ(JsonNumber(f, "speed_to_lead_ms.accepted.count"), 2);
    const Value* reps = JsonAt(f, "reps");
    ASSERT_TRUE(reps != nullptr && reps->is_array());
    ASSERT_EQ(reps->as_array().size(), 2u);
    const Value& alice = reps->as_array()[0];
    EXPECT_EQ(JsonString(alice, "rep"), "alice");
    EXPECT_EQ(JsonString(alice, "team"), "enterprise");
    EXPECT_EQ(JsonNumber(alice, "routed"), 2);
    EXPECT_EQ(JsonNumber(alice, "accepted"), 1);
    EXPECT_EQ(JsonNumber(alice, "won"), 1);
    EXPECT_EQ(JsonNumber(alice, "lost"), 1);
    EXPECT_EQ(JsonNumber(alice, "won_amount"), 12000);
    // Overall win rate 2/3. pricing: e1 won, e2 lost -> 0.5, lift 0.75; qualify: all three ->
    // 2/3, lift 1; big (fit): e1, e2 -> 0.5.
    const Value* rules = JsonAt(f, "rules");
    ASSERT_TRUE(rules != nullptr && rules->is_array());
    std::map<std::string, const Value*> by_rule;
    for (const Value& r : rules->as_array()) {
      by_rule[JsonString(r, "rule")] = &r;
    }
    ASSERT_EQ(by_rule.size(), 3u);
    EXPECT_EQ(JsonString(*by_rule["pricing"], "score"), "engagement");
    EXPECT_EQ(JsonNumber(*by_rule["pricing"], "closed"), 2);
    EXPECT_EQ(JsonNumber(*by_rule["pricing"], "won"), 1);
    EXPECT_DOUBLE_EQ(JsonNumber(*by_rule["pricing"], "win_rate"), 0.5);
    EXPECT_DOUBLE_EQ(JsonNumber(*by_rule["pricing"], "lift"), 0.75);
    EXPECT_EQ(JsonNumber(*by_rule["pricing"], "won_amount"), 12000);
    EXPECT_EQ(JsonNumber(*by_rule["qualify"], "closed"), 3);
    EXPECT_DOUBLE_EQ(JsonNumber(*by_rule["qualify"], "lift"), 1);
    EXPECT_EQ(JsonString(*by_rule["big"], "score"), "fit");
    EXPECT_EQ(JsonNumber(*by_rule["big"], "closed"), 2);
  };
  const Value all = Funnel();
  check_all(all);

  // Windows: the closes came after `middle`, the routing before it.
  std::string since = "?since=" + std::to_string(middle);
  Value after = Funnel(since);
  EXPECT_EQ(JsonNumber(after, "routed"), 0) << after.ToJson();
  EXPECT_EQ(JsonNumber(after, "closed.won"), 2);
  EXPECT_EQ(JsonNumber(after, "stages.sql"), 3);  // stages are now, whatever the window
  Value before = Funnel("?until=" + std::to_string(middle));
  EXPECT_EQ(JsonNumber(before, "routed"), 3) << before.ToJson();
  EXPECT_EQ(JsonNumber(before, "closed.won"), 0);
  EXPECT_EQ(JsonNumber(before, "accepted"), 2);
  // An RFC 3339 bound reads the same as epoch seconds.
  std::string rfc;
  AppendRfc3339Millis(middle - 0.001, &rfc);  // (it may take in the accepts, not the closes)
  EXPECT_EQ(JsonNumber(Funnel("?since=" + rfc), "closed.won"), 2);
  // Team.
  Value smb = Funnel("?team=smb");
  EXPECT_EQ(JsonString(smb, "team"), "smb");
  EXPECT_EQ(JsonNumber(smb, "routed"), 1) << smb.ToJson();
  EXPECT_EQ(JsonNumber(smb, "closed.won"), 1);
  EXPECT_EQ(JsonNumber(smb, "won_amount"), 0);
  EXPECT_EQ(HttpClient(daemon_.http_port()).Get("/v1/funnel?since=yesterday").status, 400);
  // An empty time parameter is an absent one.
  const Value unset = Funnel("?since=&until=");
  EXPECT_EQ(JsonNumber(unset, "routed"), 3) << unset.ToJson();
  EXPECT_EQ(JsonNumber(unset, "closed.won"), 2);

  // /metrics: the same figures, all time.
  EXPECT_TRUE(WaitUntil([&] {
    std::string m = HttpClient(daemon_.http_port()).Get("/metrics").body;
    return PrometheusSample(m, "handoff_funnel_won_amount_total") == 12000 &&
           PrometheusSample(m, R"(handoff_funnel_closed_total{outcome="won"})") == 2 &&
           PrometheusSample(m, R"(handoff_funnel_stage_leads{stage="sql"})") == 3 &&
           PrometheusSample(m, R"(handoff_funnel_records_total{kind="routed"})") == 3;
  }));

  // After a restart: the same answer (the percentiles too: the histograms are stored).
  ASSERT_OK(daemon_.Restart());
  EXPECT_EQ(Funnel().ToJson(), all.ToJson());
  EXPECT_EQ(Funnel(since).ToJson(), after.ToJson());
  // And after kill -9.
  ASSERT_OK(daemon_.Kill9());
  ASSERT_OK(daemon_.Start());
  EXPECT_EQ(Funnel().ToJson(), all.ToJson());
}

// SPEC 12: /metrics has the same figures as /v1/funnel. The daemon renders them at most every
// 0.1 s under load; a scrape right after a sales tool's answer still sees its record (closes a
// few milliseconds apart, each scraped at once).
TEST_F(FunnelTest, MetricsShowARecordAsSoonAsItIsAnswered) {
  daemon_.WriteRules(kRules);
  ASSERT_OK(daemon_.Start());
  ASSERT_OK(watcher_.Connect(daemon_.subscribe_port()));
  ASSERT_OK(watcher_.Subscribe(0));
  ASSERT_OK(tool_.Connect(daemon_.subscribe_port()));
  std::vector<std::string> lines;
  std::vector<std::string> leads;
  for (int i = 0; i < 4; ++i) {
    const std::string lead = "c" + std::to_string(i);
    leads.push_back(lead);
    lines.push_back(Identify(lead, 10));
    lines.push_back(Track(lead, "Qualify", "q-" + lead));
  }
  Send(lines);
  std::vector<uint64_t> seqs;
  for (const std::string& lead : leads) {
    seqs.push_back(RoutedSeq(lead));
    ASSERT_GT(seqs.back(), 0u);
  }
  for (size_t i = 0; i < seqs.size(); ++i) {
    const std::string seq = std::to_string(seqs[i]);
    ASSERT_EQ(JsonNumber(Command(R"({"close":)" + seq + R"(,"outcome":"won","amount":10})"), "ok"),
              seqs[i]);
    const std::string m = HttpClient(daemon_.http_port()).Get("/metrics").body;
    EXPECT_EQ(PrometheusSample(m, R"(handoff_funnel_closed_total{outcome="won"})"),
              static_cast<double>(i + 1));
    EXPECT_EQ(PrometheusSample(m, "handoff_funnel_won_amount_total"),
              static_cast<double>(10 * (i + 1)));
  }
}

// SPEC 12: /metrics has the same figures as GET /v1/funnel, leads per stage included, which
// change without any record: a new lead, an erasure. Found by a white-box review: /metrics kept
// the count from before an erasure until the next record.
TEST_F(FunnelTest, MetricsCountLeadsPerStageAfterNewLeadsAndAnErasure) {
  daemon_.WriteRules(kRules);
  ASSERT_OK(daemon_.Start());
  HttpClient http(daemon_.http_port());
  auto expect_same = [&](const std::string& when, double new_leads) {
    const Value f = Funnel();
    const std::string m = http.Get("/metrics").body;
    const Value* stages = JsonAt(f, "stages");
    ASSERT_NE(stages, nullptr);
    for (const auto& [stage, n] : stages->as_object()) {
      EXPECT_EQ(PrometheusSample(m, "handoff_funnel_stage_leads{stage=\"" + stage + "\"}"),
                n.as_number())
          << when << ", stage " << stage;
    }
    EXPECT_EQ(JsonNumber(f, "stages.new"), new_leads) << when;
  };
  Send({Identify("a", 10)});
  expect_same("one lead", 1);
  Send({Identify("b", 10), Identify("c", 10)});
  expect_same("three leads", 3);
  HttpResult r;
  ASSERT_OK(http.Request("DELETE", "/v1/leads/b", "", {}, &r));
  ASSERT_EQ(r.status, 200) << r.body;
  expect_same("after the erasure", 2);
}

// SPEC 12's speed to lead times a lead from qualifying to its routing. A lead that qualifies by
// a merge which carries the older lead's owner over is not waiting to be routed: when that
// owner lets it lapse and a rep takes it from the queue later, that routing adds no sample.
TEST_F(FunnelTest, AMergeThatCarriesAnOwnerOverAddsNoSpeedToLeadSample) {
  daemon_.WriteRules(
      QualifyRules("  sla: {accept_within: 1s, max_reassign: 0}\n"
                   "  teams:\n"
                   "    - id: t\n"
                   "      reps: [{id: alice}, {id: bob}]\n",
                   "  - id: pricing\n"
                   "    score: engagement\n"
                   "    when: event == \"Pricing\"\n"
                   "    points: 10\n"));
  ASSERT_OK(daemon_.Start());
  ASSERT_OK(watcher_.Connect(daemon_.subscribe_port()));
  ASSERT_OK(watcher_.SendLine(R"({"subscribe":{},"from":0})"));
  Send({R"({"type":"track","anonymousId":"anon","event":"Qualify","messageId":"a1"})"});
  RoutedSeq("anon");  // alice: one sample
  Send({Track("kim", "Pricing", "k1"),
        R"({"type":"identify","userId":"kim","anonymousId":"anon","messageId":"link"})"});
  // kim reaches sql by the merge and keeps alice; she lets it lapse: escalated, queued.
  for (;;) {
    Value m;
    ASSERT_OK(watcher_.ReadMessage(&m));
    if (JsonString(m, "kind") == "escalated") {
      EXPECT_EQ(JsonString(m, "lead"), "kim");
      break;
    }
  }
  // bob comes back online: a rep that never held it takes it from the queue.
  HttpClient http(daemon_.http_port());
  ASSERT_EQ(http.Put("/v1/reps/bob/availability", R"({"online":false})").status, 200);
  ASSERT_EQ(http.Put("/v1/reps/bob/availability", R"({"online":true})").status, 200);
  RoutedSeq("kim");
  const Value f = Funnel();
  EXPECT_EQ(JsonNumber(f, "routed"), 2);
  EXPECT_EQ(JsonNumber(f, "speed_to_lead_ms.routed.count"), 1);
}

// A lead that leaves the routing stage and reaches it again while a rep holds it is not routed
// by that, so its later routing from the queue (after an escalation) is not timed from there:
// speed to lead counts its first routing only (README, "Choices").
TEST_F(FunnelTest, QualifyingAgainWhileARepHoldsTheLeadAddsNoSpeedToLeadSample) {
  daemon_.WriteRules(
      QualifyRules("  sla: {accept_within: 1s, max_reassign: 0}\n"
                   "  teams:\n"
                   "    - id: t\n"
                   "      reps: [{id: alice}, {id: bob}]\n",
                   "  - id: drop\n"
                   "    score: engagement\n"
                   "    when: event == \"Drop\"\n"
                   "    points: -100\n"));
  ASSERT_OK(daemon_.Start());
  ASSERT_OK(watcher_.Connect(daemon_.subscribe_port()));
  ASSERT_OK(watcher_.SendLine(R"({"subscribe":{},"from":0})"));
  Send({Track("lee", "Qualify", "q1")});
  RoutedSeq("lee");                                                   // alice: the one sample
  Send({Track("lee", "Drop", "d1"), Track("lee", "Qualify", "q2")});  // out of sql and back
  for (;;) {
    Value m;
    ASSERT_OK(watcher_.ReadMessage(&m));
    if (JsonString(m, "kind") == "escalated") {
      break;  // alice let it lapse
    }
    EXPECT_NE(JsonString(m, "kind"), "routed") << "a held lead is not routed again";
  }
  HttpClient http(daemon_.http_port());
  ASSERT_EQ(http.Put("/v1/reps/bob/availability", R"({"online":false})").status, 200);
  ASSERT_EQ(http.Put("/v1/reps/bob/availability", R"({"online":true})").status, 200);
  RoutedSeq("lee");  // bob, from the queue
  const Value f = Funnel();
  EXPECT_EQ(JsonNumber(f, "routed"), 2);
  EXPECT_EQ(JsonNumber(f, "speed_to_lead_ms.routed.count"), 1);
}

}  // namespace
}  // namespace handoff::testing
