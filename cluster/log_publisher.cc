#include "cluster/log_publisher.h"

#include <pthread.h>

#include <chrono>
#include <cstdlib>
#include <random>

#include "base/log.h"

namespace handoff {
namespace {

constexpr auto kRetryWait = std::chrono::milliseconds(200);
constexpr const char* kMsgIdHeader = "Nats-Msg-Id";
constexpr int64_t kPublishWaitMs = 2000;

}  // namespace

Result<std::unique_ptr<LogPublisher>> LogPublisher::Open(const LogPublisherOptions& options) {
  std::unique_ptr<LogPublisher> publisher(new LogPublisher(options));
  NatsLinkOptions link_options;
  link_options.urls = options.urls;
  link_options.name = options.node_id + "/publish";
  // The ingest servers bound what is in flight (max_total_inflight_bytes); this only has to be
  // above it, so a publish never waits for room.
  link_options.max_pending_publishes = 1 << 20;
  link_options.ack_handler = &LogPublisher::OnAck;
  link_options.ack_closure = publisher.get();
  auto link = NatsLink::Open(link_options);
  if (!link.ok()) {
    return link.status();
  }
  publisher->link_ = std::move(link.value());
  publisher->thread_ = std::thread([p = publisher.get()] { p->Loop(); });
  return publisher;
}

LogPublisher::LogPublisher(LogPublisherOptions options) : options_(std::move(options)) {
  std::random_device random;
  const uint64_t boot = (static_cast<uint64_t>(random()) << 32) | random();
  local_id_prefix_ = options_.node_id + "/" + std::to_string(boot) + "/";
}

LogPublisher::~LogPublisher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  // Closing the link ends cnats' ack delivery; what did not come back is not acknowledged.
  link_.reset();
  std::vector<IngestDone> failed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (natsMsg* msg : to_retry_) {
      natsMsg_Destroy(msg);
    }
    to_retry_.clear();
    in_flight_.clear();
    for (auto& pending : order_) {
      failed.push_back(std::move(pending->done));
    }
    order_.clear();
  }
  for (IngestDone& done : failed) {
    if (done) {
      done(Status::Unavailable("the node is stopping; resend"));
    }
  }
}

void LogPublisher::Submit(IngestBatch batch) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto pending = std::make_unique<Pending>();
    pending->done = std::move(batch.done);
    pending->remaining = batch.events.size();
    Pending* raw = pending.get();
    order_.push_back(std::move(pending));
    queued_.emplace_back(std::move(batch), raw);
  }
  cv_.notify_all();
}

uint64_t LogPublisher::pending_messages() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_.size();
}

void LogPublisher::Loop() {
  pthread_setname_np(pthread_self(), "cluster-publish");
  // Nothing is published before the stream's partition count is known.
  for (;;) {
    Status st = EnsureEventStream(link_->js(), &options_.layout);
    if (st.ok()) {
      break;
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, kRetryWait, [this] { return stopping_; })) {
      return;
    }
  }
  std::deque<std::pair<IngestBatch, Pending*>> batches;
  std::vector<natsMsg*> retries;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queued_.empty() || !to_retry_.empty(); });
      if (stopping_) {
        return;
      }
      batches.swap(queued_);
      retries.swap(to_retry_);
    }
    if (!retries.empty()) {
      // A failed publish: JetStream has no leader for a moment, or the link moves to another
      // server. Wait a little, then send again with the same id.
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, kRetryWait, [this] { return stopping_; })) {
        for (natsMsg* msg : retries) {
          natsMsg_Destroy(msg);
        }
        return;
      }
    }
    for (natsMsg* msg : retries) {
      Publish(msg);
    }
    retries.clear();
    for (auto& [batch, pending] : batches) {
      PublishBatch(batch, pending);
    }
    batches.clear();
    std::vector<IngestDone> finished;
    {
      std::lock_guard<std::mutex> lock(mu_);
      TakeFinished(&finished);  // a batch of no events
    }
    for (IngestDone& done : finished) {
      if (done) {
        done(Status::Ok());
      }
    }
  }
}

void LogPublisher::PublishBatch(IngestBatch& batch, Pending* pending) {
  LoggedEvent meta;
  meta.transport = batch.transport;
  meta.received_at = batch.received_at;
  std::string local_id;
  for (const Event& event : batch.events) {
    EncodeLoggedEvent(event, meta, &scratch_);
    const std::string subject =
        PartitionSubject(PartitionOf(event.lead_key(), options_.layout.partitions));
    natsMsg* msg = nullptr;
    natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, scratch_.data(),
                                  static_cast<int>(scratch_.size()));
    if (s == NATS_OK) {
      if (!event.message_id.empty()) {
        s = natsMsgHeader_Set(msg, kMsgIdHeader, std::string(event.message_id).c_str());
      } else {
        local_id = local_id_prefix_ + std::to_string(next_local_id_++);
        s = natsMsgHeader_Set(msg, kMsgIdHeader, local_id.c_str());
      }
    }
    // Out of memory only: stop rather than acknowledge an event that was never stored.
    if (s != NATS_OK) {
      LogError(std::string("cannot build a NATS message: ") + natsStatus_GetText(s));
      std::abort();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      in_flight_[msg] = pending;
    }
    Publish(msg);
  }
}

void LogPublisher::Publish(natsMsg* msg) {
  natsMsg* owned = msg;
  // Without a deadline, a publish whose answer was lost with a server (kill -9) would wait
  // forever; with one, it fails into OnAck and is sent again.
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MaxWait = kPublishWaitMs;
  natsStatus s = js_PublishMsgAsync(link_->js(), &owned, &options);
  if (s != NATS_OK) {
    // Not sent (the link is down and its buffer full): the message is still ours.
    std::lock_guard<std::mutex> lock(mu_);
    to_retry_.push_back(msg);
    cv_.notify_all();
  }
}

void LogPublisher::OnAck(jsCtx* /*js*/, natsMsg* msg, jsPubAck* ack, jsPubAckErr* /*error*/,
                         void* self) {
  static_cast<LogPublisher*>(self)->Acked(msg, ack != nullptr);
}

void LogPublisher::Acked(natsMsg* msg, bool ok) {
  std::vector<IngestDone> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = in_flight_.find(msg);
    if (it == in_flight_.end()) {
      natsMsg_Destroy(msg);  // stopping: its batch was already failed
      return;
    }
    if (!ok) {
      to_retry_.push_back(msg);  // kept: sent again, same id
      cv_.notify_all();
      return;
    }
    Pending* pending = it->second;
    in_flight_.erase(it);
    --pending->remaining;
    TakeFinished(&finished);
  }
  natsMsg_Destroy(msg);
  for (IngestDone& done : finished) {
    if (done) {
      done(Status::Ok());
    }
  }
}

void LogPublisher::TakeFinished(std::vector<IngestDone>* finished) {
  while (!order_.empty() && order_.front()->remaining == 0) {
    // A batch still queued for publishing has remaining > 0 unless it has no events.
    bool queued = false;
    for (const auto& q : queued_) {
      queued = queued || q.second == order_.front().get();
    }
    if (queued) {
      return;
    }
    finished->push_back(std::move(order_.front()->done));
    order_.pop_front();
  }
}

}  // namespace handoff
