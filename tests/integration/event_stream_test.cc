// The HTTP face of the outbox for the web UI, over the real daemon's HTTP port: GET /v1/stream
// (Server-Sent Events) delivers routed leads live and resumes by Last-Event-ID; a stream client
// that never reads slows neither ingest nor other clients; POST /v1/actions answers a routed lead
// as the TCP subscriber lines do; /ui/ serves the web UI's files.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/integration/daemon_harness.h"
#include "tests/testutil.h"

namespace handoff::testing {
namespace {

constexpr std::string_view kToken = "stream-token";

const std::string kRules = QualifyRules(
    "  sla: {accept_within: 10m}\n"
    "  teams:\n"
    "    - id: sales\n"
    "      when: true\n"
    "      strategy: round_robin\n"
    "      reps: [{id: alice}]\n");

std::string Qualify(const std::string& lead) {
  return R"({"type":"track","userId":")" + lead + R"(","event":"Qualify","messageId":"q-)" + lead +
         R"("})";
}

// A trait of `pad` bytes, which every later record of the lead carries.
std::string BigTrait(const std::string& lead, size_t pad) {
  return R"({"type":"identify","userId":")" + lead + R"(","traits":{"note":")" +
         std::string(pad, 'n') + R"("},"messageId":"i-)" + lead + R"("})";
}

// An SSE client on a raw connection: sends the request, then reads events ("id:" and "data:"
// lines; chunk-size lines and comments are skipped).
class StreamClient {
 public:
  Status Open(uint16_t port, std::string_view target, std::string_view extra_headers = "") {
    if (Status st = conn_.Connect(port); !st.ok()) {
      return st;
    }
    return conn_.SendAll("GET " + std::string(target) +
                         " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(kToken) +
                         "\r\n" + std::string(extra_headers) + "\r\n");
  }
  // The status line and headers, up to the empty line.
  Status ReadHead(std::string* head) {
    std::string line;
    while (true) {
      if (Status st = conn_.ReadLine(&line); !st.ok()) {
        return st;
      }
      if (line == "\r" || line.empty()) {
        return Status::Ok();
      }
      *head += line + "\n";
    }
  }
  // The next event's data (its id in *id).
  Status ReadEvent(uint64_t* id, Value* data) {
    std::string line;
    while (true) {
      if (Status st = conn_.ReadLine(&line); !st.ok()) {
        return st;
      }
      if (line.rfind("id: ", 0) == 0) {
        *id = std::stoull(line.substr(4));
      } else if (line.rfind("data: ", 0) == 0) {
        return ParseJson(line.substr(6), data);
      }
    }
  }
  LineConnection& connection() { return conn_; }

 private:
  LineConnection conn_;
};

class EventStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_.WriteRules(kRules);
    daemon_.options().extra_args = {"--admin-token", std::string(kToken)};
    ASSERT_OK(daemon_.Start());
    ASSERT_OK(ingest_.Connect(daemon_.ingest_port()));
  }

  HttpClient::Headers Auth() const { return {{"Authorization", "Bearer " + std::string(kToken)}}; }

  DaemonProcess daemon_{DaemonOptions{}};
  IngestClient ingest_;
};

