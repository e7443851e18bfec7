// RoutingInput: one input of cluster mode's router (docs/cluster.md, "The router and the outbox").
//
// In cluster mode every node applies the same routing log, in the log's order, to a router of its
// own (RouterReplica), so every node decides the same and numbers the same records. These are the
// log's messages: what a partition's engine saw happen to a lead (a stage change, a merge, an
// erasure), what a sales tool or an admin asked on some node, the rules in force, and the time.
// The router reads time only from them (`at`).
//
// Encode/Decode: the bytes carried in the log. Decode takes bytes from the network: false on
// anything Encode did not make, never a crash. A value type; not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "handoff/clock.h"
#include "handoff/lead_state.h"
#include "routing/sales_action.h"

namespace handoff {

enum class RoutingInputKind : uint8_t {
  // A lead's stage changed where its partition is applied: `lead` (its state without history),
  // `from_stage` and `to_stage` (stage names), `trigger`, `scores_at`.
  kStage = 1,
  // `older` merged into `lead` (SPEC 8) where `lead`'s partition is applied: both as they were
  // just before the merge's stage change, `trigger`, `scores_at`.
  kMerge = 2,
  // The lead `lead.id` was erased (SPEC 8, right to erasure).
  kForget = 3,
  // A sales tool's answer (`action`), asked on node `asked_by` as its request `request`.
  kSalesAction = 4,
  // A rep's availability (`rep`, `online`), set through the admin API on node `asked_by` as its
  // request `request`.
  kRepAvailability = 5,
  // An account owner (`domain` -> `rep`), set through the admin API on node `asked_by` as its
  // request `request`.
  kAccountOwner = 6,
  // The rules in force from here on: the rule file `rules_yaml` (sha256 `rules_sha256`), the
  // cluster's rules as of revision `rules_revision` of the admin bucket (an older revision
  // logged late changes nothing).
  kRules = 7,
  // Only the time: the router's clock moves to `at` (SLA deadlines, new days, working hours).
  kTick = 8,
};

// Where an input that a partition's engine logged comes from: the partition, the log place of
// the event being applied from it (an apply order, EventOrigin::apply_order) and the input's
// index among those that event caused. A partition's events are applied in log order, so its
// inputs come in place order, whoever applies it and from wherever: a replica drops an input
// whose place is not after the last one it took from that partition (a partition applied again
// after a takeover logs its inputs again). A place names an event, not a count, so a node that
// produces one input more or less somewhere does not shift the others.
struct RoutingPlace {
  static constexpr uint32_t kNoPartition = UINT32_MAX;
  uint32_t partition = kNoPartition;  // kNoPartition: not from a partition (never dropped)
  uint64_t order = 0;
  uint32_t index = 0;

  bool from_partition() const { return partition != kNoPartition; }
  // Ordered within one partition.
  bool operator<(const RoutingPlace& o) const {
    return order != o.order ? order < o.order : index < o.index;
  }
};

struct RoutingInput {
  RoutingInputKind kind = RoutingInputKind::kTick;
  EpochSeconds at = 0;  // when it was logged, by the logging node's clock
  RoutingPlace place;

  // kStage, kMerge, kForget (only `lead.id`).
  LeadState lead;
  LeadState older;  // kMerge
  // kStage; kMerge when the merge moved the merged lead (else both empty).
  std::string from_stage;
  std::string to_stage;
  std::string trigger;  // the causing event's messageId; empty: none
  EpochSeconds scores_at = 0;
  // kStage, kMerge: when the causing event was received (the start of speed to lead, SPEC 12);
  // 0: none (a timer's), or logged before inputs carried it.
  EpochSeconds received_at = 0;

  // kSalesAction.
  SalesAction action;
  // kSalesAction, kRepAvailability, kAccountOwner.
  std::string asked_by;  // the node id that waits for the answer
  uint64_t request = 0;  // its request number there

  // kRepAvailability, kAccountOwner.
  std::string rep;
  bool online = true;
  std::string domain;

  // kRules.
  std::string rules_sha256;
  uint64_t rules_revision = 0;
  std::string rules_yaml;

  void Encode(std::string* out) const;
  [[nodiscard]] bool Decode(std::string_view in);
};

// A list of inputs as one value (a routing message in the log; the engine's inputs not yet
// logged): a version byte, the count, then each input's bytes. Encode replaces *out.
void EncodeRoutingInputs(const std::vector<RoutingInput>& inputs, std::string* out);
// False on anything EncodeRoutingInputs did not make (bytes from the network; never a crash).
[[nodiscard]] bool DecodeRoutingInputs(std::string_view in, std::vector<RoutingInput>* inputs);

}  // namespace handoff
