#include "routing/router.h"

#include <algorithm>

#include "base/json_parser.h"
#include "routing/rep_calendar.h"
#include "base/ascii.h"

namespace handoff {
namespace {

constexpr std::string_view kUnrouted = "unrouted";  // not a team id: team ids are checked apart
constexpr std::string_view kUnroutedKey = "\x01unrouted";
constexpr std::string_view kMetaReps = "router.reps";
constexpr std::string_view kMetaQueues = "router.queues";
constexpr std::string_view kMetaAccounts = "router.accounts";
constexpr std::string_view kMetaEscalated = "router.escalated";  // lead id -> reps that held it

// Drain the queues at most this often from Tick (events that free a rep drain at once).
constexpr double kDrainInterval = 1.0;

std::string LowerDomainOf(const Value& traits) {
  const Value* email = traits.Find("email");
  if (email == nullptr || !email->is_string()) {
    return "";
  }
  const std::string& s = email->as_string();
  size_t at = s.rfind('@');
  if (at == std::string::npos) {
    return "";
  }
  return AsciiLowerCopy(std::string_view(s).substr(at + 1));
}

bool Contains(const std::vector<std::string>& list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

SalesActOutcome Fail(std::string error, std::string message) {
  SalesActOutcome r;
  r.result.error = std::move(error);
  r.result.message = std::move(message);
  return r;
}

}  // namespace

bool Router::IsFreeMailDomain(std::string_view domain) {
  static const std::set<std::string_view> kFree = {
      "gmail.com",   "googlemail.com", "yahoo.com",   "yahoo.co.uk",   "yahoo.fr",
      "hotmail.com", "hotmail.co.uk",  "hotmail.fr",  "outlook.com",   "live.com",
      "msn.com",     "icloud.com",     "me.com",      "mac.com",       "aol.com",
      "proton.me",   "protonmail.com", "gmx.com",     "gmx.de",        "gmx.net",
      "web.de",      "mail.com",       "yandex.com",  "yandex.ru",     "mail.ru",
      "zoho.com",    "qq.com",         "163.com",     "126.com",       "fastmail.com",
      "hey.com",     "tutanota.com",   "free.fr",     "orange.fr",     "libero.it",
      "comcast.net", "att.net",        "verizon.net", "btinternet.com"};
  return kFree.contains(domain);
}

Router::Router(RouterHost* host, const Clock* clock, Metrics* metrics)
    : host_(host), clock_(clock), metrics_(metrics) {}

Status Router::Restore(
    const std::function<Status(std::string_view key, std::string* value)>& get_meta) {
  JsonParser parser;
  auto load = [&](std::string_view key, Value* out) -> Status {
    std::string text;
    Status st = get_meta(key, &text);
    if (st.IsNotFound()) {
      *out = Value::MakeObject();
      return Status::Ok();
    }
    if (!st.ok()) {
      return st;
    }
    Status parsed = parser.Parse(text, out);
    if (!parsed.ok() || !out->is_object()) {
      return Status::Corruption(std::string(key) + " does not parse");
    }
    return Status::Ok();
  };
  Value reps;
  Value queues;
  Value accounts;
  Value escalated;
  if (Status st = load(kMetaReps, &reps); !st.ok()) {
    return st;
  }
  if (Status st = load(kMetaQueues, &queues); !st.ok()) {
    return st;
  }
  if (Status st = load(kMetaAccounts, &accounts); !st.ok()) {
    return st;
  }
  if (Status st = load(kMetaEscalated, &escalated); !st.ok()) {
    return st;
  }
  auto number = [](const Value& obj, std::string_view key) -> double {
    const Value* v = obj.Find(key);
    return v != nullptr && v->is_number() ? v->as_number() : 0;
  };
  for (const auto& [id, v] : reps.as_object()) {
    RepState& s = reps_[id];
    const Value* online = v.Find("online");
    s.online = online == nullptr || !online->is_bool() || online->as_bool();
    s.current_weight = static_cast<int64_t>(number(v, "current_weight"));
    s.day = static_cast<int64_t>(number(v, "day"));
    s.today = static_cast<int>(number(v, "today"));
  }
  for (const auto& [key, v] : queues.as_object()) {
    std::string queue_key = key == kUnrouted ? std::string(kUnroutedKey) : key;
    if (!v.is_array()) {
      continue;
    }
    for (const Value& id : v.as_array()) {
      if (id.is_string()) {
        queues_[queue_key].push_back(id.as_string());
        queued_in_[id.as_string()] = queue_key;
      }
    }
  }
  for (const auto& [domain, v] : accounts.as_object()) {
    if (v.is_string()) {
      accounts_[domain] = v.as_string();
    }
  }
  // Escalated leads wait for a wake that happens after the restart (generation 0).
  for (const auto& [id, v] : escalated.as_object()) {
    auto q = queued_in_.find(id);
    if (q == queued_in_.end() || q->second == kUnroutedKey || !v.is_array()) {
      continue;
    }
    Parked& p = parked_[id];
    for (const Value& rep : v.as_array()) {
      if (rep.is_string()) {
        p.held_by.push_back(rep.as_string());
      }
    }
  }
  return Status::Ok();
}

void Router::AdoptLead(Lead* lead) {
  if (!lead->owner.has_value()) {
    return;
  }
  const LeadOwner& o = *lead->owner;
  by_seq_[o.seq] = lead->id;  // closed too: a second close gets already_closed
  if (o.closed) {
    return;
  }
  StateOf(o.rep).open++;
  if (!o.accepted && scorer_ != nullptr && rules().routing.sla.accept_within > 0) {
    sla_.emplace(o.routed_at + rules().routing.sla.accept_within, lead->id);
  }
}

Router::RepState& Router::StateOf(const std::string& rep_id) { return reps_[rep_id]; }

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
    for (const auto& [seq, lead_id] : by_seq_) {
      Lead* lead = host_->FindLead(lead_id);
      if (lead != nullptr && HasOpenOwner(*lead) && !lead->owner->accepted &&
          routing.sla.accept_within > 0) {
        sla_.emplace(lead->owner->routed_at + routing.sla.accept_within, lead_id);
      }
    }
  }
  // Queues of teams that are gone, and the unrouted queue, are routed afresh.
  struct Orphan {
    std::string id;
    bool was_unrouted;
  };
  std::vector<Orphan> orphans;
  for (auto it = queues_.begin(); it != queues_.end();) {
    bool team_exists = false;
    for (const TeamDef& team : routing.teams) {
      team_exists |= team.id == it->first;
    }
    if (!team_exists) {
      for (const std::string& id : it->second) {
        orphans.push_back(Orphan{id, it->first == kUnroutedKey});
        queued_in_.erase(id);
        parked_.erase(id);
      }
      it = queues_.erase(it);
      queues_dirty_ = true;
    } else {
      ++it;
    }
  }
  if (first || !RoutingEnabled()) {
    // At start the leads are not adopted yet: they wait in the unrouted queue, routed afresh on
    // the first drain. Without routing they wait there for rules that route them.
    for (const Orphan& o : orphans) {
      Enqueue(o.id, std::string(kUnroutedKey));
    }
    reroute_unrouted_ = first;
  } else {
    reroute_unrouted_ = false;
    const EpochSeconds now = clock_->Now();
    for (const Orphan& o : orphans) {
      Lead* lead = host_->FindLead(o.id);
      if (lead != nullptr && !HasOpenOwner(*lead) &&
          scorer_->StageIndex(lead) >= routing.stage_index) {
        Route(lead, "", now, !o.was_unrouted);
      }
    }
    // New reps, hours or limits: escalated leads may be offered again.
    for (const TeamDef& team : routing.teams) {
      Wake(team.id);
    }
  }
  MarkRepsDirty();
  drain_needed_ = true;
}

