#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "api/handlers.h"
#include "api/node_gather.h"
#include "base/hex.h"
#include "base/json_parser.h"
#include "net/http_util.h"

namespace handoff {

namespace {

// Cluster mode: one node's part of the funnel, as nodes send it to each other:
// {"stages":[["new",N],...],"totals":"<hex of FunnelTotals::Encode>"}. Totals are sums and
// histograms, so parts add up to the cluster's figures (docs/cluster.md).
std::string FunnelPartJson(const FunnelStageCounts& stages, const FunnelTotals& totals) {
  std::string out = "{\"stages\":[";
  for (size_t i = 0; i < stages.size(); ++i) {
    out += i > 0 ? ",[" : "[";
    AppendJsonString(stages[i].first, &out);
    out += "," + std::to_string(stages[i].second) + "]";
  }
  std::string encoded;
  totals.Encode(&encoded);
  out += "],\"totals\":\"" + HexEncode(encoded) + "\"}";
  return out;
}

// Adds one part to `stages` (by name: the first part's order, then stages only a later part
// has) and `totals`. False on a body FunnelPartJson did not make.
bool AddFunnelPart(std::string_view part, JsonParser* json, FunnelStageCounts* stages,
                   FunnelTotals* totals) {
  Value v;
  if (!json->Parse(part, &v).ok() || !v.is_object()) {
    return false;
  }
  const Value* list = v.Find("stages");
  const Value* hex = v.Find("totals");
  if (list == nullptr || !list->is_array() || hex == nullptr || !hex->is_string()) {
    return false;
  }
  std::optional<std::string> encoded = HexDecode(hex->as_string());
  FunnelTotals theirs;
  if (!encoded.has_value() || !theirs.Decode(*encoded)) {
    return false;
  }
  for (const Value& pair : list->as_array()) {
    if (!pair.is_array() || pair.as_array().size() != 2 || !pair.as_array()[0].is_string() ||
        !pair.as_array()[1].is_number()) {
      return false;
    }
    const std::string& name = pair.as_array()[0].as_string();
    const auto n = static_cast<uint64_t>(pair.as_array()[1].as_number());
    auto it = std::find_if(stages->begin(), stages->end(),
                           [&](const auto& stage) { return stage.first == name; });
    if (it == stages->end()) {
      stages->emplace_back(name, n);
    } else {
      it->second += n;
    }
  }
  totals->Merge(theirs);
  return true;
}

// Every node's part added up, answered as GET /v1/funnel answers (SPEC 12).
void MergeFunnelParts(const FunnelWindow& window, const std::vector<std::string>& parts,
                      const HttpRespond& respond) {
  JsonParser json;
  FunnelStageCounts stages;
  FunnelTotals totals;
  for (const std::string& part : parts) {
    if (!AddFunnelPart(part, &json, &stages, &totals)) {
      respond(JsonErrorResponse(503, "unavailable", "the funnel: a node's part does not decode"));
      return;
    }
  }
  std::string body;
  AppendFunnelJson(window, stages, totals, &body);
  respond(JsonResponse(200, std::move(body)));
}

}  // namespace

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
  const LeadLocator* locator = api.locator;
  if (locator == nullptr) {
    engine->RunOnEngine([engine, window = std::move(window), respond = std::move(respond)] {
      std::string body;
      if (Status st = engine->FunnelJson(window, &body); !st.ok()) {
        respond(JsonErrorResponse(500, "internal", st.ToString()));
        return;
      }
      respond(JsonResponse(200, std::move(body)));
    });
    return;
  }
  // Cluster mode: every node's part (its records' totals, its held partitions' leads), added
  // up. A forwarded request is another node asking for this node's part.
  auto merge = [window](const std::vector<std::string>& parts, const HttpRespond& respond) {
    MergeFunnelParts(window, parts, respond);
  };
  const bool forwarded = request.HasHeader(kForwardedHeader);
  const bool part_only =
      forwarded || GatherFromOtherNodes(api, request, "the funnel", &respond, merge);
  engine->RunOnEngine(
      [engine, locator, window, forwarded, part_only, merge, respond = std::move(respond)] {
        FunnelStageCounts stages;
        FunnelTotals totals;
        const auto held = [locator](uint32_t p) { return locator->HoldsPartition(p); };
        if (Status st = engine->FunnelPart(window, held, &stages, &totals); !st.ok()) {
          respond(JsonErrorResponse(500, "internal", st.ToString()));
          return;
        }
        if (forwarded && engine->global_router()) {
          // Every node holds every record (docs/cluster.md): the asking node's totals are the
          // cluster's, and only the leads per stage add up.
          totals = FunnelTotals();
        }
        std::string part = FunnelPartJson(stages, totals);
        if (part_only) {
          respond(JsonResponse(200, std::move(part)));
        } else {
          merge({std::move(part)}, respond);
        }
      });
}

}  // namespace handoff
