// RoutingPublisher: cluster mode's RoutingLog (docs/cluster.md, "The router and the outbox").
//
// The engine appends the routing inputs it produces once they are durable in its store; this
// publishes them, in that order, to the event stream's routing subject (handoff.events.routing),
// where every node's LogApplier reads them back for its router. One message at a time holds
// every input queued meanwhile (up to kMaxInputsPerMessage and kMaxMessageBytes); a message whose
// answer is lost is sent again with the same Nats-Msg-Id and bytes until the stream has it, so
// the stream holds each node's inputs once and in order. (A node that dies with inputs queued loses
// them here: the partition they came from is applied past them. The engine keeps them in its store
// until `stored` says the log has them, and logs them again after a restart.)
//
// It is also the router's clock: while `ticks` says so (this node holds partition 0's lease, so
// one node at a time), it logs a tick every second. And each partition's: it logs the time in
// the partitions this node holds, for their stage re-checks.
//
// Thread-safe: Append from any thread; one thread of its own publishes.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cluster/event_log.h"
#include "cluster/nats_link.h"
#include "handoff/clock.h"
#include "handoff/status.h"
#include "routing/routing_input.h"
#include "routing/routing_log.h"

namespace handoff {

// The routing subject of the event stream (not a partition: PartitionOfSubject says -1).
inline constexpr std::string_view kRoutingSubject = "handoff.events.routing";

// A routing message is a list of inputs (EncodeRoutingInputs, routing/routing_input.h).

struct RoutingPublisherOptions {
  std::vector<std::string> urls;
  std::string node_id;
  // True while this node logs the router's ticks. Called from the publisher's thread.
  std::function<bool()> ticks;
  // Seconds between two ticks. Default: 1.
  double tick_interval = 1;
  // Borrowed; the ticks' time.
  const Clock* clock = nullptr;
  // The partitions' clocks (docs/cluster.md, "A partition's clock"): every
  // `partition_clock_interval` seconds (0: never), the time goes into the log of each partition
  // `held_partitions` names (this node holds their leases). Called from the publisher's thread.
  double partition_clock_interval = 0;
  std::function<std::vector<uint32_t>()> held_partitions;
};

class RoutingPublisher final : public RoutingLog {
 public:
  static Result<std::unique_ptr<RoutingPublisher>> Open(RoutingPublisherOptions options);
  ~RoutingPublisher() override;
  RoutingPublisher(const RoutingPublisher&) = delete;
  RoutingPublisher& operator=(const RoutingPublisher&) = delete;

  void Append(std::vector<RoutingInput> inputs, std::function<void()> stored) override;
  // Publishes the reset into the partition's log (cluster/event_log.h, a stage reset message),
  // with a Nats-Msg-Id of the reset's, so the stream stores the nodes' copies once.
  void LogStageReset(uint32_t partition, std::string lead, std::string reset_id,
                     EpochSeconds at) override;
  // Logs a re-evaluation of every lead's stage (PartitionControl::Kind::kReevaluate) in each
  // partition `held_partitions` names, soon, on the publisher's thread. Any thread.
  void LogReevaluation();

  static constexpr size_t kMaxInputsPerMessage = 512;
  // Bytes of one message at most (NATS refuses payloads over 1 MiB by default).
  static constexpr size_t kMaxMessageBytes = 900 * 1024;

 private:
  explicit RoutingPublisher(RoutingPublisherOptions options) : options_(std::move(options)) {}
  void Loop();
  // `count` more queued inputs are in the log: runs the `stored` of each Append now whole.
  void Stored(size_t count);
  // Publishes until stored or stopping; false when stopping first.
  bool PublishUntilStored(const std::string& subject, const std::string& msg_id,
                          const std::string& payload);
  // The time into the log of every partition held; false when stopping first.
  bool LogPartitionClocks(bool reevaluate);

  RoutingPublisherOptions options_;
  std::unique_ptr<NatsLink> link_;
  std::string boot_;  // this process's start, in message ids
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<RoutingInput> queued_;  // under mu_
  // Each Append's inputs not yet stored, and its `stored`, oldest first (under mu_).
  struct Appended {
    size_t left = 0;
    std::function<void()> stored;
  };
  std::deque<Appended> appended_;
  bool stopping_ = false;    // under mu_
  bool reevaluate_ = false;  // under mu_: LogReevaluation asked
  struct StageReset {
    uint32_t partition = 0;
    std::string lead;
    std::string reset_id;
    EpochSeconds at = 0;
  };
  std::deque<StageReset> resets_;  // under mu_
  uint64_t messages_ = 0;          // publisher thread
  uint64_t clocks_ = 0;            // publisher thread
  std::thread thread_;
};

}  // namespace handoff
