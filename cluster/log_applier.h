// LogApplier: feeds this node's engine from the cluster's event log, in the log's order.
//
// It reads the stream HANDOFF_EVENTS from just after the last sequence this node's store says
// it applied (a pull consumer of its own, fetching as the engine makes room), turns runs of
// whole messages (each one or more events) into IngestBatches and submits them to the engine,
// each carrying its last sequence
// (IngestBatch::log_position_*), which the engine writes in the same durable write as the
// batch's effects. After a crash the node resumes right after what it made durable: every
// event applied exactly once.
//
// It applies only the partitions this node owns (Own/Disown, from cluster/partition_leases.h)
// and skips the others' messages; per partition it keeps the last sequence applied (meta
// `cluster.applied_seq.<p>`). Taking a partition over whose last applied sequence is behind the
// read position moves the read back to it: the partition is rebuilt from the stream, and the
// partitions already ahead skip what they applied.
//
// Thread-safe; one thread of its own (`cluster-apply`). The engine's completions may outlive the
// applier (they hold shared state only).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cluster/event_log.h"
#include "cluster/hand_over.h"
#include "cluster/log_progress.h"
#include "cluster/nats_link.h"
#include "ingest/identity_view.h"
#include "ingest/ingest_sink.h"
#include "ingest/lead_exchange.h"
#include "routing/routing_log.h"

namespace handoff {

// The store's meta key of the last stream sequence applied of a partition (a decimal number):
// kAppliedSeqKey + "." + partition. The first cluster release kept one, kAppliedSeqKey, for all.
inline constexpr std::string_view kAppliedSeqKey = "cluster.applied_seq";
std::string AppliedSeqKey(uint32_t partition);
// The store's meta key of the last sequence of the routing subject applied (a decimal number).
inline constexpr std::string_view kRoutingAppliedSeqKey = "cluster.applied_seq.routing";

struct LogApplierOptions {
  std::vector<std::string> urls;
  std::string node_id;
  // The last sequence applied of a partition before this start (the store's
  // AppliedSeqKey(p); 0: none). Asked once per partition, on the applier's thread, the first
  // time the node owns it; later the applier's own count holds.
  std::function<uint64_t(uint32_t partition)> applied_seq;
  // A batch is submitted once it holds this many events (whole messages only: a message is
  // applied in one write, so a batch may pass it by one message). Default: 1,024.
  size_t max_batch_events = 1024;
  // Bytes one fetch asks for, at most (a message holds up to 512 KiB). Default: 4 MiB.
  int64_t max_fetch_bytes = 4 << 20;
  // Batches submitted and not yet durable, at most: the read waits beyond it. Default: 8.
  size_t max_batches_in_flight = 8;
  EventLogLayout layout;
  // Told the stream's partition count once the applier has read it, before anything is
  // submitted (it may differ from `layout`'s: the stream's is fixed when it is made). Called on
  // the applier's thread; may be empty.
  std::function<void(uint32_t partitions)> stream_partitions;
  // Where the applier reports its progress (made when null).
  std::shared_ptr<LogProgress> progress;
  // Merges across partitions (docs/cluster.md "Several nodes"): the engine's links as applied so
  // far, and how leads move between engines. Both borrowed; null: links across partitions are
  // applied where they are, as in the first cluster release.
  const IdentityView* identities = nullptr;
  LeadExchange* exchange = nullptr;
  // Cluster mode's router (docs/cluster.md, "The router and the outbox"): the routing
  // subject's inputs go there, in the log's order among the partitions' batches, on every node
  // whatever it holds. The router's state is in memory only, so the read starts at the log's
  // start; the inputs up to `routing_applied_seq` (the store's kRoutingAppliedSeqKey) are
  // applied again as a replay. Borrowed; null: the routing subject is skipped.
  RoutingSink* routing = nullptr;
  uint64_t routing_applied_seq = 0;
};

class LogApplier {
 public:
  static Result<std::unique_ptr<LogApplier>> Open(const LogApplierOptions& options,
                                                  IngestSink* engine);
  ~LogApplier();
  LogApplier(const LogApplier&) = delete;
  LogApplier& operator=(const LogApplier&) = delete;

  // This node applies `partition` from now on / no longer: taken when the lease round that made
  // the change is over (LogProgress::rounds). Thread-safe.
  void Own(uint32_t partition);
  void Disown(uint32_t partition);

 private:
  // What the engine's completions touch: kept alive by them.
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    size_t in_flight = 0;
  };

  LogApplier(LogApplierOptions options, IngestSink* engine);
  void Loop();
  // A consumer from just after last_read_seq_; false (after logging) while the stream is not
  // reachable.
  bool Subscribe();
  // Waits `wait`, or less when the applier stops.
  void Pause(std::chrono::milliseconds wait);
  // Takes the ownership changes of the lease rounds finished since the last call; may move the
  // read position back.
  void TakeOwnership();
  // One fetched message's events into the batch being built (or skipped, said, when
  // unreadable), submitting the batch when it is full. False when it is not the next
  // sequence: one before it went missing.
  bool Take(natsMsg* msg);
  // A message of the ingest subject at `seq`: the sections of the partitions this node applies,
  // each as a message of its partition at `seq`.
  void TakeIngest(uint64_t seq, std::string_view payload);
  // Submits the batch being built, waiting for room first.
  void Flush();
  // The batch's events from `first` on (one ingest message's sections) in their apply order.
  void InArrivalOrder(size_t first);
  // Partition `p` is applied through `through`: its position here, and the one `batch` stores
  // with the engine's write of it.
  void MarkApplied(uint32_t p, uint64_t through, IngestBatch* batch);

