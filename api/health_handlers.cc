#include <string>
#include <utility>

#include "api/handlers.h"

namespace handoff {
namespace {

HttpResponse Text(std::string body, std::string content_type) {
  HttpResponse r;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

}  // namespace

// 200 "ok"; 503 with the reason while the store refuses writes (the daemon is up, answers reads
// from memory and metrics, and acknowledges nothing until the disk takes writes again).
void GetHealth(ApiContext& api, const HttpRequest&, const PathParams&, HttpRespond respond) {
  const std::string store_error = api.metrics->StoreError();
  if (store_error.empty()) {
    respond(Text("ok", "text/plain"));
    return;
  }
  HttpResponse r = Text("unhealthy: store writes failing: " + store_error, "text/plain");
  r.status = 503;
  respond(std::move(r));
}

void GetMetrics(ApiContext& api, const HttpRequest&, const PathParams&, HttpRespond respond) {
  auto answer = [metrics = api.metrics, respond = std::move(respond)] {
    respond(Text(metrics->RenderPrometheus(), "text/plain; version=0.0.4"));
  };
  if (!api.engine->FunnelMetricsCurrent() && api.metrics->StoreError().empty()) {
    // SPEC 12: the same figures as GET /v1/funnel, which reads the engine: render them there
    // first (under ingest of new leads, whose count per stage moves, most scrapes do: one
    // engine task). Otherwise the scrape does not wait for the engine; nor while the store
    // refuses writes, when the engine waits on it (the figures then may lag).
    api.engine->RunOnEngine([engine = api.engine, answer = std::move(answer)] {
      engine->RefreshFunnelMetrics();
      answer();
    });
    return;
  }
  answer();
}

}  // namespace handoff
