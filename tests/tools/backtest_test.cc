// `handoff backtest` (tools/backtest.cc): the request target, the progress bar, the report of a
// result, the errors of a rejected rule file, and the whole exchange (start, poll, report, apply)
// against a scripted HTTP server.
#include "tools/backtest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "tests/testutil.h"
#include "tests/tools/fake_server.h"
#include "tools/net.h"

namespace handoff {
namespace {

using testing::FakeConnection;
using testing::FakeServer;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kResult[] =
    R"({"id":"3","state":"done","progress":1,"at":"2026-12-01T10:00:00.000Z","since":null,)"
    R"("leads":100000,"events":1000000,)"
    R"("stages":{"now":{"new":8123,"mql":912,"sql":230},)"
    R"("candidate":{"new":7711,"mql":1237,"sql":317}},)"
    R"("changes":{"new>mql":412,"mql>sql":87,"sql>mql":5},)"
    R"("examples":[{"lead":"u1","from":"mql","to":"sql",)"
    R"("scores":{"now":{"engagement":1.5,"fit":20},"candidate":{"engagement":4.5,"fit":20}},)"
    R"("breakdown":{"candidate":{"engagement":[{"rule":"r1","points":3},)"
    R"({"rule":"r2","points":1.5}],"fit":[{"rule":"senior","points":20}]}}},)"
    R"({"lead":"u2","from":"new","to":"mql","scores":{"now":{},"candidate":{}},"breakdown":{}}],)"
    R"("rules":[{"rule":"pricing-page","score":"engagement","now":1234.5,"candidate":2469.0},)"
    R"({"rule":"old-rule","score":"fit","now":50,"candidate":null},)"
    R"({"rule":"new-rule","score":"fit","candidate":10}],)"
    R"("routing":{"stage":"sql","teams":{"enterprise":80,"smb":237},"reps":{"alice":27,)"
    R"("bob":53},"queued":3,"unrouted":1},"elapsed_ms":1234})";

TEST(BacktestTargetTest, WaitAlwaysSinceAndAtWhenGiven) {
  EXPECT_EQ(BacktestTarget("", "", 0), "/v1/rules/backtest?wait=0");
  EXPECT_EQ(BacktestTarget("2026-11-01T00:00:00+01:00", "1700000000", 5),
            "/v1/rules/backtest?wait=5&since=2026-11-01T00%3A00%3A00%2B01%3A00&at=1700000000");
}

TEST(FormatBacktestProgressTest, BarStateAndTime) {
  EXPECT_EQ(FormatBacktestProgress(0, "queued", 0, 80),
            "  0% [>                   ] queued  0.0 s");
  EXPECT_EQ(FormatBacktestProgress(0.42, "running", 3.21, 80),
            " 42% [========>           ] running  3.2 s");
  EXPECT_EQ(FormatBacktestProgress(1, "running", 10, 80),
            "100% [====================] running  10.0 s");
  // Out of range and not a number: clamped.
  EXPECT_EQ(FormatBacktestProgress(7, "running", 1, 80).substr(0, 4), "100%");
  EXPECT_EQ(FormatBacktestProgress(-1, "running", 1, 80).substr(0, 4), "  0%");
  EXPECT_EQ(FormatBacktestProgress(std::nan(""), "running", 1, 80).substr(0, 4), "  0%");
  // Narrow terminals: the bar goes first, then the line is cut.
  EXPECT_EQ(FormatBacktestProgress(0.5, "running", 1, 20), " 50% running  1.0 s");
  EXPECT_EQ(FormatBacktestProgress(0.5, "running", 1, 8), " 50% run");
}

TEST(FormatBacktestReportTest, EverySectionAligned) {
  std::string text;
  ASSERT_OK(FormatBacktestReport(kResult, &text));
  EXPECT_EQ(text,
            "backtest 3: 100000 leads, 1000000 events replayed in 1.23 s\n"
            "scores read at 2026-12-01T10:00:00.000Z; all history\n"
            "\n"
            "leads per stage:\n"
            "  stage   now  candidate  change\n"
            "  new    8123       7711    -412\n"
            "  mql     912       1237    +325\n"
            "  sql     230        317     +87\n"
            "\n"
            "leads that would change stage:\n"
            "  new -> mql  412\n"
            "  mql -> sql   87\n"
            "  sql -> mql    5\n"
            "\n"
            "points awarded per rule:\n"
            "  rule          score          now  candidate   change\n"
            "  pricing-page  engagement  1234.5       2469  +1234.5\n"
            "  old-rule      fit             50          -      -50\n"
            "  new-rule      fit              -         10      +10\n"
            "\n"
            "routing under the candidate (leads in stage sql):\n"
            "  team        leads\n"
            "  enterprise     80\n"
            "  smb           237\n"
            "  rep    leads\n"
            "  alice     27\n"
            "  bob       53\n"
            "  queued 3, unrouted 1\n"
            "\n"
            "examples:\n"
            "  u1: mql -> sql\n"
            "    engagement  1.5  ->  4.5  (r1 +3, r2 +1.5)\n"
            "    fit          20  ->   20  (senior +20)\n"
            "  u2: new -> mql\n");
}

TEST(FormatBacktestReportTest, AtMostFiveExamplesSinceAndEmptySections) {
  std::string examples;
  for (int i = 0; i < 7; ++i) {
    examples += std::string(i ? "," : "") + R"({"lead":"x)" + std::to_string(i) +
                R"(","from":"new","to":"mql"})";
  }
  std::string text;
  ASSERT_OK(FormatBacktestReport(
      R"({"id":"9","state":"done","at":"A","since":"S","leads":0,"events":0,"stages":{},)"
      R"("changes":{},"rules":[],"undecodable":2,"examples":[)" +
          examples + "]}",
      &text));
  EXPECT_THAT(text, HasSubstr("events replayed\n(2 undecodable history entries skipped)\n"
                              "scores read at A; history since S\n"));
  EXPECT_THAT(text, HasSubstr("leads per stage:\n  (none)\n"));
  EXPECT_THAT(text, HasSubstr("leads that would change stage:\n  (none)\n"));
  EXPECT_THAT(text, HasSubstr("points awarded per rule:\n  (none)\n"));
  EXPECT_THAT(text, Not(HasSubstr("routing")));
  EXPECT_THAT(text, HasSubstr("examples (5 of 7):\n"));
  EXPECT_THAT(text, HasSubstr("  x4: new -> mql\n"));
  EXPECT_THAT(text, Not(HasSubstr("x5")));
  EXPECT_FALSE(FormatBacktestReport("[1]", &text).ok());
  EXPECT_FALSE(FormatBacktestReport("nope", &text).ok());
}

