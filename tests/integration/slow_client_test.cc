// A client that never reads must not stall anyone else (SPEC 3: "A client may send forever on
// one connection and never read; the server must not block on it").
#include <gtest/gtest.h>

#include <atomic>
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
         message_id + R"(","timestamp":1767225600})";
}

class SlowClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_.WriteRules(kRules);
    ASSERT_OK(daemon_.Start());
  }
  void TearDown() override {
    if (daemon_.running()) {
      EXPECT_OK(daemon_.Stop());
    }
  }

  double LeadEvents(const std::string& id) {
    HttpResult r = HttpClient(daemon_.http_port()).Get("/v1/leads/" + id);
    EXPECT_EQ(r.status, 200) << r.body;
    return JsonNumber(r.Json(), "events");
  }

  // A well-behaved client: sends `n` events for `lead`, waits for every ack, checks they applied.
  void WellBehavedClient(const std::string& lead, int n) {
    IngestClient client;
    ASSERT_OK(client.Connect(daemon_.ingest_port()));
    std::vector<std::string> lines;
    for (int i = 0; i < n; ++i) {
      lines.push_back(Click(lead, lead + "-" + std::to_string(i)));
    }
    ASSERT_OK(client.SendLines(lines));
    ASSERT_OK(client.WaitForAck(n));
    EXPECT_TRUE(client.errors().empty());
    EXPECT_EQ(LeadEvents(lead), n);
  }

  DaemonProcess daemon_{DaemonOptions{}};
};

TEST_F(SlowClientTest, ClientFloodingBadLinesWithoutReadingDoesNotStallOthers) {
  // Each bad line earns an error reply of about its own size (the messageId is echoed), and this
  // client never reads them: its socket buffers fill, the daemon's pending replies for it grow,
  // and the daemon must stop reading it rather than block.
  const std::string bad = R"({"type":"track","userId":"bad","messageId":")" +
                          std::string(900, 'm') + R"("})";  // missing "event"
  std::string burst;
  for (int i = 0; i < 256; ++i) {
    burst += bad + "\n";
  }
  LineConnection stuck;
  stuck.set_receive_buffer(4096);
  ASSERT_OK(stuck.Connect(daemon_.ingest_port()));
  std::atomic<bool> stalled{false};
  std::atomic<size_t> total_sent{0};
  ScopedThread flooder(
      [&] {
        // Until the daemon stops taking bytes (2 s without progress) or 64 MiB went out.
        while (total_sent.load() < (64u << 20)) {
          size_t sent = 0;
          Status st = stuck.SendAll(burst, 2.0, &sent);
          total_sent += sent;
          if (!st.ok()) {
            break;
          }
        }
        stalled = true;
      },
      [&] { stuck.Abort(); });
  ASSERT_TRUE(WaitUntil([&] { return stalled.load(); }, 120));
  // The stuck client is still connected (nothing was dropped), and everybody else is served.
  WellBehavedClient("good-1", 500);
  WellBehavedClient("good-2", 1);
  HttpResult health = HttpClient(daemon_.http_port()).Get("/healthz");
  EXPECT_EQ(health.status, 200);
  // Subscribers are served too.
  SubscriberClient sub;
  ASSERT_OK(sub.Connect(daemon_.subscribe_port()));
  ASSERT_OK(sub.Subscribe(0));

  stuck.Abort();
  flooder.Join();
  EXPECT_GT(total_sent.load(), 0u);
  // The daemon is still healthy once the stuck client is gone.
  WellBehavedClient("good-3", 10);
}

TEST_F(SlowClientTest, StuckClientsRepliesAreNotLostWhenItFinallyReads) {
  // 20000 bad lines, nobody reading, then read everything: every line is answered once, in
  // order, by its own error line or within the range of a replies_dropped summary (README:
  // replies beyond 1 MiB unread are counted, not queued), then the ack.
  constexpr int kBad = 20000;
  const std::string bad = R"({"type":"track","userId":"late","messageId":"late"})";
  std::string bytes;
  for (int i = 0; i < kBad; ++i) {
    bytes += bad + "\n";
  }
  bytes += Click("late", "late-ok") + "\n";
  IngestClient client;
  client.connection().set_receive_buffer(4096);
  ASSERT_OK(client.Connect(daemon_.ingest_port()));
  // Send from another thread: with nobody reading, the daemon stops reading us and this blocks.
  ScopedThread sender([&] { EXPECT_OK(client.Send(bytes)); }, [&] { client.connection().Abort(); });
  WellBehavedClient("meanwhile", 100);
  // Now read: the daemon resumes, and every line is answered in order.
  ASSERT_OK(client.WaitForAck(kBad + 1, 120));
  sender.Join();
  double next_line = 1;
  for (const Value& error : client.errors()) {
    if (error.Find("error")->as_string() == "replies_dropped") {
      ASSERT_EQ(JsonNumber(error, "first_line"), next_line) << error.ToJson();
      ASSERT_EQ(JsonNumber(error, "count"), JsonNumber(error, "last_line") - next_line + 1);
      next_line = JsonNumber(error, "last_line") + 1;
    } else {
      ASSERT_EQ(JsonNumber(error, "line"), next_line) << error.ToJson();
      ++next_line;
    }
  }
  EXPECT_EQ(next_line, kBad + 1);
  EXPECT_EQ(LeadEvents("late"), 1);
}

TEST_F(SlowClientTest, ClientFloodingValidEventsWithoutReadingAcksDoesNotBlockOthers) {
  constexpr int kFlood = 40000;
  std::string bytes;
  for (int i = 0; i < kFlood; ++i) {
    bytes += Click("flood-" + std::to_string(i % 5), "flood-" + std::to_string(i)) + "\n";
  }
  IngestClient flooder;
  flooder.connection().set_receive_buffer(4096);
  ASSERT_OK(flooder.Connect(daemon_.ingest_port()));
  std::atomic<bool> half{false};
  ScopedThread sender(
      [&] {
        const size_t mid = bytes.size() / 2;
        EXPECT_OK(flooder.connection().SendAll(std::string_view(bytes).substr(0, mid), 120));
        half = true;
        EXPECT_OK(flooder.connection().SendAll(std::string_view(bytes).substr(mid), 120));
      },
      [&] { flooder.connection().Abort(); });
  ASSERT_TRUE(WaitUntil([&] { return half.load(); }, 120));
  // While the flood goes on (and its acks pile up unread), another client gets its acks.
  WellBehavedClient("beside-flood", 200);
  sender.Join();
  // The flooder finally reads: everything acknowledged and applied.
  ASSERT_OK(flooder.WaitForAck(kFlood, 120));
  EXPECT_TRUE(flooder.errors().empty());
  double total = 0;
  for (int k = 0; k < 5; ++k) {
    total += LeadEvents("flood-" + std::to_string(k));
  }
  EXPECT_EQ(total, kFlood);
}

}  // namespace
}  // namespace handoff::testing
