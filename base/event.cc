#include "handoff/event.h"

#include <array>

namespace handoff {
namespace {

// The wire names, indexed by EventType.
constexpr std::array<std::string_view, kEventTypeCount> kEventTypeNames = {
    "track", "page", "screen", "identify", "group", "alias"};

}  // namespace

std::string_view EventTypeName(EventType type) {
  return kEventTypeNames[static_cast<size_t>(type)];
}

std::optional<EventType> EventTypeFromName(std::string_view name) {
  for (size_t i = 0; i < kEventTypeNames.size(); ++i) {
    if (kEventTypeNames[i] == name) {
      return static_cast<EventType>(i);
    }
  }
  return std::nullopt;
}

std::string_view EventErrorCode(EventError code) {
  switch (code) {
    case EventError::kNone:
      return "";
    case EventError::kInvalidJson:
      return "invalid_json";
    case EventError::kLineTooLong:
      return "line_too_long";
    case EventError::kMissingField:
      return "missing_field";
    case EventError::kInvalidField:
      return "invalid_field";
    case EventError::kUnsupportedType:
      return "unsupported_type";
  }
  return "";
}

}  // namespace handoff
