#include "api/handlers.h"
#include "net/http_util.h"
#include "routing/sales_action.h"

namespace handoff {
namespace {

// The HTTP status of a sales desk's refusal (routing/sales_action.h lists the codes).
int ActionErrorStatus(std::string_view code) {
  if (code == "bad_request" || code == "invalid_outcome" || code == "invalid_amount") {
    return 400;
  }
  if (code == "unknown_seq") {
    return 404;
  }
  if (code == "not_holder" || code == "already_accepted" || code == "already_closed") {
    return 409;
  }
  if (code == "unavailable") {
    return 503;
  }
  return 422;
}

std::string ActionErrorJson(std::string_view code, std::string_view message, uint64_t seq) {
  std::string out = "{\"error\":";
  AppendJsonString(code, &out);
  out += ",\"message\":";
  AppendJsonString(message, &out);
  if (seq != 0) {
    out += ",\"seq\":" + std::to_string(seq);
  }
  out += "}";
  return out;
}

}  // namespace

void PostAction(ApiContext& api, const HttpRequest& request, const PathParams&,
                HttpRespond respond) {
  Result<QueryParams> query = QueryParams::Parse(request.query);
  if (!query.ok()) {
    respond(JsonErrorResponse(400, "bad_request", query.status().message()));
    return;
  }
  Value body;
  if (Status st = api.json->Parse(request.body, &body); !st.ok()) {
    respond(JsonResponse(400, ActionErrorJson("bad_request", "not JSON: " + st.message(), 0)));
    return;
  }
  SalesAction action;
  SalesActionError error;
  if (!ParseSalesAction(body, &action, &error)) {
    respond(JsonResponse(ActionErrorStatus(error.code),
                         ActionErrorJson(error.code, error.message, error.seq)));
    return;
  }
  if (std::optional<std::string_view> rep = query.value().Get("rep")) {
    action.as_rep = std::string(*rep);  // acting for this rep: another's lead is not_holder
  }
  const uint64_t seq = action.seq;
  api.engine->SubmitSalesAction(
      std::move(action), [seq, respond = std::move(respond)](const SalesActionResult& result) {
        if (result.ok) {
          respond(JsonResponse(200, "{\"ok\":" + std::to_string(seq) + "}"));
          return;
        }
        respond(JsonResponse(ActionErrorStatus(result.error),
                             ActionErrorJson(result.error, result.message, seq)));
      });
}

}  // namespace handoff
