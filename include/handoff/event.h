// Event: one validated tracker event (Segment Spec), ready to score.
//
// Produced by the event parser (ingest/event_parser.h) from JSON; every field has already been
// checked against SPEC section 2, so consumers need no further validation. Fields that were
// missing or null are empty strings / null Values, with a has_ flag where empty is meaningful.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "handoff/clock.h"
#include "handoff/value.h"

namespace handoff {

enum class EventType : uint8_t { kTrack = 0, kPage, kScreen, kIdentify, kGroup, kAlias };
inline constexpr size_t kEventTypeCount = 6;

// "track", "page", ... as in the wire format.
std::string_view EventTypeName(EventType type);
// "track" -> kTrack, ... (case-sensitive); nullopt for anything else.
std::optional<EventType> EventTypeFromName(std::string_view name);

// Why an event was rejected (SPEC 2). Also the index of the rejected-by-reason metrics.
enum class EventError : uint8_t {
  kNone = 0,
  kInvalidJson,
  kLineTooLong,
  kMissingField,
  kInvalidField,
  kUnsupportedType,
};
inline constexpr int kEventErrorCount = 6;

// The wire name: "invalid_json", "line_too_long", "missing_field", "invalid_field",
// "unsupported_type" ("" for kNone).
std::string_view EventErrorCode(EventError code);

struct Event {
  EventType type = EventType::kTrack;
  std::string user_id;       // empty: absent
  std::string anonymous_id;  // empty: absent
  std::string message_id;    // empty: absent (no dedupe)
  EpochSeconds timestamp = 0;
  bool has_timestamp = false;  // false: the receiver fills timestamp with receive time
  // track: the `event` name; page/screen: `name` (has_name false when absent).
  std::string name;
  bool has_name = false;
  Value properties;         // object or null (track/page/screen only)
  Value traits;             // object or null (identify/group only)
  Value context;            // object or null
  std::string group_id;     // group only
  std::string previous_id;  // alias only

  // The lead this event belongs to: userId if present, else anonymousId.
  std::string_view lead_key() const { return user_id.empty() ? anonymous_id : user_id; }
};

}  // namespace handoff
