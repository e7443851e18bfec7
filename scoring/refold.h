// RefoldAwards: a lead's awards folded again after a reload changed what they were folded under
// (SPEC 5.2: a changed half-life applies to past awards; a cap's windows follow its `per`).
//
// Each rule's awards are kept folded into one value (the sum decayed to its latest award), which
// cannot be unfolded: a new half-life needs every award again, and the lead's history holds them
// (the points each rule awarded each applied event). Used by the engine when it next reads such a
// lead and by the backtest for the "now" side of a lead the engine has not read since.
#pragma once

#include <vector>

#include "history/history_log.h"
#include "scoring/scorer.h"

namespace handoff {

// Folds `lead`'s awards again under `scorer`'s rules from `history` (the lead's entries in apply
// order, HistoryLog::Read): an award whose score's half-life changed is folded again when the
// history holds all of it (folding it under the old half-life gives the stored value back), else
// it keeps its value and the new half-life applies from its latest award on; the cap windows of
// a rule whose cap's `per` changed are counted again from what the history holds. Pure: reads
// nothing else, writes only `lead`.
void RefoldAwards(const Scorer& scorer, const std::vector<HistoryEntry>& history, Lead* lead);

}  // namespace handoff
