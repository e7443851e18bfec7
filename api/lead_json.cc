#include "api/lead_json.h"

#include <algorithm>

#include "base/timestamp.h"
#include "outbox/outbox_record.h"
#include "scoring/score_json.h"

namespace handoff {

void AppendLeadJson(const Scorer& scorer, Lead* lead, EpochSeconds at, std::string* out,
                    const std::vector<std::string>* aliases,
                    const std::optional<LeadOwner>* owner) {
  const RuleSet& rules = scorer.rules();
  std::vector<std::vector<ScorePart>> parts;
  std::vector<double> scores;
  scorer.Breakdown(lead, at, &parts, &scores);
  out->append("{\"id\":");
  AppendJsonString(lead->id, out);
  if (aliases != nullptr) {
    // Sorted: the same answer whatever order the links were made or restored in.
    std::vector<std::string_view> sorted(aliases->begin(), aliases->end());
    std::sort(sorted.begin(), sorted.end());
    out->append(",\"aliases\":[");
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (i > 0) {
        out->push_back(',');
      }
      AppendJsonString(sorted[i], out);
    }
    out->push_back(']');
  }
  out->append(",\"stage\":");
  AppendJsonString(lead->stage, out);
  out->append(",\"owner\":");
  const std::optional<LeadOwner>& routed = owner != nullptr ? *owner : lead->owner;
  if (routed.has_value()) {
    const LeadOwner& o = *routed;
    out->append("{\"rep\":");
    AppendJsonString(o.rep, out);
    out->append(",\"team\":");
    AppendJsonString(o.team, out);
    out->append(",\"seq\":");
    out->append(std::to_string(o.seq));
    out->append(",\"accepted\":");
    out->append(o.accepted ? "true" : "false");
    if (o.closed) {
      // The last holder stays visible after a close, marked so it is not mistaken for open.
      out->append(",\"closed\":true,\"outcome\":");
      AppendJsonString(o.outcome, out);
    }
    out->push_back('}');
  } else {
    out->append("null");
  }
  out->append(",\"traits\":");
  lead->traits.AppendJson(out);
  out->append(",\"scores\":");
  AppendScoresJson(rules.scores, scores.data(), out);
  out->append(",\"breakdown\":");
  AppendBreakdownJson(rules.scores, parts, out);
  out->append(",\"first_seen\":\"");
  AppendRfc3339Millis(lead->first_seen, out);
  out->append("\",\"last_seen\":\"");
  AppendRfc3339Millis(lead->last_seen, out);
  out->append("\",\"events\":");
  out->append(std::to_string(lead->events));
  out->push_back('}');
}

}  // namespace handoff
