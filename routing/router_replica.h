// RouterReplica: cluster mode's router, one per node, every one deciding the same
// (docs/cluster.md, "The router and the outbox").
//
// Every node applies the routing log (RoutingInput, in the log's order) to a replica. The replica
// holds copies of the leads the inputs carry, each with the owner its router gave it, and a clock
// that moves only to the inputs' times, never back. Its Router (routing/router.h) decides over
// those copies and publishes through the RecordSink, stamping each record with that clock. The
// same inputs in the same order under the same rules therefore give the same records, with the
// same times, in the same order, on every node: the sink numbers them alike.
//
// An input a partition logged is dropped when its place is not after the last place taken from
// that partition: a partition applied again (after a takeover or a crash) logs its inputs again.
//
// The replica keeps nothing in a store: it is the routing log applied from its start (a snapshot
// of it is later work, docs/cluster.md).
//
// Not thread-safe: one thread applies inputs and reads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/metrics.h"
#include "handoff/clock.h"
#include "outbox/outbox_record.h"
#include "routing/router.h"
#include "routing/routing_input.h"
#include "routing/sales_action.h"
#include "scoring/lead.h"
#include "scoring/scorer.h"

namespace handoff {

// Where a replica's records go (the engine's outbox, in cluster mode).
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // Appends `record` (its `at` already set) with `lead`'s scores read at `scores_at`, its traits
  // and its stage; fills record->seq and returns it.
  virtual uint64_t Publish(OutboxRecord* record, Lead* lead, EpochSeconds scores_at) = 0;
};

// What RouterReplica::Apply did.
struct ReplicaOutcome {
  bool applied = false;  // false: an input from a partition at or before a place taken already
  // kSalesAction: the answer for the node that asked.
  SalesActionResult action;
  // kSalesAction: a `recycled` close sent this lead back to stage "new" (its stage record is
  // published); the lead's partition must set its stage too, without another record.
  std::string recycled_lead;
};

class RouterReplica : private RouterHost {
 public:
  // `sink` and `metrics` are borrowed and must outlive the replica.
  RouterReplica(RecordSink* sink, Metrics* metrics);

  // The rules in force: at start, and where the log says rules change. Borrowed until the next
  // call.
  void SetRules(const Scorer* scorer);

  // Applies one input of the log. Needs rules (SetRules) first.
  ReplicaOutcome Apply(const RoutingInput& input);

  // The copy of the lead `id`, with the owner this router gave it; null when no input carried it.
  const Lead* Find(std::string_view id) const;
  // The router's clock: the latest time of an input applied.
  EpochSeconds Now() const { return clock_.Now(); }
  // The rules in force (SetRules).
  const Scorer* scorer() const { return scorer_; }
  // The router itself, for reads (reps, account owners).
  Router& router() { return router_; }

 private:
  // RouterHost.
  Lead* FindLead(std::string_view id) override;
  void LeadChanged(Lead* lead) override {}
  uint64_t Publish(OutboxRecord* record, Lead* lead, EpochSeconds scores_at) override;
  void PutMeta(std::string_view key, std::string_view value) override {}
  void DeleteMeta(std::string_view key) override {}

  // True when an input from `place` is new: after the last place taken from its partition.
  bool TakePlace(const RoutingPlace& place);
  // The copy of `state`'s lead, updated to `state` but keeping the owner this router gave it.
  Lead& CopyOf(const LeadState& state);
  // The index of stage `name` under the rules in force; -1 when they have no such stage.
  int StageIndexOf(std::string_view name) const;
  // Publishes a `stage` record for `lead` and tells the router.
  void StageChanged(Lead* lead, int from, int to, std::string_view trigger, EpochSeconds scores_at);
  void PublishStageRecord(Lead* lead, int from, int to, std::string_view trigger,
                          EpochSeconds scores_at);
  void Recycle(Lead* lead, ReplicaOutcome* outcome);

  RecordSink* const sink_;
  ManualClock clock_;
  Router router_;
  const Scorer* scorer_ = nullptr;
  // Lead id -> its copy. A node-based map: a copy's address holds across inserts (a merge hands
  // the router two at once).
  std::unordered_map<std::string, Lead> leads_;
  std::unordered_map<uint32_t, RoutingPlace> last_taken_;  // partition -> last place taken
};

}  // namespace handoff
