#include "ingest/spent_events.h"

#include <utility>

namespace handoff {

void SpentEvents::Give(std::vector<Event>&& events) {
  if (events.capacity() == 0) {
    return;
  }
  std::vector<Event> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (events_held_ + events.size() <= max_events_) {
      events_held_ += events.size();
      spent_.push_back(std::move(events));
      return;
    }
    dropped = std::move(events);
  }
  // Full (the parsing thread has not come back for them): freed here, outside the lock.
}

std::vector<Event> SpentEvents::Take() {
  std::lock_guard<std::mutex> lock(mu_);
  if (spent_.empty()) {
    return {};
  }
  std::vector<Event> events = std::move(spent_.back());
  spent_.pop_back();
  events_held_ -= events.size();
  return events;
}

}  // namespace handoff
