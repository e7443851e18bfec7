// The transport side of Segment HTTP ingest against the real daemon (SPEC 4): gzip bodies, the
// 500 KiB batch / 32 KiB event limits, keep-alive and pipelining, many concurrent clients, slow
// and stuck clients, CORS.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/daemon_harness.h"
#include "tests/integration/segment_http_client.h"
#include "tests/testutil.h"

namespace handoff::testing {
namespace {

constexpr size_t kBatchLimit = 500 * 1024;  // bytes, as sent and once inflated
constexpr size_t kEventLimit = 32 * 1024;   // bytes of one single-event body

std::string Click(const std::string& user, const std::string& id) {
  return R"({"type":"track","userId":")" + user + R"(","event":"Click","messageId":")" + id +
         R"(","timestamp":"2026-11-20T10:00:00Z"})";
}

// A /v1/batch body of exactly `size` bytes holding one click: padded with a top-level field the
// daemon ignores (as it ignores sentAt and writeKey).
std::string BatchOfSize(size_t size, const std::string& user, const std::string& id) {
  std::string body = R"({"batch":[)" + Click(user, id) + R"(],"pad":")";
  EXPECT_LT(body.size() + 2, size);
  body.append(size - body.size() - 2, 'x');
  body += "\"}";
  return body;
}

// A /v1/track body of exactly `size` bytes: padded inside properties.
std::string EventOfSize(size_t size, const std::string& user, const std::string& id) {
  std::string body = R"({"userId":")" + user + R"(","event":"Click","messageId":")" + id +
                     R"(","properties":{"pad":")";
  EXPECT_LT(body.size() + 3, size);
  body.append(size - body.size() - 3, 'x');
  body += "\"}}";
  return body;
}

class SegmentHttpTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_.WriteRules(kSegmentTestRules);
    ASSERT_OK(daemon_.Start());
  }
  void TearDown() override {
    if (daemon_.running()) {
      EXPECT_OK(daemon_.Stop());
    }
  }

  HttpResult Post(const std::string& target, const std::string& body,
                  const HttpClient::Headers& headers = {}) {
    return HttpClient(daemon_.http_port()).Post(target, body, headers);
  }

  // The lead's event count, or -1 when the lead is unknown.
  double LeadEvents(const std::string& id) {
    HttpResult r = HttpClient(daemon_.http_port()).Get("/v1/leads/" + id);
    if (r.status == 404) {
      return -1;
    }
    EXPECT_EQ(r.status, 200) << r.body;
    return JsonNumber(r.Json(), "events");
  }

  DaemonProcess daemon_{DaemonOptions{}};
};

TEST_F(SegmentHttpTransportTest, GzipBodies) {
  const HttpClient::Headers gzip = {{"Content-Encoding", "gzip"}};
  std::string batch = R"({"batch":[)";
  for (int i = 0; i < 200; ++i) {
    batch += (i > 0 ? "," : "") + Click("g1", "gz-" + std::to_string(i));
  }
  batch += "]}";
  HttpResult r = Post("/v1/batch", GzipBytes(batch), gzip);
  EXPECT_EQ(r.status, 200) << r.body;
  r = Post("/v1/track", GzipBytes(Click("g2", "gz-single")), gzip);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(LeadEvents("g1"), 200);
  EXPECT_EQ(LeadEvents("g2"), 1);

  // Not gzip at all.
  r = Post("/v1/batch", batch, gzip);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.Header("Access-Control-Allow-Origin"), "*");
  // The limits hold for the inflated body: a small upload that inflates past them is 413.
  r = Post("/v1/batch", GzipBytes(BatchOfSize(kBatchLimit + 1, "g3", "gz-big")), gzip);
  EXPECT_EQ(r.status, 413) << r.body;
  r = Post("/v1/track", GzipBytes(EventOfSize(kEventLimit + 1, "g3", "gz-big-1")), gzip);
  EXPECT_EQ(r.status, 413) << r.body;
  r = Post("/v1/batch", GzipBytes(BatchOfSize(kBatchLimit, "g3", "gz-max")), gzip);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(LeadEvents("g3"), 1);
}

