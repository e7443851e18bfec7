#include "core/engine.h"

#include <pthread.h>
#include <rocksdb/perf_level.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <system_error>
#include <unordered_map>

#include "base/log.h"
#include "base/timestamp.h"
#include "history/event_codec.h"
#include "outbox/outbox_record.h"
#include "rules/sha256.h"
#include "scoring/refold.h"
#include "storage/lead_codec.h"
#include "storage/pin_record.h"

namespace handoff {
namespace {

// Meta keys (the store's meta column family).
constexpr std::string_view kMetaRulesVersion = "rules.version";
constexpr std::string_view kMetaRulesSha = "rules.sha256";
constexpr std::string_view kMetaRulesLoadedAt = "rules.loaded_at";
constexpr std::string_view kMetaDedupeSeed = "dedupe.seed";
// How many leads the store holds; written with the pinned index (absent: a store from before it).
constexpr std::string_view kMetaLeadCount = "leads.count";
// A stored link whose root starts with this is an id handed over to another node
// (Engine::handed_over_): no id an event carries starts with a NUL. An id moved in from another
// node has a second row, its id behind the mark, with the same kind of value.
constexpr char kHandedOverMark = '\0';
// Cluster mode: "N:c0,c1,..." the lead count of each of N partitions.
constexpr std::string_view kMetaLeadCountByPartition = "leads.count.partitions";
// Cluster mode's router: the inputs committed and not yet in the log (EncodeRoutingInputs).
// The first release's pending routing inputs, all in one value (still read at start).
constexpr std::string_view kMetaRoutingPending = "routing.pending";
// Pending routing inputs, one value per commit that logged some ("routing.pending.<number>",
// zero-padded), and "<first> <next>" of the numbers in use.
constexpr std::string_view kMetaRoutingPendingPrefix = "routing.pending.";
constexpr std::string_view kMetaRoutingPendingRange = "routing.pending-range";

std::string PendingChunkKey(uint64_t number) {
  char digits[24];
  std::snprintf(digits, sizeof(digits), "%020llu", static_cast<unsigned long long>(number));
  return std::string(kMetaRoutingPendingPrefix) + digits;
}

// "N:c0,c1,...": a count for each of N partitions.
std::string EncodePartitionCounts(const std::vector<uint64_t>& counts) {
  std::string out = std::to_string(counts.size()) + ":";
  for (size_t p = 0; p < counts.size(); ++p) {
    out += (p > 0 ? "," : "") + std::to_string(counts[p]);
  }
  return out;
}

// False when `text` is not what EncodePartitionCounts makes.
bool DecodePartitionCounts(std::string_view text, std::vector<uint64_t>* counts) {
  counts->clear();
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  bool good = ec == std::errc() && end != text.data() + text.size() && *end == ':';
  text.remove_prefix(good ? end - text.data() + 1 : text.size());
  while (good && !text.empty()) {
    uint64_t c = 0;
    auto [e, err] = std::from_chars(text.data(), text.data() + text.size(), c);
    good = err == std::errc() && (e == text.data() + text.size() || *e == ',');
    counts->push_back(c);
    text.remove_prefix(e == text.data() + text.size() ? text.size() : e - text.data() + 1);
  }
  return good && counts->size() == n;
}

// The stored value of a handed-over id: "\0<after_seq>\0<into>".
std::string HandedOverValue(uint64_t after_seq, std::string_view into) {
  std::string out(1, kHandedOverMark);
  out += std::to_string(after_seq);
  out += kHandedOverMark;
  out += into;
  return out;
}

uint64_t ParseU64(const std::string& s) {
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return 0;
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

std::string JoinErrors(const std::vector<LoadError>& errors) {
  std::string out;
  for (const LoadError& e : errors) {
    out += "\n  ";
    out += e.ToString();
  }
  return out;
}

}  // namespace

Engine::Engine(EngineOptions options, Store* store, const Clock* clock, Metrics* metrics)
    : options_(std::move(options)),
      store_(store),
      clock_(clock),
      metrics_(metrics),
      outbox_(store),
      dedupe_(options_.dedupe_window),
      router_(std::make_unique<Router>(static_cast<RouterHost*>(this), clock, metrics)),
      history_(store, options_.history),
      funnel_(options_.funnel, store),
      rules_manager_(
          options_.rules_path, options_.watch_rules,
          [this](std::shared_ptr<const RuleSet> rules, ReloadDone done) {
            RunOnEngine([this, rules = std::move(rules), done = std::move(done)]() mutable {
              ReloadOutcome outcome = Install(std::move(rules));
              if (done) {
                done(outcome);
              }
            });
          },
          [this](const std::vector<LoadError>& errors) { return Rejected(errors); }) {
  lead_partitions_ = options_.lead_partitions;
  if (options_.routing_log != nullptr) {
    replica_ = std::make_unique<RouterReplica>(&replica_sink_, metrics_);
    // A request number of this boot never names one an earlier boot logged.
    next_request_ = static_cast<uint64_t>(std::random_device()()) << 32;
  }
}

Engine::~Engine() { Stop(); }

Status Engine::Start() {
  LoadResult loaded = LoadRules(options_.rules_path);
  if (!loaded.ok()) {
    metrics_->RuleReload(false);
    return Status::InvalidArgument("rules " + options_.rules_path +
                                   " do not load:" + JoinErrors(loaded.errors));
  }
  // The version survives restarts; loading the same bytes again is not a new version.
  std::string stored_version;
  std::string stored_sha;
  std::string stored_loaded_at;
  uint64_t version = 0;
  if (store_->GetMeta(kMetaRulesVersion, &stored_version).ok()) {
    version = ParseU64(stored_version);
  }
  bool same =
      store_->GetMeta(kMetaRulesSha, &stored_sha).ok() && stored_sha == loaded.rules->sha256;
  if (!same || version == 0) {
    ++version;
  }
  if (Status st = router_->Restore(MetaReaderOf(store_)); !st.ok()) {
    return st;
  }
  InstallRules(loaded.rules, version);
  if (!same && !global_router()) {
    router_->StartedOnNewRules();  // a new load, as a reload is (the cluster's router: its log)
  }
  if (same && store_->GetMeta(kMetaRulesLoadedAt, &stored_loaded_at).ok()) {
    std::lock_guard<std::mutex> lock(info_mu_);
    info_.loaded_at = std::strtod(stored_loaded_at.c_str(), nullptr);
    batch_.PutMeta(kMetaRulesLoadedAt, stored_loaded_at);
  }
  metrics_->RuleReload(true);

  if (Status st = outbox_.Restore(); !st.ok()) {
    return st;
  }
  if (Status st = history_.Restore(); !st.ok()) {
    return st;
  }
  if (Status st = RestoreDedupe(); !st.ok()) {
    return st;
  }
  if (Status st = store_->ScanLinks([this](std::string_view id, std::string_view root) {
        std::unique_lock<std::shared_mutex> lock(identity_mu_);
        if (!root.empty() && root.front() == kHandedOverMark) {
          // "\0<after_seq>\0<into>" (HandedOverValue)
          root.remove_prefix(1);
          const size_t end = root.find(kHandedOverMark);
          HandedOver handed;
          std::from_chars(root.data(), root.data() + std::min(end, root.size()), handed.after_seq);
          handed.into = std::string(end == std::string_view::npos ? "" : root.substr(end + 1));
          if (!id.empty() && id.front() == kHandedOverMark) {
            // Moved in (MarkMovedIn). These rows come first in key order: an id's own row,
            // when it is marked, is a later hand-over and wins.
            id.remove_prefix(1);
            handed_over_.emplace(std::string(id), std::move(handed));
          } else {
            handed_over_[std::string(id)] = std::move(handed);
          }
        } else {
          identity_.Restore(id, root);
        }
      });
      !st.ok()) {
    return st;
  }
  metrics_->SetOutboxHead(outbox_.head());
  if (Status st = LoadState(); !st.ok()) {
    return st;
  }
  if (global_router()) {
    if (Status st = RestorePendingRouting(); !st.ok()) {
      return st;
    }
  }
  commit_thread_ = std::thread([this] { CommitLoop(); });
  LeaveVanishedStages(std::move(vanished_at_start_));
  vanished_at_start_.clear();
  Commit();
  const EpochSeconds now = clock_->Now();
  next_stage_check_ = now + options_.stage_check_interval;
  next_trim_ = now + options_.outbox_trim_interval;
  StartLeadScan();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "engine");
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    Loop();
  });
  rules_manager_.Start();
  return Status::Ok();
}

Status Engine::RestoreDedupe() {
  std::string seed_text;
  Status st = store_->GetMeta(kMetaDedupeSeed, &seed_text);
  if (st.IsNotFound()) {
    dedupe_.SetSeed(DedupeIndex::NewSeed());
    batch_.PutMeta(kMetaDedupeSeed, std::to_string(dedupe_.seed()));
  } else if (!st.ok()) {
    return st;
  } else {
    uint64_t seed = 0;
    auto [end, ec] = std::from_chars(seed_text.data(), seed_text.data() + seed_text.size(), seed);
    if (ec != std::errc() || end != seed_text.data() + seed_text.size()) {
      return Status::Corruption("meta " + std::string(kMetaDedupeSeed) + " is not a number");
    }
    dedupe_.SetSeed(seed);
  }
  const EpochSeconds now = clock_->Now();
  bool malformed = false;
  st = store_->ScanDedupe(
      [&](std::string_view id, EpochSeconds at) { dedupe_.RestoreId(id, at, now); },
      [&](uint64_t block, EpochSeconds at, std::string_view hashes) {
        malformed |= !dedupe_.RestoreBlock(hashes, at, now);
        next_dedupe_block_ = std::max(next_dedupe_block_, block + 1);
      });
  if (!st.ok()) {
    return st;
  }
  if (malformed) {
    return Status::Corruption("store: a dedupe log block does not decode");
  }
  return Status::Ok();
}

Status Engine::LoadState() {
  // Only the pinned index comes into memory: the stage index from its records, and the leads
  // held in memory always (owned or routable); the rest are read on demand.
  std::string text;
  Status st = store_->GetMeta(kMetaLeadCount, &text);
  if (st.ok()) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), lead_count_);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return Status::Corruption("meta " + std::string(kMetaLeadCount) + " is not a count");
    }
  } else if (!st.IsNotFound()) {
    return st;
  }
  const bool indexed = st.ok();
  Status decode_error;
  // `record`: what the pinned index holds for it (legacy: nothing known, or no index at all).
  auto adopt = [&](std::string_view id, std::string_view encoded, const PinRecord& record) {
    auto entry = std::make_unique<LeadEntry>();
    if (Status d = DecodeLeadState(encoded, &entry->state); !d.ok()) {
      decode_error = Status::Corruption("lead " + std::string(id) + ": " + d.message());
      return false;
    }
    if (!indexed) {
      ++lead_count_;  // a store written before the pinned index: counted once, here
    }
    // (Before anything scores it: scoring aligns the lead to the rules, which drops a stage they
    // no longer have.)
    const bool vanished = !options_.stage_checks_from_log && !entry->state.stage.empty() &&
                          scorer_->rules().FindStage(entry->state.stage) < 0;
    std::string stored_stage = vanished ? entry->state.stage : std::string();
    const bool staged = scorer_->StageIndex(&entry->state) > 0;
    if (!vanished && !staged && !Pinned(*entry)) {
      return true;
    }
    if (!global_router()) {
      router_->AdoptLead(&entry->state);
    }
    LeadEntry& ref = Insert(std::move(entry));
    EnsureFolded(&ref);  // before its next check is worked out (a reload may change half-lives)
    IndexLead(ref);
    ref.pin_stored = indexed;
    if (record.legacy) {
      ref.pin_stale = true;
      MarkDirty(ref);  // its first seal writes its record (and leaves it out of memory if staged)
    } else {
      ref.pin_in_memory = record.in_memory;
      ref.pin_next_check = record.next_check;
      ref.pin_rules_tag = record.rules_tag;
      if (ref.check != nullptr) {
        *ref.check = {record.next_check, record.rules_tag};
      }
    }
    if (vanished) {
      // The rules before this start are gone: a lead with an open owner counts as routable.
      const bool owned = ref.state.owner.has_value() && !ref.state.owner->closed;
      vanished_at_start_.push_back({&ref, std::move(stored_stage), owned});
    }
    return true;
  };
  if (indexed) {
    std::vector<std::pair<std::string, PinRecord>> to_read;
    Status record_error;
    st = store_->ScanPinned([&](std::string_view id, std::string_view bytes) {
      PinRecord record;
      if (Status d = DecodePinRecord(bytes, &record); !d.ok()) {
        record_error = Status::Corruption("lead " + std::string(id) + ": " + d.message());
        record.legacy = true;  // read the lead instead
      }
      const bool vanished = !options_.stage_checks_from_log && !record.stage.empty() &&
                            scorer_->rules().FindStage(record.stage) < 0;
      if (record.legacy || record.in_memory || record.stage.empty() || vanished) {
        to_read.emplace_back(id, std::move(record));
        return;
      }
      index_by_stage_[record.stage].emplace(
          std::string(id),
          std::make_unique<StageCheck>(StageCheck{record.next_check, record.rules_tag}));
    });
    if (!record_error.ok()) {
      LogWarning(record_error.ToString() + "; reading the lead instead");
    }
    for (size_t i = 0; st.ok() && decode_error.ok() && i < to_read.size(); ++i) {
      std::string encoded;
      st = store_->GetLead(to_read[i].first, &encoded);
      if (st.ok()) {
        adopt(to_read[i].first, encoded, to_read[i].second);
      } else if (st.IsNotFound()) {
        st = Status::Ok();  // an index entry without its lead (written together: never seen)
      }
    }
  } else {
    PinRecord legacy;
    legacy.legacy = true;
    st = store_->ScanLeads("", [&](std::string_view id, std::string_view encoded) {
      return adopt(id, encoded, legacy);
    });
    lead_count_dirty_ = true;  // and the count, so the next start reads only the pinned leads
  }
  earliest_check_ = 0;  // the first interval scans the index
  if (!st.ok()) {
    return st;
  }
  if (!decode_error.ok()) {
    return decode_error;
  }
  metrics_->SetLeads(lead_count_);
  if (st = LoadPartitionCounts(); !st.ok()) {
    return st;
  }
  if (st = funnel_.Load(); !st.ok()) {
    return st;
  }
  RenderFunnelMetrics(/*now_please=*/true);
  return Status::Ok();
}