bool Router::RoutingEnabled() const {
  return scorer_ != nullptr && rules().routing.enabled && rules().routing.stage_index > 0;
}

bool Router::HasOpenOwner(const Lead& lead) const {
  return lead.owner.has_value() && !lead.owner->closed;
}

EvalContext Router::LeadContext(Lead* lead, std::vector<double>* scores, EpochSeconds at) {
  scorer_->ReadScores(lead, at, scores);
  EvalContext ctx;
  ctx.traits = &lead->traits;
  ctx.scores = scores->data();
  ctx.lead_id = lead->id;
  ctx.lead_stage = lead->stage;
  return ctx;
}

int Router::TodayCount(const RepDef& def, RepState& state, EpochSeconds now) {
  LocalMoment m = LocalMomentOf(def.tz, now);
  if (state.day != m.day) {
    state.day = m.day;
    state.today = 0;
    MarkRepsDirty();
  }
  return state.today;
}

bool Router::RepAvailable(const RepDef& def, RepState& state, EpochSeconds now, std::string* why) {
  if (!state.online) {
    *why = "offline";
    return false;
  }
  if (!def.hours.Contains(LocalMomentOf(def.tz, now).minute_of_week)) {
    *why = "outside_hours";
    return false;
  }
  if (def.max_open >= 0 && state.open >= def.max_open) {
    *why = "max_open";
    return false;
  }
  if (def.max_per_day >= 0 && TodayCount(def, state, now) >= def.max_per_day) {
    *why = "max_per_day";
    return false;
  }
  return true;
}

