// The stored form of an outbox record: a small binary header, then the record's JSON.
//
//   u8 format (1) | u8 kind | u32 rep size | rep | u32 team size | team | record JSON
//
// Sizes are little-endian. The header holds what subscriptions filter on, so a subscriber picks
// its records without parsing any JSON, and sends the JSON part as it is. (The store puts the
// record's time in front of all this for trimming; see storage/store_format.h.)
#pragma once

#include <string>
#include <string_view>

#include "outbox/outbox_record.h"

namespace handoff {

// What a stored record says about itself without its JSON. Views point into the stored bytes.
struct RecordHeader {
  OutboxKind kind = OutboxKind::kStage;
  std::string_view rep;   // the record's `rep`; empty when it has none
  std::string_view team;  // the record's `team`; empty when it has none
};

// Appends the stored form of `record`, whose JSON is `json`, to *out.
void EncodeStoredRecord(const OutboxRecord& record, std::string_view json, std::string* out);

// Splits stored bytes into header and JSON. False when the bytes are not a stored record of this
// format (the caller reports corruption); *header and *json are then unspecified.
[[nodiscard]] bool DecodeStoredRecord(std::string_view stored, RecordHeader* header,
                                      std::string_view* json);

}  // namespace handoff