void Engine::StartLeadScan() {
  lead_scan_thread_ = std::thread([this, expected = lead_count_] {
    pthread_setname_np(pthread_self(), "lead-scan");
    const auto t0 = std::chrono::steady_clock::now();
    // Room for a quarter more leads before the filter grows a segment.
    LeadIdFilter scanned(expected + expected / 4);
    bool stopped = false;
    Status st = store_->ScanLeads("", [&](std::string_view id, std::string_view) {
      stopped = lead_scan_stop_.load(std::memory_order_relaxed);
      if (!stopped) {
        scanned.Add(id);
      }
      return !stopped;
    });
    if (stopped) {
      return;
    }
    if (!st.ok()) {
      // Not fatal: every lead not in memory is looked up in the store, as before the filter.
      LogWarning("scanning lead ids: " + st.ToString() + "; new leads are looked up in the store");
      return;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto handed = std::make_shared<LeadIdFilter>(std::move(scanned));
    RunOnEngine([this, handed, seconds] { AdoptScannedLeads(std::move(*handed), seconds); });
  });
}

void Engine::AdoptScannedLeads(LeadIdFilter scanned, double seconds) {
  // Every lead stored when the scan began is in `scanned`; every lead created since went through
  // LeadFor, which added it to known_leads_.
  const size_t ids = scanned.ids();
  known_leads_.Absorb(std::move(scanned));
  known_leads_complete_ = true;
  char took[32];
  std::snprintf(took, sizeof(took), "%.2f", seconds);
  LogInfo("lead ids: " + std::to_string(ids) + " scanned in " + took +
          " s; new leads are created without a store lookup");
}

void Engine::Stop() {
  lead_scan_stop_.store(true, std::memory_order_relaxed);
  if (lead_scan_thread_.joinable()) {
    lead_scan_thread_.join();
  }
  rules_manager_.Stop();  // no more installs queued behind the tasks below
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) {
      return;
    }
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    commit_thread_stop_ = true;
  }
  commit_cv_.notify_all();
  if (commit_thread_.joinable()) {
    commit_thread_.join();
  }
}

void Engine::Enqueue(Task task, size_t events) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(task));
    queued_events_ += events;
  }
  cv_.notify_one();
}

void Engine::Submit(IngestBatch batch) {
  size_t n = batch.events.size();
  const bool per_event_origin = !batch.origins.empty();
  for (size_t i = 0; i < n; ++i) {
    Event& event = batch.events[i];
    if (!event.has_timestamp) {
      event.timestamp = per_event_origin ? batch.origins[i].received_at : batch.received_at;
      event.has_timestamp = true;
    }
  }
  if (options_.history) {
    // The encoding of an event's properties, traits and context was ~11 % of the engine thread
    // (bench/README.md, session 43): done here, on the io thread, it overlaps the engine's work.
    batch.prepared.reserve(n * 256);
    batch.prepared_ends.reserve(n);
    for (const Event& event : batch.events) {
      EncodeEvent(event, &batch.prepared);
      batch.prepared_ends.push_back(static_cast<uint32_t>(batch.prepared.size()));
    }
  }
  Enqueue(std::move(batch), n);
}

void Engine::RunOnEngine(std::function<void()> fn) { Enqueue(Closure{std::move(fn)}, 0); }

void Engine::SubmitRouting(RoutingBatch batch) { Enqueue(std::move(batch), 0); }

void Engine::RequestReload(ReloadDone done) { rules_manager_.RequestReload(std::move(done)); }

RulesInfo Engine::rules_info() const {
  std::lock_guard<std::mutex> lock(info_mu_);
  return info_;
}

size_t Engine::queued_events() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_events_;
}

void Engine::Loop() {
  std::vector<Task> tasks;
  for (;;) {
    FinishCommitIfDone();
    if (!commit_in_flight_ && HasUncommitted()) {
      // Nothing else to do: commit here, saving two thread hand-offs of latency; with work
      // waiting, let the commit thread write while the engine goes on.
      if (IdleForInlineCommit()) {
        CommitInline();
      } else {
        StartCommit();
      }
    }
    // Here no task holds a lead: the cache may let some go.
    Evict();
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (queue_.empty() && !stopping_ && !commit_done_.load(std::memory_order_acquire)) {
        // The stage re-check's time only when this engine runs it (a time left behind would
        // wake the loop every millisecond).
        const bool own_stage_checks =
            options_.stage_check_interval > 0 && !options_.stage_checks_from_log;
        EpochSeconds wake = own_stage_checks ? std::min(next_stage_check_, next_trim_) : next_trim_;
        if (!global_router()) {
          wake = std::min(wake, router_->NextDeadline());  // RunCron ticks this router
        }
        EpochSeconds wait = wake - clock_->Now();
        if (DueChecksUnderWay()) {
          wait = 0;  // a re-check under way goes on at once (clamped to a millisecond)
        }
        wait = std::clamp(wait, 0.001, 0.5);
        waiting_.store(true, std::memory_order_relaxed);
        cv_.wait_for(lock, std::chrono::duration<double>(wait));
        waiting_.store(false, std::memory_order_relaxed);
      }
      if (stopping_ && queue_.empty()) {
        break;
      }
      tasks.swap(queue_);
      queued_events_ = 0;
    }
    for (size_t i = 0; i < tasks.size(); ++i) {
      Task& task = tasks[i];
      if (auto* batch = std::get_if<IngestBatch>(&task)) {
        ApplyBatch(*batch);
      } else if (auto* routing = std::get_if<RoutingBatch>(&task)) {
        ApplyRouting(*routing);
      } else {
        // A closure sees committed state: commit what came before it first.
        Commit();
        std::get<Closure>(task).fn();
      }
      // Acks of the batch in flight go out as soon as it is durable, not after this whole pass;
      // and an idle commit thread gets what is applied so far at once, so that a long pass is
      // many group commits, each as big as the previous write took to return.
      FinishCommitIfDone();
      if (!commit_in_flight_ && i + 1 < tasks.size() && HasUncommitted()) {
        StartCommit();
      }
      Evict();
    }
    // Applied events go back to the thread that parsed them (ingest/spent_events.h); whatever
    // this pass applied is in the batch being built, nothing refers to them any more.
    for (Task& task : tasks) {
      if (auto* batch = std::get_if<IngestBatch>(&task); batch != nullptr && batch->spent) {
        batch->spent->Give(std::move(batch->events));
      }
    }
    tasks.clear();
    RunCron();
  }
  Commit();
}

void Engine::CommitLoop() {
  pthread_setname_np(pthread_self(), "engine-commit");
  // RocksDB counts per-operation statistics in thread-local storage by default; this thread does
  // millions of operations and reads none of them.
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    commit_cv_.wait(
        lock, [this] { return commit_requested_ || after_inline_commit_ || commit_thread_stop_; });
    if (commit_requested_) {
      commit_requested_ = false;
      lock.unlock();
      inflight_.status = WriteDurably(&inflight_.batch);
      const bool committed = inflight_.status.ok();
      lock.lock();
      commit_done_.store(true, std::memory_order_release);
      cv_.notify_all();
      if (!committed) {
        continue;
      }
    } else if (after_inline_commit_) {
      after_inline_commit_ = false;  // the engine wrote a batch itself
    } else {
      return;  // stopping, with nothing left to write
    }
    // The store's deferred work (its lead journal's checkpoint) after every commit, wherever it
    // was written: here while the engine acknowledges this commit and seals the next.
    deferred_work_running_ = true;
    lock.unlock();
    store_->AfterCommit();
    lock.lock();
    deferred_work_running_ = false;
  }
}

void Engine::ApplyBatch(IngestBatch& batch) {
  const EpochSeconds now = clock_->Now();
  // Per transport: a cluster batch (origins) mixes them.
  uint64_t applied[kTransportCount] = {};
  uint64_t duplicates[kTransportCount] = {};
  const bool per_event_origin = !batch.origins.empty();
  assert(!per_event_origin || batch.origins.size() == batch.events.size());
  size_t next_control = 0;
  // While an event is applied (microseconds), what the next ones will look up is loaded: the
  // dedupe slots and the lead table's slot of the event after next, then the lead of the next
  // one, or its lead-id filter blocks when it is not cached. Each is a cache miss on tables of
  // many ids and leads (lead_table_bench: 190 -> 56 ns a lead lookup at 100k leads; a new lead
  // against 10M ids, 383 -> 283 ns). An alias's root is not what lead_key() names: that prefetch
  // is wasted, harmlessly.
  const size_t events = batch.events.size();
  for (size_t i = 0; i < events; ++i) {
    if (i + 2 < events) {
      const Event& later = batch.events[i + 2];
      leads_.Prefetch(later.lead_key());
      if (!later.message_id.empty()) {
        dedupe_.Prefetch(later.message_id);
      }
    }
    if (i + 1 < events) {
      const std::string_view next = batch.events[i + 1].lead_key();
      // A lead not in the cache is looked up in the lead-id filter next (a new lead: always).
      if (!leads_.PrefetchObject(next) && known_leads_complete_) {
        known_leads_.Prefetch(next);
      }
    }
    for (; next_control < batch.controls.size() && batch.controls[next_control].before_event <= i;
         ++next_control) {
      ApplyPartitionControl(batch.controls[next_control]);
    }
    Event& event = batch.events[i];
    const EventOrigin origin =
        per_event_origin ? batch.origins[i] : EventOrigin{batch.transport, batch.received_at};
    const auto t = static_cast<size_t>(origin.transport);
    if (!event.message_id.empty() && dedupe_.CheckAndRecord(event.message_id, now)) {
      ++duplicates[t];
      continue;
    }
    assert(event.has_timestamp);  // Submit gave it its receive time
    apply_order_ = origin.apply_order;
    event_order_ = origin.apply_order;
    if (!batch.prepared_ends.empty()) {
      assert(batch.prepared_ends.size() == events);
      const uint32_t begin = i == 0 ? 0 : batch.prepared_ends[i - 1];
      prepared_event_ = &event;
      prepared_bytes_ =
          std::string_view(batch.prepared).substr(begin, batch.prepared_ends[i] - begin);
    }
    ApplyEvent(event, origin.received_at);
    prepared_event_ = nullptr;
    ++applied[t];
  }
  apply_order_ = 0;
  event_order_ = 0;
  for (; next_control < batch.controls.size(); ++next_control) {
    ApplyPartitionControl(batch.controls[next_control]);
  }
  for (const auto& [key, value] : batch.log_positions) {
    batch_.PutMeta(key, value);
  }
  for (int i = 0; i < kTransportCount; ++i) {
    if (applied[i] + duplicates[i] > 0) {
      metrics_->EventsApplied(static_cast<Transport>(i), applied[i]);
      metrics_->EventsDuplicate(static_cast<Transport>(i), duplicates[i]);
    }
  }
  events_in_commit_ += batch.events.size();
  completions_.push_back(Completion{std::move(batch.done), batch.received_mono,
                                    static_cast<uint64_t>(batch.events.size())});
  if (events_in_commit_ >= options_.max_commit_events) {
    // A big backlog: wait for the batch in flight rather than let one group grow without bound.
    WaitCommit();
    StartCommit();
  }
}

Engine::LeadEntry& Engine::Insert(std::unique_ptr<LeadEntry> entry) {
  return leads_.Insert(std::move(entry));
}

void Engine::EnsureFolded(LeadEntry* entry) {
  if (entry->folded_generation == scorer_->generation()) {
    return;
  }
  entry->folded_generation = scorer_->generation();
  if (scorer_->NeedsRefold(&entry->state)) {
    RefoldFromHistory(entry);
  }
}

void Engine::RefoldFromHistory(LeadEntry* entry) {
  // The history blocks of the batch in flight are not readable from the store until it returns
  // (rare: once per lead after a reload changed a half-life).
  WaitCommit();
  RefoldAwards(&entry->state);
  MarkDirty(*entry);
}

void Engine::RefoldAwards(Lead* lead) {
  std::vector<HistoryEntry> history;
  if (Status st = history_.Read(lead->history, &history); !st.ok()) {
    LogWarning("lead " + lead->id + ": cannot read its history to apply a new half-life or cap (" +
               st.ToString() + "); they apply from each rule's latest award on");
    history.clear();
  }
  handoff::RefoldAwards(*scorer_, history, lead);
}