TEST(FormatRuleErrorsTest, OneLinePerErrorNamedByThePathRead) {
  std::string text;
  ASSERT_OK(FormatRuleErrors(
      R"({"ok":false,"version":4,"errors":[{"file":"<body>","line":5,"col":12,)"
      R"("message":"unknown score \"nosuch\""},{"file":"","line":10,"col":15,"message":"x"}]})",
      "cand.yaml", &text));
  EXPECT_EQ(text, "cand.yaml:5:12: unknown score \"nosuch\"\ncand.yaml:10:15: x\n");
  EXPECT_FALSE(FormatRuleErrors(R"({"ok":false})", "p", &text).ok());
}

TEST(FormatApplyResultTest, VersionAndChangedLeads) {
  std::string text;
  ASSERT_OK(FormatApplyResult(R"({"ok":true,"version":8,"leads":9235,"changed":504})", &text));
  EXPECT_EQ(text, "applied: rules version 8; 504 of 9235 leads changed stage\n");
  EXPECT_FALSE(FormatApplyResult(R"({"error":"x"})", &text).ok());
}

// ---- the command against a scripted daemon ----

struct Answer {
  int status;
  std::string body;
};

// Answers each connection's one request with the next scripted answer, remembering every
// request line and body.
struct ScriptedHttp {
  explicit ScriptedHttp(std::vector<Answer> script) : answers(std::move(script)) {}