bool Router::SkillMatches(const RepDef& def, const EvalResult& skill) const {
  if (skill.type == Value::Type::kNull) {
    return true;
  }
  if (skill.type != Value::Type::kString) {
    return false;
  }
  return std::find(def.skills.begin(), def.skills.end(), skill.string) != def.skills.end();
}

int Router::PickRep(int team_index, Lead* lead, const std::vector<std::string>& exclude,
                    EpochSeconds now, EpochSeconds scores_at) {
  const TeamDef& team = rules().routing.teams[team_index];
  EvalResult skill;
  if (team.skill.has_value()) {
    EvalContext ctx = LeadContext(lead, &scores_scratch_, scores_at);
    skill = team.skill->Evaluate(ctx);
  }
  std::vector<int> eligible;
  std::string why;
  for (size_t r = 0; r < team.reps.size(); ++r) {
    const RepDef& def = team.reps[r];
    if (Contains(exclude, def.id)) {
      continue;
    }
    if (RepAvailable(def, StateOf(def.id), now, &why) && SkillMatches(def, skill)) {
      eligible.push_back(static_cast<int>(r));
    }
  }
  if (eligible.empty()) {
    return -1;
  }
  if (team.strategy == RoutingStrategy::kLeastLoaded) {
    int best = eligible[0];
    for (int r : eligible) {
      RepState& a = StateOf(team.reps[r].id);
      RepState& b = StateOf(team.reps[best].id);
      int a_today = TodayCount(team.reps[r], a, now);
      int b_today = TodayCount(team.reps[best], b, now);
      if (a.open < b.open || (a.open == b.open && a_today < b_today)) {
        best = r;
      }
    }
    return best;
  }
  // Smooth weighted round robin over the eligible reps (round_robin: every weight 1).
  const bool weighted = team.strategy == RoutingStrategy::kWeightedRoundRobin;
  int64_t total = 0;
  int best = -1;
  int64_t best_weight = 0;
  for (int r : eligible) {
    const int64_t w = weighted ? team.reps[r].weight : 1;
    RepState& s = StateOf(team.reps[r].id);
    s.current_weight += w;
    total += w;
    if (best < 0 || s.current_weight > best_weight) {
      best = r;
      best_weight = s.current_weight;
    }
  }
  StateOf(team.reps[best].id).current_weight -= total;
  MarkRepsDirty();
  return best;
}

int Router::FindTeam(Lead* lead, EpochSeconds now) {
  EvalContext ctx = LeadContext(lead, &scores_scratch_, now);
  const std::vector<TeamDef>& teams = rules().routing.teams;
  for (size_t t = 0; t < teams.size(); ++t) {
    if (teams[t].when.Test(ctx)) {
      return static_cast<int>(t);
    }
  }
  return -1;
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
  Assign(lead, s.team_index, s.def_index, OutboxKind::kRouted, "account_owner", "", trigger, scores_at);
  return true;
}