Engine::LeadEntry* Engine::FindEntry(std::string_view id) {
  if (LeadEntry* held = leads_.Find(id); held != nullptr) {
    Touch(held);
    EnsureFolded(held);
    return held;
  }
  if (deleted_uncommitted_.find(id) != deleted_uncommitted_.end()) {
    return nullptr;  // merged away or erased; the store still has it until that commit returns
  }
  if (known_leads_complete_ && !known_leads_.MayContain(id)) {
    return nullptr;  // never created: no store lookup
  }
  // Not in memory: a clean lead the cache let go (a dirty one never leaves), or no lead.
  std::string encoded;
  Status st = store_->GetLead(id, &encoded);
  if (st.IsNotFound()) {
    return nullptr;
  }
  auto entry = std::make_unique<LeadEntry>();
  if (st.ok()) {
    st = DecodeLeadState(encoded, &entry->state);
  }
  if (!st.ok()) {
    // Scoring it from zero would overwrite what the store holds, and stopping would stop every
    // other lead too (and again after each restart): the lead is set apart instead.
    if (unreadable_.emplace(id).second) {
      LogError("lead " + std::string(id) + ": cannot read its stored state (" + st.ToString() +
               "); its events are not applied (handoff_unreadable_lead_events_total) until it is "
               "restored or erased (DELETE /v1/leads/" +
               std::string(id) + ")");
    }
    return nullptr;
  }
  LeadEntry& ref = Insert(std::move(entry));
  LruPushFront(&ref);
  // A staged lead out of memory stayed in the stage index and the pinned index: take up where
  // they are (a seal rewrites its record only when it changed).
  const std::string stored_stage = ref.state.stage;
  if (const int stage = scorer_->StageIndex(&ref.state); stage == 0 && !stored_stage.empty()) {
    // Its stage is gone with a reload (cluster mode, where such leads leave it at their
    // partition's next check): out of the index, and its record rewritten.
    if (Unindex(stored_stage, ref.state.id)) {
      ref.pin_stored = true;
      ref.pin_stale = true;
      MarkDirty(ref);
    }
  } else if (stage > 0) {
    ref.indexed_stage = ref.state.stage;
    ref.check = IndexedCheck(ref);
    if (ref.check != nullptr) {
      ref.pin_stored = true;
      ref.pin_next_check = ref.check->at;
      ref.pin_rules_tag = ref.check->rules_tag;
    } else {
      ref.indexed_stage.clear();  // not indexed (cannot happen): filed at its next seal
    }
    ref.pin_stale = true;
  }
  EnsureFolded(&ref);
  return &ref;
}

Engine::LeadEntry* Engine::LeadFor(std::string_view id) {
  if (LeadEntry* entry = FindEntry(id); entry != nullptr) {
    return entry;
  }
  if (unreadable_.contains(id)) {
    return nullptr;
  }
  auto entry = std::make_unique<LeadEntry>();
  entry->state.id = std::string(id);
  LeadEntry& ref = Insert(std::move(entry));
  LruPushFront(&ref);
  CountLead(id, +1);
  known_leads_.Add(id);
  return &ref;
}

Lead* Engine::FindLead(std::string_view id) {
  LeadEntry* entry = FindEntry(id);
  return entry == nullptr ? nullptr : &entry->state;
}

bool Engine::Pinned(LeadEntry& entry) const {
  if (entry.state.owner.has_value()) {
    return true;
  }
  const RuleSet& rules = scorer_->rules();
  const int stage = scorer_->StageIndex(&entry.state);
  // A stage whose exit reads scores other than against thresholds is re-checked at every
  // interval: its leads stay in memory rather than be read each time. In cluster mode every
  // staged lead is re-checked at each of its partition's clocks, whose times may lie before this
  // node's wall clock (a node catching up): they stay in memory too.
  return (rules.routing.enabled && stage >= rules.routing.stage_index) ||
         (stage > 0 && (options_.stage_checks_from_log || !scorer_->ExitHasOnlyThresholds(stage)));
}

void Engine::IndexLead(LeadEntry& entry) {
  const std::string_view id = entry.state.id;
  static const std::string kUnstaged;  // (both arms lvalues: no copy of the stage name)
  const std::string& stage = scorer_->StageIndex(&entry.state) > 0 ? entry.state.stage : kUnstaged;
  if (entry.indexed_stage == stage) {
    return;
  }
  if (!entry.indexed_stage.empty()) {
    Unindex(entry.indexed_stage, id);
  }
  entry.indexed_stage = stage;
  entry.check = nullptr;
  entry.pin_stale = true;
  ++stage_counts_version_;
  if (!stage.empty()) {
    auto [it, inserted] =
        index_by_stage_[stage].insert_or_assign(std::string(id), std::make_unique<StageCheck>());
    entry.check = it->second.get();
    earliest_check_ = 0;
  }
}

bool Engine::Unindex(const std::string& stage, std::string_view id) {
  auto ids = index_by_stage_.find(stage);
  if (ids == index_by_stage_.end()) {
    return false;
  }
  auto it = ids->second.find(id);
  if (it == ids->second.end()) {
    return false;
  }
  ids->second.erase(it);
  ++stage_counts_version_;
  return true;
}

void Engine::UnindexId(std::string_view id) {
  for (const auto& stage : index_by_stage_) {
    Unindex(stage.first, id);
  }
}

Engine::StageCheck* Engine::IndexedCheck(const LeadEntry& entry) {
  if (entry.indexed_stage.empty()) {
    return nullptr;
  }
  auto stage = index_by_stage_.find(entry.indexed_stage);
  if (stage == index_by_stage_.end()) {
    return nullptr;
  }
  auto it = stage->second.find(std::string_view(entry.state.id));
  return it == stage->second.end() ? nullptr : it->second.get();
}

EpochSeconds Engine::NextCheckOf(LeadEntry& entry) {
  const EpochSeconds now = clock_->Now();
  const EpochSeconds at = scorer_->NextExitCheck(&entry.state, now);
  return at <= now ? 0 : at;  // 0: due at every interval, a value that does not change
}

void Engine::ClassifyLead(LeadEntry& entry) {
  IndexLead(entry);
  const bool in_memory = Pinned(entry);
  const bool staged = !entry.indexed_stage.empty();
  EpochSeconds next_check = 0;
  if (StageCheck* check = entry.check; check != nullptr) {
    next_check = NextCheckOf(entry);
    *check = {next_check, rules_tag_};
    if (next_check < earliest_check_) {
      earliest_check_ = next_check;
    }
  }
  if (!in_memory && !staged) {
    if (entry.pin_stored) {
      batch_.DeletePinned(entry.state.id);
      entry.pin_stored = false;
    }
  } else if (!entry.pin_stored || entry.pin_stale || entry.pin_in_memory != in_memory ||
             next_check < entry.pin_next_check || entry.pin_rules_tag != rules_tag_) {
    // (A next check later than the stored one leaves the record as it is: the stored time is
    // still one before which nothing can move the lead, and most events only push it later.)
    PinRecord record;
    record.in_memory = in_memory;
    record.next_check = next_check;
    record.rules_tag = rules_tag_;
    record.stage = entry.indexed_stage;
    EncodePinRecord(record, &pin_scratch_);
    batch_.PutPinned(entry.state.id, pin_scratch_);
    entry.pin_stored = true;
    entry.pin_stale = false;
    entry.pin_in_memory = in_memory;
    entry.pin_next_check = next_check;
    entry.pin_rules_tag = rules_tag_;
  }
  if (in_memory && entry.in_lru) {
    LruUnlink(&entry);
  } else if (!in_memory && !entry.in_lru) {
    LruPushFront(&entry);
  }
}

void Engine::LruUnlink(LeadEntry* entry) {
  if (!entry->in_lru) {
    return;
  }
  (entry->lru_prev != nullptr ? entry->lru_prev->lru_next : lru_head_) = entry->lru_next;
  (entry->lru_next != nullptr ? entry->lru_next->lru_prev : lru_tail_) = entry->lru_prev;
  entry->lru_prev = entry->lru_next = nullptr;
  entry->in_lru = false;
  --lru_size_;
}

void Engine::LruPushFront(LeadEntry* entry) {
  entry->lru_prev = nullptr;
  entry->lru_next = lru_head_;
  (lru_head_ != nullptr ? lru_head_->lru_prev : lru_tail_) = entry;
  lru_head_ = entry;
  entry->in_lru = true;
  ++lru_size_;
}

void Engine::Evict() {
  // A lead changed in the batch being built or the one in flight is not in the store yet: it and
  // everything more recent stay.
  const uint64_t oldest_unwritten = commit_in_flight_ ? inflight_generation_ : commit_generation_;
  while (lru_size_ > options_.lead_cache && lru_tail_ != nullptr) {
    LeadEntry* entry = lru_tail_;
    if (entry->dirty_generation >= oldest_unwritten) {
      return;
    }
    LruUnlink(entry);
    if (entry->referenced) {
      entry->referenced = false;  // used since it last came round: a second chance
      LruPushFront(entry);
      continue;
    }
    if (Pinned(*entry)) {
      continue;  // classified at its next seal; never dropped from memory
    }
    // A staged lead stays in the stage index (and the store's pinned index): only its state
    // leaves memory.
    leads_.Erase(std::string_view(entry->state.id));
  }
}

void Engine::ForEachLead(std::string_view stage, std::string_view after,
                         const std::function<bool(Lead* lead)>& fn) {
  const bool first_stage = !stage.empty() && !scorer_->rules().stages.empty() &&
                           scorer_->rules().stages[0].name == stage;
  if (stage.empty() || first_stage) {
    // Every lead, or those of the first stage (most of them): a page from the store, which the
    // commit before this call has brought up to date. Costs the page (plus the leads skipped).
    // Read a run of leads at a time and hand them to `fn` outside the scan: a lead stored before
    // a reload changed a half-life its awards decay under is folded again from its history
    // first (as GET /v1/leads/{id} answers it; the engine's copy is folded, and stored, when it
    // is next read by id), and the store is not called from inside its own scan.
    constexpr size_t kRun = 256;
    WaitCommit();  // the batch in flight's history blocks are readable once it returns
    std::vector<Lead> run;
    std::string next_after(after);
    Status decode_error;
    bool more = true;
    while (more && decode_error.ok()) {
      run.clear();
      bool ended = true;
      Status st = store_->ScanLeads(next_after, [&](std::string_view id, std::string_view encoded) {
        next_after.assign(id);
        Lead lead;
        if (Status d = DecodeLeadState(encoded, &lead); !d.ok()) {
          decode_error = Status::Corruption("lead " + std::string(id) + ": " + d.message());
          return false;
        }
        if (!first_stage || scorer_->StageIndex(&lead) == 0) {
          run.push_back(std::move(lead));
        }
        ended = run.size() < kRun;
        return ended;  // false: the run is full, read on from next_after
      });
      if (!st.ok()) {
        LogError("listing leads: " + st.ToString());
        return;
      }
      for (Lead& lead : run) {
        if (scorer_->NeedsRefold(&lead)) {
          RefoldAwards(&lead);
        }
        if (!fn(&lead)) {
          return;
        }
      }
      more = !ended;
    }
    if (!decode_error.ok()) {
      LogError("listing leads: " + decode_error.ToString());
    }
    return;
  }
  auto it = index_by_stage_.find(std::string(stage));
  if (it == index_by_stage_.end()) {
    return;
  }
  const auto& ids = it->second;
  // By key from one lead to the next: reading a lead whose stage a reload removed takes it out of
  // the index, which moves the B-tree's entries under any iterator.
  std::string id(after);
  for (auto next = id.empty() ? ids.begin() : ids.upper_bound(id); next != ids.end();
       next = ids.upper_bound(id)) {
    id = next->first;
    Lead* lead = FindLead(id);
    if (lead != nullptr && !fn(lead)) {
      return;
    }
  }
}

void Engine::MarkDirty(LeadEntry& entry) {
  if (entry.dirty_generation != commit_generation_) {
    entry.dirty_generation = commit_generation_;
    dirty_.push_back(&entry);
  }
}

void Engine::ApplyEvent(const Event& event, EpochSeconds received_at) {
  applying_received_at_ = received_at;  // for the funnel's speed-to-lead
  // SPEC 8: an alias links previousId to the lead's id; an identify with both ids links the
  // anonymousId to the userId.
  if (event.type == EventType::kAlias) {
    ApplyLink(event, event.previous_id, event.lead_key(), received_at);
  } else if (event.type == EventType::kIdentify && !event.user_id.empty() &&
             !event.anonymous_id.empty()) {
    ApplyLink(event, event.anonymous_id, event.user_id, received_at);
  } else if (LeadEntry* entry = LeadFor(identity_.Resolve(event.lead_key())); entry != nullptr) {
    ApplyToLead(*entry, event, received_at);
  } else {
    metrics_->UnreadableLeadEvent();
  }
  applying_received_at_ = 0;
}

void Engine::ApplyToLead(LeadEntry& entry, const Event& event, EpochSeconds received_at) {
  const StageChange change = scorer_->Apply(event, &entry.state, &awarded_scratch_);
  LogApplied(&entry.state, event, received_at);
  MarkDirty(entry);
  if (change.changed()) {
    StageChanged(entry, change, event.timestamp, event.message_id);
  }
}

void Engine::LogApplied(Lead* lead, const Event& event, EpochSeconds received_at) {
  if (!history_.enabled()) {
    history_.AppendEncoded(nullptr, received_at, {}, awards_scratch_, apply_order_);
    return;
  }
  // The lead's own chain comes first; a merged lead's other chains follow it.
  if (lead->history.empty() || lead->history.front().lead != lead->id) {
    lead->history.insert(lead->history.begin(), HistoryChain{lead->id, 0});
  }
  const RuleSet& rules = scorer_->rules();
  awards_scratch_.clear();
  for (const AwardedPoints& a : awarded_scratch_) {
    awards_scratch_.emplace_back(rules.rules[a.rule_index].id, a.points);
  }
  if (prepared_event_ == &event) {
    history_.AppendEncoded(&lead->history.front(), received_at, prepared_bytes_, awards_scratch_,
                           apply_order_);
  } else {
    history_.Append(&lead->history.front(), received_at, event, awards_scratch_, apply_order_);
  }
}

