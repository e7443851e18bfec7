#include "base/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace handoff {
namespace {

// One exposition, parsed just enough to check it: samples by "name{labels}" and the declared
// families with their types, in order.
struct Exposition {
  std::map<std::string, double> samples;
  std::vector<std::string> sample_order;
  std::map<std::string, std::string> types;  // family -> counter/gauge/histogram
  std::set<std::string> helps;
};

// Parses the text, failing the test on any line that is not `# HELP`, `# TYPE` or a sample of a
// family already declared, or whose value is not a number.
Exposition Parse(const std::string& text) {
  Exposition e;
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("# HELP ")) {
      const std::string rest = line.substr(7);
      const std::string name = rest.substr(0, rest.find(' '));
      EXPECT_TRUE(e.helps.insert(name).second) << "second HELP for " << name;
      EXPECT_GT(rest.size(), name.size() + 1) << "empty HELP for " << name;
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      const std::string rest = line.substr(7);
      const size_t space = rest.find(' ');
      const std::string name = rest.substr(0, space);
      EXPECT_TRUE(e.helps.contains(name)) << "TYPE before HELP for " << name;
      EXPECT_TRUE(e.types.emplace(name, rest.substr(space + 1)).second)
          << "second TYPE for " << name;
      continue;
    }
    const size_t space = line.rfind(' ');
    EXPECT_NE(space, std::string::npos) << line;
    if (space == std::string::npos) {
      continue;
    }
    const std::string key = line.substr(0, space);
    const std::string value = line.substr(space + 1);
    std::string name = key.substr(0, key.find('{'));
    EXPECT_TRUE(name.starts_with("handoff_")) << line;
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (name.ends_with(suffix) && !e.types.contains(name)) {
        family = name.substr(0, name.size() - std::string(suffix).size());
        auto type = e.types.find(family);
        EXPECT_TRUE(type != e.types.end() && type->second == "histogram") << line;
      }
    }
    EXPECT_TRUE(e.types.contains(family)) << "sample before its TYPE: " << line;
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    EXPECT_TRUE(!value.empty() && *end == '\0') << "not a number: " << line;
    EXPECT_TRUE(e.samples.emplace(key, v).second) << "duplicate sample: " << line;
    e.sample_order.push_back(key);
  }
  return e;
}

double Sample(const Exposition& e, const std::string& key) {
  auto it = e.samples.find(key);
  EXPECT_NE(it, e.samples.end()) << "no sample " << key;
  return it == e.samples.end() ? std::nan("") : it->second;
}

constexpr double kInf = std::numeric_limits<double>::infinity();
const std::vector<double> kBounds = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                     0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                     0.5,     1,      2.5,     10,     kInf};

// The latency buckets in the order printed, as (le, cumulative count). The bound is read as a
// number: Prometheus parses `le`, so "1e-04" and "0.0001" are the same bucket.
std::vector<std::pair<double, double>> Buckets(const Exposition& e) {
  const std::string prefix = "handoff_apply_latency_seconds_bucket{le=\"";
  std::vector<std::pair<double, double>> buckets;
  for (const std::string& key : e.sample_order) {
    if (!key.starts_with(prefix)) {
      continue;
    }
    const std::string le = key.substr(prefix.size(), key.size() - prefix.size() - 2);
    EXPECT_EQ(key.substr(key.size() - 2), "\"}") << key;
    char* end = nullptr;
    const double bound = std::strtod(le.c_str(), &end);
    EXPECT_TRUE(!le.empty() && *end == '\0') << key;
    buckets.emplace_back(bound, e.samples.at(key));
  }
  return buckets;
}

// The cumulative count of the bucket whose bound is `le`.
double BucketCount(const Exposition& e, double le) {
  for (const auto& [bound, count] : Buckets(e)) {
    if (bound == le) {
      return count;
    }
  }
  ADD_FAILURE() << "no bucket le=" << le;
  return std::nan("");
}

