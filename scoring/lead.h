// Lead: a lead as the engine holds it in memory: its state plus what the scorer derives from it.
//
// The derived part is a cache keyed by the Scorer's generation; it is never stored, and a lead
// scored under other rules rebuilds it. Not thread-safe: one thread owns a lead at a time.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "handoff/lead_state.h"

namespace handoff {

// Derived per-rule-set data the scorer keeps on the lead to avoid lookups by id. Never encoded.
struct LeadScoringCache {
  uint64_t generation = 0;  // Scorer generation this cache belongs to; 0 = invalid
  // (rule index, index into LeadState::awards) for each award of an event rule in force, by rule
  // index. One entry per rule that ever awarded the lead, so a few, whatever the rule count (a
  // table by rule index cost 4 KB a lead, and a pass over it per score, with 1,000 rules).
  std::vector<std::pair<int32_t, int32_t>> award_slots;
  std::vector<double> profile;  // profile scores from the current traits
  bool profile_valid = false;
  int stage_index = 0;
};

struct Lead : LeadState {
  LeadScoringCache scoring_cache;
};

}  // namespace handoff
