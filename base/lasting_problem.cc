#include "base/lasting_problem.h"

#include <cstdio>
#include <utility>

namespace handoff {
namespace {

std::string Seconds(LastingProblem::Clock::duration d) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", std::chrono::duration<double>(d).count());
  return text;
}

}  // namespace

LastingProblem::LastingProblem(std::string what, std::string consequence, Clock::duration quiet,
                               Clock::duration every, Sink sink)
    : what_(std::move(what)),
      consequence_(std::move(consequence)),
      quiet_(quiet),
      every_(every),
      sink_(std::move(sink)) {}

void LastingProblem::Failed(std::string_view why, Clock::time_point now) {
  if (!failing_) {
    failing_ = true;
    since_ = now;
    next_say_ = now + quiet_;
  }
  why_.assign(why);
  if (now < next_say_) {
    return;
  }
  said_ = true;
  next_say_ = now + every_;
  std::string line =
      what_ + ": " + state_word_ + " for " + Seconds(now - since_) + " (" + why_ + ")";
  if (!consequence_.empty()) {
    line += "; " + consequence_;
  }
  Say(LogLevel::kWarning, line);
}

void LastingProblem::Cleared(Clock::time_point now) {
  if (failing_ && said_) {
    Say(LogLevel::kInfo, what_ + ": working again after " + Seconds(now - since_));
  }
  failing_ = false;
  said_ = false;
}

void LastingProblem::Say(LogLevel level, const std::string& line) const {
  if (sink_) {
    sink_(level, line);
  } else {
    Log(level, line);
  }
}

}  // namespace handoff