TEST(MetricsTest, FreshMetricsRenderEveryFamilyAtZeroAndTheStoreHealthy) {
  Metrics m;
  const Exposition e = Parse(m.RenderPrometheus());
  const std::map<std::string, std::string> expected_types = {
      {"handoff_events_received_total", "counter"},
      {"handoff_events_applied_total", "counter"},
      {"handoff_events_duplicate_total", "counter"},
      {"handoff_events_rejected_total", "counter"},
      {"handoff_apply_latency_seconds", "histogram"},
      {"handoff_leads", "gauge"},
      {"handoff_leads_in_memory", "gauge"},
      {"handoff_memory_bytes", "gauge"},
      {"handoff_stage_transitions_total", "counter"},
      {"handoff_routed_total", "counter"},
      {"handoff_rule_reloads_total", "counter"},
      {"handoff_rules_version", "gauge"},
      {"handoff_subscribers", "gauge"},
      {"handoff_outbox_head", "gauge"},
      {"handoff_cluster_partitions", "gauge"},
      {"handoff_commits_total", "counter"},
      {"handoff_commit_bytes_total", "counter"},
      {"handoff_identity_merges_total", "counter"},
      {"handoff_leads_erased_total", "counter"},
      {"handoff_unreadable_lead_events_total", "counter"},
      {"handoff_store_healthy", "gauge"},
      {"handoff_store_write_errors_total", "counter"},
      {"handoff_replies_dropped_total", "counter"},
  };
  EXPECT_EQ(e.types, expected_types);
  for (const auto& [key, value] : e.samples) {
    EXPECT_EQ(value, key == "handoff_store_healthy" ? 1 : 0) << key;
  }
  EXPECT_EQ(Sample(e, "handoff_events_received_total{transport=\"tcp\"}"), 0);
  EXPECT_EQ(Sample(e, "handoff_events_received_total{transport=\"http\"}"), 0);
  EXPECT_EQ(Sample(e, "handoff_leads"), 0);
  EXPECT_EQ(Sample(e, "handoff_apply_latency_seconds_count"), 0);
  EXPECT_EQ(Sample(e, "handoff_apply_latency_seconds_sum"), 0);
  EXPECT_EQ(m.StoreError(), "");
  // Label sets only known at run time have no samples yet.
  for (const std::string& key : e.sample_order) {
    EXPECT_FALSE(key.starts_with("handoff_stage_transitions_total")) << key;
    EXPECT_FALSE(key.starts_with("handoff_routed_total")) << key;
  }
}

TEST(MetricsTest, EventCountersByTransport) {
  Metrics m;
  m.EventsReceived(Transport::kTcp, 3);
  m.EventsReceived(Transport::kTcp, 4);
  m.EventsReceived(Transport::kHttp, 5);
  m.EventsApplied(Transport::kTcp, 2);
  m.EventsApplied(Transport::kHttp, 1);
  m.EventsDuplicate(Transport::kHttp, 9);
  const Exposition e = Parse(m.RenderPrometheus());
  EXPECT_EQ(Sample(e, "handoff_events_received_total{transport=\"tcp\"}"), 7);
  EXPECT_EQ(Sample(e, "handoff_events_received_total{transport=\"http\"}"), 5);
  EXPECT_EQ(Sample(e, "handoff_events_applied_total{transport=\"tcp\"}"), 2);
  EXPECT_EQ(Sample(e, "handoff_events_applied_total{transport=\"http\"}"), 1);
  EXPECT_EQ(Sample(e, "handoff_events_duplicate_total{transport=\"tcp\"}"), 0);
  EXPECT_EQ(Sample(e, "handoff_events_duplicate_total{transport=\"http\"}"), 9);
}

TEST(MetricsTest, TransportNames) {
  EXPECT_EQ(TransportName(Transport::kTcp), "tcp");
  EXPECT_EQ(TransportName(Transport::kHttp), "http");
}

