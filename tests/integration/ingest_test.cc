// NDJSON ingest over TCP against the real daemon (SPEC 2, 3): acks, error lines, framing.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tests/integration/daemon_harness.h"
#include "tests/testutil.h"

namespace handoff::testing {
namespace {

constexpr std::string_view kRules =
    "scores:\n"
    "  clicks: {kind: event}\n"
    "rules:\n"
    "  - id: click\n"
    "    score: clicks\n"
    "    when: event == \"Click\"\n"
    "    points: 1\n";

std::string Click(const std::string& user, const std::string& message_id) {
  return R"({"type":"track","userId":")" + user + R"(","event":"Click","messageId":")" +
         message_id + R"(","timestamp":"2026-11-22T10:00:00Z"})";
}

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_.WriteRules(kRules);
    daemon_.options().extra_args = {"--max-line-bytes", "1024"};
    ASSERT_OK(daemon_.Start());
  }
  void TearDown() override {
    if (daemon_.running()) {
      EXPECT_OK(daemon_.Stop());
    }
  }

  // GET /v1/leads/{id}: its "events" count, or -1 when the lead is unknown.
  double LeadEvents(const std::string& id) {
    HttpResult r = HttpClient(daemon_.http_port()).Get("/v1/leads/" + id);
    if (r.status == 404) {
      return -1;
    }
    EXPECT_EQ(r.status, 200) << r.body;
    return JsonNumber(r.Json(), "events");
  }

  std::string Metrics() {
    HttpResult r = HttpClient(daemon_.http_port()).Get("/metrics");
    EXPECT_EQ(r.status, 200);
    return r.body;
  }

  DaemonProcess daemon_{DaemonOptions{}};
};

TEST_F(IngestTest, AcksAndOneErrorLinePerRejectedLine) {
  IngestClient client;
  ASSERT_OK(client.Connect(daemon_.ingest_port()));
  const std::string too_long =
      R"({"type":"track","userId":"u1","event":"Click","messageId":"m-long","pad":")" +
      std::string(2000, 'x') + R"("})";
  std::vector<std::string> lines = {
      Click("u1", "m-1"),                                                     // 1 ok
      R"({"type":"track","userId":"u1",)",                                    // 2 invalid_json
      "",                                                                     // 3 blank
      R"({"type":"track","userId":"u1","messageId":"m-4"})",                  // 4 missing_field
      R"({"type":"track","userId":"u1","event":5,"messageId":"m-5"})",        // 5 invalid_field
      R"({"type":"Track","userId":"u1","event":"Click","messageId":"m-6"})",  // 6 unsupported_type
      "   \t ",                                                               // 7 all blank
      too_long,                                                               // 8 line_too_long
      R"({"type":"track","event":"Click","messageId":"m-9"})",                // 9 missing_field
      R"({"type":"track","userId":"u1","event":"Click","messageId":"m-10",)"
      R"("timestamp":"2026-02-30T10:00:00Z"})",  // 10 invalid_field
      R"([1,2,3])",                              // 11 invalid_json
      Click("u1", "m-12"),                       // 12 ok
  };
  ASSERT_OK(client.SendLines(lines));
  ASSERT_OK(client.WaitForAck(lines.size()));
  EXPECT_EQ(client.last_ack(), lines.size());

  struct Expected {
    double line;
    std::string code;
    std::string message_id;
    std::string field;  // the message names it
  };
  const std::vector<Expected> expected = {
      {2, "invalid_json", "", ""},           {4, "missing_field", "m-4", "event"},
      {5, "invalid_field", "m-5", "event"},  {6, "unsupported_type", "m-6", "type"},
      {8, "line_too_long", "?", ""},  // rejected unparsed: its messageId is unknown
      {9, "missing_field", "m-9", "userId"}, {10, "invalid_field", "m-10", "timestamp"},
      {11, "invalid_json", "", ""},
  };
  ASSERT_EQ(client.errors().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const Value& e = client.errors()[i];
    SCOPED_TRACE(e.ToJson());
    EXPECT_EQ(JsonNumber(e, "line"), expected[i].line);
    EXPECT_EQ(JsonString(e, "error"), expected[i].code);
    EXPECT_FALSE(JsonString(e, "message").empty());
    EXPECT_NE(JsonString(e, "message").find(expected[i].field), std::string::npos);
    if (expected[i].message_id == "?") {
      // nothing to check
    } else if (expected[i].message_id.empty()) {
      EXPECT_EQ(e.Find("messageId"), nullptr);
    } else {
      EXPECT_EQ(JsonString(e, "messageId"), expected[i].message_id);
    }
  }
  // Acks never go backwards.
  for (size_t i = 1; i < client.acks().size(); ++i) {
    EXPECT_LE(client.acks()[i - 1], client.acks()[i]);
  }

  // The connection goes on after every kind of error: line numbers keep counting.
  ASSERT_OK(client.SendLines({"{", Click("u1", "m-14")}));
  ASSERT_OK(client.WaitForAck(14));
  ASSERT_EQ(client.errors().size(), expected.size() + 1);
  EXPECT_EQ(JsonNumber(client.errors().back(), "line"), 13);
  EXPECT_EQ(JsonString(client.errors().back(), "error"), "invalid_json");

  EXPECT_EQ(LeadEvents("u1"), 3);
  std::string metrics = Metrics();
  EXPECT_EQ(PrometheusSample(metrics, R"(handoff_events_applied_total{transport="tcp"})"), 3.0);
  auto rejected = [&](const std::string& reason) {
    return PrometheusSample(
        metrics, "handoff_events_rejected_total{reason=\"" + reason + "\",transport=\"tcp\"}");
  };
  EXPECT_EQ(rejected("invalid_json"), 3.0);
  EXPECT_EQ(rejected("missing_field"), 2.0);
  EXPECT_EQ(rejected("invalid_field"), 2.0);
  EXPECT_EQ(rejected("unsupported_type"), 1.0);
  EXPECT_EQ(rejected("line_too_long"), 1.0);
}

