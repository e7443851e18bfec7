// LogPublisher: the IngestSink of a cluster node. Instead of applying a batch, it appends its
// events to the cluster's event log (cluster/event_log.h), each on its lead's partition, and
// reports the batch done only when JetStream has acknowledged every message holding one of its
// events (stored on a majority of the stream's replicas). The engine applies them later, from the
// log, on whichever node owns the partition (cluster/log_applier.h).
//
// - One message per partition at a time: while a partition's message is in flight, the events
//   for that partition gather into the next one (group commit, as the engine's), which is sent
//   when the answer comes. So a partition's messages are stored in the order the events arrived,
//   even when a publish fails and is retried: every lead sees one connection's events in the
//   order sent (SPEC 3), and no later event of a lead is stored before an earlier one.
// - Idempotent publishes: every message carries a `Nats-Msg-Id` unique to this process, the
//   partition and the message; a message whose answer was lost (no stream leader during an
//   election, a timeout, the link moving to another server) is sent again, same id and bytes,
//   until it is stored or the publisher stops, and JetStream stores it once.
// - Merged ids: an event goes to the partition of its lead's id, or, when this node has linked
//   that id into another (an identify or alias it published), to the merged lead's partition,
//   so later events under the older id follow the lead. A link whose older id lives in another
//   partition waits until every message queued there before it is stored: the log holds a
//   connection's events of the lead, before and after the merge, in the order sent. Links come
//   from the engine (IdentityView, every link applied) and, for those not applied yet, from the
//   links this publisher made (its last 1M).
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
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

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
  // "Send only after message `number` of partition `partition` is stored."
  struct After {
    uint32_t partition = 0;
    uint64_t number = 0;
  };
  // One message of a partition: events of one or more batches, in arrival order.
  struct Chunk {
    uint64_t number = 0;  // per partition, from 1, in creation order
    std::string payload;
    std::string msg_id;
    std::vector<Pending*> covers;  // each once, in order
    std::vector<After> after;      // set at creation, on messages that exist then (no cycles)
    uint32_t events = 0;
    bool sent = false;  // sealed: a resend must carry the same bytes under the same id
  };
  struct Partition {
    std::deque<Chunk> chunks;  // the front one is the one sent
    uint64_t next_number = 1;
    uint64_t stored_through = 0;  // the number of the last message stored
    bool in_flight = false;
    bool retry = false;  // the front one failed; it goes again at retry_at
    std::chrono::steady_clock::time_point retry_at;
    bool seal = false;  // the next event opens a new message, which waits for `next_after`
    std::vector<After> next_after;
  };
  // Ids this node linked (identify, alias): older id -> the id it was merged into.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  // A publish's answer, handed from cnats' thread to the publisher's.
  struct Answer {
    uint32_t partition = 0;
    bool stored = false;
  };

  explicit LogPublisher(LogPublisherOptions options);
  static void OnAck(jsCtx* js, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error, void* self);
  // Publisher thread: the stream's layout first, then batches, answers and retries.
  void Loop();
  // Publisher thread: a batch's events into their partitions' open messages.
  void Append(IngestBatch& batch);
  // Publisher thread: the partition an event goes to (its lead as this node knows it), after
  // ordering a link event behind what is queued under the older id's partition.
  uint32_t Route(const Event& event);
  // Publisher thread: the id `id` was merged into, following the links this publisher made and
  // the engine's. The view lives until the next call.
  std::string_view Resolve(std::string_view id);
  // Publisher thread: false when stopping first.
  bool WaitForEngine(uint64_t last_seq);
  void RememberLink(std::string_view older, std::string_view newer);
  // Publisher thread: the message events of partition `p` go into now.
  Chunk& OpenChunk(uint32_t p);
  // Publisher thread: sends the front message of every partition that has none in flight.
  void SendReady(std::chrono::steady_clock::time_point now);
  void Send(Partition& partition, uint32_t p, std::chrono::steady_clock::time_point now);
  void Answered(const Answer& answer, std::chrono::steady_clock::time_point now);
  // Publisher thread: the done callbacks of the finished batches at the front, in order.
  void FinishInOrder();

  LogPublisherOptions options_;
  std::unique_ptr<NatsLink> link_;

  // Publisher thread only.
  std::string msg_id_prefix_;  // node/boot/
  uint64_t next_chunk_id_ = 0;
  std::vector<Partition> partitions_;
  std::deque<std::unique_ptr<Pending>> order_;
  std::unordered_map<std::string, std::string, StringHash, std::equal_to<>> merged_into_;
  std::deque<std::string> link_order_;  // merged_into_'s keys, oldest first (its bound)
  std::string resolved_[2];             // Resolve's answers from the engine

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<IngestBatch> queued_;
  std::vector<Answer> answers_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace handoff
