// The binary form of a validated Event, as the history log keeps it (enough to re-apply it).
#pragma once

#include <string>
#include <string_view>

#include "handoff/event.h"

namespace handoff {

void EncodeEvent(const Event& event, std::string* out);
// Decodes one event from the front of *in and advances it. False on bad bytes (never crashes).
[[nodiscard]] bool DecodeEvent(std::string_view* in, Event* event);

}  // namespace handoff
