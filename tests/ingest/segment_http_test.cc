#include "ingest/segment_http.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "handoff/value.h"
#include "net/http_util.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

// Keeps every submitted batch; the test completes them, as the engine would after a commit.
class FakeSink : public IngestSink {
 public:
  void Submit(IngestBatch batch) override { batches.push_back(std::move(batch)); }
  std::vector<IngestBatch> batches;
};

// The answer to one request, once `respond` ran.
struct Answer {
  std::optional<HttpResponse> response;
  int calls = 0;

  HttpRespond Respond() {
    return [this](HttpResponse r) {
      ++calls;
      response = std::move(r);
    };
  }
  int status() const { return response.has_value() ? response->status : 0; }
  const std::string& body() const { return response->body; }
};

std::string_view HeaderOf(const HttpResponse& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) {
      return v;
    }
  }
  return {};
}

// The string field `key` of `v`; "" when absent or not a string.
std::string JsonString(const Value& v, std::string_view key) {
  const Value* field = v.Find(key);
  return field != nullptr && field->is_string() ? field->as_string() : std::string();
}

const SegmentEndpoint& Endpoint(std::string_view name) {
  for (const SegmentEndpoint& e : SegmentEndpoints()) {
    if (e.name == name) {
      return e;
    }
  }
  ADD_FAILURE() << "no endpoint " << name;
  return SegmentEndpoints().front();
}

HttpRequest Post(std::string body, std::vector<std::pair<std::string, std::string>> headers = {},
                 std::string remote = "127.0.0.1:40000") {
  HttpRequest r;
  r.method = "POST";
  r.body = std::move(body);
  r.headers = std::move(headers);
  r.remote_address = std::move(remote);
  return r;
}

std::pair<std::string, std::string> Basic(std::string_view user, std::string_view password = "") {
  return {"Authorization",
          "Basic " + Base64Encode(std::string(user) + ":" + std::string(password))};
}

class SegmentHttpTest : public ::testing::Test {
 protected:
  explicit SegmentHttpTest(SegmentHttpOptions options = {})
      : segment_(std::move(options), &sink_, &metrics_, &clock_) {}

  // Posts `body` to /v1/<endpoint> (write keys already checked).
  void Ingest(std::string_view endpoint, std::string body, Answer* answer) {
    segment_.Ingest(Post(std::move(body)), Endpoint(endpoint), answer->Respond());
  }

  Value Json(const std::string& text) {
    Value v;
    EXPECT_OK(json_.Parse(text, &v));
    return v;
  }

  bool MetricsHave(std::string_view line) {
    return metrics_.RenderPrometheus().find(line) != std::string::npos;
  }

  FakeSink sink_;
  Metrics metrics_;
  ManualClock clock_{1'700'000'000};
  SegmentHttp segment_;
  JsonParser json_;
};

TEST(SegmentEndpointsTest, SegmentNamesAndAnalyticsJsLetters) {
  std::vector<std::string> names;
  for (const SegmentEndpoint& e : SegmentEndpoints()) {
    names.emplace_back(e.name);
    if (e.type.has_value()) {
      // A letter is the first letter of its type; a full name is the type's name.
      const std::string_view type = EventTypeName(*e.type);
      EXPECT_EQ(e.name.size() == 1 ? type.substr(0, 1) : type, e.name);
    } else {
      EXPECT_TRUE(e.name == "batch" || e.name == "import" || e.name == "b") << e.name;
    }
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"track", "page", "screen", "identify", "group", "alias",
                                      "batch", "import", "t", "p", "s", "i", "g", "a", "b"}));
}

