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
#include "ingest/segment_http.h"
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
  void GetLead(const std::string& id, const HttpRequest& request, HttpRespond respond);
  void ListLeads(const HttpRequest& request, HttpRespond respond);
  bool AdminAuthorized(const HttpRequest& request) const;

  const HttpApiOptions options_;
  Engine* const engine_;
  Metrics* const metrics_;
  const Clock* const clock_;
  SegmentHttp segment_;
  JsonParser json_;
};

// The 200/422 body of a reload or validate: {"ok":..,"version":..,"errors":[{file,line,col,
// message}]}.
std::string RulesAnswerJson(bool ok, uint64_t version, const std::vector<LoadError>& errors);

}  // namespace handoff
