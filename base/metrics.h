// Metrics: the daemon's counters, gauges and histogram, rendered in Prometheus text format.
//
// Fixed-label counters (by transport, by reject reason) are lock-free atomics, bumped on the data
// path. Counters whose labels are only known at run time (stage transitions, routed by team) sit
// behind a mutex; they change far less often than events. All methods are thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "handoff/event.h"

namespace handoff {

enum class Transport : uint8_t { kTcp = 0, kHttp = 1 };
inline constexpr int kTransportCount = 2;
std::string_view TransportName(Transport t);

// Reject reasons are the error codes of SPEC 2; index with EventError (ingest/event_parser.h).
inline constexpr int kRejectReasonCount = 6;

// The parts of the daemon's memory that grow with the data, reported as
// handoff_memory_bytes{part="..."}, beside handoff_leads_in_memory, so an operator can size
// `lead_cache` and the dedupe window against a budget (bench/README.md, the many-leads row).
enum class MemoryPart : uint8_t {
  kDedupeIndex = 0,    // the messageId index's tables
  kStoreMemtables,     // RocksDB memtables, every column family
  kStoreTableReaders,  // RocksDB index and filter blocks held outside the block cache
  kStoreBlockCache,    // RocksDB block cache in use
  kStageIndex,         // the engine's index of staged leads (estimated per entry)
  kLeadIdFilter,       // the engine's filter of lead ids the store may hold
  kStoreLeadJournal,   // lead states changed since the store's last checkpoint (in memory)
  kOutboxRecent,       // the newest outbox records, kept for readers (outbox/recent_records.h)
};
inline constexpr int kMemoryPartCount = 8;
std::string_view MemoryPartName(MemoryPart part);

class Metrics {
 public:
  Metrics();

  void EventsReceived(Transport t, uint64_t n) { received_[Idx(t)].fetch_add(n, kRelaxed); }
  void EventsApplied(Transport t, uint64_t n) { applied_[Idx(t)].fetch_add(n, kRelaxed); }
  void EventsDuplicate(Transport t, uint64_t n) { duplicate_[Idx(t)].fetch_add(n, kRelaxed); }
  // `reason` is an EventError value; its name comes from EventErrorCode.
  void EventRejected(Transport t, int reason) { rejected_[Idx(t)][reason].fetch_add(1, kRelaxed); }
  // Receive-to-durable latency of `count` events that shared one commit.
  void ObserveApplyLatency(double seconds, uint64_t count);

  void SetLeads(uint64_t n) { leads_.store(n, kRelaxed); }
  // Leads held in memory (the bounded cache and the pinned ones).
  void SetLeadsInMemory(uint64_t n) { leads_in_memory_.store(n, kRelaxed); }
  void SetMemory(MemoryPart part, uint64_t bytes) {
    memory_[static_cast<int>(part)].store(bytes, kRelaxed);
  }
  uint64_t leads() const { return leads_.load(kRelaxed); }
  uint64_t leads_in_memory() const { return leads_in_memory_.load(kRelaxed); }
  void SetOutboxHead(uint64_t seq) { outbox_head_.store(seq, kRelaxed); }
  // Cluster mode: partitions of the event log this node holds a lease for.
  void AddClusterPartitions(int64_t delta) { cluster_partitions_.fetch_add(delta, kRelaxed); }
  void SetSubscribers(int64_t n) { subscribers_.store(n, kRelaxed); }
  void AddSubscribers(int64_t delta) { subscribers_.fetch_add(delta, kRelaxed); }
  void SetRulesVersion(uint64_t v) { rules_version_.store(v, kRelaxed); }
  void RuleReload(bool ok) { (ok ? reload_ok_ : reload_failed_).fetch_add(1, kRelaxed); }
  void StageTransition(std::string_view from, std::string_view to);
  void Routed(std::string_view team, std::string_view reason);
  void Merged() { merges_.fetch_add(1, kRelaxed); }
  // The store refused a write (reason: its error); the store is unhealthy until StoreWritesOk.
  void StoreWriteFailed(std::string reason);
  void StoreWritesOk();
  // Empty while the store takes writes; else why it does not (for /healthz).
  std::string StoreError() const;
  // Error replies not queued for a client that does not read them (ingest over TCP).
  void RepliesDropped(uint64_t n) { replies_dropped_.fetch_add(n, kRelaxed); }
  void Erased() { erasures_.fetch_add(1, kRelaxed); }
  // An event not applied because its lead's stored state cannot be read.
  void UnreadableLeadEvent() { unreadable_lead_events_.fetch_add(1, kRelaxed); }
  void CommitDone(uint64_t bytes) {
    commits_.fetch_add(1, kRelaxed);
    commit_bytes_.fetch_add(bytes, kRelaxed);
  }

  // The funnel's figures (SPEC 12), already in the exposition format; rendered by the engine as
  // they change and appended to RenderPrometheus as they are. Any thread.
  void SetFunnelText(std::string text) {
    std::lock_guard<std::mutex> lock(extra_mu_);
    funnel_text_ = std::move(text);
  }
  // Approximate quantile of the apply latency histogram (for logs and load reports).
  double ApplyLatencyQuantile(double q) const;

  // The whole exposition, every metric prefixed handoff_.
  std::string RenderPrometheus() const;

 private:
  static constexpr auto kRelaxed = std::memory_order_relaxed;
  static int Idx(Transport t) { return static_cast<int>(t); }
  // Upper bounds in seconds; one more bucket counts +Inf.
  static constexpr std::array<double, 16> kLatencyBounds = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
      0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,   10};

  std::array<std::atomic<uint64_t>, kTransportCount> received_{};
  std::array<std::atomic<uint64_t>, kTransportCount> applied_{};
  std::array<std::atomic<uint64_t>, kTransportCount> duplicate_{};
  std::array<std::array<std::atomic<uint64_t>, kRejectReasonCount>, kTransportCount> rejected_{};
  std::array<std::atomic<uint64_t>, kLatencyBounds.size() + 1> latency_buckets_{};
  std::atomic<uint64_t> latency_count_{0};
  std::atomic<double> latency_sum_{0};
  std::atomic<uint64_t> leads_{0};
  std::atomic<uint64_t> leads_in_memory_{0};
  std::array<std::atomic<uint64_t>, kMemoryPartCount> memory_{};
  std::atomic<uint64_t> outbox_head_{0};
  std::atomic<int64_t> cluster_partitions_{0};
  std::atomic<int64_t> subscribers_{0};
  std::atomic<uint64_t> rules_version_{0};
  std::atomic<uint64_t> reload_ok_{0};
  std::atomic<uint64_t> reload_failed_{0};
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> merges_{0};
  std::atomic<uint64_t> replies_dropped_{0};
  std::atomic<uint64_t> store_write_errors_{0};
  mutable std::mutex store_error_mu_;
  std::string store_error_;  // guarded by store_error_mu_
  std::atomic<uint64_t> erasures_{0};
  std::atomic<uint64_t> unreadable_lead_events_{0};
  std::atomic<uint64_t> commit_bytes_{0};

  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> stage_transitions_;
  std::map<std::pair<std::string, std::string>, uint64_t> routed_;
  mutable std::mutex extra_mu_;
  std::string funnel_text_;  // guarded by extra_mu_
};

}  // namespace handoff