TEST_F(IngestTest, LineAtTheLimitIsAcceptedOneByteMoreIsNot) {
  // The limit counts the line's bytes without its newline.
  const std::string head = R"({"type":"track","userId":"edge","event":"Click","pad":")";
  const std::string tail = R"("})";
  const std::string exact = head + std::string(1024 - head.size() - tail.size(), 'y') + tail;
  ASSERT_EQ(exact.size(), 1024u);
  const std::string over = head + std::string(1025 - head.size() - tail.size(), 'y') + tail;
  IngestClient client;
  ASSERT_OK(client.Connect(daemon_.ingest_port()));
  ASSERT_OK(client.SendLines({exact, over, exact}));
  ASSERT_OK(client.WaitForAck(3));
  ASSERT_EQ(client.errors().size(), 1u);
  EXPECT_EQ(JsonNumber(client.errors()[0], "line"), 2);
  EXPECT_EQ(JsonString(client.errors()[0], "error"), "line_too_long");
  EXPECT_EQ(LeadEvents("edge"), 2);
  // A CRLF is a newline too: its CR does not count.
  ASSERT_OK(client.Send(exact + "\r\n" + over + "\r\n"));
  ASSERT_OK(client.WaitForAck(5));
  ASSERT_EQ(client.errors().size(), 2u);
  EXPECT_EQ(JsonNumber(client.errors()[1], "line"), 5);
  EXPECT_EQ(JsonString(client.errors()[1], "error"), "line_too_long");
  EXPECT_EQ(LeadEvents("edge"), 3);
}

TEST_F(IngestTest, OnlyBlankLinesAreAckedToo) {
  IngestClient client;
  ASSERT_OK(client.Connect(daemon_.ingest_port()));
  ASSERT_OK(client.Send("\n\n  \n"));
  ASSERT_OK(client.WaitForAck(3));
  ASSERT_OK(client.SendLines({Click("b1", "b-4")}));
  ASSERT_OK(client.WaitForAck(4));
  EXPECT_TRUE(client.errors().empty());
  EXPECT_EQ(LeadEvents("b1"), 1);
}

TEST_F(IngestTest, LineSplitAcrossManySmallWrites) {
  IngestClient client;
  ASSERT_OK(client.Connect(daemon_.ingest_port()));
  const std::string line = Click("split", "s-1") + "\n" + Click("split", "s-2") + "\n";
  for (char c : line) {
    ASSERT_OK(client.Send(std::string(1, c)));
  }
  ASSERT_OK(client.WaitForAck(2));
  EXPECT_TRUE(client.errors().empty());
  EXPECT_EQ(LeadEvents("split"), 2);
}

TEST_F(IngestTest, ManyLinesPerWriteAndManyWritesPerLine) {
  IngestClient client;
  ASSERT_OK(client.Connect(daemon_.ingest_port()));
  // 3000 lines in one write, every 100th bad.
  std::string bytes;
  constexpr int kLines = 3000;
  int bad = 0;
  for (int i = 1; i <= kLines; ++i) {
    if (i % 100 == 0) {
      bytes += "{\"type\":\"track\"}\n";
      ++bad;
    } else {
      bytes += Click("many-" + std::to_string(i % 7), "many-" + std::to_string(i)) + "\n";
    }
  }
  ASSERT_OK(client.Send(bytes));
  ASSERT_OK(client.WaitForAck(kLines));
  ASSERT_EQ(client.errors().size(), static_cast<size_t>(bad));
  for (int i = 0; i < bad; ++i) {
    EXPECT_EQ(JsonNumber(client.errors()[i], "line"), (i + 1) * 100);
  }
  double total = 0;
  for (int k = 0; k < 7; ++k) {
    total += LeadEvents("many-" + std::to_string(k));
  }
  EXPECT_EQ(total, kLines - bad);

  // A final line without a newline counts once the client half-closes.
  ASSERT_OK(client.Send(Click("many-0", "tail")));
  client.connection().ShutdownWrite();
  ASSERT_OK(client.WaitForAck(kLines + 1));
}

