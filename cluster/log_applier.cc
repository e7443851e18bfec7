#include "cluster/log_applier.h"

#include <pthread.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <future>
#include <memory>

#include "base/log.h"
#include "cluster/routing_publisher.h"

namespace handoff {
namespace {

// An idle applier looks for new events this often: the most a read lags behind the log.
constexpr auto kIdleWait = std::chrono::milliseconds(5);
constexpr auto kRetryWait = std::chrono::milliseconds(200);
constexpr int64_t kStaleCheckMs = 1000;
// Messages of a partition held back for hand-overs kept in memory, at most; past it, the read
// moves back to the held message once its answers are in.
constexpr size_t kMaxHeldBytes = 64 << 20;

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
    if (!own) {
      held_.erase(p);  // its new holder asks again, or finds the answer in the log
    }
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
  if (link_ != nullptr) {
    link_->CloseIfDisconnected();
  }
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
    if (s != NATS_CONNECTION_CLOSED) {  // closed: the node is stopping
      LogWarning(NatsStatus(s, "reading the event log", error).ToString() + "; retrying");
    }
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
      if (options_.stream_partitions) {
        options_.stream_partitions(options_.layout.partitions);
      }
    }
    if (options_.routing != nullptr && !subscribed_once_) {
      // Every node reads the routing subject, from the log's start (the router is in memory),
      // before it owns anything: a partition taken then never moves the read past the start.
      last_read_seq_ = 0;
      submitted_seq_ = 0;
      subscribed_once_ = true;
    }
    TakeOwnership();
    if (!subscribed_once_ ||
        (options_.routing == nullptr &&
         std::none_of(owned_.begin(), owned_.end(), [](bool b) { return b; }))) {
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
      if (s != NATS_CONNECTION_CLOSED) {  // closed: the node is stopping
        LogWarning(NatsStatus(s, "reading the event log", error).ToString() +
                   "; subscribing again");
      }
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
  const char* subject = natsMsg_GetSubject(msg);
  if (options_.routing != nullptr && subject != nullptr && subject == kRoutingSubject) {
    TakeRouting(seq, std::string_view(natsMsg_GetData(msg), natsMsg_GetDataLength(msg)));
    return true;
  }
  if (subject != nullptr && subject == kIngestSubject) {
    TakeIngest(seq, std::string_view(natsMsg_GetData(msg), natsMsg_GetDataLength(msg)));
    return true;
  }
  const int64_t p = PartitionOfSubject(subject);
  if (p < 0 || static_cast<size_t>(p) >= owned_.size() || !owned_[p] || seq <= applied_[p]) {
    return true;  // another node's partition, or applied here before the read moved back
  }
  const std::string_view payload(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
  const uint32_t partition = static_cast<uint32_t>(p);
  if (held_.count(partition) == 0) {
    return TakeMessage(partition, seq, payload);
  }
  return Offer(partition, seq, payload);
}

void LogApplier::TakeIngest(uint64_t seq, std::string_view payload) {
  if (!DecodeIngestMessage(payload, &sections_)) {
    ++corrupt_;
    LogError("event log sequence " + std::to_string(seq) +
             ": unreadable ingest message, skipped (" + std::to_string(corrupt_) + " so far)");
    return;
  }
  untaken_.clear();
  for (const IngestSection& section : sections_) {
    const uint32_t p = section.partition;
    if (p < owned_.size() && owned_[p] && seq > applied_[p]) {
      untaken_.push_back(p);
    }
  }
  // In partition order, as the sections are: each leaves untaken_ as it is taken, so a flush
  // meanwhile (a hold) stores the others' positions before this message.
  size_t first = batch_.events.size();
  const uint64_t flushes_before = flushes_;
  in_ingest_ = true;
  for (const IngestSection& section : sections_) {
    if (untaken_.empty() || untaken_.front() != section.partition) {
      continue;  // another node's partition, or applied here before the read moved back
    }
    untaken_.erase(untaken_.begin());
    // Sections are events only (DecodeIngestMessage checks), so neither moves the read back.
    const bool in_place = held_.count(section.partition) == 0
                              ? TakeMessage(section.partition, seq, section.events)
                              : Offer(section.partition, seq, section.events);
    assert(in_place);
    (void)in_place;
  }
  in_ingest_ = false;
  // The sections' events back in the order they arrived, across partitions (SPEC 3: one
  // connection's events take effect in the order sent): twenty leads qualifying in one read are
  // routed in that order, as on the single daemon. Each lead's events are in one section, in
  // order, so no lead's order changes. After a flush (a hold) only what followed it is ordered.
  if (flushes_ != flushes_before) {
    first = 0;
  }
  InArrivalOrder(first);
  if (batch_.events.size() >= options_.max_batch_events) {
    Flush();
  }
}

void LogApplier::InArrivalOrder(size_t first) {
  auto order = [this](size_t i) { return batch_.origins[i].apply_order; };
  bool sorted = true;
  for (size_t i = first + 1; i < batch_.origins.size() && sorted; ++i) {
    sorted = order(i - 1) <= order(i);
  }
  if (sorted) {
    return;
  }
  std::vector<size_t> place(batch_.events.size() - first);
  for (size_t i = 0; i < place.size(); ++i) {
    place[i] = first + i;
  }
  std::stable_sort(place.begin(), place.end(),
                   [&](size_t a, size_t b) { return order(a) < order(b); });
  std::vector<Event> events;
  std::vector<EventOrigin> origins;
  events.reserve(place.size());
  origins.reserve(place.size());
  for (const size_t i : place) {
    events.push_back(std::move(batch_.events[i]));
    origins.push_back(batch_.origins[i]);
  }
  std::move(events.begin(), events.end(), batch_.events.begin() + static_cast<ptrdiff_t>(first));
  std::copy(origins.begin(), origins.end(), batch_.origins.begin() + static_cast<ptrdiff_t>(first));
}

bool LogApplier::Offer(uint32_t partition, uint64_t seq, std::string_view payload) {
  Held& h = held_.at(partition);
  const LogMessageKind kind = KindOfLogMessage(payload);
  HandOverAnswer answer;
  HandOverRequest request;
  if (kind == LogMessageKind::kHandOverAnswer && DecodeHandOverAnswer(payload, &answer) &&
      h.awaiting.count(answer.link) > 0) {
    return TakeHandOverAnswer(partition, answer);
  }
  if (kind == LogMessageKind::kHandOverRequest && DecodeHandOverRequest(payload, &request) &&
      h.seq > request.link.seq) {
    return TakeMessage(partition, seq, payload);
  }
  if (seq == h.seq || (!h.skipped.empty() && seq <= h.skipped.back().first)) {
    return true;  // read again after the read moved back: kept already
  }
  if (h.skipped_bytes + payload.size() > kMaxHeldBytes) {
    h.overflowed = true;  // the read moves back to the held message instead
  } else if (!h.overflowed) {
    h.skipped_bytes += payload.size();
    h.skipped.emplace_back(seq, std::string(payload));
  }
  return true;
}

bool LogApplier::TakeMessage(uint32_t partition, uint64_t seq, std::string_view payload) {
  switch (KindOfLogMessage(payload)) {
    case LogMessageKind::kHandOverRequest: {
      HandOverRequest request;
      if (!DecodeHandOverRequest(payload, &request)) {
        LogError("event log sequence " + std::to_string(seq) + ": unreadable hand-over request");
      } else if (options_.exchange != nullptr && answered_.count(request.link) == 0 &&
                 MovedAlready(request)) {
        answered_.insert(request.link);
      } else if (options_.exchange != nullptr && answered_.count(request.link) == 0) {
        // The answer needs the partition applied up to the link. One held back after the link
        // has that, and answers at once (two links that cross, each waiting for the other's
        // partition, would otherwise wait for ever: the earlier one is always answered); one
        // held back before it answers when its held messages are taken.
        auto held = held_.find(partition);
        if (held == held_.end() || held->second.seq > request.link.seq) {
          answered_.insert(request.link);
          // What the export covers: the partition up to where it is held, else up to here.
          // Its events after that (held back now) follow the lead (ForwardMovedEvents).
          AnswerHandOver(request, held == held_.end() ? seq : held->second.seq - 1);
        }
      }
      return true;
    }
    case LogMessageKind::kHandOverAnswer: {
      HandOverAnswer answer;
      if (!DecodeHandOverAnswer(payload, &answer)) {
        LogError("event log sequence " + std::to_string(seq) + ": unreadable hand-over answer");
        return true;
      }
      return TakeHandOverAnswer(partition, answer);
    }
    case LogMessageKind::kClock: {
      PartitionControl control;
      bool reevaluate = false;
      if (!DecodeClockMessage(payload, &control.at, &reevaluate)) {
        LogError("event log sequence " + std::to_string(seq) + ": unreadable clock message");
        return true;
      }
      control.kind =
          reevaluate ? PartitionControl::Kind::kReevaluate : PartitionControl::Kind::kStageCheck;
      TakeControl(partition, seq, std::move(control));
      return true;
    }
    case LogMessageKind::kStageReset: {
      PartitionControl control;
      control.kind = PartitionControl::Kind::kStageReset;
      if (!DecodeStageResetMessage(payload, &control.lead, &control.reset_id, &control.at)) {
        LogError("event log sequence " + std::to_string(seq) + ": unreadable stage reset");
        return true;
      }
      TakeControl(partition, seq, std::move(control));
      return true;
    }
    case LogMessageKind::kEvents:
      break;
  }
  const size_t first = batch_.origins.size();
  indexes_.clear();
  if (DecodeLogMessage(payload, &batch_.events, &batch_.origins, &indexes_)) {
    // Every node orders these events by their place in the log (EventOrigin::apply_order).
    for (size_t i = first; i < batch_.origins.size(); ++i) {
      batch_.origins[i].apply_order = LogApplyOrder(seq, indexes_[i - first]);
    }
    ForwardMovedEvents(partition, seq, first);
    if (HoldForHandOvers(partition, seq, first, payload)) {
      return true;
    }
  } else {
    // Written by a newer Handoff or damaged: skipped whole (and said), never a crash or a stall.
    ++corrupt_;
    LogError("event log sequence " + std::to_string(seq) + ": unreadable message, skipped (" +
             std::to_string(corrupt_) + " so far)");
  }
  if (batch_.events.size() >= options_.max_batch_events && !in_ingest_) {
    Flush();  // an ingest message's sections are flushed whole (TakeIngest)
  }
  return true;
}

void LogApplier::TakeControl(uint32_t partition, uint64_t seq, PartitionControl control) {
  // Among the batch's events at its place: it sees the partition as of here.
  control.partition = partition;
  control.apply_order = LogApplyOrder(seq, 0);
  control.before_event = batch_.events.size();
  batch_.controls.push_back(std::move(control));
}

void LogApplier::MarkApplied(uint32_t p, uint64_t through, IngestBatch* batch) {
  applied_[p] = through;
  batch->log_positions.emplace_back(AppliedSeqKey(p), std::to_string(through));
}

void LogApplier::Flush() {
  if (batch_.events.empty() && batch_.controls.empty() && last_read_seq_ == submitted_seq_) {
    return;  // nothing read since the last batch
  }
  {
    std::unique_lock<std::mutex> lock(shared_->mu);
    shared_->cv.wait(lock, [this] {
      return shared_->in_flight < options_.max_batches_in_flight || stopping_.load();
    });
    ++shared_->in_flight;
  }
  ++flushes_;
  IngestBatch batch = std::move(batch_);
  batch_ = IngestBatch();
  submitted_seq_ = last_read_seq_;
  batch.received_mono = std::chrono::steady_clock::now();
  // Every partition owned has been applied through the read position (reading is in sequence
  // order), also one that had no message in the batch: so a quiet partition never holds the
  // next read's start back.
  // A partition whose section of the ingest message being read is not taken yet is applied
  // through the message before it.
  for (size_t p = 0; p < owned_.size(); ++p) {
    const auto partition = static_cast<uint32_t>(p);
    const bool untaken = std::find(untaken_.begin(), untaken_.end(), partition) != untaken_.end();
    const uint64_t through = untaken ? last_read_seq_ - 1 : last_read_seq_;
    if (owned_[p] && applied_[p] < through && held_.count(partition) == 0 &&
        replaying_.count(partition) == 0) {
      MarkApplied(partition, through, &batch);
    }
  }
  // Read while owning nothing (the routing subject, before the first lease round): no
  // partition is applied through it, and the publisher must not route by links not applied.
  const bool owns = std::any_of(owned_.begin(), owned_.end(), [](bool b) { return b; });
  batch.done = [shared = shared_, progress = options_.progress,
                seq = owns ? last_read_seq_ - (untaken_.empty() ? 0 : 1) : 0](const Status& st) {
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
  SubmitRoutingBatch();  // after the partitions' events read with it
}

namespace {

// The older id a link event links into the lead of its userId, or "" when it links nothing
// (SPEC 8: an alias's previousId, an identify's anonymousId when it carries both ids).
std::string_view LinkedOlderId(const Event& event) {
  if (event.type == EventType::kAlias) {
    return event.previous_id;
  }
  if (event.type == EventType::kIdentify && !event.user_id.empty() && !event.anonymous_id.empty()) {
    return event.anonymous_id;
  }
  return {};
}

}  // namespace

bool LogApplier::HoldForHandOvers(uint32_t p, uint64_t seq, size_t first,
                                  std::string_view payload) {
  if (options_.exchange == nullptr) {
    return false;
  }
  // The message's links, in order: (older id as sent, newer id as sent, the link's place).
  struct LinkInMessage {
    std::string older;
    std::string newer;
    LinkPlace place;
    bool across = false;  // the older id lives in another partition: a hand-over is asked
  };
  std::vector<LinkInMessage> links;
  bool any_across = false;
  for (size_t i = first; i < batch_.events.size(); ++i) {
    const Event& event = batch_.events[i];
    const std::string_view older = LinkedOlderId(event);
    if (older.empty()) {
      continue;
    }
    LinkInMessage link;
    link.older = std::string(older);
    link.newer = event.type == EventType::kAlias ? event.lead_key() : event.user_id;
    link.place = LinkPlace{seq, LogApplyIndex(batch_.origins[i].apply_order)};
    link.across = PartitionOf(older, options_.layout.partitions) != p &&
                  imported_.count(link.place) == 0 && older != link.newer;
    any_across = any_across || link.across;
    links.push_back(std::move(link));
  }
  if (!any_across) {
    return false;
  }
  // The message waits, whole: its events leave the batch, and the partition is held before it.
  Held& held = held_[p];  // before the flush: the partition's position stays before the message
  held.seq = seq;
  held.message = std::string(payload);
  batch_.events.resize(first);
  batch_.origins.resize(first);
  if (applied_[p] + 1 < seq) {
    // Everything of p before the message is in this flush: a crash while it is held, or a read
    // that moves back meanwhile, must not take those messages again.
    MarkApplied(p, seq - 1, &batch_);
  }
  Flush();  // what was read before it goes on
  // The lead each older id goes into is the newer id's root *as of this link*: after everything
  // of p before the message (the engine applies it first, imports included) and the message's
  // own earlier links (identify u+a, then alias a2 -> a: a2 goes into u). Named by an id of
  // another partition, the lead's ids would be marked as moved there (IdentityView::
  // HandedOverAfter), and this partition's own later events under them dropped or sent away.
  auto applied = std::make_shared<std::promise<void>>();
  options_.exchange->QueueAfterApplied([applied] { applied->set_value(); });
  if (!WaitFor(applied->get_future())) {
    return true;
  }
  std::map<std::string, std::string, std::less<>> linked_here;  // older root -> newer root
  std::string engine_roots[2];
  auto resolve = [&](std::string_view id) {
    return std::string(FollowLinks(id, linked_here, options_.identities, engine_roots));
  };
  std::vector<HandOverRequest> requests;
  for (const LinkInMessage& link : links) {
    const std::string newer_root = resolve(link.newer);
    const std::string older_root = resolve(link.older);
    if (link.across && link.older == newer_root) {
      imported_.insert(link.place);  // already one lead: the link changes nothing but itself
    } else if (link.across) {
      HandOverRequest request;
      request.link = link.place;
      request.older_id = link.older;
      request.partition = p;
      request.into = newer_root;
      requests.push_back(std::move(request));
    }
    if (older_root != newer_root) {
      linked_here[older_root] = newer_root;
    }
  }
  if (requests.empty()) {
    // Nothing to ask after all: the message is taken as it is (its links are in imported_ now).
    held_.erase(p);
    (void)TakeMessage(p, seq, payload);  // events only: it never moves the read back
    return true;
  }
  for (const HandOverRequest& request : requests) {
    held.awaiting[request.link];
    std::string payload;
    EncodeHandOverRequest(request, &payload);
    const uint32_t q = PartitionOf(request.older_id, options_.layout.partitions);
    if (!PublishUntilStored(PartitionSubject(q), HandOverRequestId(request.link), payload)) {
      return true;
    }
  }
  return true;
}

bool LogApplier::MovedAlready(const HandOverRequest& request) {
  std::string into;
  uint64_t after_seq = 0;
  if (options_.identities == nullptr ||
      !options_.identities->HandedOverAfter(request.older_id, &into, &after_seq)) {
    return false;
  }
  // Its answer is in the log already (this node logged it, or took it in). An empty answer, under
  // the same ids, keeps a request of another link to the same id from waiting for ever.
  HandOverAnswer answer;
  answer.link = request.link;
  answer.parts = 1;
  answer.part = 0;
  std::string payload;
  EncodeHandOverAnswer(answer, &payload);
  PublishUntilStored(PartitionSubject(request.partition), HandOverAnswerId(request.link, 0),
                     payload);
  return true;
}

void LogApplier::AnswerHandOver(const HandOverRequest& request, uint64_t covered_seq) {
  const uint64_t seq = covered_seq;
  // The export runs after everything read before the request; the request's partition stays
  // before it until the lead is handed over (a crash in between answers it again).
  const uint32_t q = PartitionOf(request.older_id, options_.layout.partitions);
  if (held_.count(q) == 0 && applied_[q] + 1 < seq) {
    // Everything of q before the request is in this flush: a crash after it reads q again
    // from the request, not from before events already applied.
    MarkApplied(q, seq - 1, &batch_);
  }
  replaying_.insert(q);
  Flush();
  replaying_.erase(replaying_.find(q));
  auto exported = std::make_shared<std::promise<std::string>>();
  std::future<std::string> bytes_future = exported->get_future();
  options_.exchange->QueueExport(
      request.older_id, LogApplyOrder(request.link.seq, request.link.index), request.into, seq,
      [exported](std::string bytes) { exported->set_value(std::move(bytes)); });
  while (bytes_future.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    if (stopping_) {
      return;
    }
  }
  const std::string bytes = bytes_future.get();
  // The answer is in the log before the lead leaves this node: a crash in between exports the
  // same lead again, under the same message ids.
  HandOverAnswer answer;
  answer.link = request.link;
  answer.parts = static_cast<uint32_t>(
      std::max<size_t>(1, (bytes.size() + kHandOverPartBytes - 1) / kHandOverPartBytes));
  std::string payload;
  for (uint32_t part = 0; part < answer.parts; ++part) {
    answer.part = part;
    answer.bytes = bytes.substr(part * kHandOverPartBytes, kHandOverPartBytes);
    EncodeHandOverAnswer(answer, &payload);
    if (!PublishUntilStored(PartitionSubject(request.partition),
                            HandOverAnswerId(request.link, part), payload)) {
      return;
    }
  }
  // The lead's ids are seen as `into`'s before anything after the request is read: its later
  // events here are forwarded (ForwardMovedEvents).
  auto handed = std::make_shared<std::promise<void>>();
  options_.exchange->QueueHandOver(request.older_id, request.into, seq,
                                   [handed] { handed->set_value(); });
  WaitFor(handed->get_future());
  if (applied_[q] < seq) {
    MarkApplied(q, seq, &batch_);  // written with the next batch, after the hand-over
  }
}

void LogApplier::TakeRouting(uint64_t seq, std::string_view payload) {
  if (seq <= routing_read_) {
    return;  // read again after the read moved back for a partition taken over
  }
  routing_read_ = seq;
  const bool replay = seq <= options_.routing_applied_seq;
  if (replay != routing_batch_.replay) {
    SubmitRoutingBatch();  // a batch is all replay or all new
    routing_batch_.replay = replay;
  }
  std::vector<RoutingInput> inputs;
  if (!DecodeRoutingInputs(payload, &inputs)) {
    ++corrupt_;
    LogError("event log sequence " + std::to_string(seq) + ": unreadable routing message, skipped");
    inputs.clear();
  }
  // Gathered with the next messages and handed over when the partitions' batch is (Flush): the
  // router and the partitions change nothing of each other's, and cutting the partitions' batch
  // at every routing message made small batches, each a commit.
  routing_batch_.inputs.insert(routing_batch_.inputs.end(), std::make_move_iterator(inputs.begin()),
                               std::make_move_iterator(inputs.end()));
  routing_seq_ = seq;
}

void LogApplier::SubmitRoutingBatch() {
  if (routing_seq_ == 0) {
    return;  // nothing gathered
  }
  RoutingBatch routing = std::move(routing_batch_);
  routing_batch_ = RoutingBatch();
  routing_batch_.replay = routing.replay;
  routing.log_positions.emplace_back(std::string(kRoutingAppliedSeqKey),
                                     std::to_string(routing_seq_));
  routing_seq_ = 0;
  options_.routing->SubmitRouting(std::move(routing));
}

bool LogApplier::WaitFor(std::future<void> done) {
  while (done.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    if (stopping_) {
      return false;
    }
  }
  return true;
}

void LogApplier::ForwardMovedEvents(uint32_t p, uint64_t seq, size_t first) {
  if (options_.identities == nullptr || options_.exchange == nullptr) {
    return;
  }
  std::map<uint32_t, std::string> moved;  // partition -> a log message of its events
  size_t kept = first;
  for (size_t i = first; i < batch_.events.size(); ++i) {
    // An id that moved to another partition's lead: its events logged here after the move
    // follow it; those up to the move are in the history that moved (this partition read again
    // from before it, by the node that handed it over or the one that took it in): dropped.
    std::string into;
    uint64_t after_seq = 0;
    uint32_t to = p;
    if (options_.identities->HandedOverAfter(batch_.events[i].lead_key(), &into, &after_seq)) {
      to = PartitionOf(into, options_.layout.partitions);
      if (to != p && seq <= after_seq) {
        continue;
      }
    }
    if (to == p) {
      if (kept != i) {
        batch_.events[kept] = std::move(batch_.events[i]);
        batch_.origins[kept] = batch_.origins[i];
      }
      ++kept;
      continue;
    }
    std::string& message = moved[to];
    if (message.empty()) {
      StartLogMessage(&message);
    }
    AppendLoggedEvent(batch_.events[i], batch_.origins[i], &message);
  }
  batch_.events.resize(kept);
  batch_.origins.resize(kept);
  for (const auto& [to, message] : moved) {
    // Before this message's position is stored: a crash sends it again, under the same id.
    // Named by the message and the partition it leaves: an ingest message has one section per
    // partition, and two of them may forward to the same one.
    PublishUntilStored(
        PartitionSubject(to),
        "forward/" + std::to_string(seq) + "/" + std::to_string(p) + "/" + std::to_string(to),
        message);
  }
}

bool LogApplier::TakeHandOverAnswer(uint32_t p, const HandOverAnswer& answer) {
  auto held = held_.find(p);
  if (held == held_.end()) {
    return true;  // not waiting: an answer read again, or sent twice
  }
  auto waiting = held->second.awaiting.find(answer.link);
  if (waiting == held->second.awaiting.end()) {
    return true;
  }
  Held::Parts& parts = waiting->second;
  if (parts.count == 0) {
    parts.count = answer.parts;
  }
  if (answer.parts != parts.count) {
    return true;  // a part of another answer to the same link (sent twice): the first one holds
  }
  parts.got.emplace(answer.part, answer.bytes);
  if (parts.got.size() < parts.count) {
    return true;
  }
  std::string bytes;
  for (const auto& [part, chunk] : parts.got) {
    bytes += chunk;
  }
  const LinkPlace link = answer.link;
  held->second.awaiting.erase(waiting);
  imported_.insert(link);
  Flush();  // what was read so far, before the import
  if (!bytes.empty()) {
    options_.exchange->QueueImport(std::move(bytes));
  }
  if (!held->second.awaiting.empty()) {
    return true;
  }
  // Every answer is in: the held message now merges here, then what waited behind it.
  Held done = std::move(held->second);
  held_.erase(held);
  if (done.overflowed) {
    // Too much waited to keep in memory: the read moves back to the held message.
    last_read_seq_ = done.seq - 1;
    submitted_seq_ = last_read_seq_;
    return false;
  }
  done.skipped.insert(done.skipped.begin(), {done.seq, std::move(done.message)});
  // Until they are all taken, a flush must not move the partition's position past them.
  replaying_.insert(p);
  bool in_place = true;
  for (auto& [seq, payload] : done.skipped) {
    in_place = held_.count(p) > 0 ? Offer(p, seq, payload) : TakeMessage(p, seq, payload);
    if (!in_place) {
      break;  // moved back (a hold it met overflowed): the rest is read again
    }
    if (held_.count(p) == 0) {
      // Taken: the partition's position is past it (written with the batch that holds it).
      MarkApplied(p, seq, &batch_);
    }
  }
  replaying_.erase(replaying_.find(p));
  return in_place;
}

bool LogApplier::PublishUntilStored(const std::string& subject, const std::string& msg_id,
                                    const std::string& payload) {
  return !stopping_ && handoff::PublishUntilStored(link_->js(), subject, msg_id, payload,
                                                   "logging a hand-over on " + subject, [this] {
                                                     Pause(kRetryWait);
                                                     return !stopping_.load();
                                                   });
}

}  // namespace handoff