TEST_F(SegmentHttpTransportTest, SizeLimits) {
  // A batch: 500 KiB is fine, one byte more is 413.
  HttpResult r = Post("/v1/batch", BatchOfSize(kBatchLimit, "s1", "size-1"));
  EXPECT_EQ(r.status, 200) << r.body;
  r = Post("/v1/batch", BatchOfSize(kBatchLimit + 1, "s1", "size-2"));
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(JsonString(r.Json(), "error"), "payload_too_large");
  EXPECT_EQ(r.Header("Access-Control-Allow-Origin"), "*");  // a browser tracker can read it
  // One event: 32 KiB is fine, one byte more is 413.
  r = Post("/v1/track", EventOfSize(kEventLimit, "s1", "size-3"));
  EXPECT_EQ(r.status, 200) << r.body;
  r = Post("/v1/track", EventOfSize(kEventLimit + 1, "s1", "size-4"));
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(JsonString(r.Json(), "error"), "payload_too_large");
  EXPECT_EQ(LeadEvents("s1"), 2);

  // A 413 for a single event leaves a keep-alive connection usable.
  KeepAliveClient client;
  ASSERT_OK(client.Connect(daemon_.http_port()));
  ASSERT_OK(
      client.Request("POST", "/v1/track", EventOfSize(kEventLimit + 1, "s2", "size-5"), {}, &r));
  EXPECT_EQ(r.status, 413);
  ASSERT_OK(client.Request("POST", "/v1/track", Click("s2", "size-6"), {}, &r));
  EXPECT_EQ(r.status, 200);
}

TEST_F(SegmentHttpTransportTest, KeepAliveAndPipelining) {
  KeepAliveClient client;
  ASSERT_OK(client.Connect(daemon_.http_port()));
  HttpResult r;
  for (int i = 0; i < 100; ++i) {
    const std::string id = "ka-" + std::to_string(i);
    if (i % 2 == 0) {
      ASSERT_OK(client.Request("POST", "/v1/track", Click("k1", id), {}, &r));
    } else {
      ASSERT_OK(
          client.Request("POST", "/v1/batch", R"({"batch":[)" + Click("k1", id) + "]}", {}, &r));
    }
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.Header("Connection"), "close");
  }
  // Three requests in one write: three answers, in order.
  std::string three;
  for (int i = 0; i < 3; ++i) {
    three += HttpRequestBytes("POST", "/v1/track", Click("k1", "pipe-" + std::to_string(i)), {});
  }
  ASSERT_OK(client.connection().SendAll(three));
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(client.Read(&r));
    EXPECT_EQ(r.status, 200) << r.body;
  }
  // Admin reads share the connection.
  ASSERT_OK(client.Request("GET", "/v1/leads/k1", "", {}, &r));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(JsonNumber(r.Json(), "events"), 103);
}

