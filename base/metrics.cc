#include "base/metrics.h"

#include <algorithm>

#include "base/prometheus_text.h"
#include "handoff/value.h"

namespace handoff {
namespace {

void Line(std::string* out, std::string_view name, std::string_view labels, double value) {
  AppendPromLine(name, labels, value, out);
}

void Header(std::string* out, std::string_view name, std::string_view type, std::string_view help) {
  AppendPromHeader(name, type, help, out);
}

std::string LabelValue(std::string_view v) { return PromLabelValue(v); }

}  // namespace

std::string_view TransportName(Transport t) { return t == Transport::kTcp ? "tcp" : "http"; }

std::string_view MemoryPartName(MemoryPart part) {
  switch (part) {
    case MemoryPart::kDedupeIndex:
      return "dedupe_index";
    case MemoryPart::kStoreMemtables:
      return "store_memtables";
    case MemoryPart::kStoreTableReaders:
      return "store_table_readers";
    case MemoryPart::kStoreBlockCache:
      return "store_block_cache";
    case MemoryPart::kStageIndex:
      return "stage_index";
    case MemoryPart::kLeadIdFilter:
      return "lead_id_filter";
    case MemoryPart::kStoreLeadJournal:
      return "store_lead_journal";
    case MemoryPart::kOutboxRecent:
      return "outbox_recent";
  }
  return "unknown";
}

Metrics::Metrics() = default;

void Metrics::ObserveApplyLatency(double seconds, uint64_t count) {
  size_t b = 0;
  while (b < kLatencyBounds.size() && seconds > kLatencyBounds[b]) {
    ++b;
  }
  latency_buckets_[b].fetch_add(count, kRelaxed);
  latency_count_.fetch_add(count, kRelaxed);
  double sum = latency_sum_.load(kRelaxed);
  while (!latency_sum_.compare_exchange_weak(sum, sum + seconds * static_cast<double>(count),
                                             kRelaxed)) {
  }
}

double Metrics::ApplyLatencyQuantile(double q) const {
  uint64_t total = latency_count_.load(kRelaxed);
  if (total == 0) {
    return 0;
  }
  // The bucket of the observation of 0-based rank floor(q * total). Rank `total` does not exist,
  // so q = 1 (the maximum) takes the last observation; q below 0 (or NaN) is 0, as a negative
  // double cast to unsigned is undefined.
  if (!(q > 0)) {
    q = 0;
  }
  const uint64_t target =
      std::min(static_cast<uint64_t>(std::min(q, 1.0) * static_cast<double>(total)), total - 1);
  uint64_t seen = 0;
  for (size_t b = 0; b < latency_buckets_.size(); ++b) {
    seen += latency_buckets_[b].load(kRelaxed);
    if (seen > target) {
      return b < kLatencyBounds.size() ? kLatencyBounds[b] : kLatencyBounds.back();
    }
  }
  return kLatencyBounds.back();
}

void Metrics::StageTransition(std::string_view from, std::string_view to) {
  std::lock_guard<std::mutex> lock(mu_);
  ++stage_transitions_[{std::string(from), std::string(to)}];
}

void Metrics::Routed(std::string_view team, std::string_view reason) {
  std::lock_guard<std::mutex> lock(mu_);
  ++routed_[{std::string(team), std::string(reason)}];
}

std::string Metrics::RenderPrometheus() const {
  std::string out;
  out.reserve(4096);
  const Transport transports[] = {Transport::kTcp, Transport::kHttp};
  auto per_transport = [&](std::string_view name, std::string_view help,
                           const std::array<std::atomic<uint64_t>, kTransportCount>& values) {
    Header(&out, name, "counter", help);
    for (Transport t : transports) {
      Line(&out, name, "transport=\"" + std::string(TransportName(t)) + "\"",
           static_cast<double>(values[Idx(t)].load(kRelaxed)));
    }
  };
  per_transport("handoff_events_received_total", "Events received, by transport.", received_);
  per_transport("handoff_events_applied_total", "Events applied to a lead, by transport.",
                applied_);
  per_transport("handoff_events_duplicate_total",
                "Events acknowledged but not applied again (messageId seen), by transport.",
                duplicate_);
  Header(&out, "handoff_events_rejected_total", "counter",
         "Events rejected, by reason and transport.");
  for (Transport t : transports) {
    for (int r = 1; r < kRejectReasonCount; ++r) {
      Line(&out, "handoff_events_rejected_total",
           "reason=\"" + std::string(EventErrorCode(static_cast<EventError>(r))) +
               "\",transport=\"" + std::string(TransportName(t)) + "\"",
           static_cast<double>(rejected_[Idx(t)][r].load(kRelaxed)));
    }
  }

  Header(&out, "handoff_apply_latency_seconds", "histogram",
         "Time from an event's receipt to its durable commit.");
  uint64_t cumulative = 0;
  for (size_t b = 0; b < latency_buckets_.size(); ++b) {
    cumulative += latency_buckets_[b].load(kRelaxed);
    std::string le = "le=\"";
    if (b < kLatencyBounds.size()) {
      AppendJsonNumber(kLatencyBounds[b], &le);
    } else {
      le += "+Inf";
    }
    le += "\"";
    Line(&out, "handoff_apply_latency_seconds_bucket", le, static_cast<double>(cumulative));
  }
  Line(&out, "handoff_apply_latency_seconds_sum", "", latency_sum_.load(kRelaxed));
  Line(&out, "handoff_apply_latency_seconds_count", "",
       static_cast<double>(latency_count_.load(kRelaxed)));

  Header(&out, "handoff_leads", "gauge", "Leads known.");
  Line(&out, "handoff_leads", "", static_cast<double>(leads_.load(kRelaxed)));
  Header(&out, "handoff_leads_in_memory", "gauge",
         "Leads held in memory: the bounded lead cache and the pinned leads.");
  Line(&out, "handoff_leads_in_memory", "", static_cast<double>(leads_in_memory_.load(kRelaxed)));
  Header(&out, "handoff_memory_bytes", "gauge",
         "Memory of the parts that grow with the data, by part.");
  for (int p = 0; p < kMemoryPartCount; ++p) {
    std::string label = "part=\"";
    label += MemoryPartName(static_cast<MemoryPart>(p));
    label += "\"";
    Line(&out, "handoff_memory_bytes", label, static_cast<double>(memory_[p].load(kRelaxed)));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    Header(&out, "handoff_stage_transitions_total", "counter", "Stage changes, by from and to.");
    for (const auto& [key, n] : stage_transitions_) {
      Line(&out, "handoff_stage_transitions_total",
           "from=\"" + LabelValue(key.first) + "\",to=\"" + LabelValue(key.second) + "\"",
           static_cast<double>(n));
    }
    Header(&out, "handoff_routed_total", "counter", "Routing decisions, by team and reason.");
    for (const auto& [key, n] : routed_) {
      Line(&out, "handoff_routed_total",
           "team=\"" + LabelValue(key.first) + "\",reason=\"" + LabelValue(key.second) + "\"",
           static_cast<double>(n));
    }
  }
  Header(&out, "handoff_rule_reloads_total", "counter", "Rule loads, by result.");
  Line(&out, "handoff_rule_reloads_total", "result=\"ok\"",
       static_cast<double>(reload_ok_.load(kRelaxed)));
  Line(&out, "handoff_rule_reloads_total", "result=\"error\"",
       static_cast<double>(reload_failed_.load(kRelaxed)));
  Header(&out, "handoff_rules_version", "gauge", "Version of the rules in force.");
  Line(&out, "handoff_rules_version", "", static_cast<double>(rules_version_.load(kRelaxed)));
  Header(&out, "handoff_subscribers", "gauge", "Connected outbox subscribers.");
  Line(&out, "handoff_subscribers", "", static_cast<double>(subscribers_.load(kRelaxed)));
  Header(&out, "handoff_outbox_head", "gauge", "Sequence number of the newest outbox record.");
  Line(&out, "handoff_outbox_head", "", static_cast<double>(outbox_head_.load(kRelaxed)));
  Header(&out, "handoff_cluster_partitions", "gauge",
         "Cluster mode: partitions of the event log this node holds a lease for and applies.");
  Line(&out, "handoff_cluster_partitions", "",
       static_cast<double>(cluster_partitions_.load(kRelaxed)));
  Header(&out, "handoff_commits_total", "counter", "Group commits to the store.");
  Line(&out, "handoff_commits_total", "", static_cast<double>(commits_.load(kRelaxed)));
  Header(&out, "handoff_commit_bytes_total", "counter", "Bytes written by group commits.");
  Line(&out, "handoff_commit_bytes_total", "", static_cast<double>(commit_bytes_.load(kRelaxed)));
  Header(&out, "handoff_identity_merges_total", "counter",
         "Leads merged into another by an identity link (SPEC 8).");
  Line(&out, "handoff_identity_merges_total", "", static_cast<double>(merges_.load(kRelaxed)));
  Header(&out, "handoff_leads_erased_total", "counter", "Leads erased (DELETE /v1/leads/{id}).");
  Line(&out, "handoff_leads_erased_total", "", static_cast<double>(erasures_.load(kRelaxed)));
  Header(&out, "handoff_store_healthy", "gauge",
         "1 while the store takes writes; 0 while it refuses them (nothing is acknowledged).");
  Line(&out, "handoff_store_healthy", "", StoreError().empty() ? 1 : 0);
  Header(&out, "handoff_store_write_errors_total", "counter", "Failed writes to the store.");
  Line(&out, "handoff_store_write_errors_total", "",
       static_cast<double>(store_write_errors_.load(kRelaxed)));
  Header(&out, "handoff_replies_dropped_total", "counter",
         "TCP error replies counted instead of queued: the client was not reading them.");
  Line(&out, "handoff_replies_dropped_total", "",
       static_cast<double>(replies_dropped_.load(kRelaxed)));
  Header(&out, "handoff_unreadable_lead_events_total", "counter",
         "Events not applied: their lead's stored state cannot be read (see the log).");
  Line(&out, "handoff_unreadable_lead_events_total", "",
       static_cast<double>(unreadable_lead_events_.load(kRelaxed)));
  {
    std::lock_guard<std::mutex> lock(extra_mu_);
    out.append(funnel_text_);
  }
  return out;
}

void Metrics::StoreWriteFailed(std::string reason) {
  store_write_errors_.fetch_add(1, kRelaxed);
  std::lock_guard<std::mutex> lock(store_error_mu_);
  store_error_ = std::move(reason);
}

void Metrics::StoreWritesOk() {
  std::lock_guard<std::mutex> lock(store_error_mu_);
  store_error_.clear();
}

std::string Metrics::StoreError() const {
  std::lock_guard<std::mutex> lock(store_error_mu_);
  return store_error_;
}

}  // namespace handoff
