// Scorer: the scoring model of SPEC 5.2 and the stage machine of 5.3, as pure functions of a
// lead's state, an event and a rule set. No I/O, no clock: every time is passed in.
//
// A Scorer is bound to one RuleSet (shared ownership) and is immutable, so any number of threads
// may use one Scorer at once on different leads. Each Scorer has a process-unique generation that
// keys the per-lead cache (Lead::cache), so a lead scored under new rules re-aligns itself.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "handoff/event.h"
#include "rules/rule_set.h"
#include "scoring/candidate_rules.h"
#include "scoring/lead.h"
#include "scoring/profile_regexes.h"

namespace handoff {

// A stage move caused by one event or one re-check. Indexes into RuleSet::stages.
struct StageChange {
  int from = 0;
  int to = 0;
  bool changed() const { return from != to; }
};

// Points one event rule awarded one event (after caps), for the lead's history.
struct AwardedPoints {
  int rule_index = 0;  // into RuleSet::rules
  double points = 0;
};

// One rule's part of one score.
struct ScorePart {
  std::string_view rule_id;  // points into the RuleSet
  double points = 0;
};

// Folds one award of `points` at event time `t` into `award`, the sum decayed to its latest
// award under `half_life` (0: no decay), and marks it folded under that half-life. The one
// arithmetic every award goes through, so folding a rule's awards again from the history, in
// apply order, gives back the same value bit for bit.
void FoldAward(RuleAward* award, EpochSeconds t, double points, double half_life);
// The cap window holding event time `t` for a cap of `per` seconds, floor(t / per) (SPEC 5.2), in
// `award`'s windows (kept sorted); added with nothing used when it is not there yet.
CapWindow& CapWindowAt(RuleAward* award, EpochSeconds t, double per);

class Scorer {
 public:
  explicit Scorer(std::shared_ptr<const RuleSet> rules);

  const RuleSet& rules() const { return *rules_; }
  const std::shared_ptr<const RuleSet>& rules_ptr() const { return rules_; }
  uint64_t generation() const { return generation_; }

  // Applies a validated event, whose timestamp is set, to `lead`: merges traits, awards event
  // rules (caps, once, decay), updates first/last seen and the event count, then moves the stage.
  // `lead->id` must already be set.
  // When `awarded` is given, it is filled with the points each rule awarded this event, in rule
  // (file) order, the order of the lead's breakdown.
  StageChange Apply(const Event& event, Lead* lead,
                    std::vector<AwardedPoints>* awarded = nullptr) const;

  // Score values read at time `at` (event scores decayed to R = max(at, latest award); profile
  // scores from the current traits), indexed like RuleSet::scores.
  void ReadScores(Lead* lead, EpochSeconds at, std::vector<double>* scores) const;

  // Every rule's non-zero part of every score at time `at`; (*parts)[s] adds up to score s.
  void Breakdown(Lead* lead, EpochSeconds at, std::vector<std::vector<ScorePart>>* parts,
                 std::vector<double>* scores) const;

  // The wall-clock re-check: while the current stage's exit holds with scores read at `now`,
  // moves the lead down one stage.
  StageChange RecheckExit(Lead* lead, EpochSeconds now) const;

  // A time before which the wall-clock re-check cannot move the lead: no re-check at a time in
  // [now, returned) finds its current stage's exit holding. `now` when the exit holds now, or
  // when it reads scores other than by comparing them with numbers (ScoreThresholds); else the
  // earliest time an event score the exit compares passes a threshold (event scores only decay
  // towards zero, so each comparison changes at most once), a second early against rounding;
  // +infinity when none ever does or the lead is in the first stage. Lets the engine re-check a
  // staged lead only when it is due, with the lead out of memory until then.
  EpochSeconds NextExitCheck(Lead* lead, EpochSeconds now) const;
  // True when stage `stage_index`'s exit reads scores only by comparing them with numbers, so
  // NextExitCheck can tell when it is next due; false for stage 0 (it never exits).
  bool ExitHasOnlyThresholds(int stage_index) const {
    return stage_index > 0 && static_cast<size_t>(stage_index) < exit_thresholds_.size() &&
           exit_thresholds_[stage_index].only_thresholds;
  }

  // The stage machine run as after an event, with scores read at `now` and no event: promotes to
  // the highest stage whose enter holds, else demotes while exit holds. For re-evaluating every
  // lead at once after a reload (`handoff backtest --apply`).
  StageChange Reevaluate(Lead* lead, EpochSeconds now) const;

  // Sets the lead's stage (e.g. a `recycled` close sends it back to "new").
  void SetStage(Lead* lead, int stage_index) const;

  // The lead's current stage index (0 when its stored stage no longer exists).
  int StageIndex(Lead* lead) const;

  // The event score's half-life under these rules for rule `rule_id`'s awards; -1 when no event
  // rule has that id. For refolding awards after a reload changed a half-life.
  double HalfLifeOfRule(std::string_view rule_id) const;
  // The `per` of rule `rule_id`'s cap under these rules (seconds); 0 when it has no cap, -1 when
  // no event rule has that id. For counting a cap's windows again after a reload changed it.
  double CapPerOfRule(std::string_view rule_id) const;
  // True when a reload changed what an award of `lead` was folded under: its score's half-life,
  // or the `per` its cap's windows are counted in (or the rule gained a cap after awarding
  // without one). Awards whose half-life or `per` is not known (-1) do not count.
  bool NeedsRefold(Lead* lead) const;

 private:
  // The event rule `rule_id` under these rules; null when no event rule has that id.
  const RuleDef* EventRule(std::string_view rule_id) const;
  void Align(Lead* lead) const;
  double ScoreAt(const Lead& lead, int score, EpochSeconds at, std::vector<ScorePart>* parts) const;
  void ProfileScores(Lead* lead) const;
  void AllScores(Lead* lead, EpochSeconds at, double* out) const;
  // Promotes to the highest stage whose enter holds (when `promote`), else demotes while the
  // current stage's exit holds.
  StageChange MoveStage(Lead* lead, const double* scores, bool promote) const;
  // MoveStage with every score read at `now`.
  StageChange MoveStageAt(Lead* lead, EpochSeconds now, bool promote) const;
  RuleAward& AwardSlot(Lead* lead, int rule_index) const;

  std::shared_ptr<const RuleSet> rules_;
  uint64_t generation_;
  // The event rules an event visits (its name's, its type's, the unguarded, each narrowed by
  // one event field).
  CandidateRules candidates_;
  // The profile rules that are one regular expression on a trait, matched per trait at once.
  ProfileRegexes profile_regexes_;

  std::vector<std::vector<int>> rules_of_score_;  // score index -> rule indexes, file order
  // By rule index, event rules only: `when` less the comparison its group already guarantees
  // (CandidateRules::GroupGuard, Expression::AssumingGuard), which is what Apply tests for a
  // candidate.
  std::vector<Expression> event_tests_;
  bool event_rules_read_scores_ = false;  // any event rule's `when` reads score.NAME
  // Any profile rule's `when` reads lead.stage: only then does a stage change make the lead's
  // profile scores stale (evaluating them again was ~5 % of the engine thread, regular
  // expressions included).
  bool profile_rules_read_stage_ = false;
  // Per stage: the score comparisons of its exit (its enter's when it has no exit), and whether
  // they are the only way it reads scores (Expression::ScoreThresholds).
  struct ExitThresholds {
    bool only_thresholds = false;
    std::vector<ScoreThreshold> thresholds;
  };
  std::vector<ExitThresholds> exit_thresholds_;
};

}  // namespace handoff
