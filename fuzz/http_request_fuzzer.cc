// HTTP requests (SPEC 4 and 6) as the HTTP port reads them: the bytes of one connection go
// through ParseHttpRequest (the connection's own parser, limits, gzip inflation), request after
// pipelined request, and each request through a route table laid out as HttpApi's
// (api/http_api.cc): Segment ingest with the real SegmentHttp and an in-memory sink, the admin
// rows with stand-in handlers that parse the query and body as the real ones do.
//
// Invariants:
//   - Parsing consumes a prefix of the bytes (something, unless it refuses and closes); a
//     request's path starts with '/' (or is "*") and its body, inflated or not, fits body_limit.
//   - Every request gets exactly one answer, with a known status and, when it has a JSON body,
//     one valid JSON document; a Segment answer carries CORS.
//   - An admin handler runs only for the right bearer token; Segment ingest runs only with a
//     right write key (Basic user, or without an Authorization header the body's writeKey), or
//     from loopback when no keys are configured.
//   - Every event reaching the sink has what SPEC 2 requires.
//   - The helpers: Base64 and gzip round-trip; Gunzip never passes its limit.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "api/routes.h"
#include "base/json_parser.h"
#include "base/metrics.h"
#include "fuzz/fuzz_check.h"
#include "handoff/clock.h"
#include "handoff/event.h"
#include "ingest/ingest_sink.h"
#include "ingest/segment_http.h"
#include "net/http_server.h"
#include "net/http_util.h"

namespace handoff {
namespace {

constexpr std::string_view kAdminToken = "s3cret";
constexpr std::string_view kWriteKey = "wk1";

void CheckEvent(const Event& event) {
  FUZZ_CHECK(!event.lead_key().empty());
  // An empty `event` name or `groupId` is a value (README, 11c446c); an empty previousId is not.
  FUZZ_CHECK(event.type != EventType::kAlias || !event.previous_id.empty());
  FUZZ_CHECK(event.properties.is_null() || event.properties.is_object());
  FUZZ_CHECK(event.traits.is_null() || event.traits.is_object());
  FUZZ_CHECK(event.context.is_null() || event.context.is_object());
  FUZZ_CHECK(!event.has_timestamp || event.timestamp - event.timestamp == 0);
  FUZZ_CHECK(fuzz::KeysUnique(event.context) && fuzz::KeysUnique(event.properties) &&
             fuzz::KeysUnique(event.traits));
}

// Completes every batch at once, as a store that never fails would.
class CheckingSink : public IngestSink {
 public:
  void Submit(IngestBatch batch) override {
    FUZZ_CHECK(!batch.events.empty());
    FUZZ_CHECK(batch.transport == Transport::kHttp);
    for (const Event& event : batch.events) {
      CheckEvent(event);
    }
    ++batches;
    batch.done(Status::Ok());
  }
  int batches = 0;
};

// One table like HttpApi's; `admin_runs` and `ingest_runs` count the handlers that ran.
struct Api {
  Api(SegmentHttpOptions segment_options, std::string admin_token)
      : token(admin_token),
        segment(std::move(segment_options), &sink, &metrics, &clock),
        routes(Routes(), RouteTableOptions{
                             .admin_token = std::move(admin_token),
                             .check_write_key =
                                 [this](const HttpRequest& request) {
                                   return segment.CheckWriteKey(request);
                                 },
                             .admin_prefix = "/v1",
                         }) {}

