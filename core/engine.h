// Engine: the one thread that owns lead state and applies events (SPEC 3, 5.2, 5.3, 10).
//
// Network threads parse and validate events and Submit() them in batches. The engine thread runs
// one loop, Redis-style: take every queued task, apply it to the in-memory state while writing
// the changes into one CommitBatch, commit that batch to the store (the group commit), then
// complete each task (acks, HTTP 200s) and run the cron (the wall-clock stage re-check, router
// timers, outbox trimming). Because one thread applies everything in queue order, the events of
// one connection take effect in the order sent. Rule files are compiled on the RulesManager's
// thread and swapped in as one task between two events: each event is scored wholly by one
// version, and ingest never waits for YAML or RE2.
//
// Leads live in a bounded in-memory cache (EngineOptions::lead_cache) over the store, which is the
// durable copy, written once per commit. A lead not in memory is read from the store when an
// event or a call needs it; the least recently used clean leads leave memory when the cache is
// over its bound. Leads that are owned, or at or above the routing stage, stay in memory always
// ("pinned"): the router works on them, and a restart loads them. Staged leads below that leave
// memory like any other: the stage index (stage -> id -> when the wall-clock re-check is next
// due, Scorer::NextExitCheck) keeps them, and the re-check reads a lead only when it is due. Both
// kinds are listed in the store's pinned index (storage/pin_record.h), which a start reads instead
// of the leads. Nothing is acknowledged before the commit that holds it returns.
//
// The group commit is pipelined: at the end of a loop pass the engine seals what the pass changed
// into a CommitBatch and hands it to its commit thread, which writes it to the store while the
// engine applies the next tasks into a second batch. At most one batch is in flight; when it
// returns, the engine (between two tasks, or woken) publishes the outbox head and runs that
// batch's completions, in submission order. A task that must see committed state (a closure,
// a merge reading history) first waits for the batch in flight.
//
// Thread safety: Submit, RunOnEngine, RequestReload, rules_info and queued_events may be called
// from any thread. Methods documented "engine thread" may be called only from tasks run by
// RunOnEngine.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "absl/container/btree_map.h"
#include "base/keyed_table.h"
#include "base/metrics.h"
#include "base/string_map.h"
#include "base/string_prefix.h"
#include "core/rules_manager.h"
#include "funnel/funnel.h"
#include "funnel/funnel_report.h"
#include "handoff/clock.h"
#include "handoff/event.h"
#include "handoff/status.h"
#include "history/history_log.h"
#include "history/lead_hand_over.h"
#include "identity/identity_map.h"
#include "ingest/identity_view.h"
#include "ingest/ingest_sink.h"
#include "ingest/lead_exchange.h"
#include "outbox/outbox.h"
#include "routing/router.h"
#include "routing/router_replica.h"
#include "routing/routing_log.h"
#include "routing/sales_action.h"
#include "rules/rule_loader.h"
#include "scoring/lead.h"
#include "scoring/scorer.h"
#include "storage/dedupe_index.h"
#include "storage/lead_id_filter.h"
#include "storage/store.h"

