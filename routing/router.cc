// Router: routing decisions (SPEC 7) and sales answers (SPEC 9). See router.h.
#include "routing/router.h"

#include <algorithm>
#include <cmath>

#include "base/ascii.h"
#include "routing/router_internal.h"

namespace handoff {

using router_internal::Contains;
using router_internal::kUnroutedKey;
using router_internal::LowerDomainOf;

namespace {

SalesActOutcome Fail(std::string error, std::string message) {
  SalesActOutcome r;
  r.result.error = std::move(error);
  r.result.message = std::move(message);
  return r;
}

}  // namespace

Router::Router(RouterHost* host, const Clock* clock, Metrics* metrics)
    : host_(host), clock_(clock), metrics_(metrics) {}

void Router::SetRules(const Scorer* scorer) {
  const bool first = scorer_ == nullptr;
  scorer_ = scorer;
  for (auto& [id, s] : reps_) {
    s.def_index = -1;
    s.team_index = -1;
  }
  const RoutingDef& routing = rules().routing;
  for (size_t t = 0; t < routing.teams.size(); ++t) {
    const TeamDef& team = routing.teams[t];
    for (size_t r = 0; r < team.reps.size(); ++r) {
      RepState& s = reps_[team.reps[r].id];
      s.team = team.id;
      s.team_index = static_cast<int>(t);
      s.def_index = static_cast<int>(r);
    }
  }
  // SLA deadlines follow the rules in force.
  if (!first) {
    sla_.clear();
    by_seq_.ForEach([&](uint64_t /*seq*/, const std::string& lead_id) {
      Lead* lead = host_->FindLead(lead_id);
      if (lead != nullptr && HasOpenOwner(*lead) && !lead->owner->accepted &&
          routing.sla.accept_within > 0) {
        sla_.emplace(lead->owner->routed_at + routing.sla.accept_within, lead_id);
      }
    });
  }
  // Queues of teams that are gone, and the unrouted queue, are routed afresh.
  // An escalated lead keeps the reps that held it (SPEC 7: the SLA never hands it back to one)
  // through its team's removal and return.
  struct Orphan {
    std::string id;
    bool was_unrouted;
    std::vector<std::string> held_by;
  };
  std::vector<Orphan> orphans;
  for (const auto& [queue, leads] : queues_) {
    bool team_exists = false;
    for (const TeamDef& team : routing.teams) {
      team_exists |= team.id == queue;
    }
    if (!team_exists) {
      for (const auto& [order, id] : leads) {
        orphans.push_back(Orphan{id, queue == kUnroutedKey, HeldByWhileParked(id)});
      }
    }
  }
  for (const Orphan& o : orphans) {
    Dequeue(o.id);
  }
  if (!first) {
    SetReroutePending(false);  // a reload routes the unrouted queue below, or leaves it waiting
  }
  if (first || !RoutingEnabled()) {
    // At start the leads are not adopted yet: they wait in the unrouted queue, routed afresh on
    // the first drain when the start is a new load (StartedOnNewRules). A start on the rules the
    // state was routed under is no reload: they wait on (SPEC 7: until a reload gives them a
    // team). Without routing they wait there for rules that route them.
    for (Orphan& o : orphans) {
      Enqueue(o.id, std::string(kUnroutedKey));
      ParkUnrouted(o.id, std::move(o.held_by));
    }
  } else {
    // SPEC 7: a queued lead below the routing stage leaves its queue. A reload that raises the
    // routing stage puts queued leads there at once; they stayed queued (and counted) but were
    // never routed. A lead whose stage the new rules lack keeps its place (LeaveVanishedStages
    // moves it next, and a lead that was routable keeps its queue), so the stage is looked up by
    // name rather than aligned here.
    std::vector<std::string> below;
    for (const auto& [queue, leads] : queues_) {
      for (const auto& [order, id] : leads) {
        const Lead* lead = host_->FindLead(id);
        const int stage = lead == nullptr ? -1 : rules().FindStage(lead->stage);
        if (stage >= 0 && stage < routing.stage_index) {
          below.push_back(id);
        }
      }
    }
    for (const std::string& id : below) {
      Dequeue(id);
    }
    const EpochSeconds now = clock_->Now();
    for (Orphan& o : orphans) {
      Lead* lead = host_->FindLead(o.id);
      if (lead != nullptr && !HasOpenOwner(*lead) &&
          scorer_->StageIndex(lead) >= routing.stage_index) {
        Route(lead, "", now, !o.was_unrouted, std::move(o.held_by));
      }
    }
    WakeAll();  // new reps, hours or limits: escalated leads may be offered again
  }
  MarkRepsDirty();
  drain_needed_ = true;
}

void Router::StartedOnNewRules() {
  if (scorer_ == nullptr) {
    return;
  }
  SetReroutePending(true);  // and every team woken, on the first drain (Drain)
}

bool Router::RoutingEnabled() const {
  return scorer_ != nullptr && rules().routing.enabled && rules().routing.stage_index > 0;
}

bool Router::HasOpenOwner(const Lead& lead) const {
  return lead.owner.has_value() && !lead.owner->closed;
}

void Router::OnStageChange(Lead* lead, StageChange change, std::string_view trigger,
                           EpochSeconds scores_at) {
  if (!RoutingEnabled()) {
    return;
  }
  const int routing_stage = rules().routing.stage_index;
  if (change.from < routing_stage && change.to >= routing_stage && !HasOpenOwner(*lead)) {
    Route(lead, trigger, scores_at);
  } else if (change.to < routing_stage && queued_in_.contains(lead->id)) {
    Dequeue(lead->id);
  }
}

bool Router::TryAccountOwner(Lead* lead, const std::vector<std::string>& skip,
                             std::string_view trigger, EpochSeconds scores_at) {
  const RoutingDef& routing = rules().routing;
  if (!routing.account_match || accounts_.empty()) {
    return false;
  }
  const std::string domain = LowerDomainOf(lead->traits);
  if (domain.empty() || IsFreeMailDomain(domain)) {
    return false;
  }
  auto owner = accounts_.find(domain);
  if (owner == accounts_.end() || Contains(skip, owner->second)) {
    return false;
  }
  auto it = reps_.find(owner->second);
  if (it == reps_.end() || it->second.def_index < 0) {
    return false;  // removed from the rules
  }
  RepState& s = it->second;
  const RepDef& def = routing.teams[s.team_index].reps[s.def_index];
  std::string why;
  if (!RepAvailable(def, s, clock_->Now(), &why)) {
    return false;
  }
  Dequeue(lead->id);
  Assign(lead, s.team_index, s.def_index, OutboxKind::kRouted, "account_owner", "", trigger,
         scores_at);
  return true;
}

void Router::Route(Lead* lead, std::string_view trigger, EpochSeconds scores_at,
                   bool announce_unrouted, std::vector<std::string> held_by) {
  const EpochSeconds now = clock_->Now();
  const RoutingDef& routing = rules().routing;
  if (auto q = queued_in_.find(lead->id);
      q != queued_in_.end() && q->second.queue == kUnroutedKey) {
    announce_unrouted = false;  // it was said when the lead entered the queue
  }
  Dequeue(lead->id);
  if (TryAccountOwner(lead, held_by, trigger, scores_at)) {
    KeepHeldBy(lead, std::move(held_by));
    return;
  }
  int team = FindTeam(lead, scores_at);
  if (team < 0) {
    Enqueue(lead->id, std::string(kUnroutedKey));
    ParkUnrouted(lead->id, std::move(held_by));
    if (!announce_unrouted) {
      return;
    }
    OutboxRecord record;
    record.kind = OutboxKind::kUnrouted;
    record.reason = "no_team_matched";
    record.trigger = trigger;
    host_->Publish(&record, lead, scores_at);
    metrics_->Routed("unrouted", "no_team_matched");
    return;
  }
  // First in, first out (SPEC 7): leads already waiting for this team get the reps that have
  // become eligible since the last drain (a close, a rep back online, working hours begun)
  // before this lead may take one.
  if (!draining_ && queues_.contains(routing.teams[team].id)) {
    Drain();
  }
  // An escalated lead routed afresh (its team gone and back, or a new team) goes preferably to a
  // rep that has not held it, as from its queue.
  int rep = held_by.empty() ? -1 : PickRep(team, lead, held_by, now, scores_at);
  if (rep < 0) {
    rep = PickRep(team, lead, {}, now, scores_at);
  }
  if (rep < 0) {
    Enqueue(lead->id, routing.teams[team].id);
    if (!held_by.empty()) {
      Park(lead->id, ParkedNow(routing.teams[team].id, std::move(held_by)));
    }
    return;
  }
  Assign(lead, team, rep, OutboxKind::kRouted, RoutingStrategyName(routing.teams[team].strategy),
         "", trigger, scores_at);
  KeepHeldBy(lead, std::move(held_by));
}

void Router::Assign(Lead* lead, int team_index, int rep_index, OutboxKind kind,
                    std::string_view reason, std::string_view from_rep, std::string_view trigger,
                    EpochSeconds scores_at) {
  const EpochSeconds now = clock_->Now();
  const TeamDef& team = rules().routing.teams[team_index];
  const RepDef& def = team.reps[rep_index];
  RepState& state = StateOf(def.id);
  TodayCount(def, state, now);
  state.today++;
  state.open++;
  MarkRepsDirty();

  OutboxRecord record;
  record.kind = kind;
  record.rep = def.id;
  record.team = team.id;
  record.reason = reason;
  record.from_rep = from_rep;
  record.trigger = trigger;
  uint64_t seq = host_->Publish(&record, lead, scores_at);

  LeadOwner owner;
  if (kind == OutboxKind::kReassigned && lead->owner.has_value()) {
    owner.reassignments = lead->owner->reassignments;
    owner.held_by = lead->owner->held_by;
  }
  if (lead->owner.has_value()) {
    by_seq_.Erase(lead->owner->seq);
  }
  owner.rep = def.id;
  owner.team = team.id;
  owner.seq = seq;
  owner.routed_at = now;
  owner.held_by.push_back(def.id);
  lead->owner = std::move(owner);
  by_seq_[seq] = lead->id;
  if (rules().routing.sla.accept_within > 0) {
    sla_.emplace(now + rules().routing.sla.accept_within, lead->id);
  }
  host_->LeadChanged(lead);
  metrics_->Routed(team.id, reason);
}

void Router::ReleaseOwner(Lead* lead) {
  LeadOwner& o = *lead->owner;
  auto it = reps_.find(o.rep);
  if (it != reps_.end() && it->second.open > 0) {
    it->second.open--;
    MarkRepsDirty();
  }
  drain_needed_ = true;
  // The rep may be eligible again: the team's escalated leads it never held are offered to it
  // (SPEC 7: routed as soon as a rep becomes eligible). A lead escalated by this very release
  // parks after it, so the rep that let it lapse does not get it straight back.
  if (it != reps_.end() && it->second.def_index >= 0) {
    ++generations_[it->second.team].release;
    generations_dirty_ = true;
  }
}

void Router::Reassign(Lead* lead, std::string_view why) {
  LeadOwner& o = *lead->owner;
  const std::string old_rep = o.rep;
  const std::string team_id = o.team;
  ReleaseOwner(lead);
  const RoutingDef& routing = rules().routing;
  int team = -1;
  for (size_t t = 0; t < routing.teams.size(); ++t) {
    if (routing.teams[t].id == team_id) {
      team = static_cast<int>(t);
    }
  }
  const EpochSeconds now = clock_->Now();
  int rep = -1;
  if (team >= 0 && static_cast<int>(o.reassignments) < routing.sla.max_reassign) {
    rep = PickRep(team, lead, o.held_by, now, now);
  }
  if (rep < 0) {
    Escalate(lead, team_id, old_rep,
             static_cast<int>(o.reassignments) >= routing.sla.max_reassign ? "max_reassign"
                                                                           : "no_eligible_rep");
    return;
  }
  o.reassignments++;
  Assign(lead, team, rep, OutboxKind::kReassigned, why, old_rep, "", now);
}

void Router::Escalate(Lead* lead, std::string_view team, std::string_view from_rep,
                      std::string_view why) {
  OutboxRecord record;
  record.kind = OutboxKind::kEscalated;
  record.team = team;
  record.from_rep = from_rep;
  record.reason = why;
  const EpochSeconds now = clock_->Now();
  host_->Publish(&record, lead, now);
  metrics_->Routed(team, "escalated");
  std::vector<std::string> held_by = std::move(lead->owner->held_by);
  by_seq_.Erase(lead->owner->seq);
  lead->owner.reset();
  host_->LeadChanged(lead);
  bool team_exists = false;
  for (const TeamDef& t : rules().routing.teams) {
    team_exists |= t.id == team;
  }
  if (!team_exists) {
    Enqueue(lead->id, std::string(kUnroutedKey));
    ParkUnrouted(lead->id, std::move(held_by));
    return;
  }
  // It waits for a rep that becomes eligible from now on (see the class comment).
  const std::string team_id(team);
  Enqueue(lead->id, team_id);
  Park(lead->id, ParkedNow(team_id, std::move(held_by)));
}

void Router::Merge(Lead* older, Lead* merged, std::string_view trigger, EpochSeconds scores_at) {
  Dequeue(older->id);
  if (!HasOpenOwner(*older)) {
    return;
  }
  LeadOwner& o = *older->owner;
  if (!HasOpenOwner(*merged)) {
    // The older lead's owner carries over (no new routing): the merged lead stops waiting in
    // any queue (it was queued, parked or unrouted), or a drain would route it again once that
    // owner closes it.
    Dequeue(merged->id);
    by_seq_[o.seq] = merged->id;
    if (!o.accepted && rules().routing.sla.accept_within > 0) {
      sla_.emplace(o.routed_at + rules().routing.sla.accept_within, merged->id);
    }
    merged->owner = std::move(o);
    older->owner.reset();
    host_->LeadChanged(merged);
    return;
  }
  OutboxRecord record;
  record.kind = OutboxKind::kClosed;
  record.rep = o.rep;
  record.team = o.team;
  record.outcome = "merged";
  record.into = merged->id;
  record.trigger = trigger;
  host_->Publish(&record, older, scores_at);
  ReleaseOwner(older);
  by_seq_.Erase(o.seq);
  o.closed = true;
  o.outcome = "merged";
  if (auto rep = reps_.find(o.rep); rep != reps_.end() && rep->second.def_index >= 0) {
    Wake(rep->second.team);  // a lead of the team closed (as merged)
  }
}

void Router::Forget(Lead* lead) {
  Dequeue(lead->id);
  if (HasOpenOwner(*lead)) {
    ReleaseOwner(lead);
  }
  if (lead->owner.has_value()) {
    by_seq_.Erase(lead->owner->seq);
  }
}

SalesActOutcome Router::Act(const SalesAction& action) {
  const std::string* held_by = by_seq_.Find(action.seq);
  Lead* lead = held_by == nullptr ? nullptr : host_->FindLead(*held_by);
  if (lead == nullptr || !lead->owner.has_value() || lead->owner->seq != action.seq) {
    return Fail("unknown_seq", "no lead's current routing record has seq " +
                                   std::to_string(action.seq) +
                                   " (it may have been reassigned or escalated since)");
  }
  LeadOwner& o = *lead->owner;
  if (!action.as_rep.empty() && action.as_rep != o.rep) {
    return Fail("not_holder",
                "lead " + lead->id + " is held by " + o.rep + ", not " + action.as_rep);
  }
  if (o.closed) {
    return Fail("already_closed", "lead " + lead->id + " is already closed (" + o.outcome + ")");
  }
  const EpochSeconds now = clock_->Now();
  OutboxRecord record;
  record.rep = o.rep;
  record.team = o.team;
  switch (action.kind) {
    case SalesActionKind::kAccept: {
      if (o.accepted) {
        return Fail("already_accepted", "lead " + lead->id + " is already accepted");
      }
      o.accepted = true;
      record.kind = OutboxKind::kAccepted;
      host_->Publish(&record, lead, now);
      std::string domain = LowerDomainOf(lead->traits);
      if (!domain.empty() && !IsFreeMailDomain(domain)) {
        SetAccount(std::move(domain), o.rep);
      }
      host_->LeadChanged(lead);
      break;
    }
    case SalesActionKind::kReject: {
      record.kind = OutboxKind::kRejected;
      record.reason = action.reason;
      host_->Publish(&record, lead, now);
      Reassign(lead, "rejected");
      host_->LeadChanged(lead);
      break;
    }
    case SalesActionKind::kClose: {
      if (action.outcome != "won" && action.outcome != "lost" && action.outcome != "recycled") {
        return Fail("invalid_outcome", "outcome must be won, lost or recycled");
      }
      if (action.amount.has_value() && !(*action.amount >= 0 && std::isfinite(*action.amount))) {
        return Fail("invalid_amount", "amount must be a non-negative number");
      }
      record.kind = OutboxKind::kClosed;
      record.outcome = action.outcome;
      record.amount = action.amount;
      host_->Publish(&record, lead, now);
      ReleaseOwner(lead);
      o.closed = true;
      o.outcome = action.outcome;
      // "A lead closed" is one of the ways a rep becomes eligible again (SPEC 7).
      if (auto rep = reps_.find(o.rep); rep != reps_.end() && rep->second.def_index >= 0) {
        Wake(rep->second.team);
      }
      host_->LeadChanged(lead);
      if (action.outcome == "recycled") {
        SalesActOutcome outcome;
        outcome.result.ok = true;
        outcome.recycled_lead = lead;
        return outcome;
      }
      break;
    }
  }
  SalesActOutcome outcome;
  outcome.result.ok = true;
  return outcome;
}

}  // namespace handoff
