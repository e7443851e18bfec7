// Durability of the real daemon (SPEC 10): a clean restart keeps everything; kill -9 loses
// nothing acknowledged; resending after a crash applies nothing twice. Under both durability
// modes.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "storage/crc32c.h"
#include "tests/integration/daemon_harness.h"
#include "tests/testutil.h"

namespace handoff::testing {
namespace {

// Three clicks make a lead "hot", which routes it round-robin to carol or dan.
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
    "    enter: score.clicks >= 3\n"
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

class DurabilityTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    daemon_.WriteRules(kRules);
    const std::string mode = GetParam();
    if (mode == "process_huge_pages") {
      // The same crashes with the heap and the tables on transparent huge pages.
      daemon_.options().extra_args = {"--durability", "process", "--huge-pages", "true"};
    } else {
      daemon_.options().extra_args = {"--durability", mode};
    }
    ASSERT_OK(daemon_.Start());
  }
  void TearDown() override {
    if (daemon_.running()) {
      EXPECT_OK(daemon_.Stop());
    }
  }

  // Sends the lines on a new connection and waits for the final ack; no line may be rejected.
  void Ingest(const std::vector<std::string>& lines) {
    IngestClient client;
    ASSERT_OK(client.Connect(daemon_.ingest_port()));
    ASSERT_OK(client.SendLines(lines));
    ASSERT_OK(client.WaitForAck(lines.size()));
    EXPECT_TRUE(client.errors().empty()) << client.errors()[0].ToJson();
  }

  Value Lead(const std::string& id) {
    HttpResult r = HttpClient(daemon_.http_port()).Get("/v1/leads/" + id + "?at=1767225600");
    EXPECT_EQ(r.status, 200) << id << ": " << r.body;
    return r.Json();
  }

  std::string Metrics() { return HttpClient(daemon_.http_port()).Get("/metrics").body; }

  // Every outbox record from seq 1: exactly `expected` of them, numbered 1..expected.
  // (Not read from /metrics' outbox head: that gauge may trail an ack by a moment.)
  std::vector<Value> Outbox(size_t expected) {
    std::vector<Value> records;
    SubscriberClient sub;
    EXPECT_OK(sub.Connect(daemon_.subscribe_port()));
    EXPECT_OK(sub.Subscribe(0));
    EXPECT_OK(sub.ReadRecords(expected, &records));
    EXPECT_TRUE(sub.NothingWithin(0.3)) << "more than " << expected << " records";
    for (size_t i = 0; i < records.size(); ++i) {
      EXPECT_EQ(JsonNumber(records[i], "seq"), static_cast<double>(i + 1));
    }
    return records;
  }

  DaemonProcess daemon_{DaemonOptions{}};
};