  std::vector<Route> Routes() {
    auto admin = [this](std::string method, std::string pattern) {
      return Route{std::move(method), std::move(pattern), RouteAuth::kAdmin,
                   [this](const HttpRequest& request, const PathParams&, HttpRespond respond) {
                     ++admin_runs;
                     // What the real handlers read: the query (leads), a JSON body (reps,
                     // accounts), a rule text (validate; compiled off-thread, not here).
                     auto query = QueryParams::Parse(request.query);
                     if (query.ok()) {
                       (void)query->Get("limit");
                     }
                     Value body;
                     (void)json.Parse(request.body, &body);
                     HttpResponse r;
                     r.body = "{\"ok\":true}";
                     respond(std::move(r));
                   }};
    };
    auto open = [](std::string pattern) {
      return Route{std::string(kAnyMethod), std::move(pattern), RouteAuth::kNone,
                   [](const HttpRequest&, const PathParams&, HttpRespond respond) {
                     respond(HttpResponse{.status = 200, .body = "{}"});
                   }};
    };
    std::vector<Route> routes = {
        open("/healthz"),
        open("/metrics"),
        admin("GET", "/v1/leads"),
        admin("GET", "/v1/leads/{id}"),
        admin("DELETE", "/v1/leads/{id}"),
        admin("GET", "/v1/leads/{id}/history"),
        admin("GET", "/v1/rules"),
        admin("POST", "/v1/rules/reload"),
        admin("POST", "/v1/rules/validate"),
        admin("GET", "/v1/reps"),
        admin("PUT", "/v1/reps/{id}/availability"),
        admin("POST", "/v1/reps/{id}/availability"),
        admin("GET", "/v1/accounts/{domain}"),
        admin("PUT", "/v1/accounts/{domain}"),
    };
    for (const SegmentEndpoint& endpoint : SegmentEndpoints()) {
      const std::string path = "/v1/" + std::string(endpoint.name);
      routes.push_back(
          {"POST", path, RouteAuth::kWriteKey,
           [this, &endpoint](const HttpRequest& request, const PathParams&, HttpRespond respond) {
             ++ingest_runs;
             segment.Ingest(request, endpoint, std::move(respond));
           }});
      routes.push_back({"OPTIONS", path, RouteAuth::kNone,
                        [](const HttpRequest&, const PathParams&, HttpRespond respond) {
                          respond(SegmentHttp::Preflight());
                        }});
      routes.push_back({std::string(kAnyMethod), path, RouteAuth::kNone,
                        [](const HttpRequest&, const PathParams&, HttpRespond respond) {
                          respond(SegmentHttp::MethodNotAllowed());
                        }});
    }
    return routes;
  }

