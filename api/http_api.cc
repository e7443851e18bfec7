#include "api/http_api.h"

#include <algorithm>
#include <charconv>

#include "net/http_util.h"
#include "api/lead_json.h"
#include "base/timestamp.h"
#include "rules/rule_loader.h"

namespace handoff {
namespace {

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse Text(int status, std::string body, std::string content_type = "text/plain") {
  HttpResponse r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

std::string RepsJson(Router& router) {
  std::string out = "{\"reps\":[";
  bool first = true;
  for (const RepView& r : router.Reps()) {
    if (!first) {
      out.push_back(',');
    }
    first = false;
    out += "{\"id\":";
    AppendJsonString(r.id, &out);
    out += ",\"team\":";
    AppendJsonString(r.team, &out);
    out += r.online ? ",\"online\":true" : ",\"online\":false";
    out += ",\"open\":" + std::to_string(r.open);
    out += ",\"today\":" + std::to_string(r.today);
    out += ",\"state\":";
    AppendJsonString(r.eligible ? "eligible" : r.why_not, &out);
    out += r.in_hours ? ",\"in_hours\":true" : ",\"in_hours\":false";
    out += ",\"weight\":" + std::to_string(r.weight);
    out += ",\"current_weight\":" + std::to_string(r.current_weight);
    out += ",\"queued\":" + std::to_string(r.queued_in_team);
    out += r.configured ? "}" : ",\"removed\":true}";
  }
  out += "]}";
  return out;
}

}  // namespace

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

HttpApi::HttpApi(HttpApiOptions options, Engine* engine, Metrics* metrics, const Clock* clock)
    : options_(std::move(options)),
      engine_(engine),
      metrics_(metrics),
      clock_(clock),
      segment_(SegmentHttpOptions{.write_keys = options_.write_keys,
                                  .max_event_bytes = options_.max_event_bytes},
               engine, metrics, clock) {}

bool HttpApi::AdminAuthorized(const HttpRequest& request) const {
  if (options_.admin_token.empty()) {
    return true;
  }
  auto token = ParseBearerToken(request.Header("Authorization"));
  return token.has_value() && ConstantTimeEquals(*token, options_.admin_token);
}

void HttpApi::Handle(HttpRequest&& request, HttpRespond respond) {
  auto segments = SplitPath(request.path);
  if (!segments.ok()) {
    respond(JsonErrorResponse(400, "bad_request", segments.status().message()));
    return;
  }
  const std::vector<std::string>& seg = *segments;
  const std::string& method = request.method;
  auto method_not_allowed = [&](const char* allowed) {
    HttpResponse r = JsonErrorResponse(405, "method_not_allowed",
                                       std::string("use ") + allowed + " here");
    r.headers.emplace_back("Allow", allowed);
    respond(std::move(r));
  };

  if (seg.size() == 1 && seg[0] == "healthz") {
    respond(Text(200, "ok"));
    return;
  }
  if (seg.size() == 1 && seg[0] == "metrics") {
    respond(Text(200, metrics_->RenderPrometheus(), "text/plain; version=0.0.4"));
    return;
  }
  if (seg.size() < 2 || seg[0] != "v1") {
    respond(JsonErrorResponse(404, "not_found", "no such endpoint: " + request.path));
    return;
  }
  // Segment ingest: write keys, not the admin token.
  if (seg.size() == 2) {
    for (const SegmentEndpoint& endpoint : SegmentEndpoints()) {
      if (seg[1] != endpoint.name) {
        continue;
      }
      if (method == "OPTIONS") {
        respond(SegmentHttp::Preflight());
      } else if (method != "POST") {
        respond(SegmentHttp::MethodNotAllowed());
      } else if (auto refusal = segment_.CheckWriteKey(request); refusal.has_value()) {
        respond(std::move(*refusal));
      } else {
        segment_.Ingest(request, endpoint, std::move(respond));
      }
      return;
    }
  }
  if (!AdminAuthorized(request)) {
    HttpResponse r = JsonErrorResponse(401, "unauthorized", "Authorization: Bearer TOKEN required");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    respond(std::move(r));
    return;
  }
  if (seg[1] == "leads" && seg.size() == 3) {
    if (method != "GET") {
      method_not_allowed("GET");
      return;
    }
    GetLead(seg[2], request, std::move(respond));
    return;
  }
  if (seg[1] == "leads" && seg.size() == 2) {
    if (method != "GET") {
      method_not_allowed("GET");
      return;
    }
    ListLeads(request, std::move(respond));
    return;
  }
  if (seg[1] == "rules" && seg.size() == 2) {
    if (method != "GET") {
      method_not_allowed("GET");
      return;
    }
    RulesInfo info = engine_->rules_info();
    std::string body = "{\"version\":" + std::to_string(info.version) + ",\"sha256\":";
    AppendJsonString(info.sha256, &body);
    body += ",\"loaded_at\":\"";
    AppendRfc3339Millis(info.loaded_at, &body);
    body += "\",\"path\":";
    AppendJsonString(info.path, &body);
    body += "}";
    respond(Json(200, std::move(body)));
    return;
  }
  if (seg[1] == "rules" && seg.size() == 3 && seg[2] == "reload") {
    if (method != "POST") {
      method_not_allowed("POST");
      return;
    }
    engine_->RequestReload([respond](const ReloadOutcome& outcome) {
      respond(Json(outcome.ok ? 200 : 422,
                   RulesAnswerJson(outcome.ok, outcome.version, outcome.errors)));
    });
    return;
  }
  if (seg[1] == "rules" && seg.size() == 3 && seg[2] == "validate") {
    if (method != "POST") {
      method_not_allowed("POST");
      return;
    }
    LoadResult result = LoadRulesFromString(request.body, "request");
    respond(Json(result.ok() ? 200 : 422,
                 RulesAnswerJson(result.ok(), engine_->rules_info().version, result.errors)));
    return;
  }
  if (seg[1] == "reps" && seg.size() == 2) {
    if (method != "GET") {
      method_not_allowed("GET");
      return;
    }
    engine_->RunOnEngine([this, respond] { respond(Json(200, RepsJson(engine_->router()))); });
    return;
  }
  if (seg[1] == "reps" && seg.size() == 4 && seg[3] == "availability") {
    if (method != "PUT" && method != "POST") {
      method_not_allowed("PUT");
      return;
    }
    Value body;
    const Value* online = nullptr;
    if (json_.Parse(request.body, &body).ok()) {
      online = body.Find("online");
    }
    if (online == nullptr || !online->is_bool()) {
      respond(JsonErrorResponse(400, "bad_request", "expected {\"online\": true|false}"));
      return;
    }
    engine_->RunOnEngine([this, rep = seg[2], on = online->as_bool(), respond] {
      Status st = engine_->router().SetOnline(rep, on);
      if (!st.ok()) {
        respond(JsonErrorResponse(404, "not_found", st.message()));
        return;
      }
      std::string out = "{\"id\":";
      AppendJsonString(rep, &out);
      out += on ? ",\"online\":true}" : ",\"online\":false}";
      engine_->AfterCommit([respond, out = std::move(out)] { respond(Json(200, out)); });
    });
    return;
  }
  if (seg[1] == "accounts" && seg.size() == 3) {
    std::string domain = seg[2];
    auto answer = [domain](const std::string& owner) {
      std::string out = "{\"domain\":";
      AppendJsonString(domain, &out);
      out += ",\"owner\":";
      AppendJsonString(owner, &out);
      out += "}";
      return out;
    };
    if (method == "GET") {
      engine_->RunOnEngine([this, domain, answer, respond] {
        std::string owner = engine_->router().AccountOwner(domain);
        if (owner.empty()) {
          respond(JsonErrorResponse(404, "not_found", "no owner for " + domain));
          return;
        }
        respond(Json(200, answer(owner)));
      });
      return;
    }
    if (method != "PUT") {
      method_not_allowed("GET, PUT");
      return;
    }
    Value body;
    const Value* owner = nullptr;
    if (json_.Parse(request.body, &body).ok()) {
      owner = body.Find("owner");
    }
    if (owner == nullptr || !owner->is_string() || owner->as_string().empty()) {
      respond(JsonErrorResponse(400, "bad_request", "expected {\"owner\": \"REP\"}"));
      return;
    }
    engine_->RunOnEngine([this, domain, rep = owner->as_string(), answer, respond] {
      Status st = engine_->router().SetAccountOwner(domain, rep);
      if (!st.ok()) {
        respond(JsonErrorResponse(422, "unknown_rep", st.message()));
        return;
      }
      engine_->AfterCommit([respond, body = answer(engine_->router().AccountOwner(domain))] {
        respond(Json(200, body));
      });
    });
    return;
  }
  respond(JsonErrorResponse(404, "not_found", "no such endpoint: " + request.path));
}

void HttpApi::GetLead(const std::string& id, const HttpRequest& request, HttpRespond respond) {
  auto params = QueryParams::Parse(request.query);
  if (!params.ok()) {
    respond(JsonErrorResponse(400, "bad_request", params.status().message()));
    return;
  }
  EpochSeconds at = clock_->Now();
  if (auto at_text = params->Get("at"); at_text.has_value()) {
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
  engine_->RunOnEngine([this, id, at, respond] {
    Lead* lead = engine_->FindLead(id);
    if (lead == nullptr) {
      respond(JsonErrorResponse(404, "not_found", "no lead \"" + id + "\""));
      return;
    }
    std::string body;
    AppendLeadJson(engine_->scorer(), lead, at, &body);
    respond(Json(200, std::move(body)));
  });
}

void HttpApi::ListLeads(const HttpRequest& request, HttpRespond respond) {
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
  engine_->RunOnEngine([this, stage, after, limit, respond] {
    const EpochSeconds now = clock_->Now();
    std::string body = "{\"leads\":[";
    size_t count = 0;
    std::string last;
    bool more = false;
    Status st = engine_->store()->ScanLeads(after, [&](std::string_view id, std::string_view) {
      Lead* lead = engine_->FindLead(id);
      if (lead == nullptr || (!stage.empty() && lead->stage != stage)) {
        return true;
      }
      if (count == limit) {
        more = true;
        return false;
      }
      if (count > 0) {
        body.push_back(',');
      }
      AppendLeadJson(engine_->scorer(), lead, now, &body);
      last = lead->id;
      ++count;
      return true;
    });
    if (!st.ok()) {
      respond(JsonErrorResponse(500, "internal", st.ToString()));
      return;
    }
    body += "],\"next\":";
    if (more) {
      AppendJsonString(last, &body);
    } else {
      body += "null";
    }
    body += "}";
    respond(Json(200, std::move(body)));
  });
}

}  // namespace handoff