void Engine::ApplyLink(const Event& event, std::string_view older_id, std::string_view newer_id,
                       EpochSeconds received_at) {
  const std::string older(identity_.Resolve(older_id));
  const std::string newer(identity_.Resolve(newer_id));
  LeadEntry* older_entry = older == newer ? nullptr : FindEntry(older);
  LeadEntry* newer_entry = LeadFor(newer);
  if (newer_entry == nullptr || unreadable_.contains(older)) {
    metrics_->UnreadableLeadEvent();  // neither applied nor linked: the link would lose a lead
    return;
  }
  if (older == newer) {
    ApplyToLead(*newer_entry, event, received_at);  // already one lead: nothing to link
    return;
  }
  if (older_entry == nullptr || !history_.enabled()) {
    // No events under the older id yet: only linked, its later events land on `newer`. (With
    // history off there is nothing to replay: the older lead, if any, stays apart.)
    if (older_entry == nullptr) {
      LinkIds(older, newer);
    }
    ApplyToLead(*newer_entry, event, received_at);
    return;
  }
  Merge(*older_entry, *newer_entry, event, received_at);
}

void Engine::Merge(LeadEntry& older, LeadEntry& newer, const Event& event,
                   EpochSeconds received_at) {
  // The history blocks of the batch in flight are not readable from the store until it returns.
  WaitCommit();
  StageChange change;
  change.from = scorer_->StageIndex(&newer.state);
  // Both leads' events in the order applied, then the linking event: exactly as if all had come
  // under the one id (SPEC 8). The wall-clock re-check is not replayed.
  std::vector<HistoryChain> chains = newer.state.history;
  chains.insert(chains.end(), older.state.history.begin(), older.state.history.end());
  // Too many events together (EngineOptions::max_merge_replay_events): the lead with more is the
  // base, and only the other's history is read and replayed.
  const bool bounded = older.state.events + newer.state.events > options_.max_merge_replay_events;
  const bool bounded_older_base = bounded && older.state.events >= newer.state.events;
  const std::vector<HistoryChain>& read_chains =
      !bounded ? chains : (bounded_older_base ? newer.state.history : older.state.history);
  std::vector<HistoryEntry> entries;
  std::vector<bool> cut;
  if (Status st = history_.Read(read_chains, &entries, &cut); !st.ok()) {
    LogError("merge of " + older.state.id + " into " + newer.state.id +
             ": cannot read history: " + st.ToString());
  }
  // Blocks older than history_retention are trimmed, and a chain that reaches one ends there.
  // Neither lead's history cut: everything is replayed from nothing, exact. Otherwise the lead
  // whose history is cut is the base, its state holding what the trimmed events gave (scores,
  // once and cap memory, traits, first_seen, events), and the other lead's events are replayed on
  // top of it in their order; with both cut, the older lead's trimmed events are what is lost.
  // A part also misses events when it holds none while its lead counts some: events applied
  // while history was off (`history: false`, or a version without it), or a read that failed
  // before it found any of them. (Not "fewer entries than events": in cluster mode a lead handed
  // over across a kill -9 can count an event twice that its history holds once, and the replay
  // from the history is what is right there.)
  Lead merged;
  if (bounded) {
    merged = bounded_older_base ? older.state : newer.state;  // `entries` are the other lead's
  } else {
    const size_t newer_chains = newer.state.history.size();
    // A set, not a scan of the chains: a lead that many ids merged into has a chain for each.
    std::unordered_set<std::string_view> newer_ids;
    for (const HistoryChain& c : newer.state.history) {
      newer_ids.insert(c.lead);
    }
    auto is_newers = [&](const HistoryEntry& e) { return newer_ids.contains(e.lead); };
    const auto newer_entries =
        static_cast<uint64_t>(std::count_if(entries.begin(), entries.end(), is_newers));
    const uint64_t older_entries = entries.size() - newer_entries;
    const bool newer_cut =
        std::find(cut.begin(), cut.begin() + newer_chains, true) != cut.begin() + newer_chains ||
        (newer_entries == 0 && newer.state.events > 0);
    const bool older_cut = std::find(cut.begin() + newer_chains, cut.end(), true) != cut.end() ||
                           (older_entries == 0 && older.state.events > 0);
    if (newer_cut || older_cut) {
      const bool older_is_base = older_cut && !newer_cut;
      merged = older_is_base ? older.state : newer.state;
      std::erase_if(entries, [&](const HistoryEntry& e) { return is_newers(e) != older_is_base; });
    }
  }
  merged.id = newer.state.id;
  // The base's profile scores were read under its own id; profile rules may read lead.id.
  merged.scoring_cache.profile_valid = false;
  // Where the replay awards an event other points than it was logged with (a cap or `once` now
  // shared by both leads, a trait only the other lead had), its history entry takes the replay's:
  // the history is then the one id's, and a later refold (a new half-life or cap window) is exact.
  const RuleSet& replay_rules = scorer_->rules();
  std::unordered_map<uint64_t, LoggedAwards> replayed;
  for (const HistoryEntry& e : entries) {
    (void)scorer_->Apply(e.event, &merged, &awarded_scratch_);
    // The same awards in any order (before session 45 an entry listed them in the order the
    // rule index found them; a rule awards at most once an event).
    const bool same =
        e.awards.size() == awarded_scratch_.size() &&
        std::all_of(
            e.awards.begin(), e.awards.end(), [&](const std::pair<std::string, double>& logged) {
              return std::any_of(awarded_scratch_.begin(), awarded_scratch_.end(),
                                 [&](const AwardedPoints& now) {
                                   return logged.first == replay_rules.rules[now.rule_index].id &&
                                          logged.second == now.points;
                                 });
            });
    if (!same) {
      auto& awards = replayed[e.apply_seq];
      for (const AwardedPoints& a : awarded_scratch_) {
        awards.emplace_back(replay_rules.rules[a.rule_index].id, a.points);
      }
    }
  }
  if (Status st = history_.RewriteAwards(read_chains, replayed, &batch_); !st.ok()) {
    LogError("merge of " + older.state.id + " into " + newer.state.id +
             ": cannot give its history the replay's points: " + st.ToString());
  }
  (void)scorer_->Apply(event, &merged, &awarded_scratch_);
  merged.history = std::move(chains);
  merged.owner = newer.state.owner;
  LogApplied(&merged, event, received_at);
  change.to = scorer_->StageIndex(&merged);

  newer.state = std::move(merged);
  auto open_owner = [this](const Lead& lead) {
    const std::optional<LeadOwner>& owner = OwnerOf(lead);
    return owner.has_value() && !owner->closed;
  };
  const bool owner_carries_over = open_owner(older.state) && !open_owner(newer.state);
  // In record order (SPEC 5.3: the stage record before any routing record the event causes): the
  // merged lead's `stage` record, the older lead's owner carried over or its `merged` close (and
  // the older lead out of any queue), then routing for the stage change, which a carried-over
  // owner makes none.
  const RuleSet& rules = scorer_->rules();
  const std::string_view from_stage = rules.stages[change.from].name;
  const std::string_view to_stage = rules.stages[change.to].name;
  if (change.changed()) {
    metrics_->StageTransition(from_stage, to_stage);
  }
  if (global_router()) {
    // One input: the router publishes the stage record, settles the owners, then routes.
    RoutingInput input;
    input.kind = RoutingInputKind::kMerge;
    input.lead = newer.state;
    input.lead.history.clear();
    input.older = older.state;
    input.older.history.clear();
    if (change.changed()) {
      input.from_stage = from_stage;
      input.to_stage = to_stage;
    }
    input.trigger = event.message_id;
    input.scores_at = event.timestamp;
    input.received_at = applying_received_at_;
    LogRouting(std::move(input));
  } else {
    if (change.changed()) {
      PublishStageRecord(newer, from_stage, to_stage, event.message_id, event.timestamp);
    }
    router_->Merge(&older.state, &newer.state, event.message_id, event.timestamp);
  }
  if (owner_carries_over) {
    // The older lead's funnel marks (the rules it was routed under) go with its owner, after the
    // stage record: a lead that reaches the routing stage this way is not waiting to be routed,
    // so the mark that record set must not time a later routing (speed to lead).
    funnel_.MoveMarks(older.state.id, newer.state.id, &batch_);
  }
  const std::string older_id = older.state.id;
  DropLead(older_id);  // `older` is gone from here on
  LinkIds(older_id, newer.state.id);
  MarkDirty(newer);
  metrics_->Merged();
  IndexLead(newer);
  if (change.changed() && !global_router()) {
    router_->OnStageChange(&newer.state, change, event.message_id, event.timestamp);
  }
  // Cluster mode: an imported lead's events applied after the link where it was.
  if (auto later = after_merge_.find(older_id); later != after_merge_.end()) {
    std::vector<HistoryEntry> entries = std::move(later->second);
    after_merge_.erase(later);
    const uint64_t order = apply_order_;
    const EpochSeconds received_at = applying_received_at_;
    for (const HistoryEntry& e : entries) {
      apply_order_ = e.apply_seq;
      applying_received_at_ = e.received_at;  // its own receipt starts its speed to lead
      ApplyToLead(newer, e.event, e.received_at);
    }
    apply_order_ = order;
    applying_received_at_ = received_at;
  }
}

Status Engine::Erase(std::string_view id, std::vector<std::string>* ids, size_t* events) {
  const std::string root(identity_.Resolve(id));
  ids->clear();
  *events = 0;
  Lead* lead = FindLead(root);
  if (auto it = unreadable_.find(root); it != unreadable_.end()) {
    // Its state (and so its history chain) cannot be read: the stored record goes; its history
    // entries leave with the history retention.
    unreadable_.erase(it);
    batch_.DeleteLead(root);
    deleted_uncommitted_[root] = commit_generation_;
    batch_.DeletePinned(root);
    UnindexId(root);
    funnel_.Forget(root, &batch_);
    CountLead(root, -1);
  } else if (lead == nullptr && identity_.Aliases(root).empty()) {
    return Status::NotFound("no lead \"" + std::string(id) + "\"");
  }
  ids->push_back(root);
  if (lead != nullptr) {
    std::vector<HistoryEntry> entries;
    if (Status st = history_.Read(lead->history, &entries); st.ok()) {
      *events = entries.size();
    }
    if (Status st = history_.Erase(lead->history, &batch_); !st.ok()) {
      return st;  // nothing removed yet: the caller may try again
    }
    if (global_router()) {
      RoutingInput input;
      input.kind = RoutingInputKind::kForget;
      input.lead.id = root;
      LogRouting(std::move(input));
    } else {
      router_->Forget(lead);
    }
    DropLead(root);
  }
  std::vector<std::string> forgotten;
  {
    std::unique_lock<std::shared_mutex> lock(identity_mu_);
    forgotten = identity_.Forget(root);
  }
  for (std::string& alias : forgotten) {
    batch_.DeleteLink(alias);
    ids->push_back(std::move(alias));
  }
  metrics_->Erased();
  return Status::Ok();
}

Status Engine::ExportLead(std::string_view id, uint64_t link_order, LeadHandOver* out) {
  *out = LeadHandOver();
  const std::string root(identity_.Resolve(id));
  LeadEntry* entry = FindEntry(root);
  if (entry == nullptr) {
    return Status::NotFound("no lead \"" + std::string(id) + "\"");
  }
  // The history blocks of the batch in flight are not readable from the store until it returns.
  WaitCommit();
  out->root = root;
  for (const std::string& alias : identity_.Aliases(root)) {
    if (alias != root) {
      out->ids.push_back(alias);
    }
  }
  out->state = entry->state;
  if (Status st = history_.Read(entry->state.history, &out->entries); !st.ok()) {
    return st;
  }
  out->state.history.clear();
  // Entries come in apply order: those from the link on are events after it.
  auto later = std::find_if(out->entries.begin(), out->entries.end(),
                            [&](const HistoryEntry& e) { return e.apply_seq >= link_order; });
  out->later.assign(std::make_move_iterator(later), std::make_move_iterator(out->entries.end()));
  out->entries.erase(later, out->entries.end());
  return Status::Ok();
}

void Engine::ImportLead(const LeadHandOver& lead) {
  auto linked = [this](std::string_view id) { return identity_.Resolve(id) != id; };
  if (linked(lead.root) || std::any_of(lead.ids.begin(), lead.ids.end(), linked)) {
    return;  // merged here already (and marked then)
  }
  MarkMovedIn(lead);
  // The lead's messageIds were recorded by the engine that applied them; a resend now lands here
  // (publishers route the older id to the lead it went into), so this engine remembers them too,
  // from now on, for those still inside the window (SPEC 2: the messageId is global).
  const EpochSeconds now = clock_->Now();
  for (const std::vector<HistoryEntry>* entries : {&lead.entries, &lead.later}) {
    for (const HistoryEntry& e : *entries) {
      if (!e.event.message_id.empty() && now - e.received_at < options_.dedupe_window) {
        (void)dedupe_.CheckAndRecord(e.event.message_id, now);
      }
    }
  }
  if (!lead.later.empty()) {
    after_merge_[lead.root] = lead.later;
  }
  if (FindEntry(lead.root) != nullptr) {
    return;  // imported before a restart, not merged yet
  }
  LeadEntry* entry = LeadFor(lead.root);
  if (entry == nullptr) {
    return;  // set apart as unreadable here: nothing to merge into
  }
  static_cast<LeadState&>(entry->state) = lead.state;
  entry->state.id = lead.root;
  entry->state.history.clear();
  // One chain per lead id the entries were applied under, the lead's own first (LogApplied's
  // rule); the entries keep their apply orders.
  entry->state.history.push_back(HistoryChain{lead.root, 0});
  for (const HistoryEntry& e : lead.entries) {
    if (std::none_of(entry->state.history.begin(), entry->state.history.end(),
                     [&](const HistoryChain& c) { return c.lead == e.lead; })) {
      entry->state.history.push_back(HistoryChain{e.lead, 0});
    }
  }
  LoggedAwards awards;
  for (const HistoryEntry& e : lead.entries) {
    auto chain = std::find_if(entry->state.history.begin(), entry->state.history.end(),
                              [&](const HistoryChain& c) { return c.lead == e.lead; });
    awards.assign(e.awards.begin(), e.awards.end());
    history_.Append(&*chain, e.received_at, e.event, awards, e.apply_seq);
  }
  for (const std::string& id : lead.ids) {
    LinkIds(id, lead.root);
  }
  IndexLead(*entry);
  if (entry->state.owner.has_value() && !global_router()) {
    router_->AdoptLead(&entry->state);
  }
  MarkDirty(*entry);
}

