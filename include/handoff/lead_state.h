// LeadState: everything Handoff knows about one lead, as the scoring engine keeps it in memory
// and the store keeps it on disk (EncodeLeadState / DecodeLeadState).
//
// Per-rule award state is keyed by rule id, so it survives reloads: a rule that keeps its id keeps
// its history (changing its points changes only later awards); a rule that is removed contributes
// nothing and its state is dropped the next time the lead is scored. Not thread-safe: a lead is
// owned by one thread at a time (the engine thread).
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "handoff/clock.h"
#include "handoff/status.h"
#include "handoff/value.h"

namespace handoff {

// Absolute raw points a capped rule has awarded a lead within one window floor(t / per).
struct CapWindow {
  int64_t window = 0;
  double used = 0;
};

// What one event rule has awarded one lead.
struct RuleAward {
  std::string rule_id;
  // Sum of the rule's awards decayed to `latest` (undecayed sum when the score has no half-life).
  double value = 0;
  // Event time of the latest award; -infinity before the first.
  EpochSeconds latest = -std::numeric_limits<double>::infinity();
  bool awarded = false;            // at least one award was made (for `once`)
  std::vector<CapWindow> windows;  // sorted by window; only for capped rules
};

// The rep holding a routed lead (SPEC 6 `owner`).
struct LeadOwner {
  std::string rep;
  std::string team;
  uint64_t seq = 0;  // outbox seq of the routing record
  bool accepted = false;
  EpochSeconds routed_at = 0;
  uint32_t reassignments = 0;
  std::vector<std::string> held_by;  // reps that have held the lead in this routing
  bool closed = false;               // closed by the rep (won, lost, recycled): not open
  std::string outcome;               // when closed
};

// Derived per-rule-set data the scorer keeps on the lead to avoid lookups by id. Never encoded.
struct LeadScoringCache {
  uint64_t generation = 0;           // Scorer generation this cache belongs to; 0 = invalid
  std::vector<int32_t> award_slot;   // rule index -> index into LeadState::awards, -1 = none
  std::vector<double> profile;       // profile scores from the current traits
  bool profile_valid = false;
  int stage_index = 0;
};

struct LeadState {
  std::string id;
  std::string stage = "new";
  Value traits = Value::MakeObject();
  EpochSeconds first_seen = 0;  // earliest event time applied
  EpochSeconds last_seen = 0;   // latest event time applied
  uint64_t events = 0;          // events applied
  std::vector<RuleAward> awards;
  std::optional<LeadOwner> owner;

  LeadScoringCache cache;  // not persisted
};

// Compact, versioned binary encoding. Decode rejects unknown versions and truncated input with
// Corruption, never crashes on bad bytes.
void EncodeLeadState(const LeadState& lead, std::string* out);
[[nodiscard]] Status DecodeLeadState(std::string_view in, LeadState* lead);

// The same binary form for a Value alone (used by other records).
void EncodeValue(const Value& v, std::string* out);
[[nodiscard]] bool DecodeValue(std::string_view* in, Value* v, int depth = 0);

}  // namespace handoff
