#include "api/handlers.h"

namespace handoff {

void GetStream(ApiContext& api, const HttpRequest& request, const PathParams&,
               HttpRespond respond) {
  Result<EventStreamRequest> parsed =
      ParseEventStreamRequest(request.query, request.Header("Last-Event-ID"));
  if (!parsed.ok()) {
    respond(JsonErrorResponse(400, "bad_request", parsed.status().message()));
    return;
  }
  HttpResponse response;
  response.content_type = "text/event-stream";
  response.stream = api.streams->Open(parsed.value());
  response.stream_heartbeat = api.streams->options().heartbeat;
  // Tells a reverse proxy (nginx) not to hold the events back in its buffer.
  response.headers.emplace_back("X-Accel-Buffering", "no");
  respond(std::move(response));
}

}  // namespace handoff
