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
  // Keeps at most `max_vectors` vectors (one read's events each); past that, Give frees on the
  // caller's thread as before. Bounds what an idle server holds.
  explicit SpentEvents(size_t max_vectors = 8) : max_vectors_(max_vectors) {}
  SpentEvents(const SpentEvents&) = delete;
  SpentEvents& operator=(const SpentEvents&) = delete;

  // Keeps `events` (applied: nothing refers to them any more) for a later Take.
  void Give(std::vector<Event>&& events);
  // A vector for the next batch: a spent one, its old events still in it for the caller to
  // overwrite or drop, or an empty one.
  std::vector<Event> Take();

 private:
  const size_t max_vectors_;
  std::mutex mu_;
  std::vector<std::vector<Event>> spent_;
};

}  // namespace handoff