  const std::string token;
  CheckingSink sink;
  Metrics metrics;
  ManualClock clock{1.7e9};
  JsonParser json;
  SegmentHttp segment;
  RouteTable routes;
  int admin_runs = 0;
  int ingest_runs = 0;
};

bool IsSegmentPath(const HttpRequest& request) {
  auto segments = SplitPath(request.path);
  if (!segments.ok() || segments->size() != 2 || (*segments)[0] != "v1") {
    return false;
  }
  for (const SegmentEndpoint& endpoint : SegmentEndpoints()) {
    if (endpoint.name == (*segments)[1]) {
      return true;
    }
  }
  return false;
}

void CheckAnswer(JsonParser& json, const HttpResponse& r) {
  static const std::set<int> kStatuses = {200, 204, 400, 401, 403, 404, 405, 413, 415, 431};
  FUZZ_CHECK(kStatuses.count(r.status) == 1);
  if (r.status == 204) {
    FUZZ_CHECK(r.body.empty());
  } else if (r.content_type == "application/json") {
    Value v;
    FUZZ_CHECK(json.Parse(r.body, &v).ok() && v.is_object());
  }
}

bool HasCors(const HttpResponse& r) {
  for (const auto& [name, value] : r.headers) {
    if (name == "Access-Control-Allow-Origin" && value == "*") {
      return true;
    }
  }
  return false;
}

// Whether the key table's write-key check must let `request` in.
bool CarriesWriteKey(JsonParser& json, const HttpRequest& request) {
  if (request.HasHeader("Authorization")) {
    auto creds = ParseBasicAuth(request.Header("Authorization"));
    return creds.has_value() && creds->user == kWriteKey;
  }
  Value body;
  if (!json.Parse(request.body, &body).ok()) {
    return false;
  }
  const Value* key = body.Find("writeKey");
  return key != nullptr && key->is_string() && key->as_string() == kWriteKey;
}

void Dispatch(Api& api, const HttpRequest& request, JsonParser& json) {
  const int admin_before = api.admin_runs;
  const int ingest_before = api.ingest_runs;
  int answers = 0;
  HttpResponse answer;
  api.routes.Dispatch(request, [&](HttpResponse r) {
    ++answers;
    answer = std::move(r);
  });
  FUZZ_CHECK(answers == 1);
  CheckAnswer(json, answer);
  if (IsSegmentPath(request)) {
    FUZZ_CHECK(HasCors(answer));
  }
  if (api.admin_runs != admin_before) {
    auto token = ParseBearerToken(request.Header("Authorization"));
    FUZZ_CHECK(api.token.empty() || (token.has_value() && *token == api.token));
  }
  (void)ingest_before;
}

void CheckHelpers(std::string_view data) {
  const std::string encoded = Base64Encode(data);
  const std::optional<std::string> decoded = Base64Decode(encoded);
  FUZZ_CHECK(decoded.has_value() && *decoded == data);

  // Gunzip of the raw bytes: never past the limit.
  constexpr size_t kLimit = 4096;
  std::string out;
  if (Gunzip(data, kLimit, &out) == GunzipResult::kOk) {
    FUZZ_CHECK(out.size() <= kLimit);
  }

  // gzip(data) inflates back to data, within a limit of its size and not one byte less.
  z_stream z{};
  FUZZ_CHECK(deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string gz(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(gz.data());
  z.avail_out = static_cast<uInt>(gz.size());
  FUZZ_CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
  gz.resize(z.total_out);
  deflateEnd(&z);
  FUZZ_CHECK(Gunzip(gz, data.size(), &out) == GunzipResult::kOk && out == data);
  if (!data.empty()) {
    FUZZ_CHECK(Gunzip(gz, data.size() - 1, &out) == GunzipResult::kTooLarge);
  }
}

}  // namespace
}  // namespace handoff

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace handoff;
  static JsonParser* json = new JsonParser();
  static Api* keyed =
      new Api(SegmentHttpOptions{.write_keys = {std::string(kWriteKey)}}, std::string(kAdminToken));
  static Api* open = new Api(SegmentHttpOptions{}, "");
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  const HttpServerOptions defaults;
  const HttpServerOptions small{.body_limit = 64, .header_limit = 256};
  for (const HttpServerOptions* options : {&defaults, &small}) {
    std::string_view rest = input;
    for (int n = 0; n < 8 && !rest.empty(); ++n) {  // pipelined requests
      HttpParse parse = ParseHttpRequest(rest, *options);
      if (parse.outcome == HttpParse::Outcome::kNeedMore) {
        break;
      }
      FUZZ_CHECK(parse.consumed <= rest.size());
      if (parse.outcome == HttpParse::Outcome::kAnswered) {
        CheckAnswer(*json, parse.response);
        FUZZ_CHECK(parse.response.status >= 400);
        if (parse.close) {
          break;  // a malformed request may be refused before a byte of it is taken
        }
        FUZZ_CHECK(parse.consumed > 0);
        rest.remove_prefix(parse.consumed);
        continue;
      }
      FUZZ_CHECK(parse.consumed > 0);
      HttpRequest& request = parse.request;
      FUZZ_CHECK(!request.path.empty());
      FUZZ_CHECK(request.path[0] == '/' || request.path == "*");
      FUZZ_CHECK(request.body.size() <= options->body_limit);
      FUZZ_CHECK(request.version == 10 || request.version == 11);
      if (options == &defaults) {
        const int ingest_before = keyed->ingest_runs;
        request.remote_address = "203.0.113.9:4000";
        Dispatch(*keyed, request, *json);
        if (keyed->ingest_runs != ingest_before) {
          FUZZ_CHECK(CarriesWriteKey(*json, request));
        }
        const int open_before = open->ingest_runs;
        Dispatch(*open, request, *json);  // no keys: not from loopback, so never ingested
        FUZZ_CHECK(open->ingest_runs == open_before);
        request.remote_address = "127.0.0.1:4000";
        Dispatch(*open, request, *json);
        CheckHelpers(request.body);
      }
      rest.remove_prefix(parse.consumed);
    }
  }
  return 0;
}