void Router::Route(Lead* lead, std::string_view trigger, EpochSeconds scores_at,
                   bool announce_unrouted) {
  const EpochSeconds now = clock_->Now();
  const RoutingDef& routing = rules().routing;
  if (auto q = queued_in_.find(lead->id); q != queued_in_.end() && q->second == kUnroutedKey) {
    announce_unrouted = false;  // it was said when the lead entered the queue
  }
  Dequeue(lead->id);
  if (TryAccountOwner(lead, {}, trigger, scores_at)) {
    return;
  }
  int team = FindTeam(lead, scores_at);
  if (team < 0) {
    Enqueue(lead->id, std::string(kUnroutedKey));
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
  int rep = PickRep(team, lead, {}, now, scores_at);
  if (rep < 0) {
    Enqueue(lead->id, routing.teams[team].id);
    return;
  }
  Assign(lead, team, rep, OutboxKind::kRouted, RoutingStrategyName(routing.teams[team].strategy), "", trigger,
         scores_at);
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
    by_seq_.erase(lead->owner->seq);
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
  by_seq_.erase(lead->owner->seq);
  lead->owner.reset();
  host_->LeadChanged(lead);
  bool team_exists = false;
  for (const TeamDef& t : rules().routing.teams) {
    team_exists |= t.id == team;
  }
  if (!team_exists) {
    Enqueue(lead->id, std::string(kUnroutedKey));
    return;
  }
  // It waits for a rep that becomes eligible from now on (see the class comment).
  const std::string team_id(team);
  Enqueue(lead->id, team_id);
  parked_[lead->id] = Parked{wake_generation_[team_id], std::move(held_by)};
}

SalesActOutcome Router::Act(const SalesAction& action) {
  auto it = by_seq_.find(action.seq);
  Lead* lead = it == by_seq_.end() ? nullptr : host_->FindLead(it->second);
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
        accounts_[domain] = o.rep;
        accounts_dirty_ = true;
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
      record.kind = OutboxKind::kClosed;
      record.outcome = action.outcome;
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
  NoticeClockWakes(now);
  if (reroute_unrouted_) {
    reroute_unrouted_ = false;
    RerouteUnrouted();
  }
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
    const uint64_t generation = wake_generation_[team.id];
    const int team_index = static_cast<int>(t);
    std::vector<std::string> waiting(q->second.begin(), q->second.end());
    for (const std::string& id : waiting) {
      Lead* lead = host_->FindLead(id);
      if (lead == nullptr || HasOpenOwner(*lead) ||
          scorer_->StageIndex(lead) < routing.stage_index) {
        Dequeue(id);
        continue;
      }
      std::vector<std::string> held_by;
      if (auto p = parked_.find(id); p != parked_.end()) {
        if (p->second.wake_generation == generation) {
          continue;  // escalated, and no rep of the team has become eligible since
        }
        held_by = p->second.held_by;
      }
      if (TryAccountOwner(lead, held_by, "", now)) {
        continue;
      }
      if (!anyone) {
        continue;
      }
      // An escalated lead goes preferably to a rep that has not held it.
      int rep = held_by.empty() ? -1 : PickRep(team_index, lead, held_by, now, now);
      if (rep < 0) {
        rep = PickRep(team_index, lead, {}, now, now);
      }
      if (rep < 0) {
        continue;
      }
      Dequeue(id);
      Assign(lead, team_index, rep, OutboxKind::kRouted, RoutingStrategyName(team.strategy), "", "", now);
    }
  }
}

void Router::RerouteUnrouted() {
  auto q = queues_.find(std::string(kUnroutedKey));
  if (q == queues_.end()) {
    return;
  }
  const EpochSeconds now = clock_->Now();
  const std::vector<std::string> waiting(q->second.begin(), q->second.end());
  for (const std::string& id : waiting) {
    Lead* lead = host_->FindLead(id);
    if (lead == nullptr || HasOpenOwner(*lead) ||
        scorer_->StageIndex(lead) < rules().routing.stage_index) {
      Dequeue(id);
      continue;
    }
    Route(lead, "", now, /*announce_unrouted=*/false);
  }
}

void Router::Wake(std::string_view team) {
  ++wake_generation_[std::string(team)];
  drain_needed_ = true;
}

void Router::NoticeClockWakes(EpochSeconds now) {
  for (const TeamDef& team : rules().routing.teams) {
    for (const RepDef& def : team.reps) {
      RepState& s = StateOf(def.id);
      const LocalMoment m = LocalMomentOf(def.tz, now);
      const int in_hours = def.hours.Contains(m.minute_of_week) ? 1 : 0;
      if ((s.seen_in_hours == 0 && in_hours == 1) ||
          (s.seen_day != INT64_MIN && s.seen_day != m.day)) {
        Wake(team.id);
      }
      s.seen_in_hours = in_hours;
      s.seen_day = m.day;
    }
  }
}

void Router::Enqueue(std::string_view lead_id, const std::string& queue) {
  Dequeue(lead_id);
  queues_[queue].emplace_back(lead_id);
  queued_in_[std::string(lead_id)] = queue;
  queues_dirty_ = true;
}

void Router::Dequeue(std::string_view lead_id) {
  auto it = queued_in_.find(std::string(lead_id));
  if (it == queued_in_.end()) {
    return;
  }
  auto q = queues_.find(it->second);
  if (q != queues_.end()) {
    auto pos = std::find(q->second.begin(), q->second.end(), lead_id);
    if (pos != q->second.end()) {
      q->second.erase(pos);
    }
    if (q->second.empty()) {
      queues_.erase(q);
    }
  }
  queued_in_.erase(it);
  parked_.erase(std::string(lead_id));
  queues_dirty_ = true;
}

