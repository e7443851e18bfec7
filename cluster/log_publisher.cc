#include "cluster/log_publisher.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iterator>
#include <random>

#include "base/lasting_problem.h"
#include "base/log.h"

namespace handoff {
namespace {

constexpr auto kRetryWait = std::chrono::milliseconds(200);
constexpr std::string_view kNoAcks = "no event is acknowledged meanwhile";
constexpr const char* kMsgIdHeader = "Nats-Msg-Id";
constexpr int64_t kPublishWaitMs = 2000;
// A message is closed at this size or count and the next one opened behind it: well under
// NATS's default max_payload (1 MiB), and small enough that a retry resends little. One message
// is in flight at a time, so this bounds events per round trip to the stream.
constexpr size_t kMaxChunkBytes = 512 * 1024;
constexpr uint32_t kMaxChunkEvents = kMaxIngestEvents;
// Links remembered for routing (about 100 bytes each).
constexpr size_t kMaxRememberedLinks = 1 << 20;

}  // namespace

Result<std::unique_ptr<LogPublisher>> LogPublisher::Open(const LogPublisherOptions& options) {
  std::unique_ptr<LogPublisher> publisher(new LogPublisher(options));
  NatsLinkOptions link_options;
  link_options.urls = options.urls;
  link_options.name = options.node_id + "/publish";
  // At most one message is in flight; this only has to be above that.
  link_options.max_pending_publishes = 1 << 16;
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

LogPublisher::LogPublisher(LogPublisherOptions options)
    : options_(std::move(options)),
      publish_problem_("event log: publishing to stream " + std::string(kEventStream),
                       "events wait unacknowledged and are sent again") {
  std::random_device random;
  const uint64_t boot = (static_cast<uint64_t>(random()) << 32) | random();
  msg_id_prefix_ = options_.node_id + "/" + std::to_string(boot) + "/";
}

LogPublisher::~LogPublisher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (link_ != nullptr) {
    link_->CloseIfDisconnected();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
  // Closing the link ends cnats' answers; what was not stored is not acknowledged.
  link_.reset();
  std::vector<IngestDone> failed;
  for (auto& pending : order_) {
    failed.push_back(std::move(pending->done));
  }
  order_.clear();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (IngestBatch& batch : queued_) {
      failed.push_back(std::move(batch.done));
    }
    queued_.clear();
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
    queued_.push_back(std::move(batch));
  }
  cv_.notify_all();
}

void LogPublisher::Loop() {
  pthread_setname_np(pthread_self(), "cluster-publish");
  // Nothing is published before the stream's partition count is known, nor routed before the
  // engine knows every identity link the log held then (a restart: links this node logged and
  // had not applied when it died).
  EventStreamState state;
  LastingProblem stream_problem("event log: opening stream " + std::string(kEventStream),
                                std::string(kNoAcks));
  for (;;) {
    Status st = EnsureEventStream(link_->js(), &options_.layout, &state);
    if (st.ok()) {
      stream_problem.Cleared(std::chrono::steady_clock::now());
      break;
    }
    stream_problem.Failed(st.ToString(), std::chrono::steady_clock::now());
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, kRetryWait, [this] { return stopping_; })) {
      return;
    }
  }
  if (!WaitForEngine(state.last_seq)) {
    return;
  }
  std::deque<IngestBatch> batches;
  std::vector<PublishAnswer> answers;
  for (;;) {
    // A retry due: the wait ends then even without news.
    const auto next_retry =
        retry_ && !in_flight_ ? retry_at_ : std::chrono::steady_clock::time_point::max();
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_until(lock, next_retry,
                     [this] { return stopping_ || !queued_.empty() || !answers_.empty(); });
      if (stopping_) {
        return;
      }
      batches.swap(queued_);
      answers.swap(answers_);
    }
    const auto now = std::chrono::steady_clock::now();
    for (const PublishAnswer& answer : answers) {
      Answered(answer, now);
    }
    answers.clear();
    for (IngestBatch& batch : batches) {
      Append(batch);
    }
    batches.clear();
    SendReady(now);
    FinishInOrder();
  }
}