TEST_F(EventStreamTest, RoutedLeadsArriveLiveAndResumeByLastEventId) {
  StreamClient stream;
  ASSERT_OK(stream.Open(daemon_.http_port(), "/v1/stream?kinds=routed&rep=alice"));
  std::string head;
  ASSERT_OK(stream.ReadHead(&head));
  EXPECT_NE(head.find("200"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Type: text/event-stream"), std::string::npos) << head;

  ASSERT_OK(ingest_.SendLines({Qualify("u1"), Qualify("u2")}));
  ASSERT_OK(ingest_.WaitForAck(2));
  uint64_t id = 0;
  Value record;
  ASSERT_OK(stream.ReadEvent(&id, &record));
  EXPECT_EQ(JsonString(record, "kind"), "routed");
  EXPECT_EQ(JsonString(record, "lead"), "u1");
  EXPECT_EQ(JsonString(record, "rep"), "alice");
  EXPECT_EQ(static_cast<uint64_t>(JsonNumber(record, "seq")), id);
  const uint64_t first = id;

  // A browser's reconnect sends the last id it saw: the stream goes on after it.
  StreamClient resumed;
  ASSERT_OK(resumed.Open(daemon_.http_port(), "/v1/stream?kinds=routed",
                         "Last-Event-ID: " + std::to_string(first) + "\r\n"));
  ASSERT_OK(resumed.ReadEvent(&id, &record));
  EXPECT_EQ(JsonString(record, "lead"), "u2");
  EXPECT_GT(id, first);

  // Without the token: 401, as every /v1/ admin call; a bad parameter: 400.
  HttpClient http(daemon_.http_port());
  EXPECT_EQ(http.Get("/v1/stream").status, 401);
  EXPECT_EQ(http.Get("/v1/stream?kinds=nope", Auth()).status, 400);
}

TEST_F(EventStreamTest, NeverReadingStreamClientSlowsNobody) {
  // Opens a stream from the start of the outbox and never reads it.
  StreamClient stuck;
  stuck.connection().set_receive_buffer(4096);
  ASSERT_OK(stuck.Open(daemon_.http_port(), "/v1/stream?from=0"));

  // About 24 MB of records (two of 4 KB per lead): far more than the stuck client's socket
  // buffers take.
  constexpr int kLeads = 3000;
  std::vector<std::string> lines;
  for (int i = 0; i < kLeads; ++i) {
    lines.push_back(BigTrait("lead-" + std::to_string(i), 4000));
    lines.push_back(Qualify("lead-" + std::to_string(i)));
  }
  ASSERT_OK(ingest_.SendLines(lines));
  ASSERT_OK(ingest_.WaitForAck(lines.size()));  // ingest went on
  EXPECT_TRUE(ingest_.errors().empty());

  // Another stream client reads everything up to the last lead's routed record.
  StreamClient reader;
  ASSERT_OK(reader.Open(daemon_.http_port(), "/v1/stream?from=0&kinds=routed"));
  uint64_t id = 0;
  Value record;
  int routed = 0;
  while (routed < kLeads) {
    ASSERT_OK(reader.ReadEvent(&id, &record));
    ++routed;
  }
  EXPECT_EQ(JsonString(record, "lead"), "lead-" + std::to_string(kLeads - 1));
  HttpClient http(daemon_.http_port());
  EXPECT_EQ(http.Get("/healthz").status, 200);
  EXPECT_EQ(http.Get("/v1/reps", Auth()).status, 200);
}

TEST_F(EventStreamTest, SalesActionsOverHttp) {
  ASSERT_OK(ingest_.SendLines({Qualify("u1")}));
  ASSERT_OK(ingest_.WaitForAck(1));
  StreamClient stream;
  ASSERT_OK(stream.Open(daemon_.http_port(), "/v1/stream?from=0&kinds=routed"));
  uint64_t seq = 0;
  Value record;
  ASSERT_OK(stream.ReadEvent(&seq, &record));
  const std::string s = std::to_string(seq);

  HttpClient http(daemon_.http_port());
  EXPECT_EQ(http.Post("/v1/actions", R"({"accept":)" + s + "}").status, 401);
  EXPECT_EQ(http.Post("/v1/actions", "not json", Auth()).status, 400);
  HttpResult bad = http.Post("/v1/actions", R"({"close":)" + s + R"(,"outcome":"maybe"})", Auth());
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(JsonString(bad.Json(), "error"), "invalid_outcome");
  EXPECT_EQ(http.Post("/v1/actions", R"({"accept":999999})", Auth()).status, 404);
  EXPECT_EQ(http.Post("/v1/actions?rep=bob", R"({"accept":)" + s + "}", Auth()).status, 409);

  HttpResult accepted = http.Post("/v1/actions?rep=alice", R"({"accept":)" + s + "}", Auth());
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  EXPECT_EQ(accepted.body, R"({"ok":)" + s + "}");
  HttpResult again = http.Post("/v1/actions", R"({"accept":)" + s + "}", Auth());
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(JsonString(again.Json(), "error"), "already_accepted");
  HttpResult negative =
      http.Post("/v1/actions", R"({"close":)" + s + R"(,"outcome":"won","amount":-5})", Auth());
  EXPECT_EQ(negative.status, 400);
  EXPECT_EQ(JsonString(negative.Json(), "error"), "invalid_amount");
  HttpResult closed =
      http.Post("/v1/actions", R"({"close":)" + s + R"(,"outcome":"won","amount":12000})", Auth());
  ASSERT_EQ(closed.status, 200) << closed.body;
  StreamClient closes;
  ASSERT_OK(closes.Open(daemon_.http_port(), "/v1/stream?from=0&kinds=closed"));
  uint64_t closed_seq = 0;
  ASSERT_OK(closes.ReadEvent(&closed_seq, &record));
  EXPECT_EQ(JsonString(record, "outcome"), "won");
  EXPECT_EQ(JsonNumber(record, "amount"), 12000);

  HttpResult lead = http.Get("/v1/leads/u1", Auth());
  EXPECT_EQ(JsonString(lead.Json(), "owner.outcome"), "won");
  HttpResult rules = http.Get("/v1/rules", Auth());
  EXPECT_EQ(JsonNumber(rules.Json(), "sla.accept_within"), 600);
}

TEST_F(EventStreamTest, ServesTheWebUi) {
  HttpClient http(daemon_.http_port());
  for (const char* path : {"/ui/", "/ui", "/ui/index.html"}) {
    HttpResult page = http.Get(path);
    EXPECT_EQ(page.status, 200) << path;
    EXPECT_EQ(page.Header("Content-Type"), "text/html; charset=utf-8") << path;
    EXPECT_NE(page.body.find("/ui/app.js"), std::string::npos) << path;
    EXPECT_NE(page.Header("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  }
  HttpResult script = http.Get("/ui/app.js");
  EXPECT_EQ(script.status, 200);
  EXPECT_EQ(script.Header("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(http.Get("/ui/style.css").status, 200);
  EXPECT_EQ(http.Get("/ui/nope.js").status, 404);
  HttpResult root = http.Get("/");
  EXPECT_EQ(root.status, 308);
  EXPECT_EQ(root.Header("Location"), "/ui/");
}

}  // namespace
}  // namespace handoff::testing