  std::vector<Answer> answers;
  std::vector<std::string> requests;  // "POST /v1/rules/backtest?wait=0 HTTP/1.1"
  std::vector<std::string> bodies;
  std::vector<std::string> heads;
  size_t next = 0;

  void Serve(FakeConnection& c) {
    std::string line;
    std::string head;
    size_t length = 0;
    bool first = true;
    while (c.ReadLine(&line) && line != "\r") {
      if (!line.empty() && line.back() == '\r') {
        line.pop_back();
      }
      if (first) {
        requests.push_back(line);
        first = false;
      }
      head += line + "\n";
      std::string lower = line;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      if (lower.rfind("content-length:", 0) == 0) {
        length = std::stoul(line.substr(15));
      }
    }
    heads.push_back(head);
    std::string body;
    while (body.size() < length && c.ReadSome(&body)) {
    }
    bodies.push_back(body);
    const Answer a = next < answers.size() ? answers[next++] : Answer{500, "{}"};
    c.Write("HTTP/1.1 " + std::to_string(a.status) +
            " X\r\nContent-Type: application/json\r\nContent-Length: " +
            std::to_string(a.body.size()) + "\r\nConnection: close\r\n\r\n" + a.body);
  }
};

class BacktestCommandTest : public ::testing::Test {
 protected:
  static constexpr char kYaml[] = "scores:\n  engagement: {kind: event}\n";
  testing::TempDir tmp_;
  std::string dir_ = tmp_.path();
  std::string path_ = tmp_.WriteFile("cand.yaml", kYaml);
};

TEST_F(BacktestCommandTest, StartsPollsAndPrintsTheReport) {
  ScriptedHttp http{{{202, R"({"id":"3","state":"queued","progress":0})"},
                     {200, R"({"id":"3","state":"running","progress":0.5})"},
                     {200, kResult}}};
  FakeServer server([&](FakeConnection& c) { http.Serve(c); }, 3);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(BacktestCommand({path_, "--http", server.address(), "--token", "tok", "--since",
                             "2026-11-01T00:00:00Z"},
                            out, err, /*err_is_terminal=*/false),
            0)
      << err.str();
  ASSERT_EQ(http.requests.size(), 3u);
  EXPECT_EQ(http.requests[0],
            "POST /v1/rules/backtest?wait=0&since=2026-11-01T00%3A00%3A00Z HTTP/1.1");
  EXPECT_EQ(http.bodies[0], kYaml);
  EXPECT_THAT(http.heads[0], HasSubstr("Authorization: Bearer tok"));
  EXPECT_EQ(http.requests[1], "GET /v1/rules/backtest/3 HTTP/1.1");
  EXPECT_EQ(http.requests[2], "GET /v1/rules/backtest/3 HTTP/1.1");
  std::string report;
  ASSERT_OK(FormatBacktestReport(kResult, &report));
  EXPECT_EQ(out.str(), report);
  EXPECT_EQ(err.str(), "");  // not a terminal: no progress at all
}

TEST_F(BacktestCommandTest, ProgressBarOnATerminalThenErased) {
  ScriptedHttp http{{{202, R"({"id":"3","state":"running","progress":0.25})"}, {200, kResult}}};
  FakeServer server([&](FakeConnection& c) { http.Serve(c); }, 2);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(BacktestCommand({path_, "-p", server.address()}, out, err, /*err_is_terminal=*/true),
            0);
  EXPECT_THAT(err.str(), HasSubstr("\r 25% [=====>              ] running  0.0 s\033[K"));
  EXPECT_THAT(err.str(), ::testing::EndsWith("\r\033[K"));
}

