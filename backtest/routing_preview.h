// RoutingPreview: where the leads a candidate rule file would newly qualify go if they were
// routed now (SPEC 13 `routing`), by the real Router on a copy of the routing state.
//
// The preview router starts from the live routing state as committed (reps online, today's
// counts, round-robin weights, queues, account owners: the router's meta records in the
// snapshot) and the open leads of every rep (Adopt), under the candidate's rules, with its clock
// fixed at the backtest's time. Route() then hands it the leads one by one, in the order they
// would have reached the routing stage, so caps (max_open, max_per_day), working hours, skills,
// account owners and the strategies' rotation apply exactly as live routing would apply them.
// Its records are counted, never written; nothing it does reaches the live router or the store.
//
// Not thread-safe: one thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "backtest/backtest.h"
#include "base/metrics.h"
#include "routing/router.h"
#include "scoring/scorer.h"
#include "storage/store.h"

namespace handoff {

class RoutingPreview final : private RouterHost {
 public:
  // `candidate` and `snapshot` are borrowed. Reads the router's state from the snapshot.
  RoutingPreview(const Scorer* candidate, const StoreSnapshot* snapshot, EpochSeconds at);

  // False when the routing state in the snapshot does not read (then nothing is routed).
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  // A live lead with an owner: counts toward its rep's open leads.
  void Adopt(Lead* lead);
  // Routes `lead` (the candidate's replay of it, which reached the routing stage from `from`)
  // and counts where it went into *out. `lead` must outlive the preview.
  void Route(Lead* lead, int from, BacktestReport::Routing* out);

 private:
  // RouterHost.
  Lead* FindLead(std::string_view id) override;
  void LeadChanged(Lead*) override {}
  uint64_t Publish(OutboxRecord* record, Lead* lead, EpochSeconds scores_at) override;
  void PutMeta(std::string_view, std::string_view) override {}
  void DeleteMeta(std::string_view) override {}

  const Scorer* const candidate_;
  ManualClock clock_;
  Metrics metrics_;  // the preview's own: live metrics never see it
  Router router_;
  Status status_;
  std::unordered_map<std::string, Lead*> routed_;  // leads handed to Route, by id
  BacktestReport::Routing* counts_ = nullptr;
  uint64_t next_seq_ = 1;
};

}  // namespace handoff
