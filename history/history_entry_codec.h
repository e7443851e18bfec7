// The stored form of one history entry, shared by HistoryLog (per-lead chains) and HistoryScan
// (the whole log in apply order). Internal to history/.
//
// One entry's fields as stored:
//   varint apply_seq, str lead, f64 received_at, varint prev block (0: none; only the first
//   entry of a lead in a block says it), str event, varint n, n x {str rule, f64 points}
// A bucket's value is the block's time (store_format::kTimeSize bytes), then its entries.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "handoff/clock.h"
#include "history/history_log.h"

namespace handoff::history_internal {

// An entry's fields as views into the bucket's bytes.
struct RawEntry {
  uint64_t apply_seq = 0;
  std::string_view lead;
  EpochSeconds received_at = 0;
  uint64_t prev = 0;
  std::string_view event;
  std::string_view awards;  // varint n, then the pairs
  std::string_view bytes;   // the whole entry
};

// Appends one entry in the stored form; `event` is the event's encoded bytes (EncodeEvent).
void AppendEntry(uint64_t apply_seq, std::string_view lead, EpochSeconds received_at, uint64_t prev,
                 std::string_view event, const LoggedAwards& awards, std::string* out);

// Reads one entry from the front of *in and advances it; false on bad bytes.
[[nodiscard]] bool ParseEntry(std::string_view* in, RawEntry* e);
// Decodes the event and awards of a parsed entry into *out (reusing its buffers); false on bad
// bytes.
[[nodiscard]] bool DecodeEntry(const RawEntry& raw, HistoryEntry* out);

}  // namespace handoff::history_internal
