#include <optional>
#include <string>
#include <utility>

#include "api/handlers.h"

namespace handoff {

void GetFunnel(ApiContext& api, const HttpRequest& request, const PathParams&,
               HttpRespond respond) {
  auto query = QueryParams::Parse(request.query);
  if (!query.ok()) {
    respond(JsonErrorResponse(400, "bad_request", query.status().message()));
    return;
  }
  FunnelWindow window;
  if (!ReadTimeParams(*query, {{"since", &window.since}, {"until", &window.until}}, respond)) {
    return;
  }
  if (auto team = query->Get("team"); team.has_value()) {
    window.team = std::string(*team);
  }
  Engine* engine = api.engine;
  engine->RunOnEngine([engine, window = std::move(window), respond = std::move(respond)] {
    std::string body;
    if (Status st = engine->FunnelJson(window, &body); !st.ok()) {
      respond(JsonErrorResponse(500, "internal", st.ToString()));
      return;
    }
    respond(JsonResponse(200, std::move(body)));
  });
}

}  // namespace handoff
