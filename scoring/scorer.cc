#include "scoring/scorer.h"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cmath>
#include <limits>

#include "scoring/stages.h"
#include "scoring/traits.h"

namespace handoff {
namespace {

std::atomic<uint64_t> next_generation{1};

// 2^(-(later - earlier) / half_life); 1 when the score does not decay.
double DecayFactor(double half_life, EpochSeconds earlier, EpochSeconds later) {
  if (half_life <= 0 || later == earlier) {
    return 1.0;
  }
  return std::exp2(-(later - earlier) / half_life);
}

}  // namespace

Scorer::Scorer(std::shared_ptr<const RuleSet> rules)
    : rules_(std::move(rules)),
      generation_(next_generation.fetch_add(1)),
      candidates_(*rules_),
      profile_regexes_(*rules_) {
  assert(rules_ != nullptr);
  rules_of_score_.resize(rules_->scores.size());
  for (size_t r = 0; r < rules_->rules.size(); ++r) {
    rules_of_score_[rules_->rules[r].score].push_back(static_cast<int>(r));
    if (rules_->scores[rules_->rules[r].score].kind == ScoreKind::kEvent &&
        rules_->rules[r].when.reads_score()) {
      event_rules_read_scores_ = true;
    }
  }
  for (int r : rules_->profile_rules) {
    profile_rules_read_stage_ =
        profile_rules_read_stage_ || rules_->rules[r].when.reads_lead_stage();
  }
  exit_thresholds_.resize(rules_->stages.size());
  for (size_t i = 1; i < rules_->stages.size(); ++i) {
    const StageDef& stage = rules_->stages[i];
    ExitThresholds& exit = exit_thresholds_[i];
    exit.only_thresholds =
        (stage.has_exit ? stage.exit : stage.enter).ScoreThresholds(&exit.thresholds);
  }
  event_tests_.resize(rules_->rules.size());
  for (int r : rules_->event_rules) {
    const Expression& when = rules_->rules[r].when;
    event_tests_[r] = when.AssumingGuard(CandidateRules::GroupGuard(when));
  }
}

CapWindow& CapWindowAt(RuleAward* award, EpochSeconds t, double per) {
  const auto w = static_cast<int64_t>(std::floor(t / per));
  auto it = std::lower_bound(award->windows.begin(), award->windows.end(), w,
                             [](const CapWindow& cw, int64_t key) { return cw.window < key; });
  if (it == award->windows.end() || it->window != w) {
    it = award->windows.insert(it, CapWindow{w, 0});
  }
  return *it;
}

void FoldAward(RuleAward* award, EpochSeconds t, double points, double half_life) {
  if (!award->awarded) {
    award->value = points;
    award->latest = t;
  } else if (t >= award->latest) {
    award->value = award->value * DecayFactor(half_life, award->latest, t) + points;
    award->latest = t;
  } else {
    award->value += points * DecayFactor(half_life, t, award->latest);
  }
  award->awarded = true;
  award->half_life = half_life;
}

const RuleDef* Scorer::EventRule(std::string_view rule_id) const {
  const RuleSet& rs = *rules_;
  const int r = rs.FindRule(rule_id);
  if (r < 0 || rs.scores[rs.rules[r].score].kind != ScoreKind::kEvent) {
    return nullptr;
  }
  return &rs.rules[r];
}

double Scorer::HalfLifeOfRule(std::string_view rule_id) const {
  const RuleDef* rule = EventRule(rule_id);
  return rule == nullptr ? -1 : rules_->scores[rule->score].half_life;
}

double Scorer::CapPerOfRule(std::string_view rule_id) const {
  const RuleDef* rule = EventRule(rule_id);
  if (rule == nullptr) {
    return -1;
  }
  return rule->cap.has_value() ? rule->cap->per : 0;
}

bool Scorer::NeedsRefold(Lead* lead) const {
  Align(lead);
  for (const RuleAward& award : lead->awards) {
    if (!award.awarded) {
      continue;
    }
    const double half_life = HalfLifeOfRule(award.rule_id);  // -1: not in force
    if (award.half_life >= 0 && half_life >= 0 && award.half_life != half_life) {
      return true;
    }
    const double per = CapPerOfRule(award.rule_id);  // 0: no cap, nothing to count
    if (award.cap_per >= 0 && per > 0 && award.cap_per != per) {
      return true;
    }
  }
  return false;
}

void Scorer::Align(Lead* lead) const {
  LeadScoringCache& cache = lead->scoring_cache;
  if (cache.generation == generation_) {
    return;
  }
  const RuleSet& rs = *rules_;
  // Event rules in force get a slot: only they count. The award state of a rule not in force
  // (removed, or no longer an event rule) is kept and counts for nothing, so every lead reads
  // the same whether it was touched while the rule was away or not, and a reload that brings
  // the id back brings back its awards and its `once`/`cap` memory (SPEC 5.2: a score is the
  // sum of its rules' contributions under the rules now in force).
  cache.award_slots.clear();
  for (size_t i = 0; i < lead->awards.size(); ++i) {
    const int r = rs.FindRule(lead->awards[i].rule_id);
    if (r < 0 || rs.scores[rs.rules[r].score].kind != ScoreKind::kEvent) {
      continue;
    }
    cache.award_slots.emplace_back(r, static_cast<int32_t>(i));
  }
  // By rule index; of two awards under one rule id (cannot happen) the first counts.
  std::sort(cache.award_slots.begin(), cache.award_slots.end());
  cache.award_slots.erase(
      std::unique(cache.award_slots.begin(), cache.award_slots.end(),
                  [](const auto& a, const auto& b) { return a.first == b.first; }),
      cache.award_slots.end());
  int stage = rs.FindStage(lead->stage);
  if (stage < 0) {
    stage = 0;
    lead->stage = rs.stages[0].name;
  }
  cache.stage_index = stage;
  cache.profile_valid = false;
  cache.generation = generation_;
}

namespace {

// Where rule `rule_index`'s entry is, or would go, in a sorted award_slots list.
template <typename Slots>
auto FindSlot(Slots& slots, int rule_index) {
  return std::lower_bound(slots.begin(), slots.end(), rule_index,
                          [](const auto& entry, int r) { return entry.first < r; });
}

// The index into LeadState::awards of rule `rule_index`'s award, or -1.
int32_t SlotOf(const LeadScoringCache& cache, int rule_index) {
  auto it = FindSlot(cache.award_slots, rule_index);
  return it != cache.award_slots.end() && it->first == rule_index ? it->second : -1;
}

}  // namespace

RuleAward& Scorer::AwardSlot(Lead* lead, int rule_index) const {
  std::vector<std::pair<int32_t, int32_t>>& slots = lead->scoring_cache.award_slots;
  auto it = FindSlot(slots, rule_index);
  if (it == slots.end() || it->first != rule_index) {
    if (lead->awards.empty()) {
      // Leads collect a few rules' awards each: start with room for four instead of growing
      // 1, 2, 4 (each step moves every award). Before the emplace: a reserve moves the slots.
      lead->awards.reserve(4);
      slots.reserve(4);
      it = FindSlot(slots, rule_index);
    }
    it = slots.emplace(it, rule_index, static_cast<int32_t>(lead->awards.size()));
    lead->awards.emplace_back();
    lead->awards.back().rule_id = rules_->rules[rule_index].id;
  }
  return lead->awards[it->second];
}

void Scorer::ProfileScores(Lead* lead) const {
  LeadScoringCache& cache = lead->scoring_cache;
  if (cache.profile_valid) {
    return;
  }
  const RuleSet& rs = *rules_;
  cache.profile.assign(rs.scores.size(), 0.0);
  EvalContext ctx;
  ctx.traits = &lead->traits;
  ctx.lead_id = lead->id;
  ctx.lead_stage = lead->stage;
  thread_local std::vector<char> held;
  const bool sets = !profile_regexes_.empty();
  if (sets) {
    held.resize(rs.rules.size());
    profile_regexes_.Holds(lead->traits, &held);
  }
  for (int r : rs.profile_rules) {
    const RuleDef& rule = rs.rules[r];
    // Added in rule order whichever way each condition is answered: the same sum, bit for bit.
    if (sets && profile_regexes_.Covers(r) ? held[r] != 0 : rule.when.Test(ctx)) {
      cache.profile[rule.score] += rule.points;
    }
  }
  cache.profile_valid = true;
}

double Scorer::ScoreAt(const Lead& lead, int score, EpochSeconds at,
                       std::vector<ScorePart>* parts) const {
  const RuleSet& rs = *rules_;
  const ScoreDef& def = rs.scores[score];
  if (def.kind == ScoreKind::kProfile) {
    if (parts == nullptr) {
      return lead.scoring_cache.profile[score];
    }
    EvalContext ctx;
    ctx.traits = &lead.traits;
    ctx.lead_id = lead.id;
    ctx.lead_stage = lead.stage;
    double total = 0;
    for (int r : rules_of_score_[score]) {
      const RuleDef& rule = rs.rules[r];
      if (rule.points != 0 && rule.when.Test(ctx)) {
        total += rule.points;
        parts->push_back({rule.id, rule.points});
      }
    }
    return total;
  }
  // The lead's awards of this score's rules, in rule order (the order of the sum).
  const std::vector<std::pair<int32_t, int32_t>>& slots = lead.scoring_cache.award_slots;
  // R = max(at, the latest award of this score).
  EpochSeconds read_at = at;
  for (const auto& [r, slot] : slots) {
    if (rs.rules[r].score == score) {
      read_at = std::max(read_at, lead.awards[slot].latest);
    }
  }
  double total = 0;
  for (const auto& [r, slot] : slots) {
    if (rs.rules[r].score != score) {
      continue;
    }
    const RuleAward& award = lead.awards[slot];
    if (!award.awarded) {
      continue;
    }
    double part = award.value * DecayFactor(def.half_life, award.latest, read_at);
    total += part;
    if (parts != nullptr && part != 0) {
      parts->push_back({rs.rules[r].id, part});
    }
  }
  return total;
}

void Scorer::AllScores(Lead* lead, EpochSeconds at, double* out) const {
  ProfileScores(lead);
  // ScoreAt for every score in two passes over the lead's awards instead of two per score: the
  // same read time per score and the same parts added in the same (rule) order, so the same
  // bits. Runs twice per event (before the stage check, and for reads).
  const RuleSet& rs = *rules_;
  const size_t n = rs.scores.size();
  thread_local std::vector<EpochSeconds> read_at;
  read_at.assign(n, at);
  const std::vector<std::pair<int32_t, int32_t>>& slots = lead->scoring_cache.award_slots;
  for (const auto& [r, slot] : slots) {
    EpochSeconds& t = read_at[rs.rules[r].score];
    t = std::max(t, lead->awards[slot].latest);
  }
  for (size_t s = 0; s < n; ++s) {
    out[s] = rs.scores[s].kind == ScoreKind::kProfile ? lead->scoring_cache.profile[s] : 0.0;
  }
  for (const auto& [r, slot] : slots) {
    const RuleAward& award = lead->awards[slot];
    if (!award.awarded) {
      continue;
    }
    const int score = rs.rules[r].score;
    out[score] +=
        award.value * DecayFactor(rs.scores[score].half_life, award.latest, read_at[score]);
  }
}

StageChange Scorer::MoveStage(Lead* lead, const double* scores, bool promote) const {
  StageChange change;
  change.from = lead->scoring_cache.stage_index;
  EvalContext ctx;
  ctx.traits = &lead->traits;
  ctx.scores = scores;
  ctx.lead_id = lead->id;
  change.to = NextStage(rules_->stages, change.from, ctx, promote);
  if (change.changed()) {
    SetStage(lead, change.to);
  }
  return change;
}

void Scorer::SetStage(Lead* lead, int stage_index) const {
  Align(lead);
  lead->scoring_cache.stage_index = stage_index;
  lead->stage = rules_->stages[stage_index].name;
  if (profile_rules_read_stage_) {
    lead->scoring_cache.profile_valid = false;
  }
}

int Scorer::StageIndex(Lead* lead) const {
  Align(lead);
  return lead->scoring_cache.stage_index;
}

StageChange Scorer::Apply(const Event& event, Lead* lead,
                          std::vector<AwardedPoints>* awarded) const {
  Align(lead);
  if (awarded != nullptr) {
    awarded->clear();
  }
  const RuleSet& rs = *rules_;
  const EpochSeconds t = event.timestamp;
  // Event rules read the scores before this event; most models never do, so skip the work.
  thread_local std::vector<double> before;
  before.resize(rs.scores.size());
  if (event_rules_read_scores_) {
    AllScores(lead, t, before.data());
  }

  if (ApplyEventTraits(event, &lead->traits)) {
    lead->scoring_cache.profile_valid = false;
  }

  EvalContext ctx;
  ctx.event = &event;
  ctx.traits = &lead->traits;
  ctx.scores = before.data();
  ctx.lead_id = lead->id;
  ctx.lead_stage = lead->stage;
  candidates_.ForEach(event, [&](int r) {
    const RuleDef& rule = rs.rules[r];
    if (!event_tests_[r].Test(ctx)) {
      return;
    }
    double points = rule.points;
    if (points == 0) {
      return;
    }
    const int32_t slot = SlotOf(lead->scoring_cache, r);
    if (rule.once && slot >= 0 && lead->awards[slot].awarded) {
      return;
    }
    CapWindow* window = nullptr;
    if (rule.cap.has_value()) {
      window = &CapWindowAt(&AwardSlot(lead, r), t, rule.cap->per);
      double left = rule.cap->points - window->used;
      double amount = std::min(std::fabs(points), std::max(left, 0.0));
      if (amount <= 0) {
        return;
      }
      points = std::copysign(amount, points);
    }
    RuleAward& award = AwardSlot(lead, r);
    if (window != nullptr) {
      window->used += std::fabs(points);
    }
    FoldAward(&award, t, points, rs.scores[rule.score].half_life);
    award.cap_per = rule.cap.has_value() ? rule.cap->per : 0;
    if (awarded != nullptr) {
      awarded->push_back(AwardedPoints{r, points});
    }
  });
  // Candidates come by index (CandidateRules), not in rule order.
  if (awarded != nullptr && awarded->size() > 1) {
    std::sort(awarded->begin(), awarded->end(), [](const AwardedPoints& a, const AwardedPoints& b) {
      return a.rule_index < b.rule_index;
    });
  }

  if (lead->events == 0) {
    lead->first_seen = t;
    lead->last_seen = t;
  } else {
    lead->first_seen = std::min(lead->first_seen, t);
    lead->last_seen = std::max(lead->last_seen, t);
  }
  ++lead->events;

  if (rs.stages.size() <= 1) {
    return StageChange{};  // no stage but "new": nothing to move
  }
  thread_local std::vector<double> after;
  after.resize(rs.scores.size());
  AllScores(lead, t, after.data());
  return MoveStage(lead, after.data(), /*promote=*/true);
}

void Scorer::ReadScores(Lead* lead, EpochSeconds at, std::vector<double>* scores) const {
  Align(lead);
  scores->resize(rules_->scores.size());
  AllScores(lead, at, scores->data());
}

void Scorer::Breakdown(Lead* lead, EpochSeconds at, std::vector<std::vector<ScorePart>>* parts,
                       std::vector<double>* scores) const {
  Align(lead);
  ProfileScores(lead);
  parts->assign(rules_->scores.size(), {});
  scores->resize(rules_->scores.size());
  for (size_t s = 0; s < rules_->scores.size(); ++s) {
    (*scores)[s] = ScoreAt(*lead, static_cast<int>(s), at, &(*parts)[s]);
  }
}

StageChange Scorer::MoveStageAt(Lead* lead, EpochSeconds now, bool promote) const {
  Align(lead);
  thread_local std::vector<double> scores;
  scores.resize(rules_->scores.size());
  AllScores(lead, now, scores.data());
  return MoveStage(lead, scores.data(), promote);
}

StageChange Scorer::RecheckExit(Lead* lead, EpochSeconds now) const {
  return MoveStageAt(lead, now, /*promote=*/false);
}

EpochSeconds Scorer::NextExitCheck(Lead* lead, EpochSeconds now) const {
  constexpr EpochSeconds kNever = std::numeric_limits<EpochSeconds>::infinity();
  // Rounding in the crossing time below is far under a microsecond; a second is ample.
  constexpr EpochSeconds kEarly = 1.0;
  Align(lead);
  const int current = lead->scoring_cache.stage_index;
  if (current <= 0) {
    return kNever;
  }
  const ExitThresholds& exit = exit_thresholds_[current];
  if (!exit.only_thresholds) {
    return now;
  }
  thread_local std::vector<double> scores;
  scores.resize(rules_->scores.size());
  AllScores(lead, now, scores.data());
  EvalContext ctx;
  ctx.traits = &lead->traits;
  ctx.scores = scores.data();
  ctx.lead_id = lead->id;
  if (NextStage(rules_->stages, current, ctx, /*promote=*/false) != current) {
    return now;
  }
  EpochSeconds next = kNever;
  for (const ScoreThreshold& threshold : exit.thresholds) {
    const ScoreDef& def = rules_->scores[threshold.score];
    if (def.kind != ScoreKind::kEvent || def.half_life <= 0) {
      continue;  // constant in time
    }
    // From R = max(now, latest award) on, the score is S(R) * 2^(-(T - R) / H): it moves towards
    // zero and passes `value` once if `value` lies strictly between S(R) and zero.
    EpochSeconds from = now;
    for (const auto& [r, slot] : lead->scoring_cache.award_slots) {
      if (rules_->rules[r].score == threshold.score) {
        from = std::max(from, lead->awards[slot].latest);
      }
    }
    const double value = scores[threshold.score];
    if (threshold.value == 0) {
      // Only the arithmetic reaches zero: a part of the score underflows once it is below the
      // smallest double, some 1,074 half-lives below 1. Early by 64 half-lives (a score of many
      // awards of the same sign reaches zero when its largest part does).
      if (value != 0) {
        constexpr double kHalvingsFromOneToZero = 1074;  // 2^-1074: the smallest double
        const double halvings = std::log2(std::fabs(value)) + kHalvingsFromOneToZero - 64;
        next = std::min(next, from + def.half_life * std::max(0.0, halvings));
      }
      continue;
    }
    const double ratio = value / threshold.value;
    if (!(ratio >= 1)) {
      continue;  // never reaches it (opposite signs, or already past it)
    }
    next = std::min(next, from + def.half_life * std::log2(ratio));
  }
  return next == kNever ? kNever : std::max(now, next - kEarly);
}

StageChange Scorer::Reevaluate(Lead* lead, EpochSeconds now) const {
  return MoveStageAt(lead, now, /*promote=*/true);
}

}  // namespace handoff