namespace handoff {

struct EngineOptions {
  // The rule file or directory. Default: the example rules.
  std::string rules_path = "rules/examples/default.yaml";
  // Reload when the rule files change (polled twice a second). Default: on.
  bool watch_rules = true;
  // Seconds between wall-clock re-checks of staged leads' exits; 0 turns it off. Default: 60.
  double stage_check_interval = 60;
  // Seconds between outbox trims, so records past retention are gone promptly. Default: 1.
  double outbox_trim_interval = 1;
  // Commit early once a group holds this many events, so one huge backlog is not one huge write.
  // It bounds the wait between two acks under full load: 16,384 gave gaps of 115-160 ms, 4,096
  // gives 40-80 ms at the same throughput. Default: 4,096.
  size_t max_commit_events = 4096;
  // Seconds a messageId is remembered (SPEC 3); the same value the store's expiry uses.
  double dedupe_window = 86400;
  // Leads held in memory besides the pinned ones (owned or routable, always held); the rest are
  // read from the store on demand. Default: 250,000 (about 1 KB each).
  size_t lead_cache = 250'000;
  // Keep every applied event in the history log (SPEC 8; merges replay it). Default: on.
  bool history = true;
  // Seconds history is kept, by commit time; 0 keeps it forever. Default: 90 d.
  double history_retention = 90 * 86400;
  // A merge replays both leads' events from nothing (exact, SPEC 8) while they hold at most this
  // many events together. Past it, the lead with more events is the base, its state as it is,
  // and only the other lead's events are replayed on top (as for a lead whose history was
  // trimmed): a merge otherwise costs the engine thread time in proportion to the lead's whole
  // history, and one lead merging thousands of anonymous ids held every client for minutes.
  // Default: 4,096 (a merge of that size replays in ~20 ms).
  uint64_t max_merge_replay_events = 4096;
  // The funnel's figures (SPEC 12): how long facts and hour totals are kept.
  FunnelOptions funnel;
  // Cluster mode: the engine also counts leads per partition of their id, so a node can count
  // the leads of the partitions it holds (GET /v1/funnel's `stages`, gathered from every node).
  // `lead_partition(id, n)` is the id's partition of n, < n. 0 and empty (the single daemon): no
  // counts. The stream's own count, when it differs, replaces `lead_partitions`
  // (SetLeadPartitions).
  uint32_t lead_partitions = 0;
  std::function<uint32_t(std::string_view lead_id, uint32_t partitions)> lead_partition;
  // Cluster mode's one router (docs/cluster.md, "The router and the outbox"): when set, the
  // engine routes nothing and writes no record itself. It logs its leads' stage changes, merges
  // and erasures, and the sales answers it is asked for, to `routing_log` (with `lead_partition`
  // numbering each partition's inputs), and applies the routing log it is given back
  // (SubmitRouting) to a RouterReplica, whose records are its outbox. Borrowed; must outlive the
  // engine. Default: none (the engine's own router, as the single daemon).
  RoutingLog* routing_log = nullptr;
  // This node's id, naming the sales answers it waits for in the routing log.
  std::string node_id;
  // Cluster mode: the wall-clock re-checks come from the partitions' logs (IngestBatch::clocks,
  // docs/cluster.md "A partition's clock"), not from this engine's own timer, so a partition
  // applied again anywhere re-checks at the same places. Default: off (the timer).
  bool stage_checks_from_log = false;
  // With stage_checks_from_log: ReevaluateStages asks for a re-evaluation in the log of every
  // partition this node holds (PartitionControl::reevaluate) through this, instead of running it
  // here. Called on the engine thread.
  std::function<void()> log_reevaluation;
};

struct RulesInfo {
  uint64_t version = 0;
  std::string sha256;
  EpochSeconds loaded_at = 0;
  std::string path;
  // The routing section's stage and SLA (sla.accept_within in seconds, 0: no SLA timer); empty
  // and 0 when the rules do not route.
  std::string routing_stage;
  double accept_within = 0;
  int max_reassign = 0;
};

class Engine : public IngestSink,
               public IdentityView,
               public LeadExchange,
               public SalesDesk,
               public RoutingSink,
               private RouterHost {
 public:
  // `store`, `clock` and `metrics` are borrowed and must outlive the engine.
  Engine(EngineOptions options, Store* store, const Clock* clock, Metrics* metrics);
  ~Engine() override;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Loads the rules (every error in the Status message when they do not load) and the stored
  // state, then starts the engine thread.
  Status Start();
  // Finishes every queued task, commits, and joins the thread. Idempotent.
  void Stop();

  // Queues a batch. Its `done` runs on the engine thread after the commit. On the calling thread
  // it first gives each event without a timestamp its receive time (the batch's, or its origin's)
  // and, with history on, encodes each event's history bytes (IngestBatch::prepared).
  void Submit(IngestBatch batch) override;
  bool Waiting() const override { return waiting_.load(std::memory_order_relaxed); }
  // Queues inputs of the routing log (EngineOptions::routing_log), applied between the batches
  // queued before and after it. Its `done` runs on the engine thread after the commit.
  void SubmitRouting(RoutingBatch batch) override;
  // IdentityView: thread-safe; sees the links applied so far (not yet necessarily durable).
  bool MergedInto(std::string_view id, std::string* root) const override;
  // Runs `fn` on the engine thread, after everything queued before it has been committed.
  void RunOnEngine(std::function<void()> fn);
  // Reloads the rule files: compiled off the engine thread (RulesManager), then swapped in as one
  // engine task. `done` (may be empty) runs with the result, on the engine thread after a
  // successful swap, on the rules thread after a rejection.
  void RequestReload(ReloadDone done);
  // Compiles a candidate rule file without loading it, off the engine and network threads;
  // `done` runs on the rules thread. Any thread.
  void ValidateRules(std::string yaml, std::function<void(const LoadResult&)> done) {
    rules_manager_.Validate(std::move(yaml), std::move(done));
  }
  // Replaces the rule file with `yaml` and reloads it (RulesManager::Replace): `done` as for
  // RequestReload. Any thread.
  void ReplaceRules(std::string yaml, ReloadDone done) {
    rules_manager_.Replace(std::move(yaml), std::move(done));
  }
  // The outbox: its reader side is for any thread; set its listener before Start.
  Outbox& outbox() { return outbox_; }

  // Cluster mode: the event stream has `partitions` partitions (fixed when it was made; this
  // node's setting may differ): leads are counted, re-checked and placed by them from the next
  // task on. Any thread.
  void SetLeadPartitions(uint32_t partitions);
  // Cluster mode's router (EngineOptions::routing_log): logs an admin change (kRepAvailability,
  // kAccountOwner, kRules) for every node's router, at one place of the routing log; `done`, when
  // set, runs on the engine thread once this node's router has applied it and committed (OK), or
  // with Unavailable when it did not within kAskedTimeout (it may still take effect later). Any
  // thread.
  void SubmitRoutingChange(RoutingInput input, std::function<void(const Status&)> done);
  // How long an answer that goes through the routing log is waited for (NATS down, say).
  static constexpr double kAskedTimeout = 30;
  // Applies a sales tool's answer on the engine thread; `done` runs there after the commit that
  // holds its effects.
  void SubmitSalesAction(SalesAction action,
                         std::function<void(const SalesActionResult&)> done) override;

  RulesInfo rules_info() const;
  // Events submitted and not yet applied; for backpressure decisions.
  size_t queued_events() const;
  // The newest outbox seq committed (0: none). Any thread.
  uint64_t outbox_head() const { return outbox_.head(); }

  // --- engine thread only ---
  // The lead, or null when unknown.
  Lead* FindLead(std::string_view id) override;
  // The router in force: the replica's in cluster mode (EngineOptions::routing_log).
  Router& router() { return replica_ != nullptr ? replica_->router() : *router_; }
  // Cluster mode's one router (EngineOptions::routing_log): every node has every record.
  bool global_router() const { return replica_ != nullptr; }
  // The lead's owner as routed: its own, or, in cluster mode, the replica's copy's.
  const std::optional<LeadOwner>& OwnerOf(const Lead& lead) const;
  // The root id `id` belongs to (SPEC 8): itself unless linked.
  std::string_view ResolveId(std::string_view id) const { return identity_.Resolve(id); }
  // The ids linked to lead `root`.
  const std::vector<std::string>& Aliases(std::string_view root) const {
    return identity_.Aliases(root);
  }
  // The lead's applied events in apply order (those history still holds).
  Status History(const Lead& lead, std::vector<HistoryEntry>* out) {
    return history_.Read(lead.history, out);
  }
  // Erases the lead `id` resolves to (SPEC 8, right to erasure): the lead, its history and every
  // id linked to it, from memory and, with the next commit, from the store. Returns the ids
  // removed (the lead's first) and the history entries erased; NotFound when no lead or link
  // has that id. Outbox records are not rewritten (they expire with the outbox retention).
  Status Erase(std::string_view id, std::vector<std::string>* ids, size_t* events);

  // True once the scan of the store's lead ids that a start runs in the background is done: from
  // then on a lead not in memory whose id was never created is not looked up in the store.
  // Engine thread.
  bool lead_ids_scanned() const { return known_leads_complete_; }

  // Cluster mode, a merge of leads held in two partitions (docs/cluster.md "Several nodes").
  // Engine thread.
  // The lead `id` belongs to, as another node needs it to merge it: its state, its other ids, its
  // history entries applied before `link_order` and, apart, those applied after (waits for the
  // batch in flight first). NotFound when no lead has `id`.
  Status ExportLead(std::string_view id, uint64_t link_order, LeadHandOver* out);
  // Takes in a lead another node exported: the lead, its ids linked to it, its history as chains
  // of its own keeping each entry's apply order; counted, indexed and owned as any lead. Its
  // later events are applied to the lead it merges into, right after the merge. Its ids are
  // marked as moved into `lead.into` after `lead.covered_seq` (HandedOverAfter), so a later
  // replay of their home partition here neither applies their events again nor answers for
  // them. Does nothing else when the lead is already merged here (an import replayed).
  void ImportLead(const LeadHandOver& lead);
  // The lead `id` belongs to has moved into the lead `into` on another node: the lead and its
  // history leave this engine, and every id of it now resolves to `into`, so a later event under
  // one of them is seen as `into`'s. Only links when no lead has `id`.
  Status HandOverLead(std::string_view id, const std::string& into, uint64_t after_seq = 0);
  // LeadExchange: the three above as tasks (and a plain wait), for cluster mode's log applier.
  void QueueExport(std::string id, uint64_t link_order, std::string into, uint64_t covered_seq,
                   std::function<void(std::string bytes)> done) override;
  void QueueImport(std::string bytes) override;
  void QueueHandOver(std::string id, std::string into, uint64_t after_seq,
                     std::function<void()> done) override;
  void QueueAfterApplied(std::function<void()> done) override { RunOnEngine(std::move(done)); }
  bool HandedOverAfter(std::string_view id, std::string* into, uint64_t* after_seq) const override;
  // Calls fn for each lead in id order, starting after `after` (empty: from the first), only
  // leads in `stage` when it is not empty, until fn returns false. Reads ordered in-memory
  // indexes (as of the last commit), never the store: a page costs its own size, not a scan.
  void ForEachLead(std::string_view stage, std::string_view after,
                   const std::function<bool(Lead* lead)>& fn);
  // Runs `fn` on the engine thread once the changes made so far are committed (for answers that
  // promise durability).
  void AfterCommit(std::function<void()> fn) { after_commit_.push_back(std::move(fn)); }
  const Scorer& scorer() const { return *scorer_; }
  const Clock& clock() const { return *clock_; }
  // A consistent read-only view of the store as of now (every batch before it committed), for
  // work off the engine thread (the backtest).
  std::unique_ptr<StoreSnapshot> SnapshotStore();
  // Runs every lead's stage machine once with its scores read now, as after an event (promote,
  // else demote), publishing stage records and routing as usual (`handoff backtest --apply`:
  // new rules take effect at once instead of at each lead's next event). Works through the leads
  // in id order, a slice per engine task, so ingest goes on meanwhile; `done(leads, changed)`
  // runs on the engine thread once the last slice's changes are committed. Cluster mode
  // (EngineOptions::log_reevaluation): asks for it in the partitions' logs and runs
  // `done(leads known here, 0)` at once; the changes follow as the log is applied.
  void ReevaluateStages(std::function<void(uint64_t leads, uint64_t changed)> done);
  // Leads per stage now (SPEC 12 `stages`), in the rules' stage order, then any stage a reload
  // removed that still has leads. From the in-memory indexes and the lead count, not a scan.
  // With `held` (cluster mode, EngineOptions::lead_partitions set), only the leads of the
  // partitions for which held(partition) is true: a node keeps copies of leads from partitions
  // it held before, which another node now counts.
  FunnelStageCounts StageCounts(const std::function<bool(uint32_t partition)>& held = {}) const;
  // Whether /metrics' funnel figures (rendered at most every 0.1 s under load) are those of
  // every record and every lead per stage up to the last commit (or the end of the last engine
  // pass). Any thread.
  bool FunnelMetricsCurrent() const {
    return funnel_version_seen_.load(std::memory_order_acquire) ==
           funnel_version_rendered_.load(std::memory_order_acquire);
  }
  // Renders /metrics' funnel figures now. Engine thread (a RunOnEngine task: GET /metrics when
  // they are not current, so a scrape never shows fewer records than GET /v1/funnel).
  void RefreshFunnelMetrics() { RenderFunnelMetrics(/*now_please=*/true); }
  // The funnel figures of `window` (SPEC 12), as the JSON answer of GET /v1/funnel.
  Status FunnelJson(const FunnelWindow& window, std::string* json) const;
  // This node's part of a cluster's funnel: its totals of `window` (every record it wrote) and
  // its held partitions' stage counts, which add up with the other nodes' parts.
  Status FunnelPart(const FunnelWindow& window, const std::function<bool(uint32_t)>& held,
                    FunnelStageCounts* stages, FunnelTotals* totals) const;

 private:
  struct Closure {
    std::function<void()> fn;
  };
  using Task = std::variant<IngestBatch, Closure, RoutingBatch>;
  struct Completion {
    IngestDone done;
    std::chrono::steady_clock::time_point received_mono;
    uint64_t events = 0;
  };
  // A sealed group commit: handed to the commit thread, finished on the engine thread.
  struct SealedCommit {
    CommitBatch batch;
    std::vector<Completion> completions;
    std::vector<std::function<void()>> after_commit;
    uint64_t outbox_next_seq = 0;  // the outbox's next seq when sealed
    size_t bytes = 0;
    Status status;  // set by the commit thread
  };
  struct StageCheck;  // the stage index's entry of a lead, below
  struct LeadEntry {
    Lead state;
    uint64_t dirty_generation = 0;  // == commit_generation_ when changed since the last seal
    std::string indexed_stage;      // the stage index_by_stage_ files it under ("": none)
    StageCheck* check = nullptr;    // its entry there (allocated apart: stays put); null: not filed
    // What the store's pinned index holds for it (PinRecord), so a seal rewrites it only when it
    // changed. `pin_stale`: the stage it was written with may differ (rewrite at the next seal).
    bool pin_stored = false;
    bool pin_stale = false;
    bool pin_in_memory = false;
    EpochSeconds pin_next_check = 0;
    uint64_t pin_rules_tag = 0;
    // The cache's recency list (unpinned leads only), newest first. A use only sets `referenced`
    // (no relinking, so no cache misses on the neighbours); eviction gives a referenced lead a
    // second chance at the front (the CLOCK approximation of least recently used).
    LeadEntry* lru_prev = nullptr;
    LeadEntry* lru_next = nullptr;
    bool in_lru = false;
    bool referenced = false;
    uint64_t folded_generation = 0;  // the scorer generation EnsureFolded last checked it under
  };
  // The key leads_ finds a LeadEntry by (its id never changes while it is there).
  struct LeadEntryId {
    std::string_view operator()(const LeadEntry& entry) const { return entry.state.id; }
  };
  // A changed lead and its id's prefix, which Seal sorts by (reading this array, not the leads).
  struct SealKey {
    StringPrefix prefix;
    LeadEntry* entry = nullptr;
  };
  // Engine thread: before a lead is scored under rules it was not yet checked against, folds
  // again, from its history, the awards of rules whose score's half-life a reload changed
  // (SPEC 5.2: every award decays under the half-life in force), and counts again the cap
  // windows of rules whose cap's `per` a reload changed (no window of the cap in force holds
  // more than its points). Where the history does not hold every award of the rule (trimmed, or
  // history off), the award keeps its value and the new half-life applies from its latest award
  // on, and the windows count what the history holds.
  void EnsureFolded(LeadEntry* entry);
  void RefoldFromHistory(LeadEntry* entry);
  // The folding itself, on any copy of a lead: its history must be readable (no batch in flight
  // holding its blocks, WaitCommit).
  void RefoldAwards(Lead* lead);
  // RouterHost.
  void LeadChanged(Lead* lead) override;
  uint64_t Publish(OutboxRecord* record, Lead* lead, EpochSeconds scores_at) override;
  // Sends a recycled lead back to stage 0 and reports the change (a `recycled` close).
  void ResetStage(Lead* lead);
  // Logs `input` for lead `lead_id` with the next commit: its time, and its number among the
  // inputs of the lead's partition when an event of the log is being applied.
  void LogRouting(RoutingInput input);
  // Cluster mode: a partition's control at its place in the log: the stage exits due at
  // `clock.at` for the leads of `clock.partition` (kReevaluate: every lead's stage machine;
  // kStageReset: one lead's stage back to the first). Leads in id order, so every node logs the
  // stage changes alike. A re-evaluation reads every stored lead of the partition: rare (a rules
  // apply), and the ack does not wait for it.
  void ApplyPartitionControl(const PartitionControl& clock);
  // The wall-clock re-check of one staged lead at `at`: one stage down while its exit holds.
  void RecheckStage(LeadEntry* entry, EpochSeconds at);
  // At a seal: trims what the log has from the pending inputs, adds this commit's, stores them,
  // and logs this commit's once it is durable.
  void SealRoutingInputs();
  // Logs `inputs` after the commit being sealed; the log's `stored` counts them.
  void LogPending(std::vector<RoutingInput> inputs);
  // Writes `bytes` (`inputs` routing inputs) as the next pending chunk, with this commit.
  void AddPendingChunk(std::string_view bytes, size_t inputs);
  // At start: the inputs a crash left unlogged are logged again.
  [[nodiscard]] Status RestorePendingRouting();
  void ApplyRouting(RoutingBatch& batch);
  // A kRules input: the router's rules from here on, unless it has a newer revision already.
  void TakeRouterRules(const RoutingInput& input);
  // Logs the re-evaluation asked (reevaluate_under_) once the router has those rules.
  void LogReevaluationOnceRouted();
  // The log has no rules yet: logs this node's rule file as revision 0 (kRules).
  void LogStartingRules();
  // The replica's records: into the outbox, stamped by the router; counted only on a replay.
  uint64_t PublishReplicated(OutboxRecord* record, Lead* lead, EpochSeconds scores_at);
  // Appends `record` (its `at` set) to the outbox and the funnel with the lead's scores read at
  // `scores_at`, its traits and stage; returns its seq.
  // Appends `record` to the outbox and the funnel, with `lead`'s scores as `scorer` reads them
  // (the rules of whoever decided the record: the engine's, or the cluster router's).
  uint64_t AppendRecord(OutboxRecord* record, Lead* lead, EpochSeconds scores_at,
                        const Scorer& scorer);
  class ReplicaSink final : public RecordSink {
   public:
    explicit ReplicaSink(Engine* engine) : engine_(engine) {}
    uint64_t Publish(OutboxRecord* record, Lead* lead, EpochSeconds scores_at) override {
      return engine_->PublishReplicated(record, lead, scores_at);
    }

   private:
    Engine* engine_;
  };
  void PutMeta(std::string_view key, std::string_view value) override;
  void DeleteMeta(std::string_view key) override;

  void Loop();
  void Enqueue(Task task, size_t events);
  void ApplyBatch(IngestBatch& batch);
  void ApplyEvent(const Event& event, EpochSeconds received_at);
  // Scores `event` on `entry`, logs it and acts on a stage change.
  void ApplyToLead(LeadEntry& entry, const Event& event, EpochSeconds received_at);
  // Logs an applied event in the lead's own history chain, as apply_order_ when it is not 0.
  void LogApplied(Lead* lead, const Event& event, EpochSeconds received_at);
  // An `alias`, or an `identify` with both ids: links `older` to `newer`'s lead (SPEC 8), merging
  // the older lead by replay when it has events, then applies the event.
  void ApplyLink(const Event& event, std::string_view older, std::string_view newer,
                 EpochSeconds received_at);
  void Merge(LeadEntry& older, LeadEntry& newer, const Event& event, EpochSeconds received_at);
  // Links root `from` to root `to` in memory and in the batch (every id of `from` moves).
  void LinkIds(const std::string& from, const std::string& to);
  // Marks the ids of a lead imported from another node as moved into `lead.into` after
  // `lead.covered_seq` (handed_over_, stored with the next commit).
  void MarkMovedIn(const LeadHandOver& lead);
  // Removes a lead from memory and the indexes, and deletes it in the batch.
  void DropLead(const std::string& id);
  // The lead, created when there is none; null only when its stored state cannot be read.
  LeadEntry* LeadFor(std::string_view id);
  // The lead in memory, or read from the store into memory; null when there is no such lead,
  // or when its stored state cannot be read (then the id joins unreadable_).
  LeadEntry* FindEntry(std::string_view id);
  LeadEntry& Insert(std::unique_ptr<LeadEntry> entry);
  void MarkDirty(LeadEntry& entry);
  // Files a staged lead in index_by_stage_ (its re-check due at once until its seal works out
  // when), or moves or removes it when its stage changed.
  void IndexLead(LeadEntry& entry);
  // Removes `id` from the stage index under `stage`; false when it was not filed there.
  bool Unindex(const std::string& stage, std::string_view id);
  // Removes `id` from the stage index, under whichever stage it is filed.
  void UnindexId(std::string_view id);
  // Looks up the stage index's entry of an indexed lead (LeadEntry::check caches it); null when
  // `entry` is not staged.
  StageCheck* IndexedCheck(const LeadEntry& entry);
  // When `entry`'s re-check is next due under the rules in force (0: at the next one), as the
  // stage index holds it.
  EpochSeconds NextCheckOf(LeadEntry& entry);
  // Owned, at or above the routing stage (the router works on it), or in a stage whose exit is
  // re-checked at every interval (Scorer::ExitHasOnlyThresholds): kept in memory whatever the
  // cache holds.
  bool Pinned(LeadEntry& entry) const;
  // After a seal: files the lead in the stage index (with its next re-check), the store's pinned
  // index and the recency list, as it now is.
  void ClassifyLead(LeadEntry& entry);
  // The wall-clock re-check (single daemon). At an interval when some re-check may be due,
  // StartDueWalk begins a walk of the stage index; each loop pass, WalkDueChecks visits the next
  // kWalkPerPass entries of it, collecting the due ones, and RunDueChecks re-checks at most
  // kChecksPerPass of those (a lead out of memory is read). Spread over passes, so a stage index
  // of millions never holds the engine for one long walk.
  void StartDueWalk(EpochSeconds now);
  void WalkDueChecks(EpochSeconds now);
  void RunDueChecks(EpochSeconds now);
  bool DueChecksUnderWay() const { return walk_.active || checks_next_ < checks_due_.size(); }
  void LruUnlink(LeadEntry* entry);
  void LruPushFront(LeadEntry* entry);
  // Marks a lead used (see LeadEntry::referenced).
  void Touch(LeadEntry* entry) { entry->referenced = true; }
  // Drops the least recently used clean leads while the cache is over its bound.
  void Evict();
  // The one place a stage change (by an event, the re-check or a recycled close) is acted on:
  // the re-check set, the `stage` record, the metric, then routing.
  // `from_name`, when given, names the stage the lead left (one the rules no longer have), and
  // `router_from` is the stage index the router takes it to have left.
  void StageChanged(LeadEntry& entry, StageChange change, EpochSeconds scores_at,
                    std::string_view trigger, std::string_view from_name = {},
                    int router_from = -1);
  // The `stage` record of a lead that moved from `from` to `to` (single-node mode).
  void PublishStageRecord(LeadEntry& entry, std::string_view from, std::string_view to,
                          std::string_view trigger, EpochSeconds scores_at);
  // A lead in a stage a reload (or a start on changed rules) removed.
  struct VanishedStage {
    LeadEntry* entry = nullptr;
    std::string stage;
    bool routing = false;  // the stage was at or above the routing stage (the lead was routable)
  };
  // Engine thread, before `next` is installed: the staged leads whose stage `next` lacks (single
  // daemon; in cluster mode they leave it at their partition's next stage check, as before).
  std::vector<VanishedStage> LeadsInVanishedStages(const RuleSet& next);
  // Engine thread, after the install: each goes through the stage machine from the first stage
  // at the wall clock, with a `stage` record from the stage it was in, so subscribers, the stage
  // index and the funnel agree at once instead of at the lead's next event. In id order.
  void LeaveVanishedStages(std::vector<VanishedStage> leads);
  // Seals what changed since the last seal and waits until it is durable and finished.
  void Commit();
  // Seals what changed and hands it to the commit thread; returns at once. Only when no commit
  // is in flight (callers check, or WaitCommit first).
  void StartCommit();
  // Seals what changed and commits it on this thread (when nothing else waits: no hand-off).
  void CommitInline();
  // Moves what changed since the last seal into inflight_; false when nothing did.
  bool Seal();
  // No task waits and the commit thread is free: the loop may commit on its own thread.
  bool IdleForInlineCommit() const;
  // True when something changed since the last seal.
  bool HasUncommitted() const;
  // When the commit in flight has returned: publishes the head, runs its completions. Cheap.
  void FinishCommitIfDone();
  // Waits for the commit in flight, if any, and finishes it.
  void WaitCommit();
  void FinishCommit();
  void CommitLoop();
  // Commits `batch`, retrying through store faults until it is written or the engine stops
  // (then the error). Reports the store's health in the metrics. Engine or commit thread.
  Status WriteDurably(CommitBatch* batch);
  void RunCron();
  // Engine thread: the memory gauges of /metrics (handoff_memory_bytes, leads in memory).
  void ReportMemory();
  // The rules thread's verdicts: a compiled rule set to swap in (engine thread), or a rejection
  // (rules thread; returns the version kept).
  ReloadOutcome Install(std::shared_ptr<const RuleSet> rules);
  uint64_t Rejected(const std::vector<LoadError>& errors);
  void InstallRules(std::shared_ptr<const RuleSet> rules, uint64_t version);
  Status LoadState();
  // Start: scans the store's lead ids on lead_scan_thread_, then hands them to the engine thread
  // (AdoptScannedLeads), which from then on creates a lead it has no id of without a lookup.
  void StartLeadScan();
  void AdoptScannedLeads(LeadIdFilter scanned, double seconds);
  // Cluster mode: leads_by_partition_ from the store's meta, or counted once over every stored
  // lead when the meta is missing or was made for another partition count.
  Status LoadPartitionCounts();
  // The partition of lead `id` (EngineOptions::lead_partition); cluster mode only.
  uint32_t PartitionOfLead(std::string_view id) const {
    return options_.lead_partition(id, lead_partitions_);
  }
  // One lead more (+1) or less (-1) under `id`: the lead count and its partition's.
  void CountLead(std::string_view id, int delta);
  // The FunnelContext of a record about to be published for `lead`.
  FunnelContext FunnelContextFor(const OutboxRecord& record, Lead* lead, EpochSeconds scores_at,
                                 const Scorer& scorer);
  // Hands the funnel's all-time figures to the metrics when they changed (at most every 0.1 s
  // unless `now_please`).
  void RenderFunnelMetrics(bool now_please);
  // Reads the dedupe seed (or picks one) and the dedupe log back into dedupe_.
  Status RestoreDedupe();

  const EngineOptions options_;
  Store* const store_;
  const Clock* const clock_;
  Metrics* const metrics_;

  // Task queue, shared with submitting threads.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Task> queue_;
  size_t queued_events_ = 0;
  bool stopping_ = false;
  std::thread thread_;
  // The commit thread and its hand-off (under mu_): one sealed batch at a time.
  std::condition_variable commit_cv_;
  bool commit_requested_ = false;
  bool after_inline_commit_ = false;    // the engine committed itself: Store::AfterCommit is due
  bool deferred_work_running_ = false;  // the commit thread runs Store::AfterCommit
  bool commit_thread_stop_ = false;
  std::atomic<bool> commit_done_{false};
  std::thread commit_thread_;

  mutable std::mutex info_mu_;
  RulesInfo info_;

  // Engine-thread state.
  std::shared_ptr<const Scorer> scorer_;
  // The leads in memory (the cache), owned. A table of our own rather than a node map: one
  // cache miss to find a lead instead of three, and prefetched a few events ahead (ApplyBatch).
  KeyedTable<LeadEntry, LeadEntryId> leads_;
  // The stage index: every staged lead (above the first stage), in memory or not, by stage name
  // and id (ordered, for paging; leads of the first stage are paged from the store), with when
  // its wall-clock re-check is next due. About 100 bytes a lead, against ~2.5 KB for the lead.
  struct StageCheck {
    EpochSeconds at = 0;     // not due before this (Scorer::NextExitCheck); 0: due
    uint64_t rules_tag = 0;  // worked out under these rules (RulesTag); others: due
  };
  // One stage's ids in order, in a B-tree: filing a lead costs a few cache misses where a
  // red-black tree of 60k ids cost ~20 (the tree walk was 8 % of the engine thread, perf, 1M
  // events over 100k leads). B-tree entries move on every insert and erase, so each StageCheck is
  // an allocation of its own, which LeadEntry::check points at, and no iterator into a StageIds
  // is held across a change to it.
  using StageIds = absl::btree_map<std::string, std::unique_ptr<StageCheck>, std::less<>>;
  std::unordered_map<std::string, StageIds> index_by_stage_;
  uint64_t rules_tag_ = 0;  // RulesTag of the rules in force
  // No indexed lead's re-check is due before this (a lower bound): most intervals skip the walk.
  // During a walk it holds only what changed since the walk began (an entry filed or re-timed);
  // the walk adds its own minimum when it ends.
  EpochSeconds earliest_check_ = 0;
  // The walk of the stage index under way: the stage names as they were when it began, the one
  // it is in, and the last id it visited there (resumed by key: entries come and go meanwhile).
  struct DueWalk {
    bool active = false;
    std::vector<std::string> stages;
    size_t stage = 0;
    bool resume = false;  // `after` holds the last id visited in stages[stage]
    std::string after;
    EpochSeconds earliest = 0;  // the smallest next check the walk has seen
  };
  DueWalk walk_;
  // The due ids the walk found and the re-check has still to visit, from checks_next_ on.
  std::vector<std::string> checks_due_;
  size_t checks_next_ = 0;
  EpochSeconds checks_at_ = 0;  // when the walk began: no lead is re-checked at an earlier time
  LeadEntry* lru_head_ = nullptr;
  LeadEntry* lru_tail_ = nullptr;
  size_t lru_size_ = 0;
  uint64_t lead_count_ = 0;  // leads known, in memory or not
  // Every lead id the store may hold, so that a new lead is created without a store lookup. At
  // start it holds the ids created since; a scan of the store's leads on lead_scan_thread_ brings
  // the rest (AdoptScannedLeads), and until then every miss asks the store.
  LeadIdFilter known_leads_;
  bool known_leads_complete_ = false;
  std::thread lead_scan_thread_;
  std::atomic<bool> lead_scan_stop_{false};
  bool lead_count_dirty_ = false;
  // Cluster mode: lead_count_ by partition of the lead's id (EngineOptions::lead_partitions).
  std::vector<uint64_t> leads_by_partition_;
  // EngineOptions::lead_partitions, or the stream's count (SetLeadPartitions).
  uint32_t lead_partitions_ = 0;
  uint64_t inflight_generation_ = 0;  // the commit_generation_ of the batch in flight
  CommitBatch batch_;
  Outbox outbox_;
  std::vector<LeadEntry*> dirty_;
  // The batch in flight on the commit thread (valid while commit_in_flight_).
  SealedCommit inflight_;
  // Loop sleeps for a task or for the commit thread's write (a hint for producers).
  std::atomic<bool> waiting_{false};
  bool commit_in_flight_ = false;  // engine thread
  // The messageIds within the dedupe window, in memory; each commit logs its new ones as a block.
  DedupeIndex dedupe_;
  uint64_t next_dedupe_block_ = 1;
  std::string dedupe_block_scratch_;
  std::vector<Completion> completions_;
  std::vector<std::function<void()>> after_commit_;
  std::unique_ptr<Router> router_;
  // Cluster mode's router (EngineOptions::routing_log): its records feed the outbox.
  ReplicaSink replica_sink_{this};
  std::unique_ptr<RouterReplica> replica_;
  // The router's rules once the routing log gave it some (kRules), and their bucket revision;
  // until then (0) it routes under the engine's.
  std::shared_ptr<const Scorer> replica_scorer_;
  uint64_t replica_rules_revision_ = 0;
  std::string replica_rules_sha_;
  // A re-evaluation asked (ReevaluateStages in cluster mode) under the rules of this sha256:
  // logged once the router has them too, so the stage changes it causes reach the routers after
  // the rules do. Empty: none waiting.
  std::string reevaluate_under_;
  std::vector<RoutingInput> routing_out_;  // logged with the next commit
  // Inputs committed and not yet in the log, oldest first: stored as meta, one value per commit
  // (a chunk), so a crash loses none (logged again at start). Inputs are counted from this
  // start: the log has the first routing_stored_; a chunk goes once the log has its `end`.
  struct PendingChunk {
    uint64_t number = 0;
    uint64_t end = 0;  // inputs logged up to and with this chunk
  };
  std::deque<PendingChunk> pending_chunks_;
  uint64_t next_pending_chunk_ = 1;
  uint64_t pending_logged_ = 0;
  bool pending_range_dirty_ = false;
  uint64_t routing_trimmed_ = 0;
  std::atomic<uint64_t> routing_stored_{0};  // the log's thread adds, the engine's reads
  // The apply order of the log event being applied (ApplyBatch), which places the inputs it
  // causes; unlike apply_order_, not moved by the replay of a merged lead's later events.
  uint64_t event_order_ = 0;
  uint64_t last_input_order_ = 0;
  uint32_t input_index_ = 0;
  bool routing_live_ = false;       // a non-replay routing batch was applied since start
  bool replaying_routing_ = false;  // applying a RoutingBatch::replay
  uint64_t replayed_seq_ = 0;       // records a replay found in the outbox already
  // Inputs this node logged and waits for (sales answers, admin changes): request -> done, run
  // after the commit of this node's router applying it.
  // null: not confirmed within kAskedTimeout (the log did not take it, NATS being down, say).
  struct Asked {
    EpochSeconds deadline = 0;
    std::function<void(const ReplicaOutcome*)> done;
  };
  std::unordered_map<uint64_t, Asked> asked_;
  uint64_t next_request_ = 0;  // its high bits differ from boot to boot
  IdentityMap identity_;
  // Cluster mode: ids whose lead went to another node's engine (HandOverLead) -> the lead it
  // went into. Not links: the lead may come back here (ImportLead, when this node holds both
  // partitions). Stored in the links column as "\0<after_seq>\0<into>". Guarded like identity_.
  struct HandedOver {
    std::string into;
    uint64_t after_seq = 0;  // the log sequence of the hand-over request
  };
  // Ids handed over from here (HandOverLead) and ids moved in from another node (MarkMovedIn).
  StringMap<HandedOver> handed_over_;
  // Imported leads' later events (LeadHandOver::later), applied after the merge that takes them.
  StringMap<std::vector<HistoryEntry>> after_merge_;
  // Writes to identity_ (engine thread) hold it exclusively, MergedInto (other threads) shared;
  // the engine thread reads identity_ without it.
  mutable std::shared_mutex identity_mu_;
  HistoryLog history_;
  std::vector<AwardedPoints> awarded_scratch_;
  LoggedAwards awards_scratch_;
  // The batch event being applied and its history bytes encoded by Submit (null: none), for
  // LogApplied; any other event (a merge's, a cluster batch's unprepared one) is encoded there.
  const Event* prepared_event_ = nullptr;
  std::string_view prepared_bytes_;
  // The event being applied's EventOrigin::apply_order (cluster mode), for its history entry;
  // 0 outside ApplyBatch.
  uint64_t apply_order_ = 0;
  EpochSeconds next_history_trim_ = 0;
  // The funnel (SPEC 12): fed by Publish, flushed with every seal.
  Funnel funnel_;
  RulesManager rules_manager_;  // last: its thread calls into the members above
  uint64_t commit_generation_ = 1;
  size_t events_in_commit_ = 0;
  EpochSeconds next_stage_check_ = 0;
  EpochSeconds next_trim_ = 0;
  std::vector<double> score_scratch_;
  std::string encode_scratch_;
  std::vector<SealKey> seal_order_;
  std::string pin_scratch_;
  EpochSeconds applying_received_at_ = 0;  // the receive time of the event being applied, or 0
  std::vector<FunnelRule> funnel_rules_scratch_;
  // Leads whose stored state cannot be read (corrupt bytes, a read error): their events are
  // not applied, and the stored copy is left as it is until an erasure removes it.
  std::set<std::string, std::less<>> unreadable_;
  // Leads deleted (merged away, erased) in a batch not yet committed, by that batch's
  // commit_generation_: the store still holds them, so FindEntry must not read them back.
  std::map<std::string, uint64_t, std::less<>> deleted_uncommitted_;
  std::vector<std::vector<ScorePart>> breakdown_scratch_;
  uint64_t funnel_metrics_version_ = 0;
  EpochSeconds next_funnel_metrics_ = 0;
  // Bumped whenever the leads per stage may have changed (a lead counted, indexed under a stage
  // or taken out of one), which needs no record: a new lead, an erasure.
  uint64_t stage_counts_version_ = 0;
  // What /metrics' funnel figures are made of: the records' funnel and the leads per stage.
  uint64_t FunnelFiguresVersion() const { return funnel_.version() + stage_counts_version_; }
  // That version at the end of the last pass, and the one /metrics shows (written by the
  // engine thread, read by FunnelMetricsCurrent).
  std::atomic<uint64_t> funnel_version_seen_{0};
  std::atomic<uint64_t> funnel_version_rendered_{0};
  EpochSeconds next_funnel_trim_ = 0;
  EpochSeconds next_memory_report_ = 0;
  // Start: pinned leads whose stored stage the rules no longer have (LeaveVanishedStages).
  std::vector<VanishedStage> vanished_at_start_;
};

}  // namespace handoff