void Engine::MarkMovedIn(const LeadHandOver& lead) {
  std::vector<std::string> ids = lead.ids;
  ids.push_back(lead.root);
  std::unique_lock<std::shared_mutex> lock(identity_mu_);
  for (const std::string& id : ids) {
    // Handed over from here before (this node holds both partitions): here again. Its row
    // (id -> the mark) becomes a link when the lead merges.
    if (handed_over_.erase(id) > 0 && id == lead.root) {
      batch_.DeleteLink(id);
    }
    if (lead.covered_seq == 0) {
      continue;  // a hand-over that does not say what it covers: nothing to mark
    }
    // A row of its own: the id's row becomes a link when the lead merges.
    batch_.PutLink(std::string(1, kHandedOverMark) + id,
                   HandedOverValue(lead.covered_seq, lead.into));
    handed_over_[id] = HandedOver{lead.into, lead.covered_seq};
  }
}

Status Engine::HandOverLead(std::string_view id, const std::string& into, uint64_t after_seq) {
  const std::string root(identity_.Resolve(id));
  if (root == into) {
    return Status::Ok();
  }
  WaitCommit();  // the history of the batch in flight is not readable until it returns
  if (Lead* lead = FindLead(root); lead != nullptr) {
    if (Status st = history_.Erase(lead->history, &batch_); !st.ok()) {
      return st;  // nothing removed yet: the caller may try again
    }
    if (!global_router()) {
      router_->Forget(lead);  // the replicated router keeps its copy: the lead lives on there
    }
    DropLead(root);
  }
  std::vector<std::string> ids = {root};
  {
    std::unique_lock<std::shared_mutex> lock(identity_mu_);
    for (std::string& alias : identity_.Forget(root)) {
      ids.push_back(std::move(alias));
    }
    for (const std::string& handed : ids) {
      handed_over_[handed] = HandedOver{into, after_seq};
    }
  }
  const std::string marked = HandedOverValue(after_seq, into);
  for (const std::string& handed : ids) {
    batch_.PutLink(handed, marked);
  }
  return Status::Ok();
}

void Engine::QueueExport(std::string id, uint64_t link_order, std::string into,
                         uint64_t covered_seq, std::function<void(std::string bytes)> done) {
  RunOnEngine([this, id = std::move(id), link_order, into = std::move(into), covered_seq,
               done = std::move(done)] {
    LeadHandOver lead;
    std::string bytes;
    if (Status st = ExportLead(id, link_order, &lead); st.ok()) {
      lead.into = into;
      lead.covered_seq = covered_seq;
      lead.Encode(&bytes);
    } else if (!st.IsNotFound()) {
      LogError("handing lead " + id + " over: " + st.ToString() + "; handed over as no lead");
    }
    done(std::move(bytes));
  });
}

void Engine::QueueImport(std::string bytes) {
  RunOnEngine([this, bytes = std::move(bytes)] {
    LeadHandOver lead;
    if (!lead.Decode(bytes)) {
      LogError("a lead handed over by another node does not decode; dropped");
      return;
    }
    ImportLead(lead);
  });
}

bool Engine::HandedOverAfter(std::string_view id, std::string* into, uint64_t* after_seq) const {
  std::shared_lock<std::shared_mutex> lock(identity_mu_);
  auto handed = handed_over_.find(id);
  if (handed == handed_over_.end()) {
    return false;
  }
  *into = handed->second.into;
  *after_seq = handed->second.after_seq;
  return true;
}

void Engine::QueueHandOver(std::string id, std::string into, uint64_t after_seq,
                           std::function<void()> done) {
  RunOnEngine(
      [this, id = std::move(id), into = std::move(into), after_seq, done = std::move(done)] {
        if (Status st = HandOverLead(id, into, after_seq); !st.ok()) {
          LogError("handing lead " + id + " over: " + st.ToString());
        }
        done();
      });
}

bool Engine::MergedInto(std::string_view id, std::string* root) const {
  std::shared_lock<std::shared_mutex> lock(identity_mu_);
  const std::string_view found = identity_.Resolve(id);
  if (found == id) {
    // Or handed over to another node: routed and read where the lead it went into is.
    auto handed = handed_over_.find(id);
    if (handed == handed_over_.end()) {
      return false;
    }
    root->assign(handed->second.into);
    return true;
  }
  root->assign(found);
  return true;
}

void Engine::LinkIds(const std::string& from, const std::string& to) {
  const size_t linked_before = identity_.Aliases(to).size();
  {
    std::unique_lock<std::shared_mutex> lock(identity_mu_);
    identity_.Link(from, to);
  }
  // Flat: every id of the group points at the root. Only the ids that moved (`from` and the ids
  // linked to it, appended by Link) are written: the others' links already name `to`, and
  // writing the whole group again made one lead linking N ids in turn write N^2/2 links (a review
  // linking 20,000 anonymous ids to one user ran past 10 minutes).
  const std::vector<std::string>& group = identity_.Aliases(to);
  for (size_t i = linked_before; i < group.size(); ++i) {
    batch_.PutLink(group[i], to);
  }
}

void Engine::DropLead(const std::string& id) {
  LeadEntry* entry = leads_.Find(id);
  if (entry == nullptr) {
    return;
  }
  if (!entry->indexed_stage.empty()) {
    Unindex(entry->indexed_stage, entry->state.id);
  }
  LruUnlink(entry);
  dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), entry), dirty_.end());
  batch_.DeleteLead(id);
  deleted_uncommitted_[id] = commit_generation_;
  if (entry->pin_stored) {
    batch_.DeletePinned(id);
  }
  funnel_.Forget(id, &batch_);
  leads_.Erase(id);
  CountLead(id, -1);
}

void Engine::StageChanged(LeadEntry& entry, StageChange change, EpochSeconds scores_at,
                          std::string_view trigger, std::string_view from_name, int router_from) {
  const RuleSet& rules = scorer_->rules();
  IndexLead(entry);
  const std::string_view from = from_name.empty() ? rules.stages[change.from].name : from_name;
  if (global_router()) {
    // The router publishes the stage record, on every node alike.
    metrics_->StageTransition(from, rules.stages[change.to].name);
    RoutingInput input;
    input.kind = RoutingInputKind::kStage;
    input.lead = entry.state;
    input.lead.history.clear();
    input.from_stage = from;
    input.to_stage = rules.stages[change.to].name;
    input.trigger = std::string(trigger);
    input.scores_at = scores_at;
    input.received_at = applying_received_at_;  // 0 for the wall-clock re-check
    LogRouting(std::move(input));
    return;
  }
  PublishStageRecord(entry, from, rules.stages[change.to].name, trigger, scores_at);
  metrics_->StageTransition(from, rules.stages[change.to].name);
  if (router_from >= 0) {
    change.from = router_from;
  }
  router_->OnStageChange(&entry.state, change, trigger, scores_at);
}

void Engine::PublishStageRecord(LeadEntry& entry, std::string_view from, std::string_view to,
                                std::string_view trigger, EpochSeconds scores_at) {
  OutboxRecord record;
  record.kind = OutboxKind::kStage;
  record.from = from;
  record.to = to;
  record.trigger = trigger;
  Publish(&record, &entry.state, scores_at);
}

std::vector<Engine::VanishedStage> Engine::LeadsInVanishedStages(const RuleSet& next) {
  std::vector<VanishedStage> out;
  if (options_.stage_checks_from_log) {
    return out;
  }
  const RuleSet& now = scorer_->rules();
  std::vector<std::string> ids;
  for (const auto& [stage, staged] : index_by_stage_) {
    if (next.FindStage(stage) >= 0) {
      continue;
    }
    for (const auto& [id, check] : staged) {
      ids.push_back(id);
    }
  }
  std::sort(ids.begin(), ids.end());
  for (const std::string& id : ids) {
    LeadEntry* entry = FindEntry(id);  // out of memory: read (held until they have left it)
    if (entry == nullptr || next.FindStage(entry->state.stage) >= 0) {
      continue;
    }
    VanishedStage v;
    v.entry = entry;
    v.stage = entry->state.stage;
    const int index = now.FindStage(entry->state.stage);
    v.routing = now.routing.enabled && index >= now.routing.stage_index;
    out.push_back(std::move(v));
  }
  return out;
}

void Engine::LeaveVanishedStages(std::vector<VanishedStage> leads) {
  if (leads.empty()) {
    return;
  }
  // Id order: the records come out the same whatever order the leads were found in.
  std::sort(leads.begin(), leads.end(), [](const VanishedStage& a, const VanishedStage& b) {
    return a.entry->state.id < b.entry->state.id;
  });
  const EpochSeconds now = clock_->Now();
  const RuleSet& rules = scorer_->rules();
  const int routing = rules.routing.enabled ? rules.routing.stage_index : 0;
  for (const VanishedStage& v : leads) {
    EnsureFolded(v.entry);
    // Align puts the lead in the first stage; the stage machine moves it up as far as it holds.
    const StageChange change = scorer_->Reevaluate(&v.entry->state, now);
    MarkDirty(*v.entry);
    StageChanged(*v.entry, change, now, "", v.stage, v.routing ? routing : 0);
  }
  LogInfo(std::to_string(leads.size()) +
          " leads were in stages the rules no longer have; each went through the stage machine "
          "from the first stage");
}

uint64_t Engine::Publish(OutboxRecord* record, Lead* lead, EpochSeconds scores_at) {
  record->at = clock_->Now();
  return AppendRecord(record, lead, scores_at, *scorer_);
}

uint64_t Engine::AppendRecord(OutboxRecord* record, Lead* lead, EpochSeconds scores_at,
                              const Scorer& scorer) {
  scorer.ReadScores(lead, scores_at, &score_scratch_);
  record->lead = lead->id;
  record->stage = lead->stage;
  record->score_defs = &scorer.rules().scores;
  record->scores = score_scratch_.data();
  record->traits = &lead->traits;
  const uint64_t seq = outbox_.Append(record, &batch_);
  funnel_.Observe(*record, FunnelContextFor(*record, lead, scores_at, scorer));
  return seq;
}

FunnelContext Engine::FunnelContextFor(const OutboxRecord& record, Lead* lead,
                                       EpochSeconds scores_at, const Scorer& scorer) {
  FunnelContext context;
  if (lead->owner.has_value() && !lead->owner->closed) {
    context.owner_team = lead->owner->team;
  }
  const RuleSet& rules = scorer.rules();
  switch (record.kind) {
    case OutboxKind::kStage: {
      if (!rules.routing.enabled) {
        break;
      }
      auto index_of = [&](std::string_view name) {
        for (size_t i = 0; i < rules.stages.size(); ++i) {
          if (rules.stages[i].name == name) {
            return static_cast<int>(i);
          }
        }
        return -1;
      };
      const int routing_stage = rules.routing.stage_index;
      // A lead a rep still holds is not routed again by reaching the stage anew, so its speed
      // to lead is not timed from here (README: only a lead's first routing after it qualified).
      context.reaches_routing_stage = index_of(record.from) < routing_stage &&
                                      index_of(record.to) >= routing_stage &&
                                      !(lead->owner.has_value() && !lead->owner->closed);
      context.received_at = applying_received_at_ > 0 ? applying_received_at_ : record.at;
      break;
    }
    case OutboxKind::kAccepted:
      if (lead->owner.has_value()) {
        context.routed_at = lead->owner->routed_at;
      }
      break;
    case OutboxKind::kRouted:
    case OutboxKind::kClosed: {
      // The rules that award the lead points now (SPEC 12: by the time it was routed).
      scorer.Breakdown(lead, scores_at, &breakdown_scratch_, &score_scratch_);
      funnel_rules_scratch_.clear();
      for (size_t s = 0; s < breakdown_scratch_.size(); ++s) {
        for (const ScorePart& part : breakdown_scratch_[s]) {
          if (part.points != 0) {
            funnel_rules_scratch_.push_back(
                FunnelRule{std::string(part.rule_id), rules.scores[s].name});
          }
        }
      }
      context.rules_now = &funnel_rules_scratch_;
      break;
    }
    default:
      break;
  }
  return context;
}

