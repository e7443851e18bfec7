// FunnelFact and FunnelTotals: what one outbox record adds to the funnel (SPEC 12), and the sum
// of many, for an hour or for any window.
//
// The funnel never re-reads records: as the engine writes each record it makes one FunnelFact
// (funnel/funnel.h), and totals are sums of facts. Sums add up (Merge), so an answer for a window
// is the totals of its whole hours plus the facts of its two partial ones, and every figure of
// `GET /v1/funnel` is a field here. Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "funnel/latency_histogram.h"
#include "handoff/clock.h"
#include "outbox/outbox_record.h"

namespace handoff {

// A rule that had awarded a lead points when it was routed: the rule's id and its score's name.
struct FunnelRule {
  std::string rule;
  std::string score;
  // clang-tidy 14 reads the defaulted <=>'s comparison with 0 as a null pointer.
  auto operator<=>(const FunnelRule&) const = default;  // NOLINT(modernize-use-nullptr)
};

// One record's part in the funnel.
struct FunnelFact {
  uint64_t seq = 0;
  EpochSeconds at = 0;
  OutboxKind kind = OutboxKind::kStage;
  std::string team;  // the record's team, else the team of the lead's open owner; "" for none
  std::string rep;
  std::string from;                  // stage records
  std::string to;                    // stage records
  std::string outcome;               // closed
  std::optional<double> amount;      // closed, when the close gave one
  std::optional<double> latency_ms;  // routed: since the qualifying event; accepted: since routed
  std::vector<FunnelRule> rules;     // closed won or lost: the rules of the lead when routed

  void Encode(std::string* out) const;
  // False on bytes Encode did not make.
  [[nodiscard]] bool Decode(std::string_view in);
};

struct FunnelRepTotals {
  std::string team;           // the team of its latest record
  EpochSeconds team_at = -1;  // that record's time
  uint64_t routed = 0;
  uint64_t accepted = 0;
  uint64_t won = 0;
  uint64_t lost = 0;
  double won_amount = 0;
  bool operator==(const FunnelRepTotals&) const = default;
};

struct FunnelRuleTotals {
  uint64_t closed = 0;  // won + lost
  uint64_t won = 0;
  double won_amount = 0;
  bool operator==(const FunnelRuleTotals&) const = default;
};

struct FunnelTotals {
  std::map<std::string, uint64_t> transitions;  // "new>mql" -> count
  uint64_t routed = 0;
  uint64_t reassigned = 0;
  uint64_t escalated = 0;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t unrouted = 0;
  std::map<std::string, uint64_t> closed;  // outcome -> count
  double won_amount = 0;
  LatencyHistogram to_routed;    // qualifying event -> routed
  LatencyHistogram to_accepted;  // routed -> accepted
  std::map<std::string, FunnelRepTotals> reps;
  std::map<FunnelRule, FunnelRuleTotals> rules;

  void Add(const FunnelFact& fact);
  void Merge(const FunnelTotals& other);
  bool empty() const { return *this == FunnelTotals(); }
  uint64_t Closed(std::string_view outcome) const;

  void Encode(std::string* out) const;
  // False (and the totals unchanged) on bytes Encode did not make.
  [[nodiscard]] bool Decode(std::string_view in);

  bool operator==(const FunnelTotals&) const = default;
};

}  // namespace handoff
