#include "cluster/log_applier.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>

#include "base/log.h"

namespace handoff {
namespace {

// An idle applier looks for new events this often: the most a read lags behind the log.
constexpr auto kIdleWait = std::chrono::milliseconds(5);
constexpr auto kRetryWait = std::chrono::milliseconds(200);
constexpr int64_t kStaleCheckMs = 1000;

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
  applier->options_.progress->applying = true;
  applier->thread_ = std::thread([a = applier.get()] { a->Loop(); });
  return applier;
}

LogApplier::LogApplier(LogApplierOptions options, IngestSink* engine)
    : options_(std::move(options)), engine_(engine) {
  if (options_.progress == nullptr) {
    options_.progress = std::make_shared<LogProgress>();
  }
}

std::string AppliedSeqKey(uint32_t partition) {
  return std::string(kAppliedSeqKey) + "." + std::to_string(partition);
}

void LogApplier::Own(uint32_t partition) {
  std::lock_guard<std::mutex> lock(own_mu_);
  own_changes_.emplace_back(partition, true);
}

void LogApplier::Disown(uint32_t partition) {
  std::lock_guard<std::mutex> lock(own_mu_);
  own_changes_.emplace_back(partition, false);
}

void LogApplier::Pause(std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(shared_->mu);
  shared_->cv.wait_for(lock, wait, [this] { return stopping_.load(); });
}

void LogApplier::TakeOwnership() {
  // A lease round's changes are taken together, once the round is over: a node starting up
  // takes every partition it gets at once, and reads them all in sequence order from the least
  // applied one (one pass, in the log's order, which merges across partitions need).
  const uint64_t rounds = options_.progress->rounds.load();
  if (rounds == rounds_seen_) {
    return;
  }
  rounds_seen_ = rounds;
  std::vector<std::pair<uint32_t, bool>> changes;
  {
    std::lock_guard<std::mutex> lock(own_mu_);
    changes.swap(own_changes_);
  }
  if (changes.empty()) {
    return;
  }
  Flush();  // what was read so far belongs to the old ownership
  for (const auto& [p, own] : changes) {
    if (p >= owned_.size()) {
      LogError("event log: partition " + std::to_string(p) + " does not exist; ignored");
      continue;
    }
    owned_[p] = own;
    if (own && applied_[p] == kUnknown) {
      applied_[p] = options_.applied_seq ? options_.applied_seq(p) : 0;
    }
  }
  // Reading starts right after the least applied partition this node owns: a partition taken
  // over that is behind the read position moves it back (the others skip what they applied).
  uint64_t from = kUnknown;
  for (size_t p = 0; p < owned_.size(); ++p) {
    if (owned_[p]) {
      from = std::min(from, applied_[p]);
    }
  }
  if (from != kUnknown && (!subscribed_once_ || from < last_read_seq_)) {
    if (subscription_ != nullptr) {
      natsSubscription_Destroy(subscription_);
      subscription_ = nullptr;
    }
    last_read_seq_ = from;
    submitted_seq_ = from;
    subscribed_once_ = true;
    // Everything before `from` is applied in every partition owned (the publisher's start waits
    // on this).
    if (from > options_.progress->durable_seq.load()) {
      options_.progress->durable_seq.store(from);
    }
  }
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
  EventStreamState state;
  if (Status st = EnsureEventStream(link_->js(), &options_.layout, &state); !st.ok()) {
    return false;
  }
  const uint64_t first_seq = state.first_seq;
  if (first_seq > last_read_seq_ + 1) {
    // The stream's retention dropped events this node never applied: say so, go on from there.
    LogError("event log: sequences " + std::to_string(last_read_seq_ + 1) + " to " +
             std::to_string(first_seq - 1) +
             " are gone from the stream (its retention) and were never applied here");
    last_read_seq_ = first_seq - 1;
  }
  // A pull consumer of its own (ephemeral, no acks): the applier asks for the next messages when
  // the engine has room, so a backlog waits in the stream, not in memory. If its server goes
  // away, the fetch fails and a new consumer starts from what was read.
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  const std::string stream(kEventStream);
  sub_options.Stream = stream.c_str();
  sub_options.Config.AckPolicy = js_AckNone;
  sub_options.Config.InactiveThreshold = 60LL * 1'000'000'000;  // a dead node's goes away
  if (last_read_seq_ > 0) {
    sub_options.Config.DeliverPolicy = js_DeliverByStartSequence;
    sub_options.Config.OptStartSeq = last_read_seq_ + 1;
  } else {
    sub_options.Config.DeliverPolicy = js_DeliverAll;
  }
  const std::string subjects = std::string(kEventSubjectPrefix) + "*";
  jsErrCode error = static_cast<jsErrCode>(0);
  natsStatus s = js_PullSubscribe(&subscription_, link_->js(), subjects.c_str(), nullptr, nullptr,
                                  &sub_options, &error);
  if (s != NATS_OK) {
    subscription_ = nullptr;
    LogWarning(NatsStatus(s, "reading the event log", error).ToString() + "; retrying");
    return false;
  }
  LogInfo("applying the event log from sequence " + std::to_string(last_read_seq_ + 1));
  return true;
}

void LogApplier::Loop() {
  pthread_setname_np(pthread_self(), "cluster-apply");
  while (!stopping_) {
    if (owned_.empty()) {
      // The stream's partition count first: ownership is by partition.
      if (!EnsureEventStream(link_->js(), &options_.layout).ok()) {
        Pause(kRetryWait);
        continue;
      }
      owned_.assign(options_.layout.partitions, false);
      applied_.assign(options_.layout.partitions, kUnknown);
    }
    TakeOwnership();
    if (!subscribed_once_ || std::none_of(owned_.begin(), owned_.end(), [](bool b) { return b; })) {
      // Nothing to apply: no consumer (the stream keeps everything for when a lease comes).
      if (subscription_ != nullptr) {
        natsSubscription_Destroy(subscription_);
        subscription_ = nullptr;
      }
      Pause(kIdleWait);
      continue;
    }
    if (subscription_ == nullptr && !Subscribe()) {
      Pause(kRetryWait);
      continue;
    }
    // NoWait: the server answers each request at once with what it holds, and the request is
    // over. A request that waits (a fetch with a timeout) can have messages arrive after the
    // client gave up on it, and libnats 3.4.1 then counts them into a later fetch's list past
    // the list's end (seen as heap corruption, and by ASan): never let a request outlive its
    // fetch.
    natsMsgList list{};
    jsFetchRequest request;
    jsFetchRequest_Init(&request);
    request.Batch = static_cast<int>(options_.max_batch_events);
    request.MaxBytes = options_.max_fetch_bytes;
    request.NoWait = true;
    natsStatus s = natsSubscription_FetchRequest(&list, subscription_, &request);
    const jsErrCode error = static_cast<jsErrCode>(0);
    if (s == NATS_TIMEOUT || s == NATS_NOT_FOUND) {
      natsMsgList_Destroy(&list);
      // Nothing new: look again shortly. Or a consumer that is gone with its server: after a
      // second of silence, ask the stream whether it holds more.
      Pause(kIdleWait);
      if (++idle_fetches_ * kIdleWait.count() >= kStaleCheckMs) {
        idle_fetches_ = 0;
        EventStreamState state;
        if (EnsureEventStream(link_->js(), &options_.layout, &state).ok() &&
            state.last_seq > last_read_seq_) {
          LogWarning("event log: the consumer went quiet with sequences " +
                     std::to_string(last_read_seq_ + 1) + " to " + std::to_string(state.last_seq) +
                     " unread; subscribing again");
          natsSubscription_Destroy(subscription_);
          subscription_ = nullptr;
        }
      }
      continue;
    }
    idle_fetches_ = 0;
    if (s != NATS_OK) {
      natsMsgList_Destroy(&list);
      // The consumer is gone (its server died, the link moved): a new one, from what was read.
      LogWarning(NatsStatus(s, "reading the event log", error).ToString() + "; subscribing again");
      natsSubscription_Destroy(subscription_);
      subscription_ = nullptr;
      continue;
    }
    bool in_order = true;
    for (int i = 0; i < list.Count && in_order; ++i) {
      in_order = Take(list.Msgs[i]);
    }
    natsMsgList_Destroy(&list);
    Flush();
    if (!in_order) {
      // A message went missing between the server and this fetch (a fetch that timed out while
      // it was sent): never skip it; a new consumer starts right after what was taken.
      natsSubscription_Destroy(subscription_);
      subscription_ = nullptr;
    }
  }
  Flush();
}

bool LogApplier::Take(natsMsg* msg) {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
    return true;  // not a stream message
  }
  const uint64_t seq = meta->Sequence.Stream;
  jsMsgMetaData_Destroy(meta);
  if (seq <= last_read_seq_) {
    return true;  // read before a new consumer started
  }
  if (seq != last_read_seq_ + 1) {
    return false;  // the stream has every sequence: one is missing here
  }
  last_read_seq_ = seq;
  const int64_t p = PartitionOfSubject(natsMsg_GetSubject(msg));
  if (p < 0 || static_cast<size_t>(p) >= owned_.size() || !owned_[p] || seq <= applied_[p]) {
    return true;  // another node's partition, or applied here before the read moved back
  }
  const std::string_view payload(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
  const size_t first = batch_.origins.size();
  if (DecodeLogMessage(payload, &batch_.events, &batch_.origins)) {
    // Every node orders these events by their place in the log (EventOrigin::apply_order).
    for (size_t i = first; i < batch_.origins.size(); ++i) {
      batch_.origins[i].apply_order = LogApplyOrder(seq, i - first);
    }
  } else {
    // Written by a newer Handoff or damaged: skipped whole (and said), never a crash or a stall.
    ++corrupt_;
    LogError("event log sequence " + std::to_string(seq) + ": unreadable message, skipped (" +
             std::to_string(corrupt_) + " so far)");
  }
  if (batch_.events.size() >= options_.max_batch_events) {
    Flush();
  }
  return true;
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
  // Every partition owned has been applied through the read position (reading is in sequence
  // order), also one that had no message in the batch: so a quiet partition never holds the
  // next read's start back.
  for (size_t p = 0; p < owned_.size(); ++p) {
    if (owned_[p] && applied_[p] < last_read_seq_) {
      applied_[p] = last_read_seq_;
      batch.log_positions.emplace_back(AppliedSeqKey(static_cast<uint32_t>(p)),
                                       std::to_string(last_read_seq_));
    }
  }
  batch.done = [shared = shared_, progress = options_.progress,
                seq = last_read_seq_](const Status& st) {
    // In order (the engine completes batches in submit order); never back when the read moved
    // back for a partition taken over.
    if (st.ok() && seq > progress->durable_seq.load()) {
      progress->durable_seq.store(seq);
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
