#include "scoring/score_json.h"

#include "handoff/value.h"

namespace handoff {

void AppendBreakdownJson(const std::vector<ScoreDef>& defs,
                         const std::vector<std::vector<ScorePart>>& parts, std::string* out) {
  out->push_back('{');
  for (size_t s = 0; s < defs.size() && s < parts.size(); ++s) {
    if (s > 0) {
      out->push_back(',');
    }
    AppendJsonString(defs[s].name, out);
    out->append(":[");
    for (size_t i = 0; i < parts[s].size(); ++i) {
      if (i > 0) {
        out->push_back(',');
      }
      out->append("{\"rule\":");
      AppendJsonString(parts[s][i].rule_id, out);
      out->append(",\"points\":");
      AppendJsonNumber(parts[s][i].points, out);
      out->push_back('}');
    }
    out->push_back(']');
  }
  out->push_back('}');
}

}  // namespace handoff
