#include "handoff/status.h"

#include <chrono>

#include "handoff/clock.h"
#include "handoff/event.h"

namespace handoff {

std::string Status::ToString() const {
  const char* name = "OK";
  switch (code_) {
    case Code::kOk:
      return "OK";
    case Code::kInvalidArgument:
      name = "Invalid argument";
      break;
    case Code::kNotFound:
      name = "Not found";
      break;
    case Code::kIoError:
      name = "IO error";
      break;
    case Code::kCorruption:
      name = "Corruption";
      break;
    case Code::kAlreadyExists:
      name = "Already exists";
      break;
    case Code::kFailedPrecondition:
      name = "Failed precondition";
      break;
    case Code::kUnavailable:
      name = "Unavailable";
      break;
  }
  return std::string(name) + ": " + message_;
}

EpochSeconds SystemClock::Now() const {
  auto since = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration<double>(since).count();
}

const Clock& SystemClock::Instance() {
  static const SystemClock* clock = new SystemClock();
  return *clock;
}

std::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kTrack:
      return "track";
    case EventType::kPage:
      return "page";
    case EventType::kScreen:
      return "screen";
    case EventType::kIdentify:
      return "identify";
    case EventType::kGroup:
      return "group";
    case EventType::kAlias:
      return "alias";
  }
  return "track";
}

}  // namespace handoff
