// Clock: where the engine reads "now". Injected everywhere so tests control time.
//
// Time is epoch seconds as a double (fractions carry sub-second precision; a double holds
// today's epoch to well under a microsecond). Implementations are thread-safe.
#pragma once

#include <atomic>

namespace handoff {

using EpochSeconds = double;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual EpochSeconds Now() const = 0;
};

// The wall clock (CLOCK_REALTIME).
class SystemClock final : public Clock {
 public:
  EpochSeconds Now() const override;
  // A process-wide instance; never destroyed.
  static const Clock& Instance();
};

// A clock that only moves when told to. For tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(EpochSeconds start = 0) : now_(start) {}
  EpochSeconds Now() const override { return now_.load(std::memory_order_relaxed); }
  void Set(EpochSeconds t) { now_.store(t, std::memory_order_relaxed); }
  void Advance(EpochSeconds dt) { Set(Now() + dt); }

 private:
  std::atomic<EpochSeconds> now_;
};

}  // namespace handoff