TEST_F(SegmentHttpTest, SingleEventAnswers200OnlyOnceDurable) {
  Answer answer;
  clock_.Set(1'700'000'123);
  Ingest("track", R"({"userId":"u1","event":"Demo Requested","messageId":"m-1"})", &answer);
  EXPECT_EQ(answer.calls, 0);  // nothing before the sink says the event is durable
  ASSERT_EQ(sink_.batches.size(), 1u);
  IngestBatch& batch = sink_.batches[0];
  EXPECT_EQ(batch.transport, Transport::kHttp);
  EXPECT_EQ(batch.received_at, 1'700'000'123);
  ASSERT_EQ(batch.events.size(), 1u);
  EXPECT_EQ(batch.events[0].type, EventType::kTrack);  // implied by the path
  EXPECT_EQ(batch.events[0].user_id, "u1");

  batch.done(Status::Ok());
  EXPECT_EQ(answer.calls, 1);
  EXPECT_EQ(answer.status(), 200);
  EXPECT_EQ(answer.body(), R"({"success":true})");
  EXPECT_EQ(answer.response->content_type, "application/json");
  EXPECT_EQ(HeaderOf(*answer.response, "Access-Control-Allow-Origin"), "*");
  EXPECT_TRUE(MetricsHave("handoff_events_received_total{transport=\"http\"} 1\n"));
}

TEST_F(SegmentHttpTest, NotDurableIs503) {
  Answer answer;
  Ingest("identify", R"({"userId":"u1","traits":{"plan":"pro"}})", &answer);
  ASSERT_EQ(sink_.batches.size(), 1u);
  EXPECT_EQ(sink_.batches[0].events[0].type, EventType::kIdentify);
  sink_.batches[0].done(Status::IoError("disk full"));
  EXPECT_EQ(answer.status(), 503);
  EXPECT_EQ(JsonString(Json(answer.body()), "error"), "unavailable");
  EXPECT_EQ(HeaderOf(*answer.response, "Access-Control-Allow-Origin"), "*");
}

TEST_F(SegmentHttpTest, AnalyticsJsLetterImpliesTheType) {
  Answer answer;
  Ingest("p", R"({"anonymousId":"a1","name":"Pricing"})", &answer);
  ASSERT_EQ(sink_.batches.size(), 1u);
  EXPECT_EQ(sink_.batches[0].events[0].type, EventType::kPage);
  sink_.batches[0].done(Status::Ok());
  EXPECT_EQ(answer.status(), 200);
}

TEST_F(SegmentHttpTest, BatchListsInvalidElementsAndSubmitsTheRest) {
  Answer answer;
  Ingest("batch",
         R"({"batch":[)"
         R"({"type":"track","userId":"u1","event":"A"},)"
         R"({"type":"track","userId":"u1","messageId":"m-2"},)"
         R"({"type":"identify","userId":"u2"},)"
         R"(7]})",
         &answer);
  EXPECT_EQ(answer.calls, 0);
  ASSERT_EQ(sink_.batches.size(), 1u);
  ASSERT_EQ(sink_.batches[0].events.size(), 2u);
  EXPECT_EQ(sink_.batches[0].events[0].type, EventType::kTrack);
  EXPECT_EQ(sink_.batches[0].events[1].type, EventType::kIdentify);
  sink_.batches[0].done(Status::Ok());
  ASSERT_EQ(answer.status(), 200);
  const Value body = Json(answer.body());
  EXPECT_TRUE(body.Find("success")->as_bool());
  const Value* errors = body.Find("errors");
  ASSERT_NE(errors, nullptr);
  ASSERT_EQ(errors->as_array().size(), 2u);
  const Value& first = errors->as_array()[0];
  EXPECT_EQ(first.Find("index")->as_number(), 1);
  EXPECT_EQ(JsonString(first, "error"), "missing_field");
  EXPECT_FALSE(JsonString(first, "message").empty());
  EXPECT_EQ(JsonString(first, "messageId"), "m-2");
  const Value& second = errors->as_array()[1];
  EXPECT_EQ(second.Find("index")->as_number(), 3);
  EXPECT_EQ(JsonString(second, "error"), "invalid_json");
  EXPECT_EQ(second.Find("messageId"), nullptr);
  EXPECT_TRUE(MetricsHave("handoff_events_received_total{transport=\"http\"} 4\n"));
  EXPECT_TRUE(MetricsHave(
      "handoff_events_rejected_total{reason=\"missing_field\",transport=\"http\"} 1\n"));
}

TEST_F(SegmentHttpTest, NothingValidIsAnsweredAtOnce) {
  Answer empty;
  Ingest("b", R"({"batch":[]})", &empty);
  EXPECT_EQ(empty.status(), 200);
  EXPECT_EQ(empty.body(), R"({"success":true})");

  Answer all_bad;
  Ingest("batch", R"({"batch":[{"type":"nope","userId":"u1"}]})", &all_bad);
  EXPECT_EQ(all_bad.status(), 200);
  EXPECT_EQ(JsonString(Json(all_bad.body()).Find("errors")->as_array()[0], "error"),
            "unsupported_type");
  EXPECT_TRUE(sink_.batches.empty());
}

TEST_F(SegmentHttpTest, UnusableBodyIs400) {
  struct Case {
    std::string endpoint;
    std::string body;
    std::string code;
  };
  const Case cases[] = {
      {"batch", "not JSON", "invalid_json"},         {"batch", R"({"events":[]})", "missing_field"},
      {"batch", R"({"batch":{}})", "invalid_field"}, {"track", "", "invalid_json"},
      {"track", R"([1])", "invalid_json"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.endpoint + " " + c.body);
    Answer answer;
    Ingest(c.endpoint, c.body, &answer);
    ASSERT_EQ(answer.status(), 400);
    const Value body = Json(answer.body());
    EXPECT_FALSE(body.Find("success")->as_bool());
    EXPECT_EQ(JsonString(body, "error"), c.code);
    EXPECT_FALSE(JsonString(body, "message").empty());
    EXPECT_EQ(HeaderOf(*answer.response, "Access-Control-Allow-Origin"), "*");
  }
  EXPECT_TRUE(sink_.batches.empty());
}

TEST_F(SegmentHttpTest, AnInvalidSingleEventIsListedWith200) {
  // JSON, but not a valid event: listed as index 0, as a batch's element would be (SPEC 4 keeps
  // 400 for a body that is not JSON).
  const std::pair<std::string, std::string> cases[] = {
      {"track", "missing_field"},
      {"i", "invalid_field"},
  };
  for (const auto& [endpoint, code] : cases) {
    SCOPED_TRACE(endpoint);
    Answer answer;
    Ingest(endpoint,
           endpoint == "track" ? R"({"userId":"u1","messageId":"m-9"})" : R"({"userId":7})",
           &answer);
    ASSERT_EQ(answer.status(), 200);
    const Value body = Json(answer.body());
    EXPECT_TRUE(body.Find("success")->as_bool());
    const Value& error = body.Find("errors")->as_array().at(0);
    EXPECT_EQ(error.Find("index")->as_number(), 0);
    EXPECT_EQ(JsonString(error, "error"), code);
    if (endpoint == "track") {
      EXPECT_EQ(JsonString(error, "messageId"), "m-9");
    }
    EXPECT_EQ(HeaderOf(*answer.response, "Access-Control-Allow-Origin"), "*");
  }
  EXPECT_TRUE(sink_.batches.empty());
}

TEST_F(SegmentHttpTest, SingleEventOverTheLimitIs413) {
  const std::string padding(32 * 1024, 'x');
  Answer answer;
  Ingest("track", R"({"userId":"u1","event":"A","properties":{"p":")" + padding + "\"}}", &answer);
  EXPECT_EQ(answer.status(), 413);
  EXPECT_EQ(JsonString(Json(answer.body()), "error"), "payload_too_large");
  EXPECT_EQ(HeaderOf(*answer.response, "Access-Control-Allow-Origin"), "*");
  EXPECT_TRUE(sink_.batches.empty());

  // A batch has the transport's (larger) limit only.
  Answer batch;
  Ingest("batch",
         R"({"batch":[{"type":"track","userId":"u1","event":"A","properties":{"p":")" + padding +
             "\"}}]}",
         &batch);
  EXPECT_EQ(sink_.batches.size(), 1u);
}