TEST_P(DurabilityTest, CleanRestartKeepsLeadsStagesRulesRoutingAndOutbox) {
  // Lead k gets k clicks: l3..l5 become hot and are routed.
  std::vector<std::string> lines;
  for (int k = 1; k <= 5; ++k) {
    for (int i = 0; i < k; ++i) {
      lines.push_back(
          Click("l" + std::to_string(k), "l" + std::to_string(k) + "-" + std::to_string(i)));
    }
  }
  lines.push_back(
      R"({"type":"identify","userId":"l1","traits":{"email":"x@example.com","n":[1,2]}})");
  Ingest(lines);
  HttpClient http(daemon_.http_port());
  ASSERT_EQ(http.Post("/v1/rules/reload", "").status, 200);  // version 2

  std::map<std::string, Value> before;
  for (int k = 1; k <= 5; ++k) {
    before["l" + std::to_string(k)] = Lead("l" + std::to_string(k));
  }
  EXPECT_EQ(JsonString(before["l3"], "stage"), "hot");
  EXPECT_EQ(JsonString(before["l2"], "stage"), "new");
  Value rules_before = http.Get("/v1/rules").Json();
  EXPECT_EQ(JsonNumber(rules_before, "version"), 2);
  std::vector<Value> outbox_before = Outbox(6);  // 3 x (stage, routed)
  ASSERT_EQ(outbox_before.size(), 6u);
  std::string last_rep;
  for (const Value& r : outbox_before) {
    if (JsonString(r, "kind") == "routed") {
      last_rep = JsonString(r, "rep");
    }
  }
  ASSERT_FALSE(last_rep.empty());

  ASSERT_OK(daemon_.Restart());

  for (auto& [id, lead] : before) {
    EXPECT_EQ(Lead(id), lead) << id;
  }
  HttpClient http2(daemon_.http_port());
  Value rules_after = http2.Get("/v1/rules").Json();
  EXPECT_EQ(JsonNumber(rules_after, "version"), 2);
  EXPECT_EQ(JsonString(rules_after, "sha256"), JsonString(rules_before, "sha256"));
  std::vector<Value> outbox_after = Outbox(6);
  ASSERT_EQ(outbox_after.size(), outbox_before.size());
  for (size_t i = 0; i < outbox_after.size(); ++i) {
    EXPECT_EQ(outbox_after[i], outbox_before[i]) << i;
  }

  // Round-robin state survived: the next hot lead goes to the other rep, and its records
  // continue the sequence.
  Ingest({Click("l6", "l6-0"), Click("l6", "l6-1"), Click("l6", "l6-2")});
  std::vector<Value> outbox = Outbox(8);
  ASSERT_EQ(outbox.size(), 8u);
  EXPECT_EQ(JsonString(outbox[6], "kind"), "stage");
  EXPECT_EQ(JsonString(outbox[7], "kind"), "routed");
  EXPECT_EQ(JsonString(outbox[7], "lead"), "l6");
  EXPECT_NE(JsonString(outbox[7], "rep"), last_rep);
  // Dedupe ids survived: resending l1's click applies nothing.
  Ingest({Click("l1", "l1-0")});
  EXPECT_EQ(JsonNumber(Lead("l1"), "events"), 2);
}

TEST_P(DurabilityTest, KillNineAfterAckLosesNothingAndResendAppliesNothingTwice) {
  constexpr int kLeads = 30;
  constexpr int kEvents = 3000;
  std::vector<std::string> lines;
  std::map<std::string, int> per_lead;
  for (int i = 0; i < kEvents; ++i) {
    std::string lead = "k" + std::to_string(i % kLeads);
    lines.push_back(Click(lead, "kill-" + std::to_string(i)));
    ++per_lead[lead];
  }
  {
    IngestClient client;
    ASSERT_OK(client.Connect(daemon_.ingest_port()));
    ASSERT_OK(client.SendLines(lines));
    ASSERT_OK(client.WaitForAck(kEvents));
    ASSERT_OK(daemon_.Kill9());  // at once: no time for anything but what the ack promised
  }
  ASSERT_OK(daemon_.Start());
  // The log it read back was checksummed by the CPU's crc32 instruction, handoffd's own
  // definition of RocksDB's checksum function (storage/crc32c.h), and read back by it.
  if (Crc32cHasHardware()) {
    EXPECT_NE(daemon_.log().find("store checksums: CRC32C by the CPU's crc32 instruction"),
              std::string::npos)
        << daemon_.log();
  }
  for (const auto& [lead, n] : per_lead) {
    Value got = Lead(lead);
    EXPECT_EQ(JsonNumber(got, "events"), n) << lead;
    EXPECT_EQ(JsonNumber(got, "scores.clicks"), n) << lead;
    EXPECT_EQ(JsonString(got, "stage"), "hot") << lead;
  }
  EXPECT_EQ(Outbox(2 * kLeads).size(), 2u * kLeads);

  // Resending everything (same messageIds) is acknowledged and applies nothing.
  Ingest(lines);
  for (const auto& [lead, n] : per_lead) {
    EXPECT_EQ(JsonNumber(Lead(lead), "events"), n) << lead;
  }
  std::string metrics = Metrics();
  EXPECT_EQ(PrometheusSample(metrics, R"(handoff_events_duplicate_total{transport="tcp"})"),
            static_cast<double>(kEvents));
  EXPECT_EQ(PrometheusSample(metrics, R"(handoff_events_applied_total{transport="tcp"})"), 0.0);
  EXPECT_EQ(Outbox(2 * kLeads).size(), 2u * kLeads);
}

