#include "ingest/segment_http.h"

#include <array>
#include <chrono>
#include <utility>

#include "handoff/value.h"
#include "ingest/event_errors.h"
#include "net/http_util.h"

namespace handoff {
namespace {

// The Segment HTTP Tracking API's paths, and the short ones analytics.js uses. `import` is the
// batch path of Segment's Ruby and Java libraries.
constexpr std::array<SegmentEndpoint, 15> kEndpoints = {{
    {"track", EventType::kTrack},
    {"page", EventType::kPage},
    {"screen", EventType::kScreen},
    {"identify", EventType::kIdentify},
    {"group", EventType::kGroup},
    {"alias", EventType::kAlias},
    {"batch", std::nullopt},
    {"import", std::nullopt},
    {"t", EventType::kTrack},
    {"p", EventType::kPage},
    {"s", EventType::kScreen},
    {"i", EventType::kIdentify},
    {"g", EventType::kGroup},
    {"a", EventType::kAlias},
    {"b", std::nullopt},
}};

// The host part of HttpRequest::remote_address ("127.0.0.1:5312", "[::1]:5312").
std::string_view PeerHost(std::string_view remote) {
  if (!remote.empty() && remote.front() == '[') {
    const size_t close = remote.find(']');
    return close == std::string_view::npos ? std::string_view() : remote.substr(1, close - 1);
  }
  return remote.substr(0, remote.rfind(':'));
}

bool IsLoopbackPeer(std::string_view remote) {
  const std::string_view host = PeerHost(remote);
  return host.rfind("127.", 0) == 0 || host == "::1" || host.rfind("::ffff:127.", 0) == 0;
}

// Browser trackers (analytics.js) post from other origins: let them read the answer, so a
// delivered event is not retried. Ingest needs no cookies, so any origin may.
void AddCorsHeaders(HttpResponse* response) {
  response->headers.emplace_back("Access-Control-Allow-Origin", "*");
}

HttpResponse WithCors(HttpResponse response) {
  AddCorsHeaders(&response);
  return response;
}

void RespondWithCors(const HttpRespond& respond, HttpResponse response) {
  respond(WithCors(std::move(response)));
}

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

std::span<const SegmentEndpoint> SegmentEndpoints() { return kEndpoints; }

SegmentHttp::SegmentHttp(SegmentHttpOptions options, IngestSink* sink, Metrics* metrics,
                         const Clock* clock)
    : options_(std::move(options)), sink_(sink), metrics_(metrics), clock_(clock) {}

HttpResponse SegmentHttp::Preflight() {
  HttpResponse r;
  r.status = 204;
  r.content_type.clear();
  AddCorsHeaders(&r);
  r.headers.emplace_back("Access-Control-Allow-Methods", "POST, OPTIONS");
  r.headers.emplace_back("Access-Control-Allow-Headers",
                         "Authorization, Content-Type, Content-Encoding");
  r.headers.emplace_back("Access-Control-Max-Age", "86400");
  return r;
}

HttpResponse SegmentHttp::MethodNotAllowed() {
  HttpResponse r = JsonErrorResponse(405, "method_not_allowed", "use POST here");
  r.headers.emplace_back("Allow", "POST, OPTIONS");
  return WithCors(std::move(r));
}

std::optional<HttpResponse> SegmentHttp::CheckWriteKey(const HttpRequest& request) {
  if (options_.write_keys.empty()) {
    // Open ingest is meant for a daemon on loopback; bound wider, it still serves only local
    // trackers until write keys are configured.
    if (IsLoopbackPeer(request.remote_address)) {
      return std::nullopt;
    }
    return WithCors(JsonErrorResponse(
        403, "forbidden", "no write keys are configured: ingest is open to loopback clients only"));
  }
  std::optional<std::string> key;
  if (request.HasHeader("Authorization")) {
    // Segment's scheme: Basic with the write key as user name. Libraries send the password empty.
    if (auto creds = ParseBasicAuth(request.Header("Authorization")); creds.has_value()) {
      key = std::move(creds->user);
    }
  } else {
    // Parsed only here, when keys are configured and no header came: a full JSON parse of the
    // body before the event parser's own.
    Value body;
    if (json_.Parse(request.body, &body).ok()) {
      if (const Value* field = body.Find("writeKey"); field != nullptr && field->is_string()) {
        key = field->as_string();
      }
    }
  }
  bool match = false;
  if (key.has_value()) {
    for (const std::string& configured : options_.write_keys) {
      match = ConstantTimeEquals(*key, configured) || match;  // no early exit: no timing hint
    }
  }
  if (match) {
    return std::nullopt;
  }
  HttpResponse r = JsonErrorResponse(
      401, "unauthorized",
      "a valid write key is required (HTTP Basic auth: the write key as user name)");
  r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"handoff\"");
  return WithCors(std::move(r));
}

void SegmentHttp::Ingest(const HttpRequest& request, const SegmentEndpoint& endpoint,
                         HttpRespond respond) {
  auto reject_whole = [&](const ParseError& err) {
    metrics_->EventsReceived(Transport::kHttp, 1);
    metrics_->EventRejected(Transport::kHttp, static_cast<int>(err.code));
    std::string body = "{\"success\":false,";
    AppendEventErrorFields(err, std::nullopt, &body);
    body += "}";
    RespondWithCors(respond, Json(400, std::move(body)));
  };
  IngestBatch batch;
  batch.events = spent_->Take();  // parsed over in place; the rest freed here
  batch.spent = spent_;
  batch.transport = Transport::kHttp;
  batch.received_at = clock_->Now();
  batch.received_mono = std::chrono::steady_clock::now();
  std::string errors_json;
  std::vector<BatchError> errors;
  if (!endpoint.type.has_value()) {
    ParseError whole;
    if (!parser_.ParseBatch(request.body, &batch.events, &errors, &whole)) {
      reject_whole(whole);
      return;
    }
    metrics_->EventsReceived(Transport::kHttp, batch.events.size() + errors.size());
  } else {
    if (request.body.size() > options_.max_event_bytes) {
      RespondWithCors(respond,
                      JsonErrorResponse(413, "payload_too_large",
                                        "one event may be at most " +
                                            std::to_string(options_.max_event_bytes) + " bytes"));
      return;
    }
    batch.events.resize(1);
    ParseError err;
    if (!parser_.Parse(request.body, &batch.events[0], &err, endpoint.type)) {
      if (err.code == EventError::kInvalidJson) {
        reject_whole(err);  // SPEC 4: 400 for a body that is not JSON (or not an object)
        return;
      }
      // JSON, but not a valid event: as Segment's API, and as an element of a batch, it is
      // listed and the answer is 200 (SPEC 4 keeps 400 for a body that is not JSON).
      batch.events.clear();
      errors.push_back(BatchError{0, std::move(err)});
    }
    metrics_->EventsReceived(Transport::kHttp, 1);
  }
  for (size_t i = 0; i < errors.size(); ++i) {
    metrics_->EventRejected(Transport::kHttp, static_cast<int>(errors[i].error.code));
    errors_json += i > 0 ? ",{" : "{";
    errors_json += "\"index\":" + std::to_string(errors[i].index) + ",";
    AppendEventErrorFields(errors[i].error, std::nullopt, &errors_json);
    errors_json += "}";
  }
  std::string ok_body = "{\"success\":true";
  if (!errors_json.empty()) {
    ok_body += ",\"errors\":[" + errors_json + "]";
  }
  ok_body += "}";
  if (batch.events.empty()) {
    RespondWithCors(respond, Json(200, std::move(ok_body)));
    return;
  }
  batch.done = [respond = std::move(respond), ok_body = std::move(ok_body)](const Status& st) {
    if (st.ok()) {
      RespondWithCors(respond, Json(200, ok_body));
    } else {
      // Not durable, so not acknowledged: Segment's libraries retry a 5xx, and the messageIds
      // make the retry safe.
      RespondWithCors(respond, JsonErrorResponse(503, "unavailable", st.ToString()));
    }
  };
  sink_->Submit(std::move(batch));
}

}  // namespace handoff
