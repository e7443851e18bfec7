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

void GetHealth(ApiContext&, const HttpRequest&, const PathParams&, HttpRespond respond) {
  respond(Text("ok", "text/plain"));
}

void GetMetrics(ApiContext& api, const HttpRequest&, const PathParams&, HttpRespond respond) {
  respond(Text(api.metrics->RenderPrometheus(), "text/plain; version=0.0.4"));
}

}  // namespace handoff
