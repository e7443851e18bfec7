// SpentEvents: the events a sink has applied, handed back to the thread that parses the next ones.
//
// The io thread parses each read into an IngestBatch of Events (strings and Value trees on its
// heap); the engine applies them on its own thread. Freed there, every string went back through
// another thread's malloc arena (4 % of the engine thread on TCP ingest, 11 % on Segment HTTP
// batches). Instead the engine gives the applied vector back here, and the io thread takes it for
// its next batch: the parser overwrites the old events in place (their strings keep their
// capacity) and whatever is left over is freed on the thread that allocated it.
//
// Thread-safe: Give from the sink's thread, Take from the parsing thread.
#pragma once

#include <cstddef>
#include <mutex>
#include <vector>

#include "handoff/event.h"

namespace handoff {

class SpentEvents {
 public:
  // Keeps vectors (one read's events each) holding at most `max_events` events in all; past that,
  // Give frees on the caller's thread as before. Bounds what an idle server holds (~10 MB at the
  // default). The bound is in events, not vectors: the io thread reads ahead up to
  // max_inflight_bytes a connection (8 MiB: ~128 reads of 64 KiB), so after a burst that many
  // vectors come back at once; a bound of 8 vectors freed most of them on the engine thread
  // (1.7 % of it on a TCP send, in Value destructors).
  explicit SpentEvents(size_t max_events = 32768) : max_events_(max_events) {}
  SpentEvents(const SpentEvents&) = delete;
  SpentEvents& operator=(const SpentEvents&) = delete;

  // Keeps `events` (applied: nothing refers to them any more) for a later Take.
  void Give(std::vector<Event>&& events);
  // A vector for the next batch: a spent one, its old events still in it for the caller to
  // overwrite or drop, or an empty one.
  std::vector<Event> Take();

 private:
  const size_t max_events_;
  std::mutex mu_;
  std::vector<std::vector<Event>> spent_;
  size_t events_held_ = 0;  // sum of spent_'s sizes
};

}  // namespace handoff
