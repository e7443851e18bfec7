#include "handoff/clock.h"

#include <chrono>

namespace handoff {

EpochSeconds SystemClock::Now() const {
  auto since = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration<double>(since).count();
}

const Clock& SystemClock::Instance() {
  static const SystemClock* clock = new SystemClock();
  return *clock;
}

}  // namespace handoff
