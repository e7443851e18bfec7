// IngestSink: where the ingest servers hand validated events (the engine implements it).
//
// The ingest stage knows nothing of scoring or storage: it frames, parses and validates, then
// submits each read's events as one IngestBatch and acknowledges when `done` reports them durable.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/metrics.h"
#include "handoff/clock.h"
#include "handoff/event.h"
#include "handoff/status.h"
#include "ingest/spent_events.h"

namespace handoff {

// Called once the batch's events are durable (OK) or could not be made durable (an error: the
// events must not be acknowledged). Runs on the sink's thread: hop back before touching a socket.
using IngestDone = std::function<void(const Status&)>;

// Where and when one event came in (cluster mode: a batch read from the log mixes many reads).
struct EventOrigin {
  Transport transport = Transport::kTcp;
  EpochSeconds received_at = 0;
  // Cluster mode: the event's place in the cluster's event log, LogApplyOrder(stream sequence,
  // index in its message), which the history keeps as the event's apply order. So every node
  // orders a lead's events the same way whenever it applied them (a partition rebuilt after a
  // takeover, a merge of leads from two partitions). 0: the sink numbers the event itself.
  uint64_t apply_order = 0;
};

// The apply order of the `index`-th event of the log message at stream sequence `seq` (a message
// holds at most 4,096 events).
constexpr uint64_t LogApplyOrder(uint64_t seq, uint64_t index) { return seq << 12 | index; }
// The index LogApplyOrder was given.
constexpr uint32_t LogApplyIndex(uint64_t apply_order) {
  return static_cast<uint32_t>(apply_order & 0xfff);
}

// Cluster mode: a change to a partition's leads that no event makes, read from its log
// (docs/cluster.md, "A partition's clock"), so whichever node applies the partition, now or
// rebuilding it later, makes it at the same place.
struct PartitionControl {
  enum class Kind : uint8_t {
    // The partition's clock: the stage exits that time alone causes (SPEC 5.3) at `at`.
    kStageCheck,
    // Every lead of the partition runs its stage machine at `at` (promote, else demote), as
    // Engine::ReevaluateStages does: new rules applied.
    kReevaluate,
    // The cluster router closed `lead` as `recycled` (SPEC 9): its stage goes back to the first,
    // without a record (the router published it), once per `reset_id`.
    kStageReset,
  };
  Kind kind = Kind::kStageCheck;
  uint32_t partition = 0;
  EpochSeconds at = 0;
  uint64_t apply_order = 0;  // its place in the log (LogApplyOrder)
  size_t before_event = 0;   // applied before the batch's event of this index (or after all)
  std::string lead;          // kStageReset
  std::string reset_id;      // kStageReset
};

// Validated events from one read of one connection (or one HTTP request), in the order sent.
struct IngestBatch {
  Transport transport = Transport::kTcp;
  std::vector<Event> events;
  EpochSeconds received_at = 0;  // wall clock; the time of events without a timestamp
  std::chrono::steady_clock::time_point received_mono;
  IngestDone done;
  // Where the sink gives `events` back once it has applied them (ingest/spent_events.h), so that
  // the thread that parsed them frees or reuses them; null: the sink frees them.
  std::shared_ptr<SpentEvents> spent;
  // Cluster mode (docs/cluster.md): where in the cluster's event log this batch ends, as meta
  // (key, value) pairs (one per partition it holds). The sink stores them in the same durable
  // write as the batch's effects, so a restart resumes right after what it applied.
  std::vector<std::pair<std::string, std::string>> log_positions;
  // Cluster mode: when not empty, one per event, in place of `transport` and `received_at` (the
  // log applier hands over events of many reads in one batch, which must commit as one).
  std::vector<EventOrigin> origins;
  // Cluster mode: the partitions' controls read among the events, in log order.
  std::vector<PartitionControl> controls;
  // Filled by the sink on the submitting thread, for the sink's own thread: work on the events
  // that needs none of its state, done before the batch is queued (the engine: each event's
  // history encoding, so that its single thread only copies it). Event i's bytes are
  // [prepared_ends[i-1], prepared_ends[i]) of `prepared` (from 0 for the first); empty
  // prepared_ends: nothing prepared. Producers leave both empty.
  std::string prepared;
  std::vector<uint32_t> prepared_ends;
};

class IngestSink {
 public:
  virtual ~IngestSink() = default;
  // Queues a batch; events of batches submitted from one thread take effect in submit order.
  // Thread-safe.
  virtual void Submit(IngestBatch batch) = 0;
  // True while the sink has nothing to do (a hint, read without a lock): a producer holding part
  // of a read may submit it at once rather than keep it until the read is parsed. Thread-safe.
  virtual bool Waiting() const { return false; }
};

}  // namespace handoff
