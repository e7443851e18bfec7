// LogPublisher: the IngestSink of a cluster node. Instead of applying a batch, it appends its
// events to the cluster's event log (cluster/event_log.h), on the ingest subject, each marked
// with its lead's partition, and reports the batch done only when JetStream has acknowledged
// every message holding one of its events (stored on a majority of the stream's replicas). The
// engine applies them later, from the log, on whichever node owns the partition
// (cluster/log_applier.h).
//
// - One message in flight at a time: while it is, the events arriving gather into the next one
//   (group commit, as the engine's), which is sent when the answer comes. A message holds events
//   of every partition, in arrival order, so the stream holds this node's events in the order
//   they arrived, even when a publish fails and is retried: no later line of a connection is in
//   the log, and so takes effect, before an earlier one (SPEC 3 and issue 15's "no later line of
//   that connection takes effect before it"). A node that dies with a message unstored has sent
//   nothing after it.
// - Idempotent publishes: every message carries a `Nats-Msg-Id` unique to this process and the
//   message; a message whose answer was lost (no stream leader during an election, a timeout,
//   the link moving to another server) is sent again, same id and bytes, until it is stored or
//   the publisher stops, and JetStream stores it once.
// - Merged ids: an event goes to the partition of its lead's id, or, when this node has linked
//   that id into another (an identify or alias it published), to the merged lead's partition,
//   so later events under the older id follow the lead. Links come from the engine
//   (IdentityView, every link applied) and, for those not applied yet, from the links this
//   publisher made (its last 1M).
// - Batches are reported done in the order they were submitted (the ingest servers acknowledge
//   in order).
//
// Thread-safe. Submit only queues: the publisher's own thread (`cluster-publish`) waits for the
// stream, encodes, publishes and runs the `done` callbacks, so no socket thread ever blocks on
// NATS. cnats' threads only hand the publish answers back to it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/lasting_problem.h"
#include "cluster/event_log.h"
#include "cluster/log_progress.h"
#include "cluster/nats_link.h"
#include "ingest/identity_view.h"
#include "ingest/ingest_sink.h"

namespace handoff {

struct LogPublisherOptions {
  std::vector<std::string> urls;
  std::string node_id;
  // The stream's partition count; the publisher learns the real one from the stream.
  EventLogLayout layout;
  // The engine's identity links (borrowed; null: only the links this publisher made). With
  // `progress`, the publisher routes nothing until the engine has applied the log as far as it
  // was when the publisher started, so every link logged before is known.
  const IdentityView* identities = nullptr;
  std::shared_ptr<LogProgress> progress;
};

class LogPublisher : public IngestSink {
 public:
  // Connects (in the background if NATS is not there yet). An error only for bad options.
  static Result<std::unique_ptr<LogPublisher>> Open(const LogPublisherOptions& options);
  // Fails what is still waiting (Unavailable: the senders resend it) and closes the link.
  ~LogPublisher() override;

  void Submit(IngestBatch batch) override;

 private:
  // A batch waiting for the messages that hold its events.
  struct Pending {
    IngestDone done;
    size_t remaining = 0;  // messages not yet stored
  };
  // One message of the ingest subject: events of one or more batches, in arrival order, in one
  // section per partition.
  struct Chunk {
    std::map<uint32_t, std::string> sections;  // partition -> its version 5 section (unsent)
    std::string payload;                       // set when first sent; a resend sends it again
    std::string msg_id;
    std::vector<Pending*> covers;  // each once, in order
    uint32_t events = 0;
    size_t bytes = 0;
    bool sent = false;  // sealed: a resend must carry the same bytes under the same id
  };
  // JetStream's answer to a publish: stored, or why not (its error, "timeout").
  struct PublishAnswer {
    bool stored = false;
    std::string why;
  };
  // Ids this node linked (identify, alias): older id -> the id it was merged into.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };

  explicit LogPublisher(LogPublisherOptions options);
  static void OnAck(jsCtx* js, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error, void* self);
  // Publisher thread: the stream's layout first, then batches, answers and retries.
  void Loop();
  // Publisher thread: a batch's events into the open message.
  void Append(IngestBatch& batch);
  // Publisher thread: the partition an event goes to (its lead as this node knows it); a link
  // is remembered for the events after it, and sets `new_message` when it must open a new
  // message (its older lead's partition has events in the open one).
  uint32_t Route(const Event& event, bool* new_message);
  // Publisher thread: the id `id` was merged into, following the links this publisher made and
  // the engine's. The view lives until the next call.
  std::string_view Resolve(std::string_view id);
  // Publisher thread: false when stopping first.
  bool WaitForEngine(uint64_t last_seq);
  void RememberLink(std::string_view older, std::string_view newer);
  // Publisher thread: the message events go into now; `new_one`: one opened after the others.
  Chunk& OpenChunk(bool new_one);
  // Publisher thread: sends the front message when none is in flight and no retry waits.
  void SendReady(std::chrono::steady_clock::time_point now);
  void Answered(const PublishAnswer& answer, std::chrono::steady_clock::time_point now);
  // Publisher thread: the done callbacks of the finished batches at the front, in order.
  void FinishInOrder();

  LogPublisherOptions options_;
  std::unique_ptr<NatsLink> link_;

  // Publisher thread only.
  std::string msg_id_prefix_;  // node/boot/
  uint64_t next_chunk_id_ = 0;
  std::deque<Chunk> chunks_;  // the front one is the one sent
  bool in_flight_ = false;
  bool retry_ = false;  // the front one failed; it goes again at retry_at_
  std::chrono::steady_clock::time_point retry_at_;
  LastingProblem publish_problem_;  // publishes that fail one after another
  std::deque<std::unique_ptr<Pending>> order_;
  std::unordered_map<std::string, std::string, StringHash, std::equal_to<>> merged_into_;
  std::deque<std::string> link_order_;  // merged_into_'s keys, oldest first (its bound)
  std::string resolved_[2];             // Resolve's answers from the engine

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<IngestBatch> queued_;
  std::vector<PublishAnswer> answers_;  // in the order they came
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace handoff
