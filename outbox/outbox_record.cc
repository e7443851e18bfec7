#include "outbox/outbox_record.h"

#include <array>

#include "base/timestamp.h"

namespace handoff {
namespace {

constexpr std::array<std::string_view, kOutboxKindCount> kKindNames = {
    "stage", "routed", "reassigned", "accepted", "rejected", "closed", "escalated", "unrouted"};

void Field(std::string_view name, std::string_view value, std::string* out) {
  if (value.empty()) {
    return;
  }
  out->push_back(',');
  AppendJsonString(name, out);
  out->push_back(':');
  AppendJsonString(value, out);
}

}  // namespace

std::optional<OutboxKind> OutboxKindFromName(std::string_view name) {
  for (size_t i = 0; i < kKindNames.size(); ++i) {
    if (kKindNames[i] == name) {
      return static_cast<OutboxKind>(i);
    }
  }
  return std::nullopt;
}

std::string_view OutboxKindName(OutboxKind kind) { return kKindNames[static_cast<size_t>(kind)]; }

void AppendScoresJson(const std::vector<ScoreDef>& defs, const double* scores, std::string* out) {
  out->push_back('{');
  for (size_t i = 0; i < defs.size(); ++i) {
    if (i > 0) {
      out->push_back(',');
    }
    AppendJsonString(defs[i].name, out);
    out->push_back(':');
    AppendJsonNumber(scores[i], out);
  }
  out->push_back('}');
}

void AppendOutboxRecordJson(const OutboxRecord& r, std::string* out) {
  out->append("{\"seq\":");
  out->append(std::to_string(r.seq));
  Field("kind", OutboxKindName(r.kind), out);
  out->append(",\"at\":\"");
  AppendRfc3339Millis(r.at, out);
  out->push_back('"');
  Field("lead", r.lead, out);
  Field("from", r.from, out);
  Field("to", r.to, out);
  Field("rep", r.rep, out);
  Field("team", r.team, out);
  Field("reason", r.reason, out);
  Field("from_rep", r.from_rep, out);
  Field("outcome", r.outcome, out);
  if (r.amount.has_value()) {
    out->append(",\"amount\":");
    AppendJsonNumber(*r.amount, out);
  }
  Field("into", r.into, out);
  Field("stage", r.stage, out);
  if (r.score_defs != nullptr && r.scores != nullptr) {
    out->append(",\"scores\":");
    AppendScoresJson(*r.score_defs, r.scores, out);
  }
  if (r.traits != nullptr) {
    out->append(",\"traits\":");
    r.traits->AppendJson(out);
  }
  Field("trigger", r.trigger, out);
  out->push_back('}');
}

}  // namespace handoff
