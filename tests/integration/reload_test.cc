// Hot reload of the rules in the real daemon (SPEC 5, 6): POST /v1/rules/reload, SIGHUP, the
// file watch, validation, and reloads under traffic.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <string>
#include <vector>

#include "tests/integration/daemon_harness.h"
#include "tests/testutil.h"

namespace handoff::testing {
namespace {

// Two rules with the same points: whatever version scores an event, it scores it wholly, so
// their totals stay equal.
std::string RulesWithPoints(int points) {
  const std::string p = std::to_string(points);
  return "scores:\n"
         "  total: {kind: event}\n"
         "rules:\n"
         "  - id: hit-a\n"
         "    score: total\n"
         "    when: event == \"Hit\"\n"
         "    points: " +
         p +
         "\n"
         "  - id: hit-b\n"
         "    score: total\n"
         "    when: event == \"Hit\"\n"
         "    points: " +
         p + "\n";
}

// Three errors: an unknown score (line 5), an expression that does not parse (line 6) and a
// duration without a unit (line 12).
constexpr std::string_view kBadRules =
    "scores:\n"
    "  total: {kind: event}\n"
    "rules:\n"
    "  - id: hit-a\n"
    "    score: totl\n"
    "    when: event == == \"Hit\"\n"
    "    points: 1\n"
    "  - id: hit-b\n"
    "    score: total\n"
    "    when: event == \"Hit\"\n"
    "    points: 1\n"
    "    cap: {points: 5, per: 10}\n";

std::string Hit(const std::string& user, const std::string& message_id) {
  return R"({"type":"track","userId":")" + user + R"(","event":"Hit","messageId":")" + message_id +
         R"(","timestamp":1767225600})";
}

class ReloadTest : public ::testing::Test {
 protected:
  void StartDaemon(bool watch) {
    rules_path_ = daemon_.WriteRules(RulesWithPoints(10));
    daemon_.options().watch = watch;
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

  Value Rules() {
    HttpResult r = HttpClient(daemon_.http_port()).Get("/v1/rules");
    EXPECT_EQ(r.status, 200);
    return r.Json();
  }
  double Version() { return JsonNumber(Rules(), "version"); }
  Value Lead(const std::string& id) {
    HttpResult r = HttpClient(daemon_.http_port()).Get("/v1/leads/" + id);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.Json();
  }
  double Total(const std::string& id) { return JsonNumber(Lead(id), "scores.total"); }

  // Checks a 422 answer lists the three errors of kBadRules at their positions.
  void ExpectBadRulesErrors(const HttpResult& r, const std::string& file) {
    EXPECT_EQ(r.status, 422) << r.body;
    Value body = r.Json();
    const Value* ok = JsonAt(body, "ok");
    ASSERT_NE(ok, nullptr);
    EXPECT_EQ(*ok, Value::Bool(false));
    const Value* errors = JsonAt(body, "errors");
    ASSERT_NE(errors, nullptr);
    ASSERT_TRUE(errors->is_array());
    ASSERT_EQ(errors->as_array().size(), 3u) << r.body;
    const double expected[3][2] = {{5, 12}, {6, 20}, {12, 27}};
    for (size_t i = 0; i < 3; ++i) {
      const Value& e = errors->as_array()[i];
      SCOPED_TRACE(e.ToJson());
      EXPECT_EQ(JsonString(e, "file"), file);
      EXPECT_EQ(JsonNumber(e, "line"), expected[i][0]);
      EXPECT_EQ(JsonNumber(e, "col"), expected[i][1]);
      EXPECT_FALSE(JsonString(e, "message").empty());
    }
    EXPECT_NE(JsonString(errors->as_array()[0], "message").find("totl"), std::string::npos);
  }

  DaemonProcess daemon_{DaemonOptions{}};
  std::string rules_path_;
};

TEST_F(ReloadTest, PostReloadSighupAndValidate) {
  StartDaemon(/*watch=*/false);
  HttpClient http(daemon_.http_port());
  Value v1 = Rules();
  EXPECT_EQ(JsonNumber(v1, "version"), 1);
  EXPECT_EQ(JsonString(v1, "path"), rules_path_);
  EXPECT_EQ(JsonString(v1, "sha256").size(), 64u);
  EXPECT_FALSE(JsonString(v1, "loaded_at").empty());
  Send({Hit("r", "r-1")});
  EXPECT_EQ(Total("r"), 20);

  // A new file, reloaded: later events score by it, earlier awards keep their points.
  daemon_.WriteRules(RulesWithPoints(25));
  HttpResult reload = http.Post("/v1/rules/reload", "");
  ASSERT_EQ(reload.status, 200) << reload.body;
  EXPECT_EQ(JsonNumber(reload.Json(), "version"), 2);
  Value v2 = Rules();
  EXPECT_EQ(JsonNumber(v2, "version"), 2);
  EXPECT_NE(JsonString(v2, "sha256"), JsonString(v1, "sha256"));
  Send({Hit("r", "r-2")});
  EXPECT_EQ(Total("r"), 20 + 50);

  // A bad file: 422 with every error; the old rules stay in force.
  daemon_.WriteRules(kBadRules);
  HttpResult bad = http.Post("/v1/rules/reload", "");
  ExpectBadRulesErrors(bad, rules_path_);
  EXPECT_EQ(JsonNumber(bad.Json(), "version"), 2);
  Value still = Rules();
  EXPECT_EQ(JsonNumber(still, "version"), 2);
  EXPECT_EQ(JsonString(still, "sha256"), JsonString(v2, "sha256"));
  Send({Hit("r", "r-3")});
  EXPECT_EQ(Total("r"), 20 + 50 + 50);
  std::string metrics = http.Get("/metrics").body;
  EXPECT_EQ(PrometheusSample(metrics, R"(handoff_rule_reloads_total{result="error"})"), 1.0);
  EXPECT_EQ(PrometheusSample(metrics, "handoff_rules_version"), 2.0);

  // SIGHUP reloads too.
  daemon_.WriteRules(RulesWithPoints(5));
  ASSERT_OK(daemon_.Signal(SIGHUP));
  ASSERT_TRUE(WaitUntil([&] { return Version() == 3; })) << daemon_.log();
  Send({Hit("r", "r-4")});
  EXPECT_EQ(Total("r"), 20 + 50 + 50 + 10);

  // Validate: a bad body is 422 with its errors; a good one is 200; neither loads anything.
  HttpResult invalid = http.Post("/v1/rules/validate", kBadRules);
  ExpectBadRulesErrors(invalid, "request");
  HttpResult valid = http.Post("/v1/rules/validate", RulesWithPoints(1000));
  EXPECT_EQ(valid.status, 200) << valid.body;
  EXPECT_EQ(Version(), 3);
  Send({Hit("r", "r-5")});
  EXPECT_EQ(Total("r"), 20 + 50 + 50 + 10 + 10);
  Value lead = Lead("r");
  EXPECT_EQ(JsonNumber(lead, "events"), 5);

  // The version in force survives a restart.
  ASSERT_OK(daemon_.Restart());
  EXPECT_EQ(Version(), 3);
  EXPECT_EQ(Total("r"), 140);
}

TEST_F(ReloadTest, FileWatchPicksUpAChange) {
  StartDaemon(/*watch=*/true);
  Send({Hit("w", "w-1")});
  EXPECT_EQ(Total("w"), 20);
  daemon_.WriteRules(RulesWithPoints(100));
  ASSERT_TRUE(WaitUntil([&] { return Version() == 2; }, 30)) << daemon_.log();
  Send({Hit("w", "w-2")});
  EXPECT_EQ(Total("w"), 220);
  // A broken file on disk is refused; the watch keeps the old rules and picks up the next fix.
  daemon_.WriteRules(kBadRules);
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::string m = HttpClient(daemon_.http_port()).Get("/metrics").body;
        return PrometheusSample(m, R"(handoff_rule_reloads_total{result="error"})") == 1.0;
      },
      30))
      << daemon_.log();
  EXPECT_EQ(Version(), 2);
  daemon_.WriteRules(RulesWithPoints(1));
  ASSERT_TRUE(WaitUntil([&] { return Version() == 3; }, 30)) << daemon_.log();
  Send({Hit("w", "w-3")});
  EXPECT_EQ(Total("w"), 222);
}