FunnelStageCounts Engine::StageCounts(const std::function<bool(uint32_t)>& held) const {
  const RuleSet& rules = scorer_->rules();
  const bool filtered = held && !leads_by_partition_.empty();
  // The staged leads of one stage that count here.
  auto staged_in = [&](const StageIds& ids) -> uint64_t {
    if (!filtered) {
      return ids.size();
    }
    return std::count_if(ids.begin(), ids.end(),
                         [&](const auto& id) { return held(PartitionOfLead(id.first)); });
  };
  std::map<std::string_view, uint64_t> by_stage;
  uint64_t staged = 0;
  for (const auto& [stage, ids] : index_by_stage_) {
    const uint64_t n = staged_in(ids);
    by_stage[stage] = n;
    staged += n;
  }
  uint64_t leads = lead_count_;
  if (filtered) {
    leads = 0;
    for (uint32_t p = 0; p < leads_by_partition_.size(); ++p) {
      leads += held(p) ? leads_by_partition_[p] : 0;
    }
  }
  FunnelStageCounts counts;
  for (size_t i = 0; i < rules.stages.size(); ++i) {
    uint64_t n = 0;
    if (i == 0) {
      n = leads >= staged ? leads - staged : 0;
    } else if (auto it = by_stage.find(rules.stages[i].name); it != by_stage.end()) {
      n = it->second;
    }
    counts.emplace_back(rules.stages[i].name, n);
  }
  for (const auto& entry : by_stage) {
    const std::string_view stage = entry.first;
    const bool known = std::any_of(rules.stages.begin(), rules.stages.end(),
                                   [&](const StageDef& def) { return def.name == stage; });
    if (!known && entry.second > 0) {
      counts.emplace_back(stage, entry.second);
    }
  }
  return counts;
}

void Engine::SetLeadPartitions(uint32_t partitions) {
  RunOnEngine([this, partitions] {
    if (lead_partitions_ == 0 || partitions == lead_partitions_) {
      return;
    }
    LogInfo("the event stream has " + std::to_string(partitions) + " partitions, not " +
            std::to_string(lead_partitions_) + ": leads are counted by the stream's");
    WaitCommit();  // the store holds every lead as of now: the count below covers them all
    lead_partitions_ = partitions;
    if (Status st = LoadPartitionCounts(); !st.ok()) {
      LogError("counting leads by partition: " + st.ToString());
    }
  });
}

void Engine::CountLead(std::string_view id, int delta) {
  lead_count_ += delta;  // unsigned wrap: a -1 follows the +1 of the same lead
  ++stage_counts_version_;
  if (!leads_by_partition_.empty()) {
    leads_by_partition_[PartitionOfLead(id)] += delta;
  }
  lead_count_dirty_ = true;
  metrics_->SetLeads(lead_count_);
}

Status Engine::LoadPartitionCounts() {
  const uint32_t n = lead_partitions_;
  if (n == 0 || !options_.lead_partition) {
    return Status::Ok();
  }
  leads_by_partition_.assign(n, 0);
  std::string text;
  Status st = store_->GetMeta(kMetaLeadCountByPartition, &text);
  if (!st.ok() && !st.IsNotFound()) {
    return st;
  }
  std::vector<uint64_t> counts;
  if (st.ok() && DecodePartitionCounts(text, &counts)) {
    // Kept only when it was counted for this partition count and adds up.
    uint64_t sum = 0;
    for (uint64_t c : counts) {
      sum += c;
    }
    if (counts.size() == n && sum == lead_count_) {
      leads_by_partition_ = std::move(counts);
      return Status::Ok();
    }
  }
  if (lead_count_ == 0) {
    return Status::Ok();
  }
  // A store from before cluster mode counted leads by partition (or made with another count):
  // count once over the stored leads, and store the counts with the next commit.
  uint64_t counted = 0;
  st = store_->ScanLeads("", [&](std::string_view id, std::string_view) {
    ++leads_by_partition_[PartitionOfLead(id)];
    ++counted;
    return true;
  });
  if (!st.ok()) {
    return st;
  }
  lead_count_ = counted;
  metrics_->SetLeads(lead_count_);
  lead_count_dirty_ = true;
  LogInfo("counted " + std::to_string(counted) + " leads by partition");
  return Status::Ok();
}

Status Engine::FunnelJson(const FunnelWindow& window, std::string* json) const {
  FunnelTotals totals;
  if (Status st = funnel_.Query(window, &totals); !st.ok()) {
    return st;
  }
  json->clear();
  AppendFunnelJson(window, StageCounts(), totals, json);
  return Status::Ok();
}

Status Engine::FunnelPart(const FunnelWindow& window, const std::function<bool(uint32_t)>& held,
                          FunnelStageCounts* stages, FunnelTotals* totals) const {
  *totals = FunnelTotals();
  if (Status st = funnel_.Query(window, totals); !st.ok()) {
    return st;
  }
  *stages = StageCounts(held);
  return Status::Ok();
}

void Engine::RenderFunnelMetrics(bool now_please) {
  const EpochSeconds now = clock_->Now();
  if (FunnelFiguresVersion() == funnel_metrics_version_ ||
      (!now_please && now < next_funnel_metrics_)) {
    return;
  }
  funnel_metrics_version_ = FunnelFiguresVersion();
  next_funnel_metrics_ = now + 0.1;
  std::string text;
  AppendFunnelPrometheus(StageCounts(), funnel_.all_time(), &text);
  metrics_->SetFunnelText(std::move(text));
  funnel_version_rendered_.store(funnel_metrics_version_, std::memory_order_release);
}

void Engine::LeadChanged(Lead* lead) {
  if (LeadEntry* entry = FindEntry(lead->id); entry != nullptr) {
    MarkDirty(*entry);
  }
}

void Engine::ResetStage(Lead* lead) {
  const int stage = 0;
  LeadEntry* entry = FindEntry(lead->id);
  if (entry == nullptr) {
    return;
  }
  StageChange change;
  change.from = scorer_->StageIndex(lead);
  change.to = stage;
  if (!change.changed()) {
    return;
  }
  scorer_->SetStage(lead, stage);
  MarkDirty(*entry);
  StageChanged(*entry, change, clock_->Now(), "");
}

void Engine::PutMeta(std::string_view key, std::string_view value) { batch_.PutMeta(key, value); }
void Engine::DeleteMeta(std::string_view key) { batch_.DeleteMeta(key); }

bool Engine::HasUncommitted() const {
  return !dirty_.empty() || !batch_.empty() || !completions_.empty() || !after_commit_.empty() ||
         !routing_out_.empty() ||
         (global_router() && routing_stored_.load(std::memory_order_acquire) != routing_trimmed_) ||
         dedupe_.has_block() || lead_count_dirty_;
}

void Engine::Commit() {
  WaitCommit();
  CommitInline();
}

bool Engine::IdleForInlineCommit() const {
  std::lock_guard<std::mutex> lock(mu_);
  // With its deferred work still due or under way, the commit thread holds the store: a write
  // here would wait for it with the engine stopped, so hand the batch over instead.
  return queue_.empty() && !after_inline_commit_ && !deferred_work_running_;
}

void Engine::StartCommit() {
  if (!Seal()) {
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    commit_done_.store(false, std::memory_order_relaxed);
    commit_requested_ = true;
  }
  commit_cv_.notify_one();
}

void Engine::CommitInline() {
  if (!Seal()) {
    return;
  }
  inflight_.status = WriteDurably(&inflight_.batch);
  const bool committed = inflight_.status.ok();
  FinishCommit();
  if (committed) {
    // The store's deferred work (its lead journal's checkpoint) stays off this thread, as after
    // a commit on the commit thread.
    {
      std::lock_guard<std::mutex> lock(mu_);
      after_inline_commit_ = true;
    }
    commit_cv_.notify_one();
  }
}

Status Engine::WriteDurably(CommitBatch* batch) {
  Status st = store_->Commit(batch);
  if (st.ok()) {
    return st;
  }
  // The disk is full, read-only or failing. Nothing of this batch is acknowledged, and the
  // in-memory state is already ahead of the durable copy, so the only way on is to write this
  // very batch: retry until the store takes it (RocksDB refuses writes until it recovers) or the
  // engine stops. Meanwhile /healthz says why, new work waits behind backpressure, and the
  // daemon stays up to go on the moment the disk is back.
  const auto failed_at = std::chrono::steady_clock::now();
  auto next_log = failed_at + std::chrono::seconds(30);
  metrics_->StoreWriteFailed(st.ToString());
  LogError("store write failed; not acknowledged, retrying until it succeeds: " + st.ToString());
  auto backoff = std::chrono::milliseconds(20);
  uint64_t attempts = 1;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, backoff, [this] { return stopping_; })) {
        LogError(
            "stopping while store writes fail: the unacknowledged events of this batch are "
            "not kept (their senders resend them): " +
            st.ToString());
        return st;
      }
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    // Busy while RocksDB recovers on its own (it waits for disk space); the commit tells.
    (void)store_->Recover();
    st = store_->Commit(batch);
    ++attempts;
    if (st.ok()) {
      break;
    }
    metrics_->StoreWriteFailed(st.ToString());
    if (std::chrono::steady_clock::now() >= next_log) {
      next_log += std::chrono::seconds(30);
      LogError("store writes still failing after " + std::to_string(attempts) +
               " attempts: " + st.ToString());
    }
  }
  metrics_->StoreWritesOk();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - failed_at).count();
  LogInfo("store writes succeed again after " + std::to_string(seconds) + " s (" +
          std::to_string(attempts) + " attempts); acknowledging what waited");
  return st;
}

bool Engine::Seal() {
  assert(!commit_in_flight_);
  router_->Flush();
  if (!HasUncommitted()) {
    return false;
  }
  // Keys in order: the memtable's skiplist inserts run far faster when each key lands next to
  // the one before. Sorted through id prefixes: comparing the leads themselves took a cache miss
  // a comparison (n log n of them); this reads each lead once, and only ties of 16 bytes
  // compare whole ids.
  seal_order_.clear();
  seal_order_.reserve(dirty_.size());
  for (LeadEntry* entry : dirty_) {
    seal_order_.push_back(SealKey{StringPrefix::Of(entry->state.id), entry});
  }
  std::sort(seal_order_.begin(), seal_order_.end(), [](const SealKey& a, const SealKey& b) {
    if (a.prefix == b.prefix) {
      return a.entry->state.id < b.entry->state.id;
    }
    return a.prefix < b.prefix;
  });
  for (size_t i = 0; i < seal_order_.size(); ++i) {
    // Ahead of use: four leads on, a lead's head, which classifying and encoding read first (a
    // miss each); two leads on, its head in cache by now, the arrays it points to, which encoding
    // reads next (its awards, its traits' members, its history chains: a miss each again).
    if (i + 4 < seal_order_.size()) {
      const char* head = reinterpret_cast<const char*>(seal_order_[i + 4].entry);
      __builtin_prefetch(head);
      __builtin_prefetch(head + 64);
    }
    if (i + 2 < seal_order_.size()) {
      const Lead& next = seal_order_[i + 2].entry->state;
      __builtin_prefetch(next.awards.data());
      __builtin_prefetch(next.history.data());
      if (next.traits.is_object()) {
        __builtin_prefetch(next.traits.as_object().data());
      }
    }
    LeadEntry* entry = seal_order_[i].entry;
    ClassifyLead(*entry);
    encode_scratch_.clear();
    EncodeLeadState(entry->state, &encode_scratch_);
    batch_.PutLead(entry->state.id, encode_scratch_);
  }
  if (lead_count_dirty_) {
    batch_.PutMeta(kMetaLeadCount, std::to_string(lead_count_));
    if (!leads_by_partition_.empty()) {
      batch_.PutMeta(kMetaLeadCountByPartition, EncodePartitionCounts(leads_by_partition_));
    }
    lead_count_dirty_ = false;
  }
  if (global_router()) {
    SealRoutingInputs();
  }
  const EpochSeconds now = clock_->Now();
  if (dedupe_.TakeBlock(&dedupe_block_scratch_)) {
    batch_.PutDedupeBlock(next_dedupe_block_++, now, dedupe_block_scratch_);
  }
  inflight_.outbox_next_seq = outbox_.Seal(&batch_);
  history_.Flush(&batch_, now);
  funnel_.Flush(&batch_);
  inflight_.bytes = batch_.size_bytes();
  std::swap(inflight_.batch, batch_);
  batch_.Clear();
  inflight_.completions.swap(completions_);
  inflight_.after_commit.swap(after_commit_);
  dirty_.clear();
  inflight_generation_ = commit_generation_;
  ++commit_generation_;
  events_in_commit_ = 0;
  commit_in_flight_ = true;
  return true;
}

void Engine::FinishCommitIfDone() {
  if (commit_in_flight_ && commit_done_.load(std::memory_order_acquire)) {
    FinishCommit();
  }
}

void Engine::WaitCommit() {
  if (!commit_in_flight_) {
    return;
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return commit_done_.load(std::memory_order_acquire); });
  }
  FinishCommit();
}

void Engine::FinishCommit() {
  commit_in_flight_ = false;
  commit_done_.store(false, std::memory_order_relaxed);
  // Before the answers and acks of this group go out: a scrape after one sees its records.
  funnel_version_seen_.store(FunnelFiguresVersion(), std::memory_order_release);
  if (!inflight_.status.ok()) {
    // Only when the engine stops while the store refuses writes (WriteDurably retries until
    // then): tell every waiter its events are not durable, and go on to stop. Nothing of this
    // group was acknowledged, and a restart recovers from the log what was.
    for (Completion& c : inflight_.completions) {
      if (c.done) {
        c.done(inflight_.status);
      }
    }
    inflight_.completions.clear();
    inflight_.after_commit.clear();
    inflight_.batch.Clear();
    return;
  }
  if (inflight_.bytes > 0) {
    metrics_->CommitDone(inflight_.bytes);
  }
  // The store now has these deletions: reads may go to it again.
  std::erase_if(deleted_uncommitted_,
                [&](const auto& entry) { return entry.second <= inflight_generation_; });
  // Publish the new head before anyone hears "durable", so an ack never precedes its records.
  outbox_.Committed(inflight_.outbox_next_seq);
  metrics_->SetOutboxHead(outbox_.head());
  const auto done_at = std::chrono::steady_clock::now();
  for (Completion& c : inflight_.completions) {
    metrics_->ObserveApplyLatency(std::chrono::duration<double>(done_at - c.received_mono).count(),
                                  c.events);
    if (c.done) {
      c.done(Status::Ok());
    }
  }
  inflight_.completions.clear();
  std::vector<std::function<void()>> after;
  after.swap(inflight_.after_commit);
  for (auto& fn : after) {
    fn();
  }
}