TEST_P(DurabilityTest, KillNineMidStreamKeepsEveryAckedLineAndResendCompletesExactly) {
  constexpr int kLeads = 50;
  constexpr int kEvents = 20000;
  constexpr int kChunk = 500;
  std::vector<std::string> lines;
  for (int i = 0; i < kEvents; ++i) {
    lines.push_back(Click("s" + std::to_string(i % kLeads), "stream-" + std::to_string(i)));
  }
  uint64_t acked = 0;
  {
    IngestClient client;
    ASSERT_OK(client.Connect(daemon_.ingest_port()));
    for (int c = 0; c < kEvents / kChunk; ++c) {
      std::vector<std::string> chunk(lines.begin() + c * kChunk, lines.begin() + (c + 1) * kChunk);
      ASSERT_OK(client.SendLines(chunk));
      if (c == kEvents / kChunk / 2) {
        // Half-way: wait until some of it is acknowledged, then crash with lines in flight.
        ASSERT_OK(client.WaitForAck(kChunk * 4));
        break;
      }
    }
    acked = client.last_ack();
    ASSERT_OK(daemon_.Kill9());
    // Replies the daemon wrote before dying may still be readable: they count as acks too.
    Value reply;
    while (client.ReadReply(&reply, 1).ok()) {
    }
    acked = client.last_ack();
    EXPECT_TRUE(client.errors().empty());
  }
  ASSERT_GE(acked, static_cast<uint64_t>(kChunk * 4));
  ASSERT_OK(daemon_.Start());

  // Every acknowledged line is there; nothing beyond what was sent.
  std::map<std::string, int> min_events;
  for (uint64_t i = 0; i < acked; ++i) {
    ++min_events["s" + std::to_string(i % kLeads)];
  }
  for (int k = 0; k < kLeads; ++k) {
    std::string lead = "s" + std::to_string(k);
    Value got = Lead(lead);
    EXPECT_GE(JsonNumber(got, "events"), min_events[lead]) << lead;
    EXPECT_LE(JsonNumber(got, "events"), kEvents / kLeads) << lead;
  }

  // Resending the whole stream completes it exactly: applied or deduplicated, never twice.
  Ingest(lines);
  for (int k = 0; k < kLeads; ++k) {
    std::string lead = "s" + std::to_string(k);
    Value got = Lead(lead);
    EXPECT_EQ(JsonNumber(got, "events"), kEvents / kLeads) << lead;
    EXPECT_EQ(JsonNumber(got, "scores.clicks"), kEvents / kLeads) << lead;
  }
  std::string metrics = Metrics();
  std::optional<double> dup =
      PrometheusSample(metrics, R"(handoff_events_duplicate_total{transport="tcp"})");
  std::optional<double> applied =
      PrometheusSample(metrics, R"(handoff_events_applied_total{transport="tcp"})");
  ASSERT_TRUE(dup.has_value() && applied.has_value());
  EXPECT_EQ(*dup + *applied, kEvents);
  EXPECT_GE(*dup, static_cast<double>(acked));
  // One stage record and one routed record per lead, however the crash fell.
  EXPECT_EQ(Outbox(2 * kLeads).size(), 2u * kLeads);
}

INSTANTIATE_TEST_SUITE_P(Modes, DurabilityTest,
                         ::testing::Values("process", "fsync", "process_huge_pages"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

// A SIGTERM that comes while the daemon is still starting (here: before its store is open) stops
// it cleanly once start-up ends, exit code 0, rather than killing it by the default action. The
// harness stops every daemon right after its listeners are logged, so a late handler would make
// any test flaky; this one makes the window wide and certain.
TEST(DaemonLifecycleTest, SigtermDuringStartUpStopsCleanly) {
  DaemonProcess daemon{DaemonOptions{}};
  daemon.WriteRules(kRules);
  ASSERT_OK(daemon.StartUntilLogged("open-file limit"));
  EXPECT_OK(daemon.Stop());
  EXPECT_NE(daemon.log().find("SIGTERM: stopping"), std::string::npos) << daemon.log();
}

}  // namespace
}  // namespace handoff::testing
