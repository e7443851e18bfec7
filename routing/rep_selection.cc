// Router: which team takes a lead and which of its reps is eligible and next.
#include "handoff/value.h"
#include "routing/rep_calendar.h"
#include "routing/router.h"
#include "routing/router_internal.h"

namespace handoff {

using router_internal::Contains;

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
  // SPEC 7: "must be in the rep's skills", equal as `in` compares: the same type and value, so
  // `skills: [1, true, en]` takes 1 (or 1.0), true and "en", and a quoted "1" takes only "1".
  // Arrays and objects match nothing.
  return std::any_of(def.skills.begin(), def.skills.end(), [&](const Value& v) {
    switch (skill.type) {
      case Value::Type::kString:
        return v.is_string() && v.as_string() == skill.string;
      case Value::Type::kNumber:
        return v.is_number() && v.as_number() == skill.number;
      case Value::Type::kBool:
        return v.is_bool() && v.as_bool() == skill.boolean;
      default:
        return false;
    }
  });
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

}  // namespace handoff
