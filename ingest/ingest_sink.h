// IngestSink: where the ingest servers hand validated events (the engine implements it).
//
// The ingest stage knows nothing of scoring or storage: it frames, parses and validates, then
// submits each read's events as one IngestBatch and acknowledges when `done` reports them durable.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "base/metrics.h"
#include "handoff/clock.h"
#include "handoff/event.h"
#include "handoff/status.h"

namespace handoff {

// Called once the batch's events are durable (OK) or could not be made durable (an error: the
// events must not be acknowledged). Runs on the sink's thread: hop back before touching a socket.
using IngestDone = std::function<void(const Status&)>;

// Where and when one event came in (cluster mode: a batch read from the log mixes many reads).
struct EventOrigin {
  Transport transport = Transport::kTcp;
  EpochSeconds received_at = 0;
};

// Validated events from one read of one connection (or one HTTP request), in the order sent.
struct IngestBatch {
  Transport transport = Transport::kTcp;
  std::vector<Event> events;
  EpochSeconds received_at = 0;  // wall clock; the time of events without a timestamp
  std::chrono::steady_clock::time_point received_mono;
  IngestDone done;
  // Cluster mode (docs/cluster.md): where in the cluster's event log this batch ends, as meta
  // (key, value) pairs (one per partition it holds). The sink stores them in the same durable
  // write as the batch's effects, so a restart resumes right after what it applied.
  std::vector<std::pair<std::string, std::string>> log_positions;
  // Cluster mode: when not empty, one per event, in place of `transport` and `received_at` (the
  // log applier hands over events of many reads in one batch, which must commit as one).
  std::vector<EventOrigin> origins;
};

class IngestSink {
 public:
  virtual ~IngestSink() = default;
  // Queues a batch; events of batches submitted from one thread take effect in submit order.
  // Thread-safe.
  virtual void Submit(IngestBatch batch) = 0;
};

}  // namespace handoff
