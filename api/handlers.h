// The admin API's handlers (SPEC 6): one small function per row of the route table in
// api/http_api.cc, grouped by concept: health_handlers.cc, leads_handlers.cc, rules_handlers.cc,
// reps_handlers.cc, funnel_handlers.cc. (Segment ingest is ingest/segment_http.h.)
//
// A handler runs on the HttpServer's thread once the route table has checked the row's auth. What
// reads or changes engine state runs on the engine thread (Engine::RunOnEngine) and answers from
// there; a change answers only after the commit that holds it (Engine::AfterCommit).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/event_stream.h"
#include "api/routes.h"
#include "backtest/backtest_jobs.h"
#include "base/json_parser.h"
#include "base/metrics.h"
#include "core/engine.h"
#include "handoff/clock.h"
#include "ingest/admin_sink.h"
#include "ingest/lead_locator.h"
#include "net/http_forward.h"
#include "net/http_server.h"
#include "net/http_util.h"
#include "rules/rule_loader.h"

namespace handoff {

// What the handlers work with; everything borrowed.
struct ApiContext {
  Engine* engine = nullptr;
  Metrics* metrics = nullptr;
  const Clock* clock = nullptr;
  JsonParser* json = nullptr;               // for request bodies; the HttpServer's thread only
  EventStreams* streams = nullptr;          // GET /v1/stream's outbox readers
  BacktestJobs* backtests = nullptr;        // POST /v1/rules/backtest's jobs
  uint64_t backtest_max_leads = 1'000'000;  // leads a backtest replays in memory at once
  // Cluster mode: admin changes (reps' availability, account owners) go here so they hold on
  // every node (api/admin_changes.h); null in the single daemon, which changes its engine.
  AdminSink* admin = nullptr;
  // Cluster mode: a read or an erasure of one lead another node holds goes to that node
  // (ForwardOr); null in the single daemon.
  const LeadLocator* locator = nullptr;
  HttpForwarder* forwarder = nullptr;
};

using ApiHandler = void(ApiContext& api, const HttpRequest& request, const PathParams& params,
                        HttpRespond respond);

// health_handlers.cc
// GET /healthz: 200 "ok".
void GetHealth(ApiContext& api, const HttpRequest& request, const PathParams& params,
               HttpRespond respond);
// GET /metrics: the Prometheus text exposition.
void GetMetrics(ApiContext& api, const HttpRequest& request, const PathParams& params,
                HttpRespond respond);

// A time query parameter (`?at=`, `?since=`): RFC 3339 or epoch seconds. Leaves *out as it is
// when the parameter is absent; false when it is there but not a time.
[[nodiscard]] bool ReadTimeParam(const QueryParams& query, std::string_view name, EpochSeconds* out,
                                 bool* present = nullptr);

// backtest_handlers.cc (SPEC 13)
// POST /v1/rules/backtest?since=&at=&wait=&examples=: the body (a candidate rule file) replayed
// over the stored history as a job (backtest/backtest_jobs.h). 200 with the report when the job
// ends within `wait` seconds (default 5, at most 60), else 202 with its id and progress; `examples`
// leads whose stage would change shown in full (default 20, at most 1000); 422 with
// validate's answer for a bad candidate; 503 when too many backtests wait.
void PostBacktest(ApiContext& api, const HttpRequest& request, const PathParams& params,
                  HttpRespond respond);
// GET /v1/rules/backtest/{id}: the job's state and progress, and its report once done; 404 when
// unknown or forgotten.
void GetBacktest(ApiContext& api, const HttpRequest& request, const PathParams& params,
                 HttpRespond respond);
// DELETE /v1/rules/backtest/{id}: cancels the job (a running one stops within a block of
// history); answers the job as it ended (state "failed", error "cancelled", or "done" when it
// finished first); 404 when unknown.
void CancelBacktest(ApiContext& api, const HttpRequest& request, const PathParams& params,
                    HttpRespond respond);
// POST /v1/rules/apply: the body replaces the rule file and is reloaded, then every lead's stage
// is re-evaluated at once (Engine::ReevaluateStages). 200 {"ok","version","leads","changed"};
// 422 as validate; 409 when the rules path is a directory or the file cannot be written. In
// cluster mode the new file then becomes every node's rules (ShareRules), 503 if it cannot.
void ApplyRules(ApiContext& api, const HttpRequest& request, const PathParams& params,
                HttpRespond respond);

// The header a forwarded read carries, with the hops so far ("1", "2"): the node it reaches
// answers it itself, except that a read of an id that moved from there in a merge goes one hop
// on (ForwardOr).
inline constexpr std::string_view kForwardedHeader = "X-Handoff-Forwarded";

// What ForwardOr does when the holder cannot answer: a read answers what this node has (maybe
// 404; a 404 here also asks the other nodes, for an id linked on one of them); a write must not
// act on a copy that is not the holder's, so it answers 503.
enum class HolderUnreachable { kAnswerHere, kUnavailable };

// Cluster mode (ApiContext::locator): when another node holds the lead of the path's {id}, sends
// the request there and relays its answer; else runs `here`, or, when that node cannot be
// reached, does what `unreachable` says. leads_handlers.cc.
void ForwardOr(ApiContext& api, const HttpRequest& request, const PathParams& params,
               ApiHandler* here, HttpRespond respond,
               HolderUnreachable unreachable = HolderUnreachable::kAnswerHere);

// Cluster mode (ApiContext::admin): stores the rule file `yaml` as every node's rules
// (api/admin_changes.h), then answers `ok`, or 503 when NATS could not store it (the rules are
// then in force on this node only). rules_handlers.cc.
void ShareRules(AdminSink* admin, std::string_view yaml, bool reevaluate, HttpResponse ok,
                HttpRespond respond);

// Reads each named time parameter into its slot (an absent or empty one leaves the slot as it is);
// on the first that is there but not a time, answers 400 naming it and returns false.
[[nodiscard]] bool ReadTimeParams(
    const QueryParams& query,
    std::initializer_list<std::pair<const char*, std::optional<EpochSeconds>*>> params,
    const HttpRespond& respond);

// funnel_handlers.cc
// GET /v1/funnel?since=&until=&team=: the funnel and feedback figures (SPEC 12).
void GetFunnel(ApiContext& api, const HttpRequest& request, const PathParams& params,
               HttpRespond respond);

// leads_handlers.cc
// GET /v1/leads/{id}?at=TIME: the lead with its scores read at TIME (default now); 404 unknown.
void GetLead(ApiContext& api, const HttpRequest& request, const PathParams& params,
             HttpRespond respond);
// GET /v1/leads?stage=&limit=&after=: a page of leads; "next" is the "after" of the next page.
void ListLeads(ApiContext& api, const HttpRequest& request, const PathParams& params,
               HttpRespond respond);
// GET /v1/leads/{id}/history?limit=&after=: the lead's applied events in apply order, a page at
// a time ("next": the `after` of the next page, the last event's seq).
void GetLeadHistory(ApiContext& api, const HttpRequest& request, const PathParams& params,
                    HttpRespond respond);
// DELETE /v1/leads/{id}: erasure of the lead, its history and every linked id (SPEC 8).
void DeleteLead(ApiContext& api, const HttpRequest& request, const PathParams& params,
                HttpRespond respond);

// rules_handlers.cc
// GET /v1/rules: version, sha256, loaded_at, path of the rules in force.
void GetRules(ApiContext& api, const HttpRequest& request, const PathParams& params,
              HttpRespond respond);
// POST /v1/rules/reload: 200 with the new version, or 422 with every error (old rules kept).
void ReloadRules(ApiContext& api, const HttpRequest& request, const PathParams& params,
                 HttpRespond respond);
// POST /v1/rules/validate: the body (YAML) judged as a reload would judge it; nothing loaded.
void ValidateRules(ApiContext& api, const HttpRequest& request, const PathParams& params,
                   HttpRespond respond);

// reps_handlers.cc: the router's admin state, reps and account owners (SPEC 7).
// GET /v1/reps: every rep with team, availability, load and routing state.
void ListReps(ApiContext& api, const HttpRequest& request, const PathParams& params,
              HttpRespond respond);
// PUT /v1/reps/{id}/availability {"online": bool}: answers after the commit; 404 unknown rep.
void SetRepAvailability(ApiContext& api, const HttpRequest& request, const PathParams& params,
                        HttpRespond respond);
// GET /v1/accounts/{domain}: the owner; 404 when it has none.
void GetAccountOwner(ApiContext& api, const HttpRequest& request, const PathParams& params,
                     HttpRespond respond);
// PUT /v1/accounts/{domain} {"owner": "rep"}: answers after the commit; 422 unknown rep.
void SetAccountOwner(ApiContext& api, const HttpRequest& request, const PathParams& params,
                     HttpRespond respond);

// actions_handlers.cc: sales answers over HTTP, for the web UI (the TCP subscriber lines' twin).
// POST /v1/actions?rep=R with {"accept":SEQ}, {"reject":SEQ,"reason":..} or
// {"close":SEQ,"outcome":..,"amount":..} (read by ParseSalesAction, routing/sales_action.h):
// 200 {"ok":SEQ} after the commit that holds its effects, or {"error":CODE,"message":..,"seq":SEQ}
// with 400 (bad_request, invalid_outcome, invalid_amount), 404 (unknown_seq), 409 (not_holder,
// already_accepted, already_closed), 503 (unavailable). With ?rep=R the action is taken as rep R
// (another rep's lead is not_holder); without it, for whichever rep holds the lead.
void PostAction(ApiContext& api, const HttpRequest& request, const PathParams& params,
                HttpRespond respond);

// stream_handlers.cc
// GET /v1/stream?from=&rep=&team=&kinds=: the outbox as Server-Sent Events (api/event_stream.h);
// 400 on a bad parameter or Last-Event-ID.
void GetStream(ApiContext& api, const HttpRequest& request, const PathParams& params,
               HttpRespond respond);

// ui_handlers.cc: the web UI's files, built into the binary (ui/ui_assets.h); no auth (they hold
// no data: every call the pages make needs the admin token).
// GET /ui/{file} (and /ui, /ui/: index.html): the file, or 404.
void GetUiFile(ApiContext& api, const HttpRequest& request, const PathParams& params,
               HttpRespond respond);
// GET /: 308 to /ui/.
void RedirectToUi(ApiContext& api, const HttpRequest& request, const PathParams& params,
                  HttpRespond respond);

// A response with a JSON body (application/json).
inline HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// The 200/422 body of a reload or validate: {"ok":..,"version":..,"errors":[{file,line,col,
// message}]}.
std::string RulesAnswerJson(bool ok, uint64_t version, const std::vector<LoadError>& errors);

}  // namespace handoff
