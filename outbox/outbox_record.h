// OutboxRecord: one stage change or routing decision (SPEC 9), its kinds, and its JSON form.
//
// Fields print in a fixed order (seq, kind, at, lead, then the kind's own fields, then stage,
// scores, traits, trigger); a field left empty is omitted. Views are borrowed: format the record
// before what it points to changes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "handoff/clock.h"
#include "handoff/value.h"
#include "rules/rule_set.h"

namespace handoff {

// The record kinds (SPEC 9); also the bit order of subscription kind filters.
enum class OutboxKind : uint8_t {
  kStage = 0,
  kRouted,
  kReassigned,
  kAccepted,
  kRejected,
  kClosed,
  kEscalated,
  kUnrouted,
};
inline constexpr int kOutboxKindCount = 8;

// "stage" -> kStage, ... (case-sensitive); nullopt for anything else.
std::optional<OutboxKind> OutboxKindFromName(std::string_view name);
std::string_view OutboxKindName(OutboxKind kind);

struct OutboxRecord {
  uint64_t seq = 0;
  OutboxKind kind = OutboxKind::kStage;
  EpochSeconds at = 0;
  std::string_view lead;
  std::string_view from;  // stage records: the stage before
  std::string_view to;    // stage records: the stage after
  std::string_view rep;
  std::string_view team;
  std::string_view reason;
  std::string_view from_rep;     // reassigned
  std::string_view outcome;      // closed
  std::optional<double> amount;  // closed: the deal value, when the close gave one
  std::string_view into;         // closed with outcome "merged": the lead it was merged into
  std::string_view stage;        // the lead's stage when the record was made
  // Scores by name; both null to omit.
  const std::vector<ScoreDef>* score_defs = nullptr;
  const double* scores = nullptr;
  const Value* traits = nullptr;
  std::string_view trigger;  // the messageId of the event that caused it
};

void AppendOutboxRecordJson(const OutboxRecord& record, std::string* out);

// {"name": value, ...} for every score.
void AppendScoresJson(const std::vector<ScoreDef>& defs, const double* scores, std::string* out);

}  // namespace handoff