TEST_F(SegmentHttpTest, PreflightNeedsNothing) {
  const HttpResponse r = SegmentHttp::Preflight();
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.content_type, "");
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(HeaderOf(r, "Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(HeaderOf(r, "Access-Control-Allow-Methods"), "POST, OPTIONS");
  EXPECT_EQ(HeaderOf(r, "Access-Control-Allow-Headers"),
            "Authorization, Content-Type, Content-Encoding");
  EXPECT_EQ(HeaderOf(r, "Access-Control-Max-Age"), "86400");
}

TEST_F(SegmentHttpTest, OtherMethodsAre405) {
  const HttpResponse r = SegmentHttp::MethodNotAllowed();
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(HeaderOf(r, "Allow"), "POST, OPTIONS");
  EXPECT_EQ(HeaderOf(r, "Access-Control-Allow-Origin"), "*");
}

TEST_F(SegmentHttpTest, WithoutWriteKeysOnlyLoopbackMayIngest) {
  for (const char* peer :
       {"127.0.0.1:5000", "127.8.9.10:1", "[::1]:5000", "[::ffff:127.0.0.1]:9"}) {
    SCOPED_TRACE(peer);
    EXPECT_FALSE(segment_.CheckWriteKey(Post("{}", {}, peer)).has_value());
  }
  for (const char* peer :
       {"10.0.0.7:5000", "[2001:db8::1]:5000", "[::ffff:10.0.0.1]:9", "", "128.0.0.1:1"}) {
    SCOPED_TRACE(peer);
    // Credentials change nothing: there is nothing to check them against.
    auto refusal = segment_.CheckWriteKey(Post("{}", {Basic("key")}, peer));
    ASSERT_TRUE(refusal.has_value());
    EXPECT_EQ(refusal->status, 403);
    EXPECT_EQ(JsonString(Json(refusal->body), "error"), "forbidden");
    EXPECT_EQ(HeaderOf(*refusal, "Access-Control-Allow-Origin"), "*");
  }
}

class SegmentHttpKeysTest : public SegmentHttpTest {
 protected:
  SegmentHttpKeysTest()
      : SegmentHttpTest(SegmentHttpOptions{.write_keys = {"key-one", "key-two"}}) {}

  // 0 when allowed, else the refusal's status.
  int Check(const HttpRequest& request) {
    auto refusal = segment_.CheckWriteKey(request);
    if (!refusal.has_value()) {
      return 0;
    }
    if (refusal->status == 401) {
      EXPECT_EQ(HeaderOf(*refusal, "WWW-Authenticate"), "Basic realm=\"handoff\"");
      EXPECT_EQ(JsonString(Json(refusal->body), "error"), "unauthorized");
    }
    EXPECT_EQ(HeaderOf(*refusal, "Access-Control-Allow-Origin"), "*");
    return refusal->status;
  }
};

TEST_F(SegmentHttpKeysTest, BasicAuthWithTheKeyAsUserName) {
  EXPECT_EQ(Check(Post("{}", {Basic("key-one")})), 0);
  EXPECT_EQ(Check(Post("{}", {Basic("key-two")})), 0);
  EXPECT_EQ(Check(Post("{}", {Basic("key-one", "ignored")})), 0);  // the password is ignored
  EXPECT_EQ(Check(Post("{}", {{"authorization", "basic " + Base64Encode("key-one:")}})), 0);
  EXPECT_EQ(Check(Post("{}", {{"Authorization", "Basic " + Base64Encode("key-one")}})), 0);
  // A key is a key wherever the client is.
  EXPECT_EQ(Check(Post("{}", {Basic("key-one")}, "10.0.0.7:5000")), 0);

  EXPECT_EQ(Check(Post("{}", {})), 401);
  EXPECT_EQ(Check(Post("{}", {Basic("key-three")})), 401);
  EXPECT_EQ(Check(Post("{}", {Basic("", "key-one")})), 401);  // the key as password
  EXPECT_EQ(Check(Post("{}", {Basic("key-on")})), 401);
  EXPECT_EQ(Check(Post("{}", {Basic("key-one-")})), 401);
  EXPECT_EQ(Check(Post("{}", {{"Authorization", "Bearer key-one"}})), 401);
  EXPECT_EQ(Check(Post("{}", {{"Authorization", "Basic %%%"}})), 401);
  EXPECT_EQ(Check(Post("{}", {{"Authorization", ""}})), 401);
}

TEST_F(SegmentHttpKeysTest, WriteKeyInTheBody) {
  EXPECT_EQ(Check(Post(R"({"writeKey":"key-two","batch":[]})")), 0);
  EXPECT_EQ(Check(Post(R"({"writeKey":"key-three"})")), 401);
  EXPECT_EQ(Check(Post(R"({"writeKey":7})")), 401);
  EXPECT_EQ(Check(Post(R"({"batch":[{"writeKey":"key-one"}]})")), 401);  // top level only
  EXPECT_EQ(Check(Post(R"(not JSON "writeKey":"key-one")")), 401);
  // A header that is present decides alone.
  EXPECT_EQ(Check(Post(R"({"writeKey":"key-one"})", {Basic("nope")})), 401);
  EXPECT_EQ(Check(Post(R"({"writeKey":"nope"})", {Basic("key-one")})), 0);
}

}  // namespace
}  // namespace handoff
