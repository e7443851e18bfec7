#include "backtest/routing_preview.h"

namespace handoff {

RoutingPreview::RoutingPreview(const Scorer* candidate, const StoreSnapshot* snapshot,
                               EpochSeconds at)
    : candidate_(candidate), clock_(at), router_(this, &clock_, &metrics_) {
  status_ = router_.Restore(MetaReaderOf(snapshot));
  router_.SetRules(candidate_);
}

void RoutingPreview::Adopt(Lead* lead) { router_.AdoptLead(lead); }

void RoutingPreview::Route(Lead* lead, int from, BacktestReport::Routing* out) {
  if (!status_.ok()) {
    return;
  }
  routed_[lead->id] = lead;
  counts_ = out;
  StageChange change;
  change.from = from;
  change.to = candidate_->StageIndex(lead);
  router_.OnStageChange(lead, change, /*trigger=*/"", clock_.Now());
  if (!lead->owner.has_value()) {
    if (std::string team = router_.QueuedIn(lead->id); !team.empty()) {
      ++out->teams[team];
      ++out->queued;
    }
  }
  counts_ = nullptr;
}

Lead* RoutingPreview::FindLead(std::string_view id) {
  // Only the leads handed to Route: live leads waiting in the copied queues stay where they are.
  auto it = routed_.find(std::string(id));
  return it == routed_.end() ? nullptr : it->second;
}

uint64_t RoutingPreview::Publish(OutboxRecord* record, Lead*, EpochSeconds) {
  record->seq = next_seq_++;
  if (counts_ != nullptr) {
    if (record->kind == OutboxKind::kRouted) {
      ++counts_->teams[std::string(record->team)];
      ++counts_->reps[std::string(record->rep)];
    } else if (record->kind == OutboxKind::kUnrouted) {
      ++counts_->unrouted;
    }
  }
  return record->seq;
}

}  // namespace handoff