void LogPublisher::Append(IngestBatch& batch) {
  auto owned = std::make_unique<Pending>();
  Pending* pending = owned.get();
  pending->done = std::move(batch.done);
  order_.push_back(std::move(owned));
  const EventOrigin origin{batch.transport, batch.received_at};
  for (const Event& event : batch.events) {
    bool new_message = false;
    const uint32_t p = Route(event, &new_message);
    Chunk& chunk = OpenChunk(new_message);
    std::string& section = chunk.sections[p];
    const size_t before = section.size();
    if (section.empty()) {
      StartPlacedLogMessage(&section);
    }
    AppendPlacedEvent(event, origin, chunk.events, &section);
    chunk.bytes += section.size() - before;
    ++chunk.events;
    if (chunk.covers.empty() || chunk.covers.back() != pending) {
      chunk.covers.push_back(pending);
      ++pending->remaining;
    }
  }
}

uint32_t LogPublisher::Route(const Event& event, bool* new_message) {
  const uint32_t n = options_.layout.partitions;
  std::string_view older;
  std::string_view newer;
  if (event.type == EventType::kAlias && !event.previous_id.empty()) {
    older = event.previous_id;
    newer = event.lead_key();
  } else if (event.type == EventType::kIdentify && !event.user_id.empty() &&
             !event.anonymous_id.empty()) {
    older = event.anonymous_id;
    newer = event.user_id;
  } else {
    return PartitionOf(Resolve(event.lead_key()), n);
  }
  // The older lead's events are in this node's messages before the link (one ordered sequence),
  // and the ones after it follow the merged lead.
  const std::string newer_root(Resolve(newer));
  const std::string older_root(Resolve(older));
  if (older_root != newer_root) {
    RememberLink(older_root, newer_root);
  }
  const uint32_t p = PartitionOf(newer_root, n);
  // The partition the applier holds the link until it answers (that of the older id as sent,
  // LogApplier::HoldForHandOvers), and the one the older lead's events went to: when the open
  // message holds either, the link opens the next one. So the older lead's earlier events are
  // in an earlier message, and no message holds a cycle of links each holding the next one's
  // partition (the last of them to arrive would find the first one's partition in the message).
  const bool open = !chunks_.empty() && !chunks_.back().sent;
  for (const uint32_t q : {PartitionOf(older, n), PartitionOf(older_root, n)}) {
    *new_message = *new_message || (open && q != p && chunks_.back().sections.count(q) > 0);
  }
  return p;
}

std::string_view LogPublisher::Resolve(std::string_view id) {
  return FollowLinks(id, merged_into_, options_.identities, resolved_);
}

bool LogPublisher::WaitForEngine(uint64_t last_seq) {
  const LogProgress* progress = options_.progress.get();
  auto caught_up = [&] {
    return progress == nullptr ||
           (progress->settled.load() &&
            (progress->owned.load() == 0 ||
             (progress->applying.load() && progress->durable_seq.load() >= last_seq)));
  };
  if (!caught_up()) {
    LogInfo("event log: routing waits until the engine has applied through sequence " +
            std::to_string(last_seq));
  }
  // What it waits for, should the wait last (a lease bucket that does not open, a slow replay).
  LastingProblem waiting("event log: routing", std::string(kNoAcks));
  waiting.set_state_word("waiting");
  std::unique_lock<std::mutex> lock(mu_);
  while (!caught_up()) {
    const auto now = std::chrono::steady_clock::now();
    if (!progress->settled.load()) {
      waiting.Failed("the partition leases have not settled: " +
                         std::to_string(progress->rounds.load()) + " rounds",
                     now);
    } else {
      waiting.Failed("the engine has applied through sequence " +
                         std::to_string(progress->durable_seq.load()) + " of " +
                         std::to_string(last_seq),
                     now);
    }
    if (cv_.wait_for(lock, std::chrono::milliseconds(5), [this] { return stopping_; })) {
      return false;
    }
  }
  waiting.Cleared(std::chrono::steady_clock::now());
  return true;
}

void LogPublisher::RememberLink(std::string_view older, std::string_view newer) {
  auto [it, inserted] = merged_into_.try_emplace(std::string(older), newer);
  if (!inserted) {
    it->second = newer;
    return;
  }
  link_order_.emplace_back(older);
  if (link_order_.size() > kMaxRememberedLinks) {
    merged_into_.erase(link_order_.front());
    link_order_.pop_front();
  }
}