std::unique_ptr<StoreSnapshot> Engine::SnapshotStore() {
  WaitCommit();  // what this task may depend on is committed first
  return store_->Snapshot();
}

void Engine::ReevaluateStages(std::function<void(uint64_t leads, uint64_t changed)> done) {
  if (options_.stage_checks_from_log && options_.log_reevaluation) {
    reevaluate_under_ = scorer_->rules().sha256;
    LogReevaluationOnceRouted();
    done(lead_count_, 0);
    return;
  }
  // Slices of leads in id order; each slice is one engine task, queued behind what came in
  // meanwhile, so ingest is never held for more than a slice.
  constexpr size_t kSlice = 512;
  struct Walk {
    std::string after;
    uint64_t leads = 0;
    uint64_t changed = 0;
    std::function<void(uint64_t, uint64_t)> done;
  };
  auto walk = std::make_shared<Walk>();
  walk->done = std::move(done);
  auto step = std::make_shared<std::function<void()>>();
  *step = [this, walk, step] {
    WaitCommit();  // the store's leads as of everything before this slice
    std::vector<std::string> ids;
    Status st = store_->ScanLeads(walk->after, [&](std::string_view id, std::string_view) {
      ids.emplace_back(id);
      return ids.size() < kSlice;
    });
    if (!st.ok()) {
      LogError("re-evaluating stages: " + st.ToString());
      ids.clear();
    }
    const EpochSeconds now = clock_->Now();
    for (const std::string& id : ids) {
      LeadEntry* entry = FindEntry(id);
      if (entry == nullptr) {
        continue;  // unreadable, or erased since
      }
      ++walk->leads;
      const StageChange change = scorer_->Reevaluate(&entry->state, now);
      if (change.changed()) {
        ++walk->changed;
        MarkDirty(*entry);
        StageChanged(*entry, change, now, "");
      }
    }
    if (ids.size() == kSlice) {
      walk->after = ids.back();
      RunOnEngine(*step);
      return;
    }
    AfterCommit([walk, step] {
      walk->done(walk->leads, walk->changed);
      *step = nullptr;  // breaks the cycle step -> closure -> step
    });
  };
  (*step)();
}

void Engine::ReportMemory() {
  metrics_->SetLeadsInMemory(leads_.size());
  metrics_->SetMemory(MemoryPart::kDedupeIndex, dedupe_.memory_bytes());
  // A B-tree slot (the key, 32 bytes, more for ids past 15 bytes, and a pointer: 40) in nodes
  // kept about three quarters full, and the StageCheck it points at (16, 32 with the
  // allocator's): ~90 bytes an entry, counted as 100.
  size_t staged = 0;
  for (const auto& [stage, ids] : index_by_stage_) {
    staged += ids.size();
  }
  metrics_->SetMemory(MemoryPart::kStageIndex, staged * 100);
  metrics_->SetMemory(MemoryPart::kLeadIdFilter, known_leads_.memory_bytes());
  metrics_->SetMemory(MemoryPart::kOutboxRecent, outbox_.recent_record_bytes());
  const Store::Memory store = store_->MemoryUsage();
  metrics_->SetMemory(MemoryPart::kStoreMemtables, store.memtables);
  metrics_->SetMemory(MemoryPart::kStoreTableReaders, store.table_readers);
  metrics_->SetMemory(MemoryPart::kStoreBlockCache, store.block_cache);
  metrics_->SetMemory(MemoryPart::kStoreLeadJournal, store.lead_journal);
}

void Engine::RunCron() {
  const EpochSeconds now = clock_->Now();
  if (options_.stage_check_interval > 0 && now >= next_stage_check_ &&
      !options_.stage_checks_from_log) {
    next_stage_check_ = now + options_.stage_check_interval;
    StartDueWalk(now);
  }
  WalkDueChecks(now);
  RunDueChecks(now);
  if (!global_router()) {
    router_->Tick();  // the replicated router ticks at the log's times
  }
  for (auto it = asked_.begin(); it != asked_.end();) {
    if (now < it->second.deadline) {
      ++it;
      continue;
    }
    it->second.done(nullptr);  // answered "not confirmed"; the router may still apply it
    it = asked_.erase(it);
  }
  if (options_.history_retention > 0 && now >= next_history_trim_) {
    next_history_trim_ = now + 60;
    if (Status st = history_.Trim(now - options_.history_retention); !st.ok()) {
      LogWarning("history trim failed: " + st.ToString());
    }
  }
  if (now >= next_trim_) {
    next_trim_ = now + options_.outbox_trim_interval;
    Status st = outbox_.Trim(now);
    if (!st.ok()) {
      LogWarning("outbox trim failed: " + st.ToString());
    }
  }
  if (now >= next_funnel_trim_) {
    next_funnel_trim_ = now + 60;
    funnel_.Trim(now, &batch_);
  }
  RenderFunnelMetrics(/*now_please=*/false);
  funnel_version_seen_.store(FunnelFiguresVersion(), std::memory_order_release);
  if (now >= next_memory_report_) {
    next_memory_report_ = now + 1;
    ReportMemory();
  }
  // What the router's clock changed (the reps' day and working-hours state) goes into the batch
  // now, so the loop's next commit writes it even when no lead changed.
  router_->Flush();
}

void Engine::ApplyPartitionControl(const PartitionControl& clock) {
  if (lead_partitions_ == 0) {
    return;
  }
  if (clock.kind == PartitionControl::Kind::kStageReset) {
    // Once per reset: every node asks for it (the dedupe index keeps SPEC's window; a NUL byte
    // first, which no event's messageId has).
    if (dedupe_.CheckAndRecord(std::string(1, '\0') + "stage-reset/" + clock.reset_id,
                               clock_->Now())) {
      return;
    }
    if (LeadEntry* entry = FindEntry(clock.lead); entry != nullptr) {
      scorer_->SetStage(&entry->state, 0);
      IndexLead(*entry);
      MarkDirty(*entry);
    }
    return;
  }
  const auto in_partition = [&](std::string_view id) {
    return PartitionOfLead(id) == clock.partition;
  };
  event_order_ = clock.apply_order;
  if (clock.kind == PartitionControl::Kind::kReevaluate) {
    // Every lead of the partition: the stored ones (as of the last commit) and those changed
    // since. Ids first: loading leads may evict others.
    std::vector<std::string> ids;
    WaitCommit();
    Status st = store_->ScanLeads("", [&](std::string_view id, std::string_view) {
      if (in_partition(id)) {
        ids.emplace_back(id);
      }
      return true;
    });
    if (!st.ok()) {
      LogError("re-evaluating partition " + std::to_string(clock.partition) +
               "'s stages: " + st.ToString());
    }
    for (const LeadEntry* entry : dirty_) {
      if (in_partition(entry->state.id)) {
        ids.push_back(entry->state.id);
      }
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    size_t loaded = 0;
    for (const std::string& id : ids) {
      if (++loaded % 512 == 0) {
        Evict();  // no lead is held across ids: the cache stays within its bound
      }
      LeadEntry* entry = FindEntry(id);
      if (entry == nullptr) {
        continue;  // unreadable, or erased since
      }
      const StageChange change = scorer_->Reevaluate(&entry->state, clock.at);
      if (change.changed()) {
        MarkDirty(*entry);
        StageChanged(*entry, change, clock.at, "");
      }
    }
  } else {
    // Every staged lead of the partition, in id order (all in memory: Pinned). Not only those
    // due by their next check: that time is worked out from this node's wall clock, and a clock
    // of the log may lie before it.
    std::vector<std::string> due;
    for (const auto& [stage, ids] : index_by_stage_) {
      for (const auto& [id, check] : ids) {
        if (in_partition(id)) {
          due.push_back(id);
        }
      }
    }
    std::sort(due.begin(), due.end());
    for (const std::string& id : due) {
      if (LeadEntry* entry = FindEntry(id); entry != nullptr) {
        RecheckStage(entry, clock.at);
      }
    }
  }
  event_order_ = 0;
}

void Engine::RecheckStage(LeadEntry* entry, EpochSeconds at) {
  EnsureFolded(entry);
  StageChange change = scorer_->RecheckExit(&entry->state, at);
  if (change.changed()) {
    MarkDirty(*entry);
    StageChanged(*entry, change, at, "");
  } else if (change.to == 0) {
    IndexLead(*entry);  // its stage vanished in a reload
    MarkDirty(*entry);
  } else if (StageCheck* check = entry->check; check == nullptr) {
    MarkDirty(*entry);  // staged but not filed (cannot happen): its seal files it
  } else {
    const EpochSeconds next = NextCheckOf(*entry);
    *check = {next, rules_tag_};
    earliest_check_ = std::min(earliest_check_, next);
    if (!entry->pin_stored || entry->pin_rules_tag != rules_tag_ || next < entry->pin_next_check) {
      MarkDirty(*entry);  // its stored record must change: its seal rewrites it
    }
  }
}

void Engine::StartDueWalk(EpochSeconds now) {
  if (DueChecksUnderWay() || now < earliest_check_) {
    return;  // the last interval's walk or checks are still under way, or none is due
  }
  checks_due_.clear();
  checks_next_ = 0;
  checks_at_ = now;
  walk_.active = true;
  walk_.stages.clear();
  for (const auto& [stage, ids] : index_by_stage_) {
    walk_.stages.push_back(stage);
  }
  walk_.stage = 0;
  walk_.resume = false;
  walk_.earliest = std::numeric_limits<EpochSeconds>::infinity();
  // From here on earliest_check_ collects what changes behind the walk.
  earliest_check_ = std::numeric_limits<EpochSeconds>::infinity();
  // A lead changed since the last seal has not had its next check worked out again yet (an event
  // timed in the past, or one that took points away, can bring it nearer): due now.
  for (const LeadEntry* entry : dirty_) {
    if (entry->check != nullptr) {
      checks_due_.push_back(entry->state.id);
    }
  }
}

void Engine::WalkDueChecks(EpochSeconds now) {
  // About a millisecond of map steps a pass.
  constexpr size_t kWalkPerPass = 8192;
  size_t budget = kWalkPerPass;
  while (walk_.active && budget > 0) {
    if (walk_.stage == walk_.stages.size()) {
      walk_.active = false;
      earliest_check_ = std::min(earliest_check_, walk_.earliest);
      return;
    }
    auto stage = index_by_stage_.find(walk_.stages[walk_.stage]);
    if (stage == index_by_stage_.end()) {
      ++walk_.stage;  // gone with a reload
      walk_.resume = false;
      continue;
    }
    const auto& ids = stage->second;
    auto it = walk_.resume ? ids.upper_bound(walk_.after) : ids.begin();
    for (; it != ids.end() && budget > 0; ++it, --budget) {
      const auto& [id, check] = *it;
      if (check->rules_tag != rules_tag_ || check->at <= now) {
        checks_due_.push_back(id);
      }
      // (A due one counts too: one due at every interval keeps the next walk coming.)
      walk_.earliest = std::min(walk_.earliest, check->at);
    }
    if (it == ids.end()) {
      ++walk_.stage;
      walk_.resume = false;
    } else {
      walk_.after = std::prev(it)->first;
      walk_.resume = true;
    }
  }
}

void Engine::RunDueChecks(EpochSeconds now) {
  // Bounds the pass: a lead out of memory costs a store read, and a reload makes every staged
  // lead due at once.
  constexpr size_t kChecksPerPass = 1024;
  const size_t end = std::min(checks_due_.size(), checks_next_ + kChecksPerPass);
  for (; checks_next_ < end; ++checks_next_) {
    const std::string& id = checks_due_[checks_next_];
    if (LeadEntry* entry = FindEntry(id); entry != nullptr) {
      RecheckStage(entry, std::max(now, checks_at_));
    } else if (!unreadable_.contains(id) && !deleted_uncommitted_.contains(id)) {
      UnindexId(id);  // no such lead (cannot happen: written together): not listed again
      batch_.DeletePinned(id);
    }
  }
  if (checks_next_ == checks_due_.size() && !checks_due_.empty()) {
    checks_due_.clear();
    checks_next_ = 0;
  }
}

void Engine::InstallRules(std::shared_ptr<const RuleSet> rules, uint64_t version) {
  // The load time as GET /v1/rules prints it (whole milliseconds), both here and in the store,
  // so that a restart reads back the very instant it showed before.
  const EpochSeconds loaded_at = static_cast<double>(PrintedMillis(clock_->Now())) / 1000;
  {
    std::lock_guard<std::mutex> lock(info_mu_);
    info_.version = version;
    info_.sha256 = rules->sha256;
    info_.loaded_at = loaded_at;
    info_.path = rules->path;
    info_.routing_stage = rules->routing.enabled ? rules->routing.stage : std::string();
    info_.accept_within = rules->routing.enabled ? rules->routing.sla.accept_within : 0;
    info_.max_reassign = rules->routing.enabled ? rules->routing.sla.max_reassign : 0;
  }
  scorer_ = std::make_shared<const Scorer>(std::move(rules));
  rules_tag_ = RulesTag(scorer_->rules().sha256);
  earliest_check_ = 0;      // every staged lead's re-check is due under the new rules
  ++stage_counts_version_;  // the stages /metrics lists may have changed
  router_->SetRules(scorer_.get());
  if (replica_ != nullptr && replica_scorer_ == nullptr) {
    replica_->SetRules(scorer_.get());  // until the routing log gives the router rules
  }
  batch_.PutMeta(kMetaRulesVersion, std::to_string(version));
  batch_.PutMeta(kMetaRulesSha, scorer_->rules().sha256);
  char stored_loaded_at[32];
  std::snprintf(stored_loaded_at, sizeof(stored_loaded_at), "%.3f", loaded_at);
  batch_.PutMeta(kMetaRulesLoadedAt, stored_loaded_at);
  metrics_->SetRulesVersion(version);
}

uint64_t Engine::Rejected(const std::vector<LoadError>& errors) {
  metrics_->RuleReload(false);
  const uint64_t version = rules_info().version;
  LogError("rules reload rejected, keeping version " + std::to_string(version) + ":" +
           JoinErrors(errors));
  return version;
}

ReloadOutcome Engine::Install(std::shared_ptr<const RuleSet> rules) {
  const uint64_t version = rules_info().version + 1;
  std::vector<VanishedStage> vanished = LeadsInVanishedStages(*rules);
  const uint64_t leads_moved = vanished.size();
  InstallRules(std::move(rules), version);
  LeaveVanishedStages(std::move(vanished));
  Commit();
  metrics_->RuleReload(true);
  LogInfo("rules version " + std::to_string(version) + " loaded from " + options_.rules_path);
  ReloadOutcome outcome;
  outcome.ok = true;
  outcome.version = version;
  outcome.leads_moved = leads_moved;
  return outcome;
}

}  // namespace handoff

