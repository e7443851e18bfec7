// HttpApi: what the HTTP port answers (SPEC 4 and 6): health, metrics, leads, rules, and the
// Segment-compatible ingest endpoints. It is the HttpServer's handler.
//
// Requests are parsed on the network thread; anything that reads or changes engine state runs on
// the engine thread (Engine::RunOnEngine / Submit) and answers from there. Ingest answers 200 only
// after the commit that holds the events. Not thread-safe: the HttpServer must run on one thread
// (it owns one EventParser).
#pragma once

#include <string>
#include <vector>

#include "core/engine.h"
#include "ingest/event_parser.h"
#include "net/http_server.h"
#include "base/metrics.h"
#include "handoff/clock.h"

namespace handoff {

struct HttpApiOptions {
  std::string admin_token;  // empty: admin calls are open
  // Segment write keys. Empty: ingest is open to loopback peers only (others get 403).
  std::vector<std::string> write_keys;
  // Largest body of a single-event endpoint, after gzip inflation: 32 KiB, Segment's per-event
  // limit (its libraries count KB as 1024 bytes). /v1/batch has the transport's body limit.
  size_t max_event_bytes = 32 * 1024;
};

class HttpApi {
 public:
  // Everything borrowed.
  HttpApi(HttpApiOptions options, Engine* engine, Metrics* metrics, const Clock* clock);

  void Handle(HttpRequest&& request, HttpRespond respond);

 private:
  // The Segment ingest endpoints (SPEC 4): method, CORS preflight, write key, then Ingest.
  void HandleIngest(const HttpRequest& request, const std::string& endpoint, HttpRespond respond);
  void Ingest(const HttpRequest& request, const std::string& endpoint, HttpRespond respond);
  void GetLead(const std::string& id, const HttpRequest& request, HttpRespond respond);
  void ListLeads(const HttpRequest& request, HttpRespond respond);
  bool AdminAuthorized(const HttpRequest& request) const;
  // 0 when the request may ingest, else the HTTP status to answer (401 or 403). Parses the body
  // (for a "writeKey" field) only when keys are configured and no Authorization header came.
  int WriteKeyCheck(const HttpRequest& request);

  const HttpApiOptions options_;
  Engine* const engine_;
  Metrics* const metrics_;
  const Clock* const clock_;
  EventParser parser_;
  JsonParser json_;
};

// The 200/422 body of a reload or validate: {"ok":..,"version":..,"errors":[{file,line,col,
// message}]}.
std::string RulesAnswerJson(bool ok, uint64_t version, const std::vector<LoadError>& errors);

}  // namespace handoff
