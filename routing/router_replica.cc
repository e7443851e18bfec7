// RouterReplica: the routing log applied to one node's router. See router_replica.h.
#include "routing/router_replica.h"

#include <algorithm>

namespace handoff {

RouterReplica::RouterReplica(RecordSink* sink, Metrics* metrics)
    : sink_(sink), router_(this, &clock_, metrics) {}

void RouterReplica::SetRules(const Scorer* scorer) {
  scorer_ = scorer;
  // A copy's scoring cache belongs to the rules it was read under.
  for (auto& [id, lead] : leads_) {
    lead.scoring_cache = LeadScoringCache();
  }
  router_.SetRules(scorer);
}

const Lead* RouterReplica::Find(std::string_view id) const {
  auto it = leads_.find(std::string(id));
  return it == leads_.end() ? nullptr : &it->second;
}

Lead* RouterReplica::FindLead(std::string_view id) {
  auto it = leads_.find(std::string(id));
  return it == leads_.end() ? nullptr : &it->second;
}

uint64_t RouterReplica::Publish(OutboxRecord* record, Lead* lead, EpochSeconds scores_at) {
  // The log's time, not this node's: every node stamps the record alike.
  record->at = clock_.Now();
  return sink_->Publish(record, lead, scores_at);
}

bool RouterReplica::TakePlace(const RoutingPlace& place) {
  if (!place.from_partition()) {
    return true;
  }
  auto [last, inserted] = last_taken_.try_emplace(place.partition, place);
  if (inserted) {
    return true;
  }
  if (!(last->second < place)) {
    return false;
  }
  last->second = place;
  return true;
}

Lead& RouterReplica::CopyOf(const LeadState& state) {
  Lead& copy = leads_[state.id];
  std::optional<LeadOwner> owner = std::move(copy.owner);
  static_cast<LeadState&>(copy) = state;
  // The partition's engine does not route: the owner is this router's.
  copy.owner = std::move(owner);
  copy.history.clear();
  copy.scoring_cache = LeadScoringCache();
  return copy;
}

int RouterReplica::StageIndexOf(std::string_view name) const {
  const std::vector<StageDef>& stages = scorer_->rules().stages;
  for (size_t i = 0; i < stages.size(); ++i) {
    if (stages[i].name == name) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

void RouterReplica::StageChanged(Lead* lead, int from, int to, std::string_view trigger,
                                 EpochSeconds scores_at) {
  PublishStageRecord(lead, from, to, trigger, scores_at);
  router_.OnStageChange(lead, StageChange{from, to}, trigger, scores_at);
}

void RouterReplica::PublishStageRecord(Lead* lead, int from, int to, std::string_view trigger,
                                       EpochSeconds scores_at) {
  const std::vector<StageDef>& stages = scorer_->rules().stages;
  OutboxRecord record;
  record.kind = OutboxKind::kStage;
  record.from = stages[from].name;
  record.to = stages[to].name;
  record.trigger = trigger;
  Publish(&record, lead, scores_at);
}

void RouterReplica::Recycle(Lead* lead, ReplicaOutcome* outcome) {
  outcome->recycled_lead = lead->id;
  const int from = scorer_->StageIndex(lead);
  if (from == 0) {
    return;
  }
  scorer_->SetStage(lead, 0);
  StageChanged(lead, from, 0, "", clock_.Now());
}

ReplicaOutcome RouterReplica::Apply(const RoutingInput& input) {
  ReplicaOutcome outcome;
  if (!TakePlace(input.place)) {
    return outcome;
  }
  outcome.applied = true;
  // Never back: inputs logged by different nodes carry their own clocks.
  clock_.Set(std::max(clock_.Now(), input.at));
  switch (input.kind) {
    case RoutingInputKind::kStage: {
      Lead& lead = CopyOf(input.lead);
      const int from = StageIndexOf(input.from_stage);
      const int to = StageIndexOf(input.to_stage);
      if (from >= 0 && to >= 0 && from != to) {
        StageChanged(&lead, from, to, input.trigger, input.scores_at);
      }
      break;
    }
    case RoutingInputKind::kMerge: {
      // A merge that moved the merged lead: its stage record first, then the owners settled,
      // then routing (SPEC 5.3 and 8; Engine::Merge does the same on one node).
      Lead& merged = CopyOf(input.lead);
      Lead& older = CopyOf(input.older);
      const int from = StageIndexOf(input.from_stage);
      const int to = StageIndexOf(input.to_stage);
      const bool staged = from >= 0 && to >= 0 && from != to;
      if (staged) {
        PublishStageRecord(&merged, from, to, input.trigger, input.scores_at);
      }
      router_.Merge(&older, &merged, input.trigger, input.scores_at);
      leads_.erase(input.older.id);
      if (staged) {
        router_.OnStageChange(&merged, StageChange{from, to}, input.trigger, input.scores_at);
      }
      break;
    }
    case RoutingInputKind::kForget: {
      if (Lead* lead = FindLead(input.lead.id); lead != nullptr) {
        router_.Forget(lead);
        leads_.erase(input.lead.id);
      }
      break;
    }
    case RoutingInputKind::kSalesAction: {
      SalesActOutcome acted = router_.Act(input.action);
      outcome.action = std::move(acted.result);
      if (acted.recycled_lead != nullptr) {
        Recycle(acted.recycled_lead, &outcome);
      }
      break;
    }
    case RoutingInputKind::kRepAvailability:
      // The asking node checked the rep against its rules; under other rules here (a reload not
      // applied yet) an unknown rep changes nothing, as on that node it would have been refused.
      (void)router_.SetOnline(input.rep, input.online);
      break;
    case RoutingInputKind::kAccountOwner:
      (void)router_.SetAccountOwner(input.domain, input.rep);
      break;
    case RoutingInputKind::kRules:
      // The caller installs the rules of that sha256 (SetRules) before it applies the next input.
    case RoutingInputKind::kTick:
      break;
  }
  // SLA deadlines, new days, working hours and queues, at the log's time.
  router_.Tick();
  return outcome;
}

}  // namespace handoff
