// A disk that cannot be written, under the real daemon (issue 12, SPEC 10): while every store
// write fails (--fault-file: a trigger file the test creates and removes), the daemon stays up,
// acknowledges nothing it did not persist (TCP nor HTTP), says why on /healthz, in /metrics and in
// its log, and acknowledges the waiting events the moment writes succeed again; a kill -9 after
// that loses none of them.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/integration/daemon_harness.h"
#include "tests/testutil.h"

namespace handoff::testing {
namespace {

class StorageFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_.WriteRules(kClickRules);
    fault_file_ = daemon_.temp().path() + "/disk-full";
    daemon_.options().extra_args = {"--fault-file", fault_file_};
    ASSERT_OK(daemon_.Start());
  }
  void TearDown() override {
    std::filesystem::remove(fault_file_);
    if (daemon_.running()) {
      EXPECT_OK(daemon_.Stop());
    }
  }

  double LeadEvents(const std::string& id) {
    HttpResult r = HttpClient(daemon_.http_port()).Get("/v1/leads/" + id);
    return r.status == 200 ? JsonNumber(r.Json(), "events") : -1;
  }

  std::string fault_file_;
  DaemonProcess daemon_{DaemonOptions{}};
};

TEST_F(StorageFaultTest, NothingIsAcknowledgedWhileWritesFailAndAllOfItAfter) {
  IngestClient tcp;
  ASSERT_OK(tcp.Connect(daemon_.ingest_port()));
  ASSERT_OK(tcp.SendLines({ClickLine("u1", "m1")}));
  ASSERT_OK(tcp.WaitForAck(1));

  // The disk goes away.
  daemon_.temp().WriteFile("disk-full", "");
  ASSERT_OK(tcp.SendLines({ClickLine("u1", "m2")}));
  HttpResult http_answer;
  ScopedThread http([&] {
    http_answer = HttpClient(daemon_.http_port())
                      .Post("/v1/track", R"({"userId":"u2","event":"Click","messageId":"h1"})");
  });
  ASSERT_TRUE(WaitUntil([&] {
    HttpResult r = HttpClient(daemon_.http_port()).Get("/healthz");
    return r.status == 503 && r.body.find("store writes failing") != std::string::npos;
  })) << daemon_.log();
  const std::string metrics = HttpClient(daemon_.http_port()).Get("/metrics").body;
  EXPECT_NE(metrics.find("\nhandoff_store_healthy 0\n"), std::string::npos) << metrics;
  EXPECT_NE(daemon_.log().find("store write failed"), std::string::npos) << daemon_.log();
  // Not acknowledged: no ack for line 2 (an ack here would be a lie, however late it came).
  Value reply;
  EXPECT_FALSE(tcp.ReadReply(&reply, /*timeout_seconds=*/1).ok()) << reply.ToJson();
  EXPECT_EQ(tcp.last_ack(), 1u);
  ASSERT_OK(daemon_.CheckAlive());

  // The disk comes back: everything that waited is written and acknowledged.
  std::filesystem::remove(fault_file_);
  const Status acked = tcp.WaitForAck(2);
  ASSERT_TRUE(acked.ok()) << acked.ToString() << "\n" << daemon_.log();
  http.Join();
  EXPECT_EQ(http_answer.status, 200) << http_answer.body;
  ASSERT_TRUE(
      WaitUntil([&] { return HttpClient(daemon_.http_port()).Get("/healthz").status == 200; }));
  EXPECT_NE(daemon_.log().find("store writes succeed again"), std::string::npos);

  // And it is durable: kill -9 and restart keep all three events.
  ASSERT_OK(daemon_.Kill9());
  ASSERT_OK(daemon_.Start());
  EXPECT_EQ(LeadEvents("u1"), 2);
  EXPECT_EQ(LeadEvents("u2"), 1);
}

}  // namespace
}  // namespace handoff::testing
