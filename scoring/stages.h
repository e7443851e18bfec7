// The stage machine of SPEC 5.3, as one pure function: where a lead in one stage goes next.
//
// Used after every event (promote and demote), by the wall-clock re-check (demote only) and by
// identity replays; the Scorer keeps each lead's current stage index. Thread-safe (no state).
#pragma once

#include <vector>

#include "rules/expression.h"
#include "rules/rule_set.h"

namespace handoff {

// The stage a lead in stage `current` moves to, given its scores and traits in `ctx` (ctx's
// lead_stage is set here). With `promote`: the highest stage above `current` whose `enter` holds;
// if none (or without `promote`): while the current stage's `exit` holds (default: its `enter`
// does not), one stage down, checking again. Stage 0 ("new") never exits. Returns `current`
// when nothing moves.
int NextStage(const std::vector<StageDef>& stages, int current, EvalContext ctx, bool promote);

}  // namespace handoff