TEST_F(IngestTest, TwoConnectionsCountLinesSeparately) {
  IngestClient a;
  IngestClient b;
  ASSERT_OK(a.Connect(daemon_.ingest_port()));
  ASSERT_OK(b.Connect(daemon_.ingest_port()));
  ASSERT_OK(a.SendLines({Click("two", "two-a1"), "nope"}));
  ASSERT_OK(b.SendLines({"nope", "nope", Click("two", "two-b3")}));
  ASSERT_OK(a.WaitForAck(2));
  ASSERT_OK(b.WaitForAck(3));
  ASSERT_EQ(a.errors().size(), 1u);
  EXPECT_EQ(JsonNumber(a.errors()[0], "line"), 2);
  ASSERT_EQ(b.errors().size(), 2u);
  EXPECT_EQ(JsonNumber(b.errors()[0], "line"), 1);
  EXPECT_EQ(JsonNumber(b.errors()[1], "line"), 2);
  EXPECT_EQ(LeadEvents("two"), 2);
}

TEST_F(IngestTest, DuplicateMessageIdIsAckedNotApplied) {
  IngestClient client;
  ASSERT_OK(client.Connect(daemon_.ingest_port()));
  // The same messageId twice in one write, and again in a later write.
  ASSERT_OK(client.SendLines({Click("dup", "d-1"), Click("dup", "d-1"), Click("dup", "d-2")}));
  ASSERT_OK(client.WaitForAck(3));
  ASSERT_OK(client.SendLines({Click("dup", "d-2")}));
  ASSERT_OK(client.WaitForAck(4));
  EXPECT_TRUE(client.errors().empty());
  EXPECT_EQ(LeadEvents("dup"), 2);
  EXPECT_EQ(PrometheusSample(Metrics(), R"(handoff_events_duplicate_total{transport="tcp"})"), 2.0);
  // Events without a messageId are never deduplicated.
  const std::string no_id = R"({"type":"track","userId":"dup","event":"Click"})";
  ASSERT_OK(client.SendLines({no_id, no_id}));
  ASSERT_OK(client.WaitForAck(6));
  EXPECT_EQ(LeadEvents("dup"), 4);
}

// The log shipper that never reads (SPEC 3): 60,000 rejected lines, then a valid event, on one
// connection that reads nothing. The valid event is applied, and /metrics counts the error replies
// that were dropped for it instead of queued without bound.
TEST_F(IngestTest, ASenderThatNeverReadsStillHasItsEventsApplied) {
  LineConnection sender;
  sender.set_receive_buffer(4096);
  ASSERT_OK(sender.Connect(daemon_.ingest_port()));
  std::string bytes;
  for (int i = 1; i <= 60'000; ++i) {
    bytes += R"({"type":"Track","userId":"u","event":"Click","messageId":"bad-)" +
             std::to_string(i) + "\"}\n";
  }
  bytes += Click("never-reads", "good-1") + "\n";
  ASSERT_OK(sender.SendAll(bytes));
  EXPECT_TRUE(WaitUntil([&] { return LeadEvents("never-reads") == 1; }));
  EXPECT_TRUE(WaitUntil([&] {
    const std::string m = Metrics();
    const std::string name = "\nhandoff_replies_dropped_total ";
    const size_t at = m.find(name);
    return at != std::string::npos && std::stod(m.substr(at + name.size(), 20)) > 0;
  }));
  // Memory stays bounded: the unread replies are capped, not queued (peak well under 300 MiB).
  const DaemonProcess::Memory memory = daemon_.memory();
  std::printf(
      "[memory] never-reading sender, 60,000 rejected lines: VmRSS %.1f MiB, peak %.1f MiB\n",
      static_cast<double>(memory.rss_bytes) / (1 << 20),
      static_cast<double>(memory.peak_bytes) / (1 << 20));
  EXPECT_GT(memory.peak_bytes, 0u);
  EXPECT_LT(memory.peak_bytes, 300u << 20);
  // Another client is served meanwhile.
  IngestClient other;
  ASSERT_OK(other.Connect(daemon_.ingest_port()));
  ASSERT_OK(other.SendLines({Click("other", "other-1")}));
  ASSERT_OK(other.WaitForAck(1));
}

}  // namespace
}  // namespace handoff::testing