// One sample per reason (by its SPEC 2 code) and transport; kNone is not a reason.
TEST(MetricsTest, RejectedByReasonAndTransport) {
  ASSERT_EQ(kRejectReasonCount, kEventErrorCount);
  Metrics m;
  m.EventRejected(Transport::kTcp, static_cast<int>(EventError::kInvalidJson));
  m.EventRejected(Transport::kTcp, static_cast<int>(EventError::kInvalidJson));
  m.EventRejected(Transport::kHttp, static_cast<int>(EventError::kUnsupportedType));
  m.EventRejected(Transport::kTcp, static_cast<int>(EventError::kLineTooLong));
  const Exposition e = Parse(m.RenderPrometheus());
  auto key = [](const char* reason, const char* transport) {
    return std::string("handoff_events_rejected_total{reason=\"") + reason + "\",transport=\"" +
           transport + "\"}";
  };
  EXPECT_EQ(Sample(e, key("invalid_json", "tcp")), 2);
  EXPECT_EQ(Sample(e, key("invalid_json", "http")), 0);
  EXPECT_EQ(Sample(e, key("line_too_long", "tcp")), 1);
  EXPECT_EQ(Sample(e, key("unsupported_type", "http")), 1);
  EXPECT_EQ(Sample(e, key("unsupported_type", "tcp")), 0);
  int rejected_samples = 0;
  for (const std::string& k : e.sample_order) {
    if (k.starts_with("handoff_events_rejected_total")) {
      ++rejected_samples;
      EXPECT_EQ(k.find("reason=\"\""), std::string::npos) << k;
    }
  }
  EXPECT_EQ(rejected_samples, (kEventErrorCount - 1) * kTransportCount);
}

TEST(MetricsTest, GaugesAndSimpleCounters) {
  Metrics m;
  m.SetLeads(1234);
  m.SetOutboxHead(99);
  m.SetSubscribers(2);
  m.AddSubscribers(3);
  m.AddSubscribers(-1);
  m.SetRulesVersion(7);
  m.RuleReload(true);
  m.RuleReload(true);
  m.RuleReload(false);
  m.CommitDone(100);
  m.CommitDone(50);
  m.AddClusterPartitions(3);
  m.AddClusterPartitions(-1);
  const Exposition e = Parse(m.RenderPrometheus());
  EXPECT_EQ(Sample(e, "handoff_leads"), 1234);
  EXPECT_EQ(Sample(e, "handoff_cluster_partitions"), 2);
  EXPECT_EQ(Sample(e, "handoff_outbox_head"), 99);
  EXPECT_EQ(Sample(e, "handoff_subscribers"), 4);
  EXPECT_EQ(Sample(e, "handoff_rules_version"), 7);
  EXPECT_EQ(Sample(e, "handoff_rule_reloads_total{result=\"ok\"}"), 2);
  EXPECT_EQ(Sample(e, "handoff_rule_reloads_total{result=\"error\"}"), 1);
  EXPECT_EQ(Sample(e, "handoff_commits_total"), 2);
  EXPECT_EQ(Sample(e, "handoff_commit_bytes_total"), 150);
  m.SetLeadsInMemory(321);
  m.SetMemory(MemoryPart::kDedupeIndex, 1 << 20);
  m.SetMemory(MemoryPart::kStoreBlockCache, 4096);
  m.SetMemory(MemoryPart::kOutboxRecent, 777);
  const Exposition memory = Parse(m.RenderPrometheus());
  EXPECT_EQ(Sample(memory, "handoff_leads_in_memory"), 321);
  EXPECT_EQ(Sample(memory, R"(handoff_memory_bytes{part="dedupe_index"})"), 1 << 20);
  EXPECT_EQ(Sample(memory, R"(handoff_memory_bytes{part="store_block_cache"})"), 4096);
  EXPECT_EQ(Sample(memory, R"(handoff_memory_bytes{part="store_memtables"})"), 0);
  EXPECT_EQ(Sample(memory, R"(handoff_memory_bytes{part="store_table_readers"})"), 0);
  EXPECT_EQ(Sample(memory, R"(handoff_memory_bytes{part="outbox_recent"})"), 777);
  // Set replaces; it does not add.
  m.SetLeads(5);
  EXPECT_EQ(Sample(Parse(m.RenderPrometheus()), "handoff_leads"), 5);
}

