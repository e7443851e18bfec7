#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/admin_changes.h"
#include "api/handlers.h"
#include "base/timestamp.h"

namespace handoff {

std::string RulesAnswerJson(bool ok, uint64_t version, const std::vector<LoadError>& errors) {
  std::string out = "{\"ok\":";
  out += ok ? "true" : "false";
  out += ",\"version\":" + std::to_string(version);
  if (!ok) {
    out += ",\"errors\":[";
    for (size_t i = 0; i < errors.size(); ++i) {
      const LoadError& e = errors[i];
      if (i > 0) {
        out.push_back(',');
      }
      out += "{\"file\":";
      AppendJsonString(e.file, &out);
      out += ",\"line\":" + std::to_string(e.line) + ",\"col\":" + std::to_string(e.col);
      out += ",\"message\":";
      AppendJsonString(e.message, &out);
      out.push_back('}');
    }
    out.push_back(']');
  }
  out.push_back('}');
  return out;
}

void GetRules(ApiContext& api, const HttpRequest&, const PathParams&, HttpRespond respond) {
  RulesInfo info = api.engine->rules_info();
  std::string body = "{\"version\":" + std::to_string(info.version) + ",\"sha256\":";
  AppendJsonString(info.sha256, &body);
  body += ",\"loaded_at\":\"";
  AppendRfc3339Millis(info.loaded_at, &body);
  body += "\",\"path\":";
  AppendJsonString(info.path, &body);
  if (!info.routing_stage.empty()) {
    // For the web UI's SLA countdown: accept_within in seconds (0: no SLA timer).
    body += ",\"routing\":{\"stage\":";
    AppendJsonString(info.routing_stage, &body);
    body += "},\"sla\":{\"accept_within\":";
    AppendJsonNumber(info.accept_within, &body);
    body += ",\"max_reassign\":" + std::to_string(info.max_reassign) + "}";
  }
  body += "}";
  respond(JsonResponse(200, std::move(body)));
}

void ShareRules(AdminSink* admin, std::string_view yaml, bool reevaluate, HttpResponse ok,
                HttpRespond respond) {
  admin->Put(
      std::string(kRulesKey), RulesValue(yaml, reevaluate),
      [ok = std::move(ok), respond = std::move(respond)](const Status& st) mutable {
        if (!st.ok()) {
          respond(JsonErrorResponse(503, "unavailable",
                                    "the rules are loaded on this node only: " + st.ToString()));
          return;
        }
        respond(std::move(ok));
      });
}

void ReloadRules(ApiContext& api, const HttpRequest&, const PathParams&, HttpRespond respond) {
  Engine* engine = api.engine;
  api.engine->RequestReload([admin = api.admin, engine,
                             respond = std::move(respond)](const ReloadOutcome& outcome) mutable {
    HttpResponse answer = JsonResponse(
        outcome.ok ? 200 : 422, RulesAnswerJson(outcome.ok, outcome.version, outcome.errors));
    const std::string path = engine->rules_info().path;
    std::error_code ec;
    if (!outcome.ok || admin == nullptr || !std::filesystem::is_regular_file(path, ec)) {
      // The single daemon; or a rules directory, which each node reloads from its own copy.
      respond(std::move(answer));
      return;
    }
    // Cluster mode: the file this node just loaded becomes every node's rules.
    std::ifstream in(path, std::ios::binary);
    std::ostringstream yaml;
    yaml << in.rdbuf();
    ShareRules(admin, yaml.str(), /*reevaluate=*/false, std::move(answer), std::move(respond));
  });
}

void ValidateRules(ApiContext& api, const HttpRequest& request, const PathParams&,
                   HttpRespond respond) {
  Engine* engine = api.engine;
  engine->ValidateRules(
      request.body, [engine, respond = std::move(respond)](const LoadResult& result) {
        respond(JsonResponse(
            result.ok() ? 200 : 422,
            RulesAnswerJson(result.ok(), engine->rules_info().version, result.errors)));
      });
}

}  // namespace handoff
