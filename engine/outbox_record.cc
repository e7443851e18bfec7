#include "engine/outbox_record.h"

#include "engine/timestamp.h"

namespace handoff {
namespace {

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
  Field("kind", r.kind, out);
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
