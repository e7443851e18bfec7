// Router: team queues, the unrouted queue, SLA deadlines and the clock-driven wakes.
#include <algorithm>

#include "routing/rep_calendar.h"
#include "routing/router.h"
#include "routing/router_internal.h"

namespace handoff {

using router_internal::kUnroutedKey;

namespace {

// Drain the queues at most this often from Tick (events that free a rep drain at once).
constexpr double kDrainInterval = 1.0;

}  // namespace

void Router::Tick() {
  if (scorer_ == nullptr) {
    return;
  }
  const EpochSeconds now = clock_->Now();
  while (!sla_.empty() && sla_.begin()->first <= now) {
    auto [deadline, lead_id] = *sla_.begin();
    sla_.erase(sla_.begin());
    Lead* lead = host_->FindLead(lead_id);
    if (lead == nullptr || !HasOpenOwner(*lead) || lead->owner->accepted ||
        rules().routing.sla.accept_within <= 0 ||
        lead->owner->routed_at + rules().routing.sla.accept_within != deadline) {
      continue;  // a stale deadline: accepted, closed or routed again since
    }
    Reassign(lead, "sla_expired");
    host_->LeadChanged(lead);
  }
  if (drain_needed_ || now - last_drain_ >= kDrainInterval) {
    Drain();
  }
}

void Router::Drain() {
  drain_needed_ = false;
  const EpochSeconds now = clock_->Now();
  last_drain_ = now;
  if (!RoutingEnabled()) {
    return;
  }
  if (reroute_unrouted_) {
    // A start on changed rules counts as a reload, and does what a reload does (SetRules): each
    // unrouted lead routed afresh after the leads already waiting in its team's queue (its Route
    // drains that queue first: first in, first out), then every team woken.
    SetReroutePending(false);
    RerouteUnrouted();
    WakeAll();
  }
  draining_ = true;
  struct Done {
    bool* flag;
    ~Done() { *flag = false; }
  } done{&draining_};
  NoticeClockWakes(now);
  if (queues_.empty()) {
    return;
  }
  const RoutingDef& routing = rules().routing;
  // Which teams have a rep who can take a lead at all; a team's queue is scanned only when it
  // has one, or when some rep anywhere could take a lead as an account owner.
  std::vector<bool> anyone_in(routing.teams.size(), false);
  bool anyone_anywhere = false;
  std::string why;
  for (size_t t = 0; t < routing.teams.size(); ++t) {
    for (const RepDef& def : routing.teams[t].reps) {
      if (RepAvailable(def, StateOf(def.id), now, &why)) {
        anyone_in[t] = true;
        anyone_anywhere = true;
        break;
      }
    }
  }
  const bool owners = routing.account_match && !accounts_.empty() && anyone_anywhere;
  for (size_t t = 0; t < routing.teams.size(); ++t) {
    const TeamDef& team = routing.teams[t];
    auto q = queues_.find(team.id);
    if (q == queues_.end()) {
      continue;
    }
    const bool anyone = anyone_in[t];
    if (!anyone && !owners) {
      continue;
    }
    const TeamGenerations generations = generations_[team.id];
    const int team_index = static_cast<int>(t);
    std::vector<std::string> waiting;
    waiting.reserve(q->second.size());
    for (const auto& [order, id] : q->second) {
      waiting.push_back(id);
    }
    for (const std::string& id : waiting) {
      Lead* lead = host_->FindLead(id);
      if (lead == nullptr || HasOpenOwner(*lead) ||
          scorer_->StageIndex(lead) < routing.stage_index) {
        Dequeue(id);
        continue;
      }
      std::vector<std::string> held_by;
      bool only_new_reps = false;  // woken by a release only: reps that never held it
      if (auto p = parked_.find(id); p != parked_.end()) {
        if (p->second.at_escalation.wake == generations.wake) {
          if (p->second.at_escalation.release == generations.release) {
            continue;  // escalated, and no rep of the team has become eligible since
          }
          only_new_reps = true;
        }
        held_by = p->second.held_by;
      }
      if (TryAccountOwner(lead, held_by, "", now)) {
        KeepHeldBy(lead, std::move(held_by));
        continue;
      }
      if (!anyone) {
        continue;
      }
      // An escalated lead goes preferably to a rep that has not held it.
      int rep = held_by.empty() ? -1 : PickRep(team_index, lead, held_by, now, now);
      if (rep < 0 && (!only_new_reps || held_by.empty())) {
        rep = PickRep(team_index, lead, {}, now, now);
      }
      if (rep < 0) {
        continue;
      }
      Dequeue(id);
      Assign(lead, team_index, rep, OutboxKind::kRouted, RoutingStrategyName(team.strategy), "", "",
             now);
      KeepHeldBy(lead, std::move(held_by));
    }
  }
}

void Router::KeepHeldBy(Lead* lead, std::vector<std::string> held_by) {
  if (held_by.empty() || !lead->owner.has_value()) {
    return;
  }
  LeadOwner& owner = *lead->owner;
  owner.reassignments = static_cast<uint32_t>(held_by.size() - 1);
  for (const std::string& held : owner.held_by) {
    if (std::find(held_by.begin(), held_by.end(), held) == held_by.end()) {
      held_by.push_back(held);
    }
  }
  owner.held_by = std::move(held_by);
  host_->LeadChanged(lead);
}

void Router::RerouteUnrouted() {
  auto q = queues_.find(std::string(kUnroutedKey));
  if (q == queues_.end()) {
    return;
  }
  const EpochSeconds now = clock_->Now();
  std::vector<std::string> waiting;
  waiting.reserve(q->second.size());
  for (const auto& [order, id] : q->second) {
    waiting.push_back(id);
  }
  for (const std::string& id : waiting) {
    Lead* lead = host_->FindLead(id);
    if (lead == nullptr || HasOpenOwner(*lead) ||
        scorer_->StageIndex(lead) < rules().routing.stage_index) {
      Dequeue(id);
      continue;
    }
    Route(lead, "", now, /*announce_unrouted=*/false, HeldByWhileParked(id));
  }
}

void Router::WakeAll() {
  for (const TeamDef& team : rules().routing.teams) {
    Wake(team.id);
  }
}

void Router::Wake(std::string_view team) {
  ++generations_[std::string(team)].wake;
  generations_dirty_ = true;
  drain_needed_ = true;
}

std::vector<std::string> Router::HeldByWhileParked(const std::string& lead_id) const {
  auto parked = parked_.find(lead_id);
  return parked == parked_.end() ? std::vector<std::string>() : parked->second.held_by;
}

void Router::ParkUnrouted(const std::string& lead_id, std::vector<std::string> held_by) {
  if (!held_by.empty()) {
    Park(lead_id, Parked{{}, std::move(held_by)});
  }
}

Router::Parked Router::ParkedNow(const std::string& team, std::vector<std::string> held_by) {
  return Parked{generations_[team], std::move(held_by)};
}

void Router::NoticeClockWakes(EpochSeconds now) {
  const bool after_downtime = check_downtime_;
  check_downtime_ = false;
  for (const TeamDef& team : rules().routing.teams) {
    for (const RepDef& def : team.reps) {
      RepState& s = StateOf(def.id);
      const LocalMoment m = LocalMomentOf(def.tz, now);
      const int in_hours = def.hours.Contains(m.minute_of_week) ? 1 : 0;
      bool woken = (s.seen_in_hours == 0 && in_hours == 1) ||
                   (s.seen_day != INT64_MIN && s.seen_day != m.day);
      if (!woken && after_downtime && s.seen_in_hours == 1 && in_hours == 1 && s.seen_at > 0) {
        // In hours when last seen and now, on the same local day: a break in between (split
        // hours) was a start of working hours the running daemon would have seen.
        const int then = LocalMomentOf(def.tz, s.seen_at).minute_of_week;
        for (int minute = then + 1; minute < m.minute_of_week && !woken; ++minute) {
          woken = !def.hours.Contains(minute);
        }
      }
      if (woken) {
        Wake(team.id);
      }
      if (s.seen_in_hours != in_hours || s.seen_day != m.day) {
        // Stored with the reps, so a start notices what the clock did while the daemon was down.
        s.seen_in_hours = in_hours;
        s.seen_day = m.day;
        s.seen_at = now;
        MarkRepsDirty();
      }
    }
  }
}

std::string Router::QueuedIn(std::string_view lead_id) const {
  auto it = queued_in_.find(std::string(lead_id));
  if (it == queued_in_.end() || it->second.queue == router_internal::kUnroutedKey) {
    return {};
  }
  return it->second.queue;
}

}  // namespace handoff
