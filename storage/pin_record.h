// PinRecord: the value of the store's `pinned` index, one per lead the engine tracks without
// reading it (SPEC 5.3's wall-clock re-check, GET /v1/leads?stage=): every staged or owned lead.
//
// It says what a start needs to rebuild the engine's stage index without reading the leads:
// the lead's stage, when its re-check is next due (Scorer::NextExitCheck) and under which rules
// that was worked out, and whether the lead is held in memory always (owned, or at the routing
// stage: the router works on it) and so is read at start. Values written before this record
// existed are empty: `legacy`, read the lead to know.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "handoff/clock.h"
#include "handoff/status.h"

namespace handoff {

struct PinRecord {
  bool legacy = false;          // an empty value (before PinRecord): nothing below is known
  bool in_memory = false;       // held in memory always: read at start
  EpochSeconds next_check = 0;  // no re-check before this time can move the lead
  uint64_t rules_tag = 0;       // RulesTag of the rules next_check was worked out under
  std::string stage;            // the lead's stage; empty when only owned
};

// The first 8 bytes of a rule set's sha256 (hex), as a number: a next_check worked out under
// other rules is not trusted.
uint64_t RulesTag(std::string_view sha256_hex);

void EncodePinRecord(const PinRecord& record, std::string* out);
// Errors: Corruption when `bytes` is not a record (truncated, unknown version).
[[nodiscard]] Status DecodePinRecord(std::string_view bytes, PinRecord* record);

}  // namespace handoff