TEST_F(SegmentHttpTransportTest, FiftyConcurrentKeepAliveClients) {
  constexpr int kClients = 50;
  constexpr int kRequests = 20;
  constexpr int kEventsPerBatch = 5;
  std::atomic<int> ok{0};
  std::vector<std::string> failures(kClients);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      KeepAliveClient client;
      if (Status st = client.Connect(daemon_.http_port()); !st.ok()) {
        failures[c] = st.ToString();
        return;
      }
      const std::string user = "c" + std::to_string(c);
      for (int i = 0; i < kRequests; ++i) {
        std::string batch = R"({"batch":[)";
        for (int e = 0; e < kEventsPerBatch; ++e) {
          batch += (e > 0 ? "," : "") +
                   Click(user, user + "-" + std::to_string(i) + "-" + std::to_string(e));
        }
        HttpResult r;
        Status st = client.Request("POST", "/v1/batch", batch + "]}",
                                   {{"Authorization", BasicAuthHeader("any")}}, &r);
        if (!st.ok() || r.status != 200 || r.body != R"({"success":true})") {
          failures[c] = st.ok() ? std::to_string(r.status) + " " + r.body : st.ToString();
          return;
        }
        ok.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (int c = 0; c < kClients; ++c) {
    EXPECT_EQ(failures[c], "") << "client " << c;
  }
  EXPECT_EQ(ok.load(), kClients * kRequests);
  for (int c = 0; c < kClients; ++c) {
    EXPECT_EQ(LeadEvents("c" + std::to_string(c)), kRequests * kEventsPerBatch);
  }
}

// Clients that stall mid-request, or send without ever reading, hold only their own connection:
// everyone else is served meanwhile. (They are dropped after the read / write timeouts, 10 s and
// 30 s, which this test does not wait for.)
TEST_F(SegmentHttpTransportTest, StalledClientsDoNotBlockOthers) {
  // Stalls in the middle of a body.
  LineConnection mid_body;
  ASSERT_OK(mid_body.Connect(daemon_.http_port()));
  const std::string body = R"({"batch":[)" + Click("slow", "slow-1") + "]}";
  const std::string request = HttpRequestBytes("POST", "/v1/batch", body, {});
  ASSERT_OK(mid_body.SendAll(request.substr(0, request.size() - body.size() / 2)));
  // Stalls in the middle of the request line.
  LineConnection mid_header;
  ASSERT_OK(mid_header.Connect(daemon_.http_port()));
  ASSERT_OK(mid_header.SendAll("POST /v1/tra"));
  // Pipelines requests for large answers (the metrics page) and never reads one: the daemon's
  // writes to it block once the socket buffers are full.
  LineConnection never_reads;
  never_reads.set_receive_buffer(4096);
  ASSERT_OK(never_reads.Connect(daemon_.http_port()));
  std::string flood;
  for (int i = 0; i < 5000; ++i) {
    flood += HttpRequestBytes("GET", "/metrics", "", {});
  }
  size_t sent = 0;
  Status st = never_reads.SendAll(flood, /*stall_seconds=*/2, &sent);  // may stall: fine
  EXPECT_GT(sent, 0u) << st.ToString();

  // Everyone else is served, over new connections and over keep-alive.
  for (int i = 0; i < 10; ++i) {
    HttpResult r = Post("/v1/track", Click("fast", "fast-" + std::to_string(i)));
    EXPECT_EQ(r.status, 200) << r.body;
  }
  KeepAliveClient client;
  ASSERT_OK(client.Connect(daemon_.http_port()));
  HttpResult r;
  ASSERT_OK(client.Request("POST", "/v1/batch", R"({"batch":[)" + Click("fast", "fast-x") + "]}",
                           {}, &r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(LeadEvents("fast"), 11);
  EXPECT_EQ(LeadEvents("slow"), -1);  // its request never completed
  never_reads.Abort();
  mid_body.Close();
  mid_header.Close();
}

TEST_F(SegmentHttpTransportTest, CorsForBrowserTrackers) {
  KeepAliveClient client;
  ASSERT_OK(client.Connect(daemon_.http_port()));
  HttpResult r;
  ASSERT_OK(client.Request("OPTIONS", "/v1/batch", "",
                           {{"Origin", "https://www.example.com"},
                            {"Access-Control-Request-Method", "POST"},
                            {"Access-Control-Request-Headers", "content-type,authorization"}},
                           &r));
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.Header("Access-Control-Allow-Origin"), "*");
  EXPECT_NE(r.Header("Access-Control-Allow-Methods").find("POST"), std::string::npos);
  EXPECT_NE(r.Header("Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
  ASSERT_OK(client.Request("POST", "/v1/t", Click("cors", "cors-1"),
                           {{"Origin", "https://www.example.com"}, {"Content-Type", "text/plain"}},
                           &r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Access-Control-Allow-Origin"), "*");
}

}  // namespace
}  // namespace handoff::testing
