// The lead codec: LeadState <-> the bytes the store keeps for it (storage/store_format.h).
//
// Pure functions; thread-safe. Decoding takes bytes from disk, so every malformed input is a
// returned error, never a crash.
#pragma once

#include <string>
#include <string_view>

#include "handoff/lead_state.h"
#include "handoff/status.h"
#include "handoff/value.h"
#include "storage/coding.h"

namespace handoff {

// Compact, versioned binary encoding. Decode rejects unknown versions, truncated input and an
// object holding a key twice with Corruption, never crashes on bad bytes.
void EncodeLeadState(const LeadState& lead, std::string* out);
[[nodiscard]] Status DecodeLeadState(std::string_view in, LeadState* lead);

// The same binary form for a Value alone (used by other records).
void EncodeValue(const Value& v, std::string* out);
// The same, into a Writer (for a record that holds Values among other fields).
void EncodeValue(const Value& v, coding::Writer* out);
[[nodiscard]] bool DecodeValue(std::string_view* in, Value* v, int depth = 0);

}  // namespace handoff