TEST_F(ReloadTest, ReloadsUnderTrafficLoseNothingAndScoreEachEventByOneVersion) {
  StartDaemon(/*watch=*/false);
  constexpr int kBatches = 60;
  constexpr int kPerBatch = 100;
  std::atomic<bool> sender_done{false};
  IngestClient client;
  ASSERT_OK(client.Connect(daemon_.ingest_port()));
  ScopedThread sender(
      [&] {
        for (int b = 0; b < kBatches; ++b) {
          std::vector<std::string> lines;
          for (int i = 0; i < kPerBatch; ++i) {
            const int n = b * kPerBatch + i;
            lines.push_back(Hit("traffic-" + std::to_string(n % 3), "t-" + std::to_string(n)));
          }
          ASSERT_OK(client.SendLines(lines));
          ASSERT_OK(client.WaitForAck(client.lines_sent()));
        }
        EXPECT_EQ(client.last_ack(), static_cast<uint64_t>(kBatches * kPerBatch));
        EXPECT_TRUE(client.errors().empty());
        sender_done = true;
      },
      [&] { client.connection().Abort(); });
  HttpClient http(daemon_.http_port());
  int reloads = 0;
  for (int i = 0; i < 8; ++i) {
    daemon_.WriteRules(RulesWithPoints(i % 2 == 0 ? 1 : 3));
    HttpResult r = http.Post("/v1/rules/reload", "");
    EXPECT_EQ(r.status, 200) << r.body;
    ++reloads;
  }
  sender.Join();
  ASSERT_TRUE(sender_done.load());
  EXPECT_EQ(Version(), 1 + reloads);

  double events = 0;
  double total = 0;
  for (int k = 0; k < 3; ++k) {
    Value lead = Lead("traffic-" + std::to_string(k));
    events += JsonNumber(lead, "events");
    total += JsonNumber(lead, "scores.total");
    const Value* parts = JsonAt(lead, "breakdown.total");
    ASSERT_NE(parts, nullptr);
    ASSERT_EQ(parts->as_array().size(), 2u) << lead.ToJson();
    EXPECT_EQ(JsonNumber(parts->as_array()[0], "points"),
              JsonNumber(parts->as_array()[1], "points"))
        << lead.ToJson();
  }
  EXPECT_EQ(events, kBatches * kPerBatch);
  // Every event scored 2 x (1, 3 or 10 points) by exactly one version.
  EXPECT_GE(total, 2.0 * kBatches * kPerBatch);
  EXPECT_LE(total, 20.0 * kBatches * kPerBatch);
}

}  // namespace
}  // namespace handoff::testing
