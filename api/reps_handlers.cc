#include "api/admin_changes.h"
#include "api/handlers.h"
#include "base/ascii.h"

namespace handoff {
namespace {

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

std::string AccountOwnerJson(const std::string& domain, const std::string& owner) {
  std::string out = "{\"domain\":";
  AppendJsonString(domain, &out);
  out += ",\"owner\":";
  AppendJsonString(owner, &out);
  out += "}";
  return out;
}

// The field `name` of a JSON object body; nullptr when the body is not JSON or has no such field.
// Points into *holder.
const Value* BodyField(ApiContext& api, const HttpRequest& request, std::string_view name,
                       Value* holder) {
  if (!api.json->Parse(request.body, holder).ok()) {
    return nullptr;
  }
  return holder->Find(name);
}

// Cluster mode: stores the change for every node once `valid` (run on the engine thread: the
// rules in force here are every node's) says it may go, and answers `ok_body()` once this node
// has applied it; an invalid one gets valid's answer, a change NATS cannot store 503. With the
// cluster's one router the change is `routed`, an input of the routing log, so every node's
// router takes it at the same place (docs/cluster.md, "The router and the outbox").
void PutForEveryNode(ApiContext& api, std::string key, std::string value, RoutingInput routed,
                     std::function<std::optional<HttpResponse>(Engine*)> valid,
                     std::function<std::string(Engine*)> ok_body, HttpRespond respond) {
  Engine* engine = api.engine;
  AdminSink* admin = api.admin;
  engine->RunOnEngine([engine, admin, key = std::move(key), value = std::move(value),
                       routed = std::move(routed), valid = std::move(valid),
                       ok_body = std::move(ok_body), respond = std::move(respond)]() mutable {
    if (std::optional<HttpResponse> refused = valid(engine); refused.has_value()) {
      respond(std::move(*refused));
      return;
    }
    if (engine->global_router()) {
      engine->SubmitRoutingChange(std::move(routed), [engine, ok_body, respond](const Status& st) {
        if (!st.ok()) {
          respond(JsonErrorResponse(503, "unavailable", st.ToString()));
          return;
        }
        respond(JsonResponse(200, ok_body(engine)));
      });
      return;
    }
    admin->Put(std::move(key), std::move(value),
               [engine, ok_body = std::move(ok_body), respond](const Status& st) {
                 if (!st.ok()) {
                   respond(JsonErrorResponse(503, "unavailable", st.ToString()));
                   return;
                 }
                 // Read back on the engine thread, as the single daemon answers.
                 engine->RunOnEngine(
                     [engine, ok_body, respond] { respond(JsonResponse(200, ok_body(engine))); });
               });
  });
}

std::string AvailabilityJson(const std::string& rep, bool online) {
  std::string out = "{\"id\":";
  AppendJsonString(rep, &out);
  out += online ? ",\"online\":true}" : ",\"online\":false}";
  return out;
}

}  // namespace

void ListReps(ApiContext& api, const HttpRequest&, const PathParams&, HttpRespond respond) {
  Engine* engine = api.engine;
  engine->RunOnEngine([engine, respond = std::move(respond)] {
    respond(JsonResponse(200, RepsJson(engine->router())));
  });
}

void SetRepAvailability(ApiContext& api, const HttpRequest& request, const PathParams& params,
                        HttpRespond respond) {
  Value body;
  const Value* online = BodyField(api, request, "online", &body);
  if (online == nullptr || !online->is_bool()) {
    respond(JsonErrorResponse(400, "bad_request", "expected {\"online\": true|false}"));
    return;
  }
  const std::string& rep = params.Get("id");
  const bool on = online->as_bool();
  if (api.admin != nullptr) {
    RoutingInput routed;
    routed.kind = RoutingInputKind::kRepAvailability;
    routed.rep = rep;
    routed.online = on;
    PutForEveryNode(
        api, RepAvailabilityKey(rep), RepAvailabilityValue(on), std::move(routed),
        [rep](Engine* engine) -> std::optional<HttpResponse> {
          if (Status st = engine->router().CheckRep(rep); !st.ok()) {
            return JsonErrorResponse(404, "not_found", st.message());
          }
          return std::nullopt;
        },
        [rep, on](Engine*) { return AvailabilityJson(rep, on); }, std::move(respond));
    return;
  }
  Engine* engine = api.engine;
  engine->RunOnEngine([engine, rep, on, respond = std::move(respond)] {
    Status st = engine->router().SetOnline(rep, on);
    if (!st.ok()) {
      respond(JsonErrorResponse(404, "not_found", st.message()));
      return;
    }
    engine->AfterCommit(
        [respond, out = AvailabilityJson(rep, on)] { respond(JsonResponse(200, out)); });
  });
}

void GetAccountOwner(ApiContext& api, const HttpRequest&, const PathParams& params,
                     HttpRespond respond) {
  Engine* engine = api.engine;
  // Domains compare case-insensitively (the router keeps them lowercased): answered as kept.
  engine->RunOnEngine(
      [engine, domain = AsciiLowerCopy(params.Get("domain")), respond = std::move(respond)] {
        std::string owner = engine->router().AccountOwner(domain);
        if (owner.empty()) {
          respond(JsonErrorResponse(404, "not_found", "no owner for " + domain));
          return;
        }
        respond(JsonResponse(200, AccountOwnerJson(domain, owner)));
      });
}

void SetAccountOwner(ApiContext& api, const HttpRequest& request, const PathParams& params,
                     HttpRespond respond) {
  Value body;
  const Value* owner = BodyField(api, request, "owner", &body);
  if (owner == nullptr || !owner->is_string() || owner->as_string().empty()) {
    respond(JsonErrorResponse(400, "bad_request", "expected {\"owner\": \"REP\"}"));
    return;
  }
  // Domains compare case-insensitively: kept, answered and (cluster mode) shared lowercased, so
  // Acme.COM and acme.com are one key.
  const std::string domain = AsciiLowerCopy(params.Get("domain"));
  // SPEC 7: free-mail domains never count. Storing an owner no lead would ever reach would
  // only mislead the admin.
  if (Router::IsFreeMailDomain(domain)) {
    respond(JsonErrorResponse(
        422, "free_mail_domain",
        domain + " is a free-mail domain: its leads never go to an account owner"));
    return;
  }
  if (api.admin != nullptr) {
    const std::string rep = owner->as_string();
    RoutingInput routed;
    routed.kind = RoutingInputKind::kAccountOwner;
    routed.domain = domain;
    routed.rep = rep;
    PutForEveryNode(
        api, AccountOwnerKey(domain), rep, std::move(routed),
        [rep](Engine* engine) -> std::optional<HttpResponse> {
          if (Status st = engine->router().CheckRep(rep); !st.ok()) {
            return JsonErrorResponse(422, "unknown_rep", st.message());
          }
          return std::nullopt;
        },
        [domain](Engine* engine) {
          return AccountOwnerJson(domain, engine->router().AccountOwner(domain));
        },
        std::move(respond));
    return;
  }
  Engine* engine = api.engine;
  engine->RunOnEngine([engine, domain, rep = owner->as_string(), respond = std::move(respond)] {
    Status st = engine->router().SetAccountOwner(domain, rep);
    if (!st.ok()) {
      respond(JsonErrorResponse(422, "unknown_rep", st.message()));
      return;
    }
    engine->AfterCommit(
        [respond, body = AccountOwnerJson(domain, engine->router().AccountOwner(domain))] {
          respond(JsonResponse(200, body));
        });
  });
}

}  // namespace handoff
