// The network subcommands of `handoff` against the real daemon (tests/integration's harness):
// send -> lead -> tail -> accept, and a short loadgen run, on the example rules; backtest and
// apply of a candidate rule file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "tests/integration/daemon_harness.h"
#include "tests/testutil.h"
#include "tools/backtest.h"
#include "tools/lead.h"
#include "tools/loadgen.h"
#include "tools/net.h"
#include "tools/sales.h"
#include "tools/send.h"
#include "tools/tail.h"

namespace handoff {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;

class CliDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(testing::BinaryDir() + "/handoffd")) {
      GTEST_SKIP() << "handoffd is not built in " << testing::BinaryDir();
    }
    testing::DaemonOptions options;
    options.rules = testing::SourceDir() + "/rules/examples/default.yaml";
    daemon_ = std::make_unique<testing::DaemonProcess>(options);
    ASSERT_OK(daemon_->Start());
  }

  std::string Port(uint16_t port) { return std::to_string(port); }

  std::unique_ptr<testing::DaemonProcess> daemon_;
};

TEST_F(CliDaemonTest, SendLeadTailAccept) {
  const std::string path = daemon_->temp().WriteFile(
      "events.ndjson",
      R"({"type":"identify","userId":"u 1","messageId":"m1","traits":{"email":"jo@acme.com","title":"VP Engineering"}})"
      "\n"
      R"({"type":"page","userId":"u 1","messageId":"m2","properties":{"path":"/pricing"}})"
      "\n"
      R"({"type":"track","userId":"u 1","messageId":"m3"})"
      "\n\n"
      R"({"type":"track","userId":"u 1","messageId":"m4","event":"Demo Requested"})"
      "\n"
      R"({"type":"track","userId":"u 1","messageId":"m5","event":"Trial Started"})");
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(SendCommand({path, "--ingest", Port(daemon_->ingest_port())}, out, err, false), 1)
      << err.str();
  EXPECT_THAT(out.str(), HasSubstr(path + ":3: missing_field: "));
  EXPECT_THAT(out.str(), ContainsRegex("sent 6 lines in .*, 4 applied-or-duplicate, 1 rejected, "
                                       "1 blank\n$"));

  // Sending the same file again: every event is a duplicate, acknowledged all the same.
  std::ostringstream again;
  EXPECT_EQ(SendCommand({path, "-p", Port(daemon_->ingest_port())}, again, err, false), 1);
  EXPECT_THAT(again.str(), HasSubstr("4 applied-or-duplicate, 1 rejected"));

  std::ostringstream lead;
  EXPECT_EQ(LeadCommand({"u 1", "--http", Port(daemon_->http_port())}, lead, err), 0) << err.str();
  EXPECT_THAT(lead.str(), HasSubstr("lead u 1\n  stage       sql\n"));
  EXPECT_THAT(lead.str(), ContainsRegex("\n    demo-request +\\+50\n"));
  EXPECT_THAT(lead.str(), HasSubstr("  events      4\n"));

  // The records so far: stage new->mql, stage mql->sql, routed.
  std::ostringstream tail;
  EXPECT_EQ(
      TailCommand({"--from", "0", "-n", "3", "-p", Port(daemon_->subscribe_port())}, tail, err), 0)
      << err.str();
  std::vector<Value> records;
  std::istringstream lines(tail.str());
  for (std::string line; std::getline(lines, line);) {
    records.push_back(testing::JsonOrFail(line));
  }
  ASSERT_EQ(records.size(), 3u) << tail.str();
  EXPECT_EQ(testing::JsonString(records[2], "kind"), "routed");
  EXPECT_EQ(testing::JsonString(records[2], "trigger"), "m5");
  const uint64_t routed_seq = static_cast<uint64_t>(testing::JsonNumber(records[2], "seq"));

  const std::string sub = Port(daemon_->subscribe_port());
  std::ostringstream accepted;
  EXPECT_EQ(SalesCommand("accept", {std::to_string(routed_seq), "-p", sub}, accepted, err), 0)
      << err.str();
  EXPECT_EQ(accepted.str(), "accepted " + std::to_string(routed_seq) + "\n");
  std::ostringstream failed_err;
  EXPECT_EQ(SalesCommand("accept", {"999", "-p", sub}, accepted, failed_err), 1);
  EXPECT_THAT(failed_err.str(), HasSubstr("handoff accept 999: "));
}

TEST_F(CliDaemonTest, UnknownLeadAndRefusedConnection) {
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(LeadCommand({"nobody", "--http", Port(daemon_->http_port())}, out, err), 1);
  EXPECT_EQ(err.str(), "handoff lead: no lead \"nobody\"\n");
  ASSERT_OK(daemon_->Stop());
  std::ostringstream err2;
  EXPECT_EQ(LeadCommand({"nobody", "--http", Port(daemon_->http_port())}, out, err2), 2);
  EXPECT_THAT(err2.str(), HasSubstr("cannot connect"));
}

