// LastingProblem: puts a problem that lasts in the log, and not a blip that clears by itself.
//
// A retry loop (opening a NATS bucket, publishing to the event log) reports each attempt: Failed
// with the latest cause, or Cleared. Nothing is said until the failures have lasted `quiet`; then
// one warning, another every `every` while they last (with the latest cause and for how long), and
// one line when an attempt succeeds again. So a node that waits says why, and a retry that
// succeeds a moment later costs no line.
//
// Not thread-safe: one owner, the retry loop's thread. Time is passed in (tests inject it).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "base/log.h"

namespace handoff {

class LastingProblem {
 public:
  using Clock = std::chrono::steady_clock;
  // Where lines go; Log by default (tests collect them).
  using Sink = std::function<void(LogLevel, std::string_view)>;

  // The cluster's loops say a failure after 10 s, then every minute.
  static constexpr Clock::duration kDefaultQuiet = std::chrono::seconds(10);
  static constexpr Clock::duration kDefaultEvery = std::chrono::seconds(60);

  // `what` leads every line ("partition leases: opening bucket HANDOFF_LEASES"); `consequence`,
  // when not empty, follows the warnings ("ingest is not acknowledged meanwhile").
  LastingProblem(std::string what, std::string consequence, Clock::duration quiet = kDefaultQuiet,
                 Clock::duration every = kDefaultEvery, Sink sink = nullptr);

  // An attempt failed; `why` replaces the cause the next warning gives.
  void Failed(std::string_view why, Clock::time_point now);
  // An attempt succeeded: the problem is over (said when it had been said).
  void Cleared(Clock::time_point now);

  // True from the first failure until Cleared.
  bool failing() const { return failing_; }

  // The word the warnings use for the state: "failing" (the default), or "waiting" for a wait
  // that is not an error (a long replay).
  void set_state_word(std::string word) { state_word_ = std::move(word); }

 private:
  void Say(LogLevel level, const std::string& line) const;

  const std::string what_;
  const std::string consequence_;
  const Clock::duration quiet_;
  const Clock::duration every_;
  const Sink sink_;
  bool failing_ = false;
  bool said_ = false;
  Clock::time_point since_{};
  Clock::time_point next_say_{};
  std::string why_;
  std::string state_word_ = "failing";
};

}  // namespace handoff
