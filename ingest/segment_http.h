// SegmentHttp: the Segment-compatible HTTP ingest endpoints (SPEC 4) without the socket. An
// HttpRequest comes in, its events go to an IngestSink, an HttpResponse goes out.
//
// The paths are Segment's HTTP Tracking API (/v1/track, /v1/page, /v1/screen, /v1/identify,
// /v1/group, /v1/alias, /v1/batch) and analytics.js's one-letter ones (/v1/t, /v1/p, ..., /v1/b):
// the browser library posts each event to <apiHost>/<first letter of its type>. The HTTP router
// (api/routes.h) sends each request on one of SegmentEndpoints() to one of the entry points below,
// in the order Segment's clients expect:
//   OPTIONS    Preflight(): a CORS preflight carries no credentials, so it needs no write key.
//   POST       CheckWriteKey(), then Ingest().
//   any other  MethodNotAllowed().
// Every answer carries Access-Control-Allow-Origin: *, so a browser tracker on another origin can
// read it and does not retry a delivered event.
//
// Bodies arrive as HttpServer hands them over: gzip already inflated, and no larger than its
// body_limit (Segment's 500 KB, which is also the limit of a batch here).
//
// Not thread-safe: call from one thread (it owns one EventParser and one JsonParser). The sink
// may complete batches on any thread; the answer is sent from there (HttpRespond allows it).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/json_parser.h"
#include "base/metrics.h"
#include "handoff/clock.h"
#include "handoff/event.h"
#include "ingest/event_parser.h"
#include "ingest/ingest_sink.h"
#include "net/http_server.h"

namespace handoff {

struct SegmentHttpOptions {
  // Segment write keys. Empty: ingest is open to loopback peers only (others get 403).
  std::vector<std::string> write_keys;
  // Largest body of a single-event endpoint, after gzip inflation: 32 KiB, Segment's per-event
  // limit (its libraries count KB as 1024 bytes). Over it: 413.
  size_t max_event_bytes = 32 * 1024;
};

// One ingest path, "/v1/" + name.
struct SegmentEndpoint {
  std::string_view name;          // "track", "t", "batch", "b", ...
  std::optional<EventType> type;  // the type every event sent here has; nullopt: a batch
};

// Every ingest path, Segment's names first, then analytics.js's letters.
std::span<const SegmentEndpoint> SegmentEndpoints();

class SegmentHttp {
 public:
  // Everything borrowed.
  SegmentHttp(SegmentHttpOptions options, IngestSink* sink, Metrics* metrics, const Clock* clock);

  // The 204 answer to a CORS preflight (OPTIONS): POST from any origin, with the headers
  // Segment's libraries send (Authorization, Content-Type, Content-Encoding).
  static HttpResponse Preflight();

  // The 405 answer to a method other than POST and OPTIONS; Allow: POST, OPTIONS.
  static HttpResponse MethodNotAllowed();

  // nullopt when the request may ingest, else the answer refusing it. With write keys configured:
  // the key is the user name of an HTTP Basic Authorization header (the password is ignored, as
  // Segment does); without that header, a top-level "writeKey" string in the JSON body (older
  // libraries and analytics.js, which avoids preflights). A header that is present decides alone.
  // No key or a wrong one: 401 with WWW-Authenticate: Basic. Without write keys: 403 unless the
  // peer is on loopback.
  std::optional<HttpResponse> CheckWriteKey(const HttpRequest& request);

  // Parses the POST body sent to `endpoint`, submits its valid events as one batch and answers
  // 200 {"success":true} only from the batch's `done`, which the sink runs once the events are
  // durable (SPEC 10); 503 when they could not be made durable (nothing acknowledged: Segment's
  // libraries retry a 5xx, and messageIds make the retry safe). A batch lists its invalid
  // elements, which never reach the sink, in "errors" ({"index","error","message"[,"messageId"]})
  // next to "success":true; it answers 400 {"success":false,"error",...} only when the body as a
  // whole is unusable (not JSON, no "batch" array). A single event answers 400 when its body is
  // not a JSON object, is listed as index 0 with 200 when it is another way invalid, and answers
  // 413 over max_event_bytes. Nothing valid: answered at
  // once, the sink is not called.
  void Ingest(const HttpRequest& request, const SegmentEndpoint& endpoint, HttpRespond respond);

 private:
  const SegmentHttpOptions options_;
  IngestSink* const sink_;
  Metrics* const metrics_;
  const Clock* const clock_;
  EventParser parser_;
  // Applied batches' events, handed back by the sink for the next requests to parse into.
  std::shared_ptr<SpentEvents> spent_ = std::make_shared<SpentEvents>();
  JsonParser json_;
};

}  // namespace handoff
