#include "cluster/log_applier.h"

#include <pthread.h>

#include <chrono>

#include "base/log.h"

namespace handoff {
namespace {

constexpr int64_t kPollMs = 20;
constexpr auto kRetryWait = std::chrono::milliseconds(200);

}  // namespace

Result<std::unique_ptr<LogApplier>> LogApplier::Open(const LogApplierOptions& options,
                                                     IngestSink* engine) {
  std::unique_ptr<LogApplier> applier(new LogApplier(options, engine));
  NatsLinkOptions link_options;
  link_options.urls = options.urls;
  link_options.name = options.node_id + "/apply";
  auto link = NatsLink::Open(link_options);
  if (!link.ok()) {
    return link.status();
  }
  applier->link_ = std::move(link.value());
  applier->thread_ = std::thread([a = applier.get()] { a->Loop(); });
  return applier;
}

LogApplier::LogApplier(LogApplierOptions options, IngestSink* engine)
    : options_(std::move(options)), engine_(engine) {
  last_read_seq_ = options_.applied_seq;
  submitted_seq_ = options_.applied_seq;
  shared_->durable_seq = options_.applied_seq;
}

LogApplier::~LogApplier() {
  stopping_ = true;
  shared_->cv.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  if (subscription_ != nullptr) {
    natsSubscription_Destroy(subscription_);
  }
  link_.reset();
}

bool LogApplier::Subscribe() {
  if (Status st = EnsureEventStream(link_->js(), &options_.layout); !st.ok()) {
    return false;
  }
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  const std::string stream(kEventStream);
  sub_options.Stream = stream.c_str();
  sub_options.Ordered = true;
  if (last_read_seq_ > 0) {
    sub_options.Config.DeliverPolicy = js_DeliverByStartSequence;
    sub_options.Config.OptStartSeq = last_read_seq_ + 1;
  } else {
    sub_options.Config.DeliverPolicy = js_DeliverAll;
  }
  const std::string subjects = std::string(kEventSubjectPrefix) + "*";
  jsErrCode error = static_cast<jsErrCode>(0);
  natsStatus s = js_SubscribeSync(&subscription_, link_->js(), subjects.c_str(), nullptr,
                                  &sub_options, &error);
  if (s != NATS_OK) {
    subscription_ = nullptr;
    LogWarning(NatsStatus(s, "reading the event log", error).ToString() + "; retrying");
    return false;
  }
  // The engine applies at its pace; cnats buffers what arrives meanwhile, up to this much.
  (void)natsSubscription_SetPendingLimits(subscription_, 1 << 20, 256 << 20);
  LogInfo("applying the event log from sequence " + std::to_string(last_read_seq_ + 1));
  return true;
}

void LogApplier::Loop() {
  pthread_setname_np(pthread_self(), "cluster-apply");
  while (!stopping_) {
    if (subscription_ == nullptr && !Subscribe()) {
      std::unique_lock<std::mutex> lock(shared_->mu);
      shared_->cv.wait_for(lock, kRetryWait, [this] { return stopping_.load(); });
      continue;
    }
    natsMsg* msg = nullptr;
    natsStatus s = natsSubscription_NextMsg(&msg, subscription_, kPollMs);
    if (s == NATS_TIMEOUT) {
      Flush();  // nothing more for now: what is read goes to the engine
      continue;
    }
    if (s != NATS_OK) {
      // The subscription is gone (closed link, slow consumer): read again from what was read.
      LogWarning(NatsStatus(s, "reading the event log").ToString() + "; subscribing again");
      Flush();
      natsSubscription_Destroy(subscription_);
      subscription_ = nullptr;
      continue;
    }
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
      natsMsg_Destroy(msg);  // not a stream message (a status or heartbeat cnats passed on)
      continue;
    }
    const uint64_t seq = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
    if (seq <= last_read_seq_) {
      natsMsg_Destroy(msg);  // read before a re-subscription
      continue;
    }
    Event event;
    LoggedEvent logged;
    const std::string_view payload(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
    const bool decoded = DecodeLoggedEvent(payload, &event, &logged);
    natsMsg_Destroy(msg);
    if (!decoded) {
      // Written by a newer Handoff or damaged: skipped (and said), never a crash or a stall.
      ++corrupt_;
      LogError("event log sequence " + std::to_string(seq) + ": unreadable event, skipped (" +
               std::to_string(corrupt_) + " so far)");
    } else {
      if (!batch_.events.empty() &&
          (batch_.received_at != logged.received_at || batch_.transport != logged.transport ||
           batch_.events.size() >= options_.max_batch_events)) {
        Flush();
      }
      if (batch_.events.empty()) {
        batch_.received_at = logged.received_at;
        batch_.transport = logged.transport;
      }
      batch_.events.push_back(std::move(event));
    }
    last_read_seq_ = seq;
  }
  Flush();
}

void LogApplier::Flush() {
  if (batch_.events.empty() && last_read_seq_ == submitted_seq_) {
    return;  // nothing read since the last batch
  }
  {
    std::unique_lock<std::mutex> lock(shared_->mu);
    shared_->cv.wait(lock, [this] {
      return shared_->in_flight < options_.max_batches_in_flight || stopping_.load();
    });
    ++shared_->in_flight;
  }
  IngestBatch batch = std::move(batch_);
  batch_ = IngestBatch();
  submitted_seq_ = last_read_seq_;
  batch.received_mono = std::chrono::steady_clock::now();
  batch.log_position_key = std::string(kAppliedSeqKey);
  batch.log_position_value = std::to_string(last_read_seq_);
  batch.done = [shared = shared_, seq = last_read_seq_](const Status& st) {
    if (st.ok()) {
      shared->durable_seq.store(seq);
    }
    {
      std::lock_guard<std::mutex> lock(shared->mu);
      --shared->in_flight;
    }
    shared->cv.notify_all();
  };
  engine_->Submit(std::move(batch));
}

}  // namespace handoff