Status Router::SetOnline(std::string_view rep, bool online) {
  auto it = reps_.find(std::string(rep));
  if (it == reps_.end() || it->second.def_index < 0) {
    return Status::NotFound("no rep \"" + std::string(rep) + "\" in the routing rules");
  }
  if (it->second.online != online) {
    it->second.online = online;
    MarkRepsDirty();
    drain_needed_ = true;
    if (online) {
      Wake(it->second.team);
    }
  }
  return Status::Ok();
}

std::vector<RepView> Router::Reps() {
  std::vector<RepView> out;
  if (scorer_ == nullptr) {
    return out;
  }
  const EpochSeconds now = clock_->Now();
  const RoutingDef& routing = rules().routing;
  for (const TeamDef& team : routing.teams) {
    auto q = queues_.find(team.id);
    for (const RepDef& def : team.reps) {
      RepState& s = StateOf(def.id);
      RepView v;
      v.id = def.id;
      v.team = team.id;
      v.online = s.online;
      v.in_hours = def.hours.Contains(LocalMomentOf(def.tz, now).minute_of_week);
      v.open = s.open;
      v.today = TodayCount(def, s, now);
      v.weight = def.weight;
      v.current_weight = s.current_weight;
      v.eligible = RepAvailable(def, s, now, &v.why_not);
      if (v.eligible) {
        v.why_not.clear();
      }
      v.queued_in_team = q == queues_.end() ? 0 : q->second.size();
      out.push_back(std::move(v));
    }
  }
  for (const auto& [id, s] : reps_) {
    if (s.def_index < 0 && s.open > 0) {
      RepView v;
      v.id = id;
      v.team = s.team;
      v.configured = false;
      v.online = s.online;
      v.open = s.open;
      v.today = s.today;
      v.current_weight = s.current_weight;
      v.why_not = "removed";
      out.push_back(std::move(v));
    }
  }
  return out;
}

Status Router::SetAccountOwner(std::string_view domain, std::string_view rep) {
  auto it = reps_.find(std::string(rep));
  if (it == reps_.end() || it->second.def_index < 0) {
    return Status::NotFound("no rep \"" + std::string(rep) + "\" in the routing rules");
  }
  accounts_[AsciiLowerCopy(domain)] = std::string(rep);
  accounts_dirty_ = true;
  return Status::Ok();
}

std::string Router::AccountOwner(std::string_view domain) const {
  auto it = accounts_.find(AsciiLowerCopy(domain));
  return it == accounts_.end() ? "" : it->second;
}

void Router::Flush() {
  if (reps_dirty_) {
    Value reps = Value::MakeObject();
    for (const auto& [id, s] : reps_) {
      Value v = Value::MakeObject();
      v.Set("online", Value::Bool(s.online));
      v.Set("current_weight", Value::Number(static_cast<double>(s.current_weight)));
      v.Set("day", Value::Number(static_cast<double>(s.day == INT64_MIN ? 0 : s.day)));
      v.Set("today", Value::Number(s.today));
      reps.Set(id, std::move(v));
    }
    host_->PutMeta(kMetaReps, reps.ToJson());
    reps_dirty_ = false;
  }
  if (queues_dirty_) {
    Value queues = Value::MakeObject();
    for (const auto& [key, ids] : queues_) {
      Value list = Value::MakeArray();
      for (const std::string& id : ids) {
        list.mutable_array().push_back(Value::String(id));
      }
      queues.Set(key == kUnroutedKey ? kUnrouted : std::string_view(key), std::move(list));
    }
    host_->PutMeta(kMetaQueues, queues.ToJson());
    Value escalated = Value::MakeObject();
    for (const auto& [id, p] : parked_) {
      Value held = Value::MakeArray();
      for (const std::string& rep : p.held_by) {
        held.mutable_array().push_back(Value::String(rep));
      }
      escalated.Set(id, std::move(held));
    }
    host_->PutMeta(kMetaEscalated, escalated.ToJson());
    queues_dirty_ = false;
  }
  if (accounts_dirty_) {
    Value accounts = Value::MakeObject();
    for (const auto& [domain, rep] : accounts_) {
      accounts.Set(domain, Value::String(rep));
    }
    host_->PutMeta(kMetaAccounts, accounts.ToJson());
    accounts_dirty_ = false;
  }
}

}  // namespace handoff