TEST(MetricsTest, LargeCountersReadBack) {
  Metrics m;
  m.EventsReceived(Transport::kTcp, 1'000'000);
  m.SetOutboxHead(123'456'789'012);
  const Exposition e = Parse(m.RenderPrometheus());
  EXPECT_EQ(Sample(e, "handoff_events_received_total{transport=\"tcp\"}"), 1e6);
  EXPECT_EQ(Sample(e, "handoff_outbox_head"), 123'456'789'012.0);
}

TEST(MetricsTest, StageTransitionsAndRoutedByLabels) {
  Metrics m;
  m.StageTransition("new", "mql");
  m.StageTransition("new", "mql");
  m.StageTransition("mql", "sql");
  m.Routed("enterprise", "weighted_round_robin");
  m.Routed("enterprise", "account_owner");
  m.Routed("smb", "weighted_round_robin");
  m.Routed("enterprise", "account_owner");
  const Exposition e = Parse(m.RenderPrometheus());
  EXPECT_EQ(Sample(e, "handoff_stage_transitions_total{from=\"new\",to=\"mql\"}"), 2);
  EXPECT_EQ(Sample(e, "handoff_stage_transitions_total{from=\"mql\",to=\"sql\"}"), 1);
  EXPECT_EQ(Sample(e, "handoff_routed_total{team=\"enterprise\",reason=\"account_owner\"}"), 2);
  EXPECT_EQ(Sample(e, "handoff_routed_total{team=\"enterprise\",reason=\"weighted_round_robin\"}"),
            1);
  EXPECT_EQ(Sample(e, "handoff_routed_total{team=\"smb\",reason=\"weighted_round_robin\"}"), 1);
}

// Stage and team names come from the rule files: a quote, backslash or newline in one must not
// break the exposition (Prometheus escapes exactly these three in label values).
TEST(MetricsTest, LabelValuesAreEscaped) {
  Metrics m;
  m.StageTransition("a\"b", "c\\d");
  m.Routed("line\nbreak", "");
  const std::string text = m.RenderPrometheus();
  EXPECT_NE(text.find("handoff_stage_transitions_total{from=\"a\\\"b\",to=\"c\\\\d\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("handoff_routed_total{team=\"line\\nbreak\",reason=\"\"} 1\n"),
            std::string::npos)
      << text;
  Parse(text);  // and every line still parses
}

TEST(MetricsTest, LatencyHistogramBucketsAreCumulative) {
  Metrics m;
  m.ObserveApplyLatency(0.00003, 1);  // first bucket
  m.ObserveApplyLatency(0.0007, 2);   // le 0.001
  m.ObserveApplyLatency(0.3, 1);      // le 0.5
  m.ObserveApplyLatency(60, 1);       // only +Inf
  const Exposition e = Parse(m.RenderPrometheus());
  const std::vector<double> expected = {1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 5};
  ASSERT_EQ(kBounds.size(), expected.size());
  std::vector<std::pair<double, double>> want;
  for (size_t i = 0; i < kBounds.size(); ++i) {
    want.emplace_back(kBounds[i], expected[i]);
  }
  // Every bound, in increasing order, +Inf last, with cumulative counts.
  EXPECT_EQ(Buckets(e), want);
  EXPECT_EQ(Sample(e, "handoff_apply_latency_seconds_count"), 5);
  EXPECT_DOUBLE_EQ(Sample(e, "handoff_apply_latency_seconds_sum"), 0.00003 + 2 * 0.0007 + 0.3 + 60);
  EXPECT_NE(m.RenderPrometheus().find("handoff_apply_latency_seconds_bucket{le=\"+Inf\"} 5\n"),
            std::string::npos);
}

// Prometheus buckets are "less than or equal": a latency exactly on a bound counts in it.
TEST(MetricsTest, LatencyOnABoundCountsInThatBucket) {
  Metrics m;
  m.ObserveApplyLatency(0.001, 1);
  m.ObserveApplyLatency(10, 1);
  const Exposition e = Parse(m.RenderPrometheus());
  EXPECT_EQ(BucketCount(e, 0.0005), 0);
  EXPECT_EQ(BucketCount(e, 0.001), 1);
  EXPECT_EQ(BucketCount(e, 2.5), 1);
  EXPECT_EQ(BucketCount(e, 10), 2);
  EXPECT_EQ(BucketCount(e, kInf), 2);
}

// One commit observes the latency of all its events at once.
TEST(MetricsTest, LatencyCountWeighsTheObservation) {
  Metrics m;
  m.ObserveApplyLatency(0.002, 1000);
  const Exposition e = Parse(m.RenderPrometheus());
  EXPECT_EQ(BucketCount(e, 0.001), 0);
  EXPECT_EQ(BucketCount(e, 0.0025), 1000);
  EXPECT_EQ(Sample(e, "handoff_apply_latency_seconds_count"), 1000);
  EXPECT_DOUBLE_EQ(Sample(e, "handoff_apply_latency_seconds_sum"), 2);
  // A commit without events observes nothing.
  m.ObserveApplyLatency(5, 0);
  const Exposition again = Parse(m.RenderPrometheus());
  EXPECT_EQ(Sample(again, "handoff_apply_latency_seconds_count"), 1000);
  EXPECT_EQ(BucketCount(again, 10), 1000);
}

TEST(MetricsTest, QuantileOfNothingIsZero) {
  Metrics m;
  EXPECT_EQ(m.ApplyLatencyQuantile(0.5), 0);
  EXPECT_EQ(m.ApplyLatencyQuantile(1), 0);
}

// The quantile is the upper bound of the bucket holding it.
TEST(MetricsTest, QuantileIsTheBoundOfItsBucket) {
  Metrics m;
  m.ObserveApplyLatency(0.0007, 3);  // le 0.001
  m.ObserveApplyLatency(0.07, 1);    // le 0.1
  EXPECT_EQ(m.ApplyLatencyQuantile(0), 0.001);
  EXPECT_EQ(m.ApplyLatencyQuantile(0.5), 0.001);
  EXPECT_EQ(m.ApplyLatencyQuantile(0.6), 0.001);
  EXPECT_EQ(m.ApplyLatencyQuantile(0.9), 0.1);
  EXPECT_EQ(m.ApplyLatencyQuantile(0.99), 0.1);
}

// The maximum (q = 1) is the bucket of the largest observation, not the histogram's last bound.
TEST(MetricsTest, QuantileOneIsTheLargestObservationsBucket) {
  Metrics m;
  m.ObserveApplyLatency(0.0002, 10);
  EXPECT_EQ(m.ApplyLatencyQuantile(1), 0.00025);
  m.ObserveApplyLatency(0.02, 1);
  EXPECT_EQ(m.ApplyLatencyQuantile(1), 0.025);
}

// Observations past the last bound report the last bound: the histogram knows no more.
TEST(MetricsTest, QuantileInTheInfBucketIsTheLastBound) {
  Metrics m;
  m.ObserveApplyLatency(30, 2);
  EXPECT_EQ(m.ApplyLatencyQuantile(0.5), 10);
  EXPECT_EQ(m.ApplyLatencyQuantile(1), 10);
}

// Quantiles outside [0, 1] are clamped to it rather than read past the histogram.
TEST(MetricsTest, QuantileOutsideZeroToOneIsClamped) {
  Metrics m;
  m.ObserveApplyLatency(0.0002, 1);
  m.ObserveApplyLatency(0.2, 1);
  EXPECT_EQ(m.ApplyLatencyQuantile(-1), m.ApplyLatencyQuantile(0));
  EXPECT_EQ(m.ApplyLatencyQuantile(2), m.ApplyLatencyQuantile(1));
  EXPECT_EQ(m.ApplyLatencyQuantile(2), 0.25);
}

}  // namespace
}  // namespace handoff
