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
  for (auto [name, bound] :
       {std::pair<const char*, std::optional<EpochSeconds>*>{"since", &window.since},
        {"until", &window.until}}) {
    EpochSeconds t = 0;
    bool present = false;
    if (!ReadTimeParam(*query, name, &t, &present)) {
      respond(JsonErrorResponse(
          400, "bad_request",
          std::string("\"") + name + "\" must be an RFC 3339 date-time or epoch seconds"));
      return;
    }
    if (present) {
      *bound = t;
    }
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
