// LeadState: everything Handoff knows about one lead, as the scoring engine keeps it in memory
// and the store keeps it on disk (storage/lead_codec.h).
//
// Per-rule award state is keyed by rule id, so it survives reloads: a rule that keeps its id keeps
// its history (changing its points changes only later awards); a rule that is removed contributes
// nothing while it is away, and its state is kept, so a reload that brings the id back brings it
// back for every lead alike. Not thread-safe: a lead is owned by one thread at a time (the engine
// thread).
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
  bool awarded = false;              // at least one award was made (for `once`)
  std::vector<CapWindow> windows{};  // sorted by window; only for capped rules
  // The half-life `value` is folded under (seconds; 0: no decay); -1: not known (stored by a
  // release that did not keep it). When a reload changes the score's half-life, the engine folds
  // the rule's awards again from the lead's history under the new one (SPEC 5.2: every award
  // decays under the half-life in force).
  double half_life = -1;
  // The cap's `per` (seconds) `windows` are counted in; 0: the rule had no cap at an award, so
  // `windows` may miss awards; -1: not known (stored by a release that did not keep it). When a
  // reload gives the rule another `per` (or a cap it lacked), the engine counts the windows again
  // from the lead's history (SPEC 5.2: no window of the cap in force holds more than its points).
  double cap_per = -1;
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

// Where a lead's applied events are in the history log (history/history_log.h): `head` is the
// newest block holding an event logged under `lead` (0: none). A lead has one chain, its own; a
// merged lead also keeps the chains of the leads merged into it (SPEC 8).
struct HistoryChain {
  std::string lead;
  uint64_t head = 0;
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
  std::vector<HistoryChain> history;
};

}  // namespace handoff
