// LogPublisher: the IngestSink of a cluster node. Instead of applying a batch, it appends every
// event to the cluster's event log (cluster/event_log.h), on its lead's partition, and reports
// the batch done only when JetStream has acknowledged every one of its events (stored on a
// majority of the stream's replicas). The engine applies them later, from the log, on whichever
// node owns the partition (cluster/log_applier.h).
//
// - Idempotent publishes: every message carries `Nats-Msg-Id`, the event's messageId or, for an
//   event without one, an id unique to this process and event, so a publish retried after a lost
//   answer is stored once.
// - A publish that fails (no stream leader during an election, a timeout) is retried, with the
//   same id, until it succeeds or the publisher stops; its batch and every later one wait.
// - Batches are reported done in the order they were submitted (the ingest servers acknowledge
//   in order).
//
// Thread-safe. Submit only queues: the publisher's own thread (`cluster-publish`) waits for the
// stream, encodes and publishes, so no socket thread ever blocks on NATS. `done` callbacks run on
// cnats' threads or the publisher's.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cluster/event_log.h"
#include "cluster/nats_link.h"
#include "ingest/ingest_sink.h"

namespace handoff {

struct LogPublisherOptions {
  std::vector<std::string> urls;
  std::string node_id;
  // The stream's partition count; the publisher learns the real one from the stream.
  EventLogLayout layout;
};

class LogPublisher : public IngestSink {
 public:
  // Connects (in the background if NATS is not there yet). An error only for bad options.
  static Result<std::unique_ptr<LogPublisher>> Open(const LogPublisherOptions& options);
  // Fails what is still waiting (Unavailable: the senders resend it) and closes the link.
  ~LogPublisher() override;

  void Submit(IngestBatch batch) override;

  // Messages published and not yet acknowledged (for metrics and tests).
  uint64_t pending_messages() const;

 private:
  struct Pending {
    IngestDone done;
    size_t remaining = 0;
  };

  explicit LogPublisher(LogPublisherOptions options);
  static void OnAck(jsCtx* js, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error, void* self);
  void Acked(natsMsg* msg, bool ok);
  // Publisher thread: the stream's layout first, then queued batches and retries.
  void Loop();
  // Publisher thread: one batch's events as messages, each published.
  void PublishBatch(IngestBatch& batch, Pending* pending);
  // Publishes one message (takes it); an immediate failure queues it for a retry.
  void Publish(natsMsg* msg);
  // Under mu_: takes the finished batches off the front, in order, into *finished.
  void TakeFinished(std::vector<IngestDone>* finished);

  LogPublisherOptions options_;
  std::unique_ptr<NatsLink> link_;
  // Publisher thread only.
  uint64_t next_local_id_ = 0;  // ids of events without a messageId
  std::string local_id_prefix_;
  std::string scratch_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<IngestBatch, Pending*>> queued_;
  std::deque<std::unique_ptr<Pending>> order_;
  std::unordered_map<natsMsg*, Pending*> in_flight_;
  std::vector<natsMsg*> to_retry_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace handoff
