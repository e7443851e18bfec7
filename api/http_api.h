// HttpApi: what the HTTP port answers (SPEC 4 and 6): health, metrics, leads, rules, reps and
// accounts, sales actions and the outbox as Server-Sent Events (for the web UI), the web UI's
// files (/ui/), and the Segment-compatible ingest endpoints. It is the HttpServer's handler.
//
// Every endpoint is a row of one route table (api/routes.h), listed in http_api.cc: the admin API's
// handlers are in api/handlers.h, Segment ingest is ingest/segment_http.h, which hands events to
// the engine as an IngestSink and answers 200 only after the commit that holds them.
//
// Requests are parsed on the network thread; anything that reads or changes engine state runs on
// the engine thread (Engine::RunOnEngine / Submit) and answers from there. Not thread-safe: the
// HttpServer must run on one thread (the handlers share one EventParser and one JsonParser).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api/event_stream.h"
#include "api/handlers.h"
#include "api/routes.h"
#include "base/json_parser.h"
#include "base/metrics.h"
#include "core/engine.h"
#include "handoff/clock.h"
#include "ingest/segment_http.h"
#include "net/http_server.h"

namespace handoff {

struct HttpApiOptions {
  std::string admin_token;  // empty: admin calls are open
  // Segment write keys. Empty: ingest is open to loopback peers only (others get 403).
  std::vector<std::string> write_keys;
  // Largest body of a single-event endpoint, after gzip inflation: 32 KiB, Segment's per-event
  // limit (its libraries count KB as 1024 bytes). /v1/batch has the transport's body limit.
  size_t max_event_bytes = 32 * 1024;
  // GET /v1/stream: a heartbeat comment after this much silence. Default: 10 s.
  std::chrono::milliseconds heartbeat{10000};
  // POST /v1/rules/backtest: leads replayed in memory at once (Options::backtest_max_leads).
  uint64_t backtest_max_leads = 1'000'000;
  // Where Segment ingest hands its events: the engine when null (the single daemon); in cluster
  // mode the event log's publisher (docs/cluster.md). Borrowed.
  IngestSink* ingest_sink = nullptr;
};

class HttpApi {
 public:
  // Everything borrowed.
  HttpApi(const HttpApiOptions& options, Engine* engine, Metrics* metrics, const Clock* clock);
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  void Handle(HttpRequest&& request, HttpRespond respond);

  // Cluster mode: admin changes go to `admin` (borrowed), so they hold on every node. Call
  // before the HTTP server starts.
  void set_admin_sink(AdminSink* admin) { context_.admin = admin; }
  // Cluster mode: reads of one lead that `locator` (borrowed) places on another node are answered
  // by that node, asked over HTTP from `io` (the HTTP server's). Call before the server starts.
  void EnableForwarding(boost::asio::io_context& io, const LeadLocator* locator) {
    forwarder_ = std::make_unique<HttpForwarder>(io);
    context_.forwarder = forwarder_.get();
    context_.locator = locator;
  }

  // Records through `head` are committed: wakes GET /v1/stream clients waiting for them. Any
  // thread; for the outbox listener (Outbox::SetListener), beside the subscriber server's.
  void NotifyOutboxHead(uint64_t head) { streams_.NotifyOutboxHead(head); }

 private:
  // The route table: every endpoint of the HTTP port.
  std::vector<Route> Routes();

  JsonParser json_;
  EventStreams streams_;
  BacktestJobs backtests_;
  std::unique_ptr<HttpForwarder> forwarder_;  // cluster mode
  ApiContext context_;
  SegmentHttp segment_;
  RouteTable routes_;
};

}  // namespace handoff
