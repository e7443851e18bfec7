// Lead: a lead as the engine holds it in memory: its state plus what the scorer derives from it.
//
// The derived part is a cache keyed by the Scorer's generation; it is never stored, and a lead
// scored under other rules rebuilds it. Not thread-safe: one thread owns a lead at a time.
#pragma once

#include <cstdint>
#include <vector>

#include "handoff/lead_state.h"

namespace handoff {

// Derived per-rule-set data the scorer keeps on the lead to avoid lookups by id. Never encoded.
struct LeadScoringCache {
  uint64_t generation = 0;          // Scorer generation this cache belongs to; 0 = invalid
  std::vector<int32_t> award_slot;  // rule index -> index into LeadState::awards, -1 = none
  std::vector<double> profile;      // profile scores from the current traits
  bool profile_valid = false;
  int stage_index = 0;
};

struct Lead : LeadState {
  LeadScoringCache scoring_cache;
};

}  // namespace handoff