TEST_F(BacktestCommandTest, JsonThenApply) {
  const std::string applied = R"({"ok":true,"version":8,"leads":9235,"changed":504})";
  ScriptedHttp http{{{200, kResult}, {200, applied}, {200, kResult}, {200, applied}}};
  FakeServer server([&](FakeConnection& c) { http.Serve(c); }, 4);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(BacktestCommand({path_, "-p", server.address(), "--json", "--apply"}, out, err, false),
            0)
      << err.str();
  EXPECT_EQ(out.str(), std::string(kResult) + "\n" + applied + "\n");
  std::ostringstream text;
  EXPECT_EQ(BacktestCommand({path_, "-p", server.address(), "--apply"}, text, err, false), 0);
  EXPECT_THAT(text.str(),
              HasSubstr("\n\napplied: rules version 8; 504 of 9235 leads changed stage\n"));
  ASSERT_EQ(http.requests.size(), 4u);
  EXPECT_EQ(http.requests[1], "POST /v1/rules/apply HTTP/1.1");
  EXPECT_EQ(http.bodies[1], kYaml);
}

TEST_F(BacktestCommandTest, RejectedRulesExitOne) {
  ScriptedHttp http{{{422, R"({"ok":false,"version":4,"errors":[{"file":"<body>","line":2,)"
                           R"("col":3,"message":"unknown kind"}]})"}}};
  FakeServer server([&](FakeConnection& c) { http.Serve(c); });
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(BacktestCommand({path_, "-p", server.address()}, out, err, false), 1);
  EXPECT_EQ(out.str(), path_ + ":2:3: unknown kind\n");
}

TEST_F(BacktestCommandTest, FailedJobUnknownJobAndApplyConflictExitTwo) {
  ScriptedHttp http{{{202, R"({"id":"3","state":"running","progress":0})"},
                     {200, R"({"id":"3","state":"failed","error":"history unreadable"})"},
                     {202, R"({"id":"4","state":"running","progress":0})"},
                     {404, R"({"error":"not_found","message":"no backtest 4"})"},
                     {200, kResult},
                     {409, R"({"error":"the rules path is a directory"})"}}};
  FakeServer server([&](FakeConnection& c) { http.Serve(c); }, 6);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(BacktestCommand({path_, "-p", server.address()}, out, err, false), 2);
  EXPECT_EQ(err.str(), "handoff backtest: the backtest failed: history unreadable\n");
  err.str("");
  EXPECT_EQ(BacktestCommand({path_, "-p", server.address()}, out, err, false), 2);
  EXPECT_THAT(err.str(), HasSubstr("HTTP 404: no backtest 4"));
  err.str("");
  EXPECT_EQ(BacktestCommand({path_, "-p", server.address(), "--apply"}, out, err, false), 2);
  EXPECT_EQ(err.str(), "handoff backtest: cannot apply: the rules path is a directory\n");
}

TEST_F(BacktestCommandTest, UsageFileAndConnectionErrorsExitTwo) {
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(BacktestCommand({}, out, err, false), 2);
  EXPECT_EQ(BacktestCommand({path_, "extra"}, out, err, false), 2);
  err.str("");
  EXPECT_EQ(BacktestCommand({dir_}, out, err, false), 2);
  EXPECT_THAT(err.str(), HasSubstr("is a directory; backtest takes one rule file"));
  err.str("");
  EXPECT_EQ(BacktestCommand({dir_ + "/nope.yaml"}, out, err, false), 2);
  EXPECT_THAT(err.str(), HasSubstr("cannot read"));
  err.str("");
  // A port nothing listens on (the fake server is gone once it has served its one connection).
  uint16_t port;
  {
    FakeServer server([](FakeConnection&) {}, 0);
    port = server.port();
  }
  EXPECT_EQ(BacktestCommand({path_, "-p", std::to_string(port)}, out, err, false), 2);
  EXPECT_THAT(err.str(), HasSubstr("handoff backtest: "));
  EXPECT_EQ(out.str(), "");
}

}  // namespace
}  // namespace handoff