  // Merges across partitions. A message of partition `p` at `seq` whose events were just decoded
  // into batch_ from `first` on: when it holds links whose older ids live in other partitions,
  // takes its events back out, holds `p` before it and logs a hand-over request for each.
  // False when nothing is held.
  bool HoldForHandOvers(uint32_t p, uint64_t seq, size_t first, std::string_view payload);
  // One message of partition `p`, not held back, read at `seq` (or taken from the held ones):
  // its events into the batch, or a hand-over request or answer. False when the read moved
  // back.
  bool TakeMessage(uint32_t p, uint64_t seq, std::string_view payload);
  // A partition's clock or stage reset at sequence `seq`: into the batch at its place.
  void TakeControl(uint32_t partition, uint64_t seq, PartitionControl control);
  // A message of partition `p` while it is held back: an answer it waits for is taken, a
  // request it can answer is answered; anything else waits in memory behind the held message.
  bool Offer(uint32_t p, uint64_t seq, std::string_view payload);
  // A request read in a partition this node holds: the lead exported, the answer logged in the
  // requester's partition, then the lead handed over. `covered_seq`: the partition's last
  // sequence applied, which the export covers (the request's own when the partition is not held).
  void AnswerHandOver(const HandOverRequest& request, uint64_t covered_seq);
  // True when the request's older id has moved already (handed over from here, or taken in
  // here: IdentityView::HandedOverAfter): its answer is in the log, and the lead it belongs to
  // here is not its to export. Logs an empty answer under the answer's ids (a duplicate, or the
  // answer to another link to the same id, which must not wait for ever).
  bool MovedAlready(const HandOverRequest& request);
  // An answer read in partition `p`: taken when `p` waits for it; once `p` has every answer it
  // waits for, the leads are imported and the held message and those behind it are taken (or,
  // when they overflowed memory, the read moves back to it). False when the read moved back (the
  // rest of the fetch is read again).
  bool TakeHandOverAnswer(uint32_t p, const HandOverAnswer& answer);
  // Events of the message at `seq` (in batch_ from `first` on) under an id whose lead moved to
  // another partition's lead before `seq` are logged again in that partition, and leave the
  // batch: a lead's events are applied where it lives. Those at or before the move (this
  // partition read again) leave the batch: the history that moved holds them.
  void ForwardMovedEvents(uint32_t p, uint64_t seq, size_t first);
  // Waits for an engine task's `done`; false when the applier stops first.
  bool WaitFor(std::future<void> done);
  // A message of the routing subject at `seq`: its inputs to the router, once (gathered until
  // the next Flush).
  void TakeRouting(uint64_t seq, std::string_view payload);
  // Hands the routing inputs gathered to the router, with the position they bring it to.
  void SubmitRoutingBatch();
  // Publishes `payload` under `msg_id` on `subject`, waiting for JetStream's answer, again until
  // it is stored or the applier stops. False when it stops first.
  bool PublishUntilStored(const std::string& subject, const std::string& msg_id,
                          const std::string& payload);

  LogApplierOptions options_;
  IngestSink* engine_;
  std::unique_ptr<NatsLink> link_;
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  std::atomic<bool> stopping_{false};
  std::thread thread_;

  // Applier thread only.
  natsSubscription* subscription_ = nullptr;
  uint64_t last_read_seq_ = 0;
  uint64_t submitted_seq_ = 0;  // the last sequence handed to the engine
  int64_t idle_fetches_ = 0;    // fetches in a row that found nothing
  IngestBatch batch_;
  uint64_t corrupt_ = 0;
  std::vector<uint32_t> indexes_;        // TakeMessage's decoded places
  std::vector<IngestSection> sections_;  // TakeIngest's
  bool in_ingest_ = false;               // taking an ingest message's sections
  uint64_t flushes_ = 0;                 // batches submitted (Flush), to see one happen
  // Partitions owned whose section of the ingest message being read is not taken yet.
  std::vector<uint32_t> untaken_;
  // Per partition (the stream's count): owned now; last sequence handed to the engine, or
  // kUnknown until the store was asked.
  static constexpr uint64_t kUnknown = ~uint64_t{0};
  std::vector<bool> owned_;
  std::vector<uint64_t> applied_;
  bool subscribed_once_ = false;
  uint64_t routing_read_ = 0;  // the last routing message read for the router
  // Routing messages read since the last Flush, handed to the router after the partitions'
  // batch; routing_seq_ is the last one's sequence (0: none gathered).
  RoutingBatch routing_batch_;
  uint64_t routing_seq_ = 0;
  // Partitions held back at a message with links across partitions, until their answers came.
  struct Held {
    uint64_t seq = 0;  // the message held back: the read moves back to it
    struct Parts {
      uint32_t count = 0;                   // 0 until the first part came
      std::map<uint32_t, std::string> got;  // part -> its bytes
    };
    std::map<LinkPlace, Parts> awaiting;  // link -> its answer's parts so far
    std::string message;                  // the held message
    // The partition's later messages read meanwhile (seq, payload), taken once the answers are
    // in; `overflowed` when they grew past the memory bound (the read moves back instead).
    std::vector<std::pair<uint64_t, std::string>> skipped;
    size_t skipped_bytes = 0;
    bool overflowed = false;
  };
  std::map<uint32_t, Held> held_;
  std::multiset<uint32_t> replaying_;  // partitions whose held messages are being taken
  std::set<LinkPlace> imported_;       // links whose older lead was imported (this run)
  std::set<LinkPlace> answered_;       // requests answered (this run), not to be answered again
  uint64_t rounds_seen_ = 0;           // LogProgress::rounds when ownership was last taken

  // Ownership changes, from any thread.
  std::mutex own_mu_;
  std::vector<std::pair<uint32_t, bool>> own_changes_;
};

}  // namespace handoff