TEST_F(CliDaemonTest, LoadgenRoutesEveryQualifyingLead) {
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(LoadgenCommand(
                {"--rate", "2000", "--duration", "1", "--leads", "100", "--qualify-every", "10",
                 "--connections", "2", "--write-interval-ms", "0.5", "--json", "--ingest",
                 Port(daemon_->ingest_port()), "--subscribe", Port(daemon_->subscribe_port())},
                out, err),
            0)
      << err.str();
  Value report = testing::JsonOrFail(out.str());
  EXPECT_EQ(testing::JsonNumber(report, "write_interval_ms"), 0.5);
  EXPECT_EQ(testing::JsonNumber(report, "sent"), 2000);
  EXPECT_EQ(testing::JsonNumber(report, "acked"), 2000);
  EXPECT_EQ(testing::JsonNumber(report, "rejected"), 0);
  // Each connection sends 1000 events, 100 cycles of 10: every cycle but the first two ends a
  // lead's qualifying sequence, and each of those leads is routed on that event.
  EXPECT_EQ(testing::JsonNumber(report, "expected_routed"), 196);
  EXPECT_EQ(testing::JsonNumber(report, "routed"), 196);
  EXPECT_EQ(testing::JsonNumber(report, "unmatched_routed"), 0);
  EXPECT_EQ(testing::JsonNumber(report, "latency_ms.count"), 196);
}

// `handoff backtest` on a daemon of its own, whose rules file is a temp copy that --apply may
// overwrite. Skipped while the daemon has no backtest endpoint.
TEST(CliBacktestTest, BacktestRejectThenApply) {
  if (!std::filesystem::exists(testing::BinaryDir() + "/handoffd")) {
    GTEST_SKIP() << "handoffd is not built in " << testing::BinaryDir();
  }
  testing::DaemonProcess daemon(testing::DaemonOptions{});
  daemon.WriteRules(testing::kClickRules);
  ASSERT_OK(daemon.Start());
  const std::string http = std::to_string(daemon.http_port());
  HttpReply probe;
  ASSERT_OK(HttpCall(HostPort{"127.0.0.1", daemon.http_port()}, "POST", "/v1/rules/backtest?wait=0",
                     "", "scores: [", &probe));
  if (probe.status != 422) {
    GTEST_SKIP() << "POST /v1/rules/backtest answered " << probe.status << " to a bad rule file";
  }
  const std::string events = daemon.temp().WriteFile(
      "events.ndjson", R"({"type":"track","userId":"u1","event":"Click","messageId":"m1"})"
                       "\n"
                       R"({"type":"track","userId":"u1","event":"Click","messageId":"m2"})"
                       "\n");
  std::ostringstream out;
  std::ostringstream err;
  ASSERT_EQ(SendCommand({events, "-p", std::to_string(daemon.ingest_port())}, out, err, false), 0)
      << err.str();

  // A stage at two clicks: u1 (two clicks) would move to "hot". Only the stage changes, so
  // --apply, which re-evaluates stages on the scores as they are (no replay), moves it too.
  std::string candidate(testing::kClickRules);
  candidate += "stages:\n  - name: hot\n    enter: score.clicks >= 2\n";
  const std::string path = daemon.temp().WriteFile("candidate.yaml", candidate);
  std::ostringstream report;
  EXPECT_EQ(BacktestCommand({path, "-p", http}, report, err, false), 0) << err.str();
  EXPECT_THAT(report.str(), HasSubstr("backtest "));
  EXPECT_THAT(report.str(), HasSubstr("\nleads that would change stage:\n  new -> hot  1\n"));
  EXPECT_THAT(report.str(), ContainsRegex("\n  click +clicks +2 +2 +0\n"));
  EXPECT_THAT(report.str(), HasSubstr("\n  u1: new -> hot\n"));

  // A bad candidate: its errors under the path read, exit 1, nothing loaded.
  const std::string bad = daemon.temp().WriteFile("bad.yaml", "scores:\n  x: {kind: nosuch}\n");
  std::ostringstream rejected;
  EXPECT_EQ(BacktestCommand({bad, "-p", http, "--apply"}, rejected, err, false), 1);
  EXPECT_THAT(rejected.str(), ContainsRegex("^" + bad + ":[0-9]+:[0-9]+: "));

  std::ostringstream applied;
  EXPECT_EQ(BacktestCommand({path, "-p", http, "--apply"}, applied, err, false), 0) << err.str();
  EXPECT_THAT(applied.str(), HasSubstr("\napplied: rules version 2; 1 of 1 leads changed stage\n"));
  std::ostringstream lead;
  EXPECT_EQ(LeadCommand({"u1", "-p", http}, lead, err), 0) << err.str();
  EXPECT_THAT(lead.str(), HasSubstr("  stage       hot\n"));
}

}  // namespace
}  // namespace handoff