namespace handoff {

void Engine::SubmitSalesAction(SalesAction action,
                               std::function<void(const SalesActionResult&)> done) {
  RunOnEngine([this, action = std::move(action), done = std::move(done)]() mutable {
    if (global_router()) {
      // Answered when this node's replica applies it from the log (ApplyRouting).
      RoutingInput input;
      input.kind = RoutingInputKind::kSalesAction;
      input.action = std::move(action);
      input.asked_by = options_.node_id;
      input.request = ++next_request_;
      asked_.emplace(
          input.request,
          Asked{clock_->Now() + kAskedTimeout, [done = std::move(done)](const ReplicaOutcome* o) {
                  if (o != nullptr) {
                    done(o->action);
                    return;
                  }
                  SalesActionResult late;
                  late.error = "unavailable";
                  late.message =
                      "the cluster's router did not confirm the answer in time; it "
                      "may still take effect: send it again to learn";
                  done(late);
                }});
      LogRouting(std::move(input));
      return;
    }
    SalesActOutcome outcome = router_->Act(action);
    if (outcome.recycled_lead != nullptr) {
      ResetStage(outcome.recycled_lead);
    }
    after_commit_.push_back([result = std::move(outcome.result), done] { done(result); });
  });
}

}  // namespace handoff

namespace handoff {

// Cluster mode's router (EngineOptions::routing_log, docs/cluster.md "The router and the outbox").

const std::optional<LeadOwner>& Engine::OwnerOf(const Lead& lead) const {
  static const std::optional<LeadOwner> kNone;
  if (!global_router()) {
    return lead.owner;
  }
  const Lead* copy = replica_->Find(lead.id);
  return copy == nullptr ? kNone : copy->owner;
}

void Engine::LogRouting(RoutingInput input) {
  input.at = clock_->Now();
  const std::string_view id = input.lead.id;
  if (!id.empty() && event_order_ != 0 && lead_partitions_ > 0) {
    // Caused by an event of the log: placed by it, so any node applying its partition places it
    // alike (RoutingPlace).
    if (event_order_ != last_input_order_) {
      last_input_order_ = event_order_;
      input_index_ = 0;
    }
    input.place = RoutingPlace{PartitionOfLead(id), event_order_, input_index_++};
  } else if (input.kind == RoutingInputKind::kStage) {
    // A stage change no event of the log caused (the wall-clock re-check, maybe of a copy kept
    // from a partition this node no longer holds): not routed yet (docs/cluster.md).
    return;
  }
  routing_out_.push_back(std::move(input));
}

void Engine::SubmitRoutingChange(RoutingInput input, std::function<void(const Status&)> done) {
  RunOnEngine([this, input = std::move(input), done = std::move(done)]() mutable {
    if (done) {
      input.asked_by = options_.node_id;
      input.request = ++next_request_;
      asked_.emplace(
          input.request,
          Asked{clock_->Now() + kAskedTimeout, [done = std::move(done)](const ReplicaOutcome* o) {
                  done(o != nullptr
                           ? Status::Ok()
                           : Status::Unavailable("the cluster's router did not confirm the "
                                                 "change in time; it may still take effect"));
                }});
    }
    LogRouting(std::move(input));
  });
}

void Engine::SealRoutingInputs() {
  // What the log holds leaves the pending ones (appended in this order, stored in this order):
  // a commit's inputs go when the log has them all. Each commit writes only its own inputs, so
  // a log that lags costs no rewrite of everything pending.
  routing_trimmed_ = routing_stored_.load(std::memory_order_acquire);
  while (!pending_chunks_.empty() && pending_chunks_.front().end <= routing_trimmed_) {
    batch_.DeleteMeta(PendingChunkKey(pending_chunks_.front().number));
    pending_chunks_.pop_front();
    pending_range_dirty_ = true;
  }
  if (!routing_out_.empty()) {
    std::string bytes;
    EncodeRoutingInputs(routing_out_, &bytes);
    AddPendingChunk(bytes, routing_out_.size());
    // Logged once durable here: the router never hears of a change a crash takes back.
    LogPending(std::move(routing_out_));
    routing_out_.clear();
  }
  if (pending_range_dirty_) {
    pending_range_dirty_ = false;
    if (pending_chunks_.empty()) {
      batch_.DeleteMeta(kMetaRoutingPendingRange);
    } else {
      batch_.PutMeta(kMetaRoutingPendingRange, std::to_string(pending_chunks_.front().number) +
                                                   " " + std::to_string(next_pending_chunk_));
    }
  }
}

void Engine::AddPendingChunk(std::string_view bytes, size_t inputs) {
  batch_.PutMeta(PendingChunkKey(next_pending_chunk_), bytes);
  pending_logged_ += inputs;
  pending_chunks_.push_back(PendingChunk{next_pending_chunk_++, pending_logged_});
  pending_range_dirty_ = true;
}

void Engine::LogPending(std::vector<RoutingInput> inputs) {
  after_commit_.push_back([this, inputs = std::move(inputs)]() mutable {
    const size_t n = inputs.size();
    options_.routing_log->Append(
        std::move(inputs), [this, n] { routing_stored_.fetch_add(n, std::memory_order_acq_rel); });
  });
}

Status Engine::RestorePendingRouting() {
  // Logged again: the routers drop what a partition logged before (its places), and a sales
  // answer applied twice is refused the second time.
  auto restore = [&](std::string_view key, std::vector<RoutingInput>* inputs) {
    std::string bytes;
    Status st = store_->GetMeta(key, &bytes);
    if (st.IsNotFound()) {
      return Status::Ok();
    }
    if (!st.ok()) {
      return st;
    }
    if (!DecodeRoutingInputs(bytes, inputs)) {
      return Status::Corruption("meta " + std::string(key) + " does not decode");
    }
    return Status::Ok();
  };
  std::string range;
  Status st = store_->GetMeta(kMetaRoutingPendingRange, &range);
  if (!st.ok() && !st.IsNotFound()) {
    return st;
  }
  unsigned long long first = 0;
  unsigned long long next = 0;
  if (st.ok() && std::sscanf(range.c_str(), "%llu %llu", &first, &next) != 2) {
    return Status::Corruption("meta " + std::string(kMetaRoutingPendingRange) + " does not parse");
  }
  next_pending_chunk_ = std::max<uint64_t>(next, 1);
  for (uint64_t n = first; n < next; ++n) {
    std::vector<RoutingInput> inputs;
    if (Status chunk = restore(PendingChunkKey(n), &inputs); !chunk.ok()) {
      return chunk;
    }
    if (!inputs.empty()) {
      pending_logged_ += inputs.size();
      pending_chunks_.push_back(PendingChunk{n, pending_logged_});
      LogPending(std::move(inputs));
    }
  }
  // A store of the first release: its one value becomes a chunk of its own.
  std::vector<RoutingInput> legacy;
  if (Status old = restore(kMetaRoutingPending, &legacy); !old.ok()) {
    return old;
  }
  if (!legacy.empty()) {
    std::string bytes;
    EncodeRoutingInputs(legacy, &bytes);
    AddPendingChunk(bytes, legacy.size());
    batch_.DeleteMeta(kMetaRoutingPending);
    LogPending(std::move(legacy));
  }
  return Status::Ok();
}

void Engine::ApplyRouting(RoutingBatch& batch) {
  if (!batch.replay && !routing_live_) {
    routing_live_ = true;
    if (replica_scorer_ == nullptr) {
      LogStartingRules();
    }
    WaitCommit();  // the outbox's head is the committed one
    if (replayed_seq_ != outbox_.head()) {
      // Inputs not in the log changed this node's router since it wrote these records (a
      // rules reload, say): its seqs may no longer name the records other nodes name.
      LogError("routing: the replay of the routing log reached record " +
               std::to_string(replayed_seq_) + " but the outbox holds " +
               std::to_string(outbox_.head()) + "; this node's router differs from the log");
    }
  }
  replaying_routing_ = batch.replay;
  for (const RoutingInput& input : batch.inputs) {
    if (input.kind == RoutingInputKind::kRules) {
      TakeRouterRules(input);
    }
    // The funnel times speed to lead from the causing event's receipt, as without the log.
    applying_received_at_ = input.received_at;
    ReplicaOutcome outcome = replica_->Apply(input);
    applying_received_at_ = 0;
    if (!outcome.applied || batch.replay) {
      continue;
    }
    if (!outcome.recycled_lead.empty()) {
      // The lead's partition follows the router's recycle, without a record of its own, at a
      // place in its own log so a rebuild of it does too. Every node asks; the partition takes
      // the first (PartitionControl::kStageReset).
      after_commit_.push_back(
          [this, partition = PartitionOfLead(outcome.recycled_lead), lead = outcome.recycled_lead,
           reset_id = input.asked_by + "/" + std::to_string(input.request),
           at = input.at] { options_.routing_log->LogStageReset(partition, lead, reset_id, at); });
    }
    if (!input.asked_by.empty() && input.asked_by == options_.node_id) {
      if (auto asked = asked_.find(input.request); asked != asked_.end()) {
        after_commit_.push_back([outcome = std::move(outcome),
                                 done = std::move(asked->second.done)] { done(&outcome); });
        asked_.erase(asked);
      }
    }
  }
  replaying_routing_ = false;
  if (batch.replay) {
    completions_.push_back(Completion{std::move(batch.done), std::chrono::steady_clock::now(), 0});
    return;  // the stored position is past it already: never moved back
  }
  for (const auto& [key, value] : batch.log_positions) {
    batch_.PutMeta(key, value);
  }
  completions_.push_back(Completion{std::move(batch.done), std::chrono::steady_clock::now(), 0});
}

void Engine::TakeRouterRules(const RoutingInput& input) {
  if (replica_scorer_ != nullptr && input.rules_revision <= replica_rules_revision_) {
    return;  // logged by every node: the first of a revision counts, an older one logged late not
  }
  LoadResult loaded = LoadRulesFromString(input.rules_yaml, "cluster rules");
  if (!loaded.ok()) {
    // Every node fails alike (the same bytes), so the routers stay one; said once per node.
    LogError("routing: the cluster's rules of revision " + std::to_string(input.rules_revision) +
             " do not load here; the router keeps its rules" +
             (loaded.errors.empty() ? std::string() : ": " + loaded.errors[0].message));
    replica_rules_revision_ = input.rules_revision;
    return;
  }
  replica_rules_revision_ = input.rules_revision;
  replica_rules_sha_ = input.rules_sha256;
  replica_scorer_ = std::make_shared<const Scorer>(std::move(loaded.rules));
  replica_->SetRules(replica_scorer_.get());
  LogReevaluationOnceRouted();
}

void Engine::LogReevaluationOnceRouted() {
  if (!reevaluate_under_.empty() && reevaluate_under_ == replica_rules_sha_) {
    reevaluate_under_.clear();
    options_.log_reevaluation();
  }
}

void Engine::LogStartingRules() {
  // The rules the router used before the log had any: the first node's, for every node from
  // here on (a restart replays that part of the log under them, not under a later file).
  std::ifstream in(options_.rules_path, std::ios::binary);
  if (!in) {
    return;  // a rules directory, say: the log gets rules at their first change
  }
  std::ostringstream yaml;
  yaml << in.rdbuf();
  RoutingInput input;
  input.kind = RoutingInputKind::kRules;
  input.rules_revision = 0;  // before any of the admin bucket's
  input.rules_yaml = yaml.str();
  input.rules_sha256 = Sha256Hex(input.rules_yaml);
  LogRouting(std::move(input));
}

uint64_t Engine::PublishReplicated(OutboxRecord* record, Lead* lead, EpochSeconds scores_at) {
  if (replaying_routing_) {
    // In the outbox already: only its number matters to the router (by_seq_).
    record->seq = ++replayed_seq_;
    return record->seq;
  }
  // Stamped by the router already.
  replayed_seq_ = AppendRecord(record, lead, scores_at, *replica_->scorer());
  return replayed_seq_;
}

}  // namespace handoff
