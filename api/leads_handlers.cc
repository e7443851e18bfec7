#include <algorithm>
#include <charconv>

#include "api/handlers.h"
#include "api/lead_json.h"
#include "base/timestamp.h"
#include "net/http_util.h"

namespace handoff {

void GetLead(ApiContext& api, const HttpRequest& request, const PathParams& params,
             HttpRespond respond) {
  auto query = QueryParams::Parse(request.query);
  if (!query.ok()) {
    respond(JsonErrorResponse(400, "bad_request", query.status().message()));
    return;
  }
  EpochSeconds at = api.clock->Now();
  if (auto at_text = query->Get("at"); at_text.has_value()) {
    // Query decoding turns an unencoded '+' into a space; an RFC 3339 time has no spaces, so a
    // space here was the '+' of an offset (`?at=2026-11-22T10:00:00+01:00`).
    std::string text(*at_text);
    std::replace(text.begin(), text.end(), ' ', '+');
    if (!ParseTimeParam(text, &at)) {
      respond(JsonErrorResponse(400, "bad_request",
                                "\"at\" must be an RFC 3339 date-time or epoch seconds"));
      return;
    }
  }
  Engine* engine = api.engine;
  engine->RunOnEngine([engine, id = params.Get("id"), at, respond = std::move(respond)] {
    Lead* lead = engine->FindLead(id);
    if (lead == nullptr) {
      respond(JsonErrorResponse(404, "not_found", "no lead \"" + id + "\""));
      return;
    }
    std::string body;
    AppendLeadJson(engine->scorer(), lead, at, &body);
    respond(JsonResponse(200, std::move(body)));
  });
}

void ListLeads(ApiContext& api, const HttpRequest& request, const PathParams&,
               HttpRespond respond) {
  auto params = QueryParams::Parse(request.query);
  if (!params.ok()) {
    respond(JsonErrorResponse(400, "bad_request", params.status().message()));
    return;
  }
  std::string stage(params->Get("stage").value_or(""));
  std::string after(params->Get("after").value_or(""));
  size_t limit = 100;
  if (auto text = params->Get("limit"); text.has_value()) {
    auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
    if (ec != std::errc() || ptr != text->data() + text->size() || limit < 1 || limit > 1000) {
      respond(JsonErrorResponse(400, "bad_request", "\"limit\" must be from 1 to 1000"));
      return;
    }
  }
  Engine* engine = api.engine;
  const Clock* clock = api.clock;
  engine->RunOnEngine([engine, clock, stage, after, limit, respond = std::move(respond)] {
    const EpochSeconds now = clock->Now();
    std::string body = "{\"leads\":[";
    size_t count = 0;
    std::string last;
    bool more = false;
    engine->ForEachLead(stage, after, [&](Lead* lead) {
      if (count == limit) {
        more = true;
        return false;
      }
      if (count > 0) {
        body.push_back(',');
      }
      AppendLeadJson(engine->scorer(), lead, now, &body);
      last = lead->id;
      ++count;
      return true;
    });
    body += "],\"next\":";
    if (more) {
      AppendJsonString(last, &body);
    } else {
      body += "null";
    }
    body += "}";
    respond(JsonResponse(200, std::move(body)));
  });
}

}  // namespace handoff
