#include <algorithm>
#include <boost/asio/post.hpp>
#include <charconv>
#include <memory>
#include <mutex>

#include "api/handlers.h"
#include "api/lead_json.h"
#include "api/node_gather.h"
#include "base/log.h"
#include "base/timestamp.h"
#include "net/http_util.h"

namespace handoff {

bool ReadTimeParam(const QueryParams& query, std::string_view name, EpochSeconds* out,
                   bool* present) {
  std::optional<std::string_view> value = query.Get(name);
  // Empty (`?since=`, as a form or a client with the value unset sends it) is absent: every
  // time parameter is optional (SPEC 6, 12, 13).
  if (value.has_value() && value->empty()) {
    value.reset();
  }
  if (present != nullptr) {
    *present = value.has_value();
  }
  if (!value.has_value()) {
    return true;
  }
  // Query decoding turns an unencoded '+' into a space; an RFC 3339 time has no spaces, so a
  // space here was the '+' of an offset (`?at=2026-11-22T10:00:00+01:00`).
  std::string text(*value);
  std::replace(text.begin(), text.end(), ' ', '+');
  return ParseTimeParam(text, out);
}

bool ReadTimeParams(
    const QueryParams& query,
    std::initializer_list<std::pair<const char*, std::optional<EpochSeconds>*>> params,
    const HttpRespond& respond) {
  for (const auto& [name, slot] : params) {
    EpochSeconds t = 0;
    bool present = false;
    if (!ReadTimeParam(query, name, &t, &present)) {
      respond(JsonErrorResponse(
          400, "bad_request",
          std::string("\"") + name + "\" must be an RFC 3339 date-time or epoch seconds"));
      return false;
    }
    if (present) {
      *slot = t;
    }
  }
  return true;
}

// Asks others[next], then the nodes after it, for the lead `request` reads, each answering from
// its own state; the first 200 is the answer, and `not_found` when none has it. On the io thread.
void AskOtherNodes(ApiContext& api, const HttpRequest& request,
                   const std::shared_ptr<const std::vector<std::string>>& others, size_t next,
                   HttpResponse not_found, HttpRespond respond) {
  if (next == others->size()) {
    respond(std::move(not_found));
    return;
  }
  ForwardRequest out = ForwardedCopy(request);
  out.headers.front().second = "2";  // the last hop: that node answers itself
  const std::string& address = (*others)[next];
  api.forwarder->Forward(address, std::move(out),
                         [api = &api, request, others, next, not_found = std::move(not_found),
                          respond = std::move(respond)](Result<HttpResponse> answer) mutable {
                           if (answer.ok() && answer->status == 200) {
                             respond(std::move(answer.value()));
                             return;
                           }
                           AskOtherNodes(*api, request, others, next + 1, std::move(not_found),
                                         std::move(respond));
                         });
}

void ForwardOr(ApiContext& api, const HttpRequest& request, const PathParams& params,
               ApiHandler* here, HttpRespond respond, HolderUnreachable unreachable) {
  const bool answer_here = unreachable == HolderUnreachable::kAnswerHere;
  std::string address;
  const std::string_view hops = request.Header(kForwardedHeader);
  if (api.locator != nullptr && hops.empty()) {
    address = api.locator->ForwardAddress(params.Get("id"));
  } else if (api.locator != nullptr && hops == "1") {
    // Asked by a node that did not know the id moved from here in a merge: one hop more.
    address = api.locator->MovedAddress(params.Get("id"));
  }
  if (address.empty()) {
    if (answer_here && api.locator != nullptr && api.forwarder != nullptr && hops.empty()) {
      // An id without events of its own, whose partition is held here, linked on another node to
      // a lead held there, is known only there: a read this node answers 404 asks the others.
      respond = [api = &api, request, respond = std::move(respond)](HttpResponse r) mutable {
        if (r.status != 404) {
          respond(std::move(r));
          return;
        }
        boost::asio::post(api->forwarder->io(), [api, request, r = std::move(r),
                                                 respond = std::move(respond)]() mutable {
          AskOtherNodes(
              *api, request,
              std::make_shared<const std::vector<std::string>>(api->locator->OtherNodes()), 0,
              std::move(r), std::move(respond));
        });
      };
    }
    here(api, request, params, std::move(respond));
    return;
  }
  ForwardRequest out = ForwardedCopy(request);
  if (!hops.empty()) {
    out.headers.front().second = "2";  // the last hop: that node answers itself
  }
  api.forwarder->Forward(
      address, std::move(out),
      [api = &api, request, params, here, respond = std::move(respond), address,
       answer_here](Result<HttpResponse> answer) mutable {
        if (answer.ok()) {
          respond(std::move(answer.value()));
          return;
        }
        if (!answer_here) {
          LogWarning(request.method + " " + request.path + " for the node holding the lead (" +
                     address + "): " + answer.status().ToString() + "; answered 503");
          HttpResponse busy = JsonErrorResponse(
              503, "unavailable", "the node holding this lead did not answer; try again");
          busy.headers.emplace_back("Retry-After", "1");
          respond(std::move(busy));
          return;
        }
        LogWarning("read of a lead held by " + address + ": " + answer.status().ToString() +
                   "; answering from this node");
        here(*api, request, params, std::move(respond));
      });
}

namespace {

void AnswerLead(ApiContext& api, const HttpRequest& request, const PathParams& params,
                HttpRespond respond) {
  auto query = QueryParams::Parse(request.query);
  if (!query.ok()) {
    respond(JsonErrorResponse(400, "bad_request", query.status().message()));
    return;
  }
  std::optional<EpochSeconds> at_param;
  if (!ReadTimeParams(*query, {{"at", &at_param}}, respond)) {
    return;
  }
  const EpochSeconds at = at_param.value_or(api.clock->Now());
  Engine* engine = api.engine;
  engine->RunOnEngine([engine, id = params.Get("id"), at, respond = std::move(respond)] {
    // Any linked id answers the merged lead (SPEC 8).
    Lead* lead = engine->FindLead(engine->ResolveId(id));
    if (lead == nullptr) {
      respond(JsonErrorResponse(404, "not_found", "no lead \"" + id + "\""));
      return;
    }
    std::string body;
    AppendLeadJson(engine->scorer(), lead, at, &body, &engine->Aliases(lead->id),
                   &engine->OwnerOf(*lead));
    respond(JsonResponse(200, std::move(body)));
  });
}

}  // namespace

void GetLead(ApiContext& api, const HttpRequest& request, const PathParams& params,
             HttpRespond respond) {
  ForwardOr(api, request, params, AnswerLead, std::move(respond));
}

namespace {

// Cluster mode: the pages every node gave for one GET /v1/leads (each a {"leads":[...],
// "next":...} answer). Each node's page holds its first `limit` leads after `after`, in id order:
// the first `limit` of all of them together are the cluster's page.
void MergeLeadPages(size_t limit, const std::vector<std::string>& pages,
                    const HttpRespond& respond) {
  JsonParser json;
  std::vector<std::pair<std::string, Value>> leads;
  bool more = false;
  for (const std::string& page : pages) {
    Value v;
    const Value* list = nullptr;
    if (!json.Parse(page, &v).ok() || (list = v.Find("leads")) == nullptr || !list->is_array()) {
      respond(JsonErrorResponse(503, "unavailable", "listing leads: a node's page is not JSON"));
      return;
    }
    const Value* next = v.Find("next");
    more = more || (next != nullptr && !next->is_null());
    for (const Value& lead : list->as_array()) {
      const Value* id = lead.Find("id");
      leads.emplace_back(id != nullptr && id->is_string() ? id->as_string() : "", lead);
    }
  }
  std::sort(leads.begin(), leads.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  if (leads.size() > limit) {
    leads.resize(limit);
    more = true;
  }
  std::string body = "{\"leads\":[";
  for (size_t i = 0; i < leads.size(); ++i) {
    if (i > 0) {
      body.push_back(',');
    }
    body += leads[i].second.ToJson();
  }
  body += "],\"next\":";
  if (more && !leads.empty()) {
    AppendJsonString(leads.back().first, &body);
  } else {
    body += "null";
  }
  body += "}";
  respond(JsonResponse(200, std::move(body)));
}

}  // namespace

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
  // Scores read at `at` (default now), as for one lead.
  std::optional<EpochSeconds> at_param;
  if (!ReadTimeParams(*params, {{"at", &at_param}}, respond)) {
    return;
  }
  const EpochSeconds at = at_param.value_or(api.clock->Now());
  // Cluster mode: this node lists the leads it holds, and asks every other node for its own
  // unless this request is one of those.
  const LeadLocator* locator = api.locator;
  GatherFromOtherNodes(api, request, "listing leads", &respond,
                       [limit](const std::vector<std::string>& pages, const HttpRespond& respond) {
                         MergeLeadPages(limit, pages, respond);
                       });
  Engine* engine = api.engine;
  engine->RunOnEngine([engine, at, locator, stage, after, limit, respond = std::move(respond)] {
    std::string body = "{\"leads\":[";
    size_t count = 0;
    std::string last;
    bool more = false;
    engine->ForEachLead(stage, after, [&](Lead* lead) {
      if (locator != nullptr && !locator->HeldHere(lead->id)) {
        return true;  // another node's (this node's copy is from before a takeover)
      }
      if (count == limit) {
        more = true;
        return false;
      }
      if (count > 0) {
        body.push_back(',');
      }
      AppendLeadJson(engine->scorer(), lead, at, &body, &engine->Aliases(lead->id),
                     &engine->OwnerOf(*lead));
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

namespace handoff {

namespace {

// A query parameter that must be a whole number in [lo, hi]; `fallback` when absent.
bool ReadCount(const QueryParams& query, std::string_view name, uint64_t lo, uint64_t hi,
               uint64_t fallback, uint64_t* out) {
  *out = fallback;
  auto text = query.Get(name);
  if (!text.has_value()) {
    return true;
  }
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), *out);
  return ec == std::errc() && ptr == text->data() + text->size() && *out >= lo && *out <= hi;
}

void AppendHistoryEntryJson(const HistoryEntry& e, std::string* out) {
  out->append("{\"seq\":");
  out->append(std::to_string(e.apply_seq));
  out->append(",\"messageId\":");
  if (e.event.message_id.empty()) {
    out->append("null");
  } else {
    AppendJsonString(e.event.message_id, out);
  }
  out->append(",\"type\":");
  AppendJsonString(EventTypeName(e.event.type), out);
  out->append(",\"event\":");
  if (e.event.has_name) {
    AppendJsonString(e.event.name, out);
  } else {
    out->append("null");
  }
  out->append(",\"timestamp\":\"");
  AppendRfc3339Millis(e.event.timestamp, out);
  out->append("\",\"received_at\":\"");
  AppendRfc3339Millis(e.received_at, out);
  out->append("\",\"lead\":");
  AppendJsonString(e.lead, out);
  out->append(",\"points\":[");
  for (size_t i = 0; i < e.awards.size(); ++i) {
    if (i > 0) {
      out->push_back(',');
    }
    out->append("{\"rule\":");
    AppendJsonString(e.awards[i].first, out);
    out->append(",\"points\":");
    AppendJsonNumber(e.awards[i].second, out);
    out->push_back('}');
  }
  out->append("]}");
}

void AnswerLeadHistory(ApiContext& api, const HttpRequest& request, const PathParams& params,
                       HttpRespond respond) {
  auto query = QueryParams::Parse(request.query);
  if (!query.ok()) {
    respond(JsonErrorResponse(400, "bad_request", query.status().message()));
    return;
  }
  uint64_t limit = 0;
  uint64_t after = 0;
  if (!ReadCount(*query, "limit", 1, 1000, 100, &limit)) {
    respond(JsonErrorResponse(400, "bad_request", "\"limit\" must be from 1 to 1000"));
    return;
  }
  if (!ReadCount(*query, "after", 0, UINT64_MAX, 0, &after)) {
    respond(JsonErrorResponse(400, "bad_request", "\"after\" must be a seq from a page's next"));
    return;
  }
  Engine* engine = api.engine;
  engine->RunOnEngine([engine, id = params.Get("id"), limit, after, respond = std::move(respond)] {
    Lead* lead = engine->FindLead(engine->ResolveId(id));
    if (lead == nullptr) {
      respond(JsonErrorResponse(404, "not_found", "no lead \"" + id + "\""));
      return;
    }
    std::vector<HistoryEntry> entries;
    if (Status st = engine->History(*lead, &entries); !st.ok()) {
      respond(JsonErrorResponse(500, "internal", st.ToString()));
      return;
    }
    std::string body = "{\"lead\":";
    AppendJsonString(lead->id, &body);
    body += ",\"events\":[";
    size_t count = 0;
    uint64_t last = 0;
    bool more = false;
    for (const HistoryEntry& e : entries) {
      if (e.apply_seq <= after) {
        continue;
      }
      if (count == limit) {
        more = true;
        break;
      }
      if (count++ > 0) {
        body.push_back(',');
      }
      AppendHistoryEntryJson(e, &body);
      last = e.apply_seq;
    }
    body += "],\"next\":";
    body += more ? std::to_string(last) : "null";
    body += "}";
    respond(JsonResponse(200, std::move(body)));
  });
}

}  // namespace

void GetLeadHistory(ApiContext& api, const HttpRequest& request, const PathParams& params,
                    HttpRespond respond) {
  ForwardOr(api, request, params, AnswerLeadHistory, std::move(respond));
}

namespace {

void EraseHere(ApiContext& api, const HttpRequest& /*request*/, const PathParams& params,
               HttpRespond respond) {
  Engine* engine = api.engine;
  engine->RunOnEngine([engine, id = params.Get("id"), respond = std::move(respond)]() mutable {
    std::vector<std::string> ids;
    size_t events = 0;
    Status st = engine->Erase(id, &ids, &events);
    if (st.IsNotFound()) {
      respond(JsonErrorResponse(404, "not_found", st.message()));
      return;
    }
    if (!st.ok()) {
      respond(JsonErrorResponse(500, "internal", st.ToString()));
      return;
    }
    std::string body = "{\"deleted\":";
    AppendJsonString(ids.front(), &body);
    body += ",\"ids\":[";
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i > 0) {
        body.push_back(',');
      }
      AppendJsonString(ids[i], &body);
    }
    body += "],\"events\":" + std::to_string(events) + "}";
    // Answered once the erasure is durable.
    engine->AfterCommit([respond = std::move(respond), body = std::move(body)] {
      respond(JsonResponse(200, body));
    });
  });
}

}  // namespace

// In cluster mode the node holding the lead erases it, as it answers the reads of it; when that
// node does not answer, 503 (a copy here is not the holder's, and erasing it would not erase).
void DeleteLead(ApiContext& api, const HttpRequest& request, const PathParams& params,
                HttpRespond respond) {
  ForwardOr(api, request, params, EraseHere, std::move(respond), HolderUnreachable::kUnavailable);
}

}  // namespace handoff
