// The JSON form of a score breakdown, shared by every answer that shows one (GET /v1/leads/{id},
// the backtest's examples): {"score": [{"rule": id, "points": value}, ...], ...}, scores in
// definition order, each rule's part with full double precision.
#pragma once

#include <string>
#include <vector>

#include "rules/rule_set.h"
#include "scoring/scorer.h"

namespace handoff {

void AppendBreakdownJson(const std::vector<ScoreDef>& defs,
                         const std::vector<std::vector<ScorePart>>& parts, std::string* out);

}  // namespace handoff
