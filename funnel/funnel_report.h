// The funnel's two renderings: the JSON answer of GET /v1/funnel (SPEC 12) and the handoff_funnel_*
// lines of /metrics. Pure functions of their inputs; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "funnel/funnel.h"
#include "funnel/funnel_totals.h"

namespace handoff {

// Leads per stage now, in the rules' stage order.
using FunnelStageCounts = std::vector<std::pair<std::string, uint64_t>>;

// {"since":..,"until":..,"team":..,"stages":{..},"transitions":{..},"routed":N,...,"reps":[..],
//  "rules":[..]}: every field of SPEC 12. Unset bounds and team print as null; percentiles of an
// empty phase print as null; `lift` is absent when nothing won or lost in the window (or nothing
// was won: a lift over a win rate of 0 means nothing).
void AppendFunnelJson(const FunnelWindow& window, const FunnelStageCounts& stages,
                      const FunnelTotals& totals, std::string* out);

// The same figures, all time, as Prometheus text (handoff_funnel_*).
void AppendFunnelPrometheus(const FunnelStageCounts& stages, const FunnelTotals& totals,
                            std::string* out);

}  // namespace handoff