LogPublisher::Chunk& LogPublisher::OpenChunk(bool new_one) {
  if (new_one || chunks_.empty() || chunks_.back().sent || chunks_.back().bytes >= kMaxChunkBytes ||
      chunks_.back().events >= kMaxChunkEvents) {
    Chunk& chunk = chunks_.emplace_back();
    chunk.msg_id = msg_id_prefix_ + std::to_string(next_chunk_id_++);
  }
  return chunks_.back();
}

void LogPublisher::SendReady(std::chrono::steady_clock::time_point now) {
  if (in_flight_ || chunks_.empty() || (retry_ && now < retry_at_)) {
    return;
  }
  Chunk& chunk = chunks_.front();
  if (!chunk.sent) {
    chunk.sent = true;
    std::vector<std::pair<uint32_t, std::string>> sections(
        std::make_move_iterator(chunk.sections.begin()),
        std::make_move_iterator(chunk.sections.end()));
    chunk.sections.clear();
    EncodeIngestMessage(sections, &chunk.payload);
  }
  const std::string subject(kIngestSubject);
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, chunk.payload.data(),
                                static_cast<int>(chunk.payload.size()));
  if (s == NATS_OK) {
    s = natsMsgHeader_Set(msg, kMsgIdHeader, chunk.msg_id.c_str());
  }
  // Out of memory only: stop rather than acknowledge an event that was never stored.
  if (s != NATS_OK) {
    LogError(std::string("cannot build a NATS message: ") + natsStatus_GetText(s));
    std::abort();
  }
  // Without a deadline, a publish whose answer was lost with a server (kill -9) would wait
  // forever; with one, it fails into OnAck and is sent again.
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MaxWait = kPublishWaitMs;
  natsMsg* handed = msg;
  s = js_PublishMsgAsync(link_->js(), &handed, &options);
  if (s != NATS_OK) {
    // Not sent (the link is down and its buffer full): the message is still ours.
    publish_problem_.Failed(NatsStatus(s, "sending").ToString(), now);
    natsMsg_Destroy(msg);
    retry_ = true;
    retry_at_ = now + kRetryWait;
    return;
  }
  in_flight_ = true;
}

void LogPublisher::OnAck(jsCtx* /*js*/, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error,
                         void* self) {
  auto* publisher = static_cast<LogPublisher*>(self);
  const char* subject = natsMsg_GetSubject(msg);
  const bool ours = subject != nullptr && subject == kIngestSubject;
  natsMsg_Destroy(msg);  // ours (cnats' contract); a resend builds it again from the chunk
  if (!ours) {
    return;  // not a message of this publisher: impossible
  }
  PublishAnswer answer;
  answer.stored = ack != nullptr;
  if (!answer.stored && error != nullptr) {
    answer.why = error->ErrText != nullptr ? error->ErrText : natsStatus_GetText(error->Err);
    if (error->ErrCode != 0) {
      answer.why += " (JetStream error " + std::to_string(static_cast<int>(error->ErrCode)) + ")";
    }
  }
  {
    std::lock_guard<std::mutex> lock(publisher->mu_);
    publisher->answers_.push_back(std::move(answer));
  }
  publisher->cv_.notify_all();
}

void LogPublisher::Answered(const PublishAnswer& answer,
                            std::chrono::steady_clock::time_point now) {
  if (!in_flight_) {
    return;  // impossible: one message is in flight
  }
  in_flight_ = false;
  if (!answer.stored) {
    // JetStream has no leader for a moment, or the link moves to another server: wait a little,
    // then send the same message again.
    publish_problem_.Failed(answer.why.empty() ? "no answer" : answer.why, now);
    retry_ = true;
    retry_at_ = now + kRetryWait;
    return;
  }
  retry_ = false;
  publish_problem_.Cleared(now);
  for (Pending* pending : chunks_.front().covers) {
    --pending->remaining;
  }
  chunks_.pop_front();
}

void LogPublisher::FinishInOrder() {
  while (!order_.empty() && order_.front()->remaining == 0) {
    IngestDone done = std::move(order_.front()->done);
    order_.pop_front();
    if (done) {
      done(Status::Ok());
    }
  }
}

}  // namespace handoff
