#include "api/http_api.h"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <utility>

namespace handoff {

HttpApi::HttpApi(const HttpApiOptions& options, Engine* engine, Metrics* metrics,
                 const Clock* clock)
    : streams_(&engine->outbox(), EventStreamOptions{.heartbeat = options.heartbeat}),
      // Backtest ids count from this start's time in microseconds (2^53 is centuries away): an id
      // from before a restart names no job of this run.
      backtests_(BacktestJobsOptions{
          .first_id = std::max<uint64_t>(1, static_cast<uint64_t>(clock->Now() * 1e6))}),
      context_{.engine = engine,
               .metrics = metrics,
               .clock = clock,
               .json = &json_,
               .streams = &streams_,
               .backtests = &backtests_,
               .backtest_max_leads = options.backtest_max_leads},
      segment_(SegmentHttpOptions{.write_keys = options.write_keys,
                                  .max_event_bytes = options.max_event_bytes},
               options.ingest_sink != nullptr ? options.ingest_sink : engine, metrics, clock),
      routes_(Routes(), RouteTableOptions{
                            .admin_token = options.admin_token,
                            .check_write_key =
                                [segment = &segment_](const HttpRequest& request) {
                                  return segment->CheckWriteKey(request);
                                },
                            // Every /v1/ call is an admin call but Segment ingest's (SPEC 6).
                            .admin_prefix = "/v1",
                        }) {}

void HttpApi::Handle(HttpRequest&& request, HttpRespond respond) {
  routes_.Dispatch(request, std::move(respond));
}

std::vector<Route> HttpApi::Routes() {
  auto row = [this](std::string_view method, std::string pattern, RouteAuth auth,
                    ApiHandler* handler) {
    return Route{std::string(method), std::move(pattern), auth,
                 [api = &context_, handler](const HttpRequest& request, const PathParams& params,
                                            HttpRespond respond) {
                   handler(*api, request, params, std::move(respond));
                 }};
  };
  constexpr RouteAuth kNone = RouteAuth::kNone;
  constexpr RouteAuth kAdmin = RouteAuth::kAdmin;
  std::vector<Route> routes = {
      // Any method: monitors probe with GET, HEAD or whatever they are set up to send.
      row(kAnyMethod, "/healthz", kNone, GetHealth),
      row(kAnyMethod, "/metrics", kNone, GetMetrics),
      row("GET", "/", kNone, RedirectToUi),
      row("GET", "/ui", kNone, GetUiFile),
      row("GET", "/ui/{file}", kNone, GetUiFile),
      row("GET", "/v1/leads", kAdmin, ListLeads),
      row("GET", "/v1/leads/{id}", kAdmin, GetLead),
      row("DELETE", "/v1/leads/{id}", kAdmin, DeleteLead),
      row("GET", "/v1/leads/{id}/history", kAdmin, GetLeadHistory),
      row("GET", "/v1/rules", kAdmin, GetRules),
      row("POST", "/v1/rules/reload", kAdmin, ReloadRules),
      row("POST", "/v1/rules/validate", kAdmin, ValidateRules),
      row("POST", "/v1/rules/backtest", kAdmin, PostBacktest),
      row("GET", "/v1/rules/backtest/{id}", kAdmin, GetBacktest),
      row("DELETE", "/v1/rules/backtest/{id}", kAdmin, CancelBacktest),
      row("POST", "/v1/rules/apply", kAdmin, ApplyRules),
      row("GET", "/v1/funnel", kAdmin, GetFunnel),
      row("GET", "/v1/reps", kAdmin, ListReps),
      row("PUT", "/v1/reps/{id}/availability", kAdmin, SetRepAvailability),
      row("POST", "/v1/reps/{id}/availability", kAdmin, SetRepAvailability),
      row("POST", "/v1/actions", kAdmin, PostAction),
      row("GET", "/v1/stream", kAdmin, GetStream),
      row("GET", "/v1/accounts/{domain}", kAdmin, GetAccountOwner),
      row("PUT", "/v1/accounts/{domain}", kAdmin, SetAccountOwner),
  };
  // Segment ingest (SPEC 4): write keys, not the admin token; a CORS preflight carries no
  // credentials; any other method gets Segment's 405 (with CORS, like every ingest answer).
  for (const SegmentEndpoint& endpoint : SegmentEndpoints()) {
    const std::string path = "/v1/" + std::string(endpoint.name);
    routes.push_back({"POST", path, RouteAuth::kWriteKey,
                      [segment = &segment_, &endpoint](const HttpRequest& request,
                                                       const PathParams&, HttpRespond respond) {
                        segment->Ingest(request, endpoint, std::move(respond));
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

}  // namespace handoff
