#include "scoring/refold.h"

#include <algorithm>
#include <cmath>

namespace handoff {
namespace {

// Counts `award`'s cap windows again from `history` when its rule's cap now has another `per`.
void RecountCapWindows(const Scorer& scorer, const std::vector<HistoryEntry>& history,
                       RuleAward* award) {
  const double per = scorer.CapPerOfRule(award->rule_id);
  if (!award->awarded || award->cap_per < 0 || per <= 0 || award->cap_per == per) {
    return;
  }
  // The history holds the points each award gave after its cap, which is what a cap counts.
  award->windows.clear();
  for (const HistoryEntry& e : history) {
    for (const auto& [rule, points] : e.awards) {
      if (rule != award->rule_id) {
        continue;
      }
      CapWindowAt(award, e.event.timestamp, per).used += std::fabs(points);
    }
  }
  award->cap_per = per;
}

}  // namespace

void RefoldAwards(const Scorer& scorer, const std::vector<HistoryEntry>& history, Lead* lead) {
  for (RuleAward& award : lead->awards) {
    RecountCapWindows(scorer, history, &award);
    const double half_life = scorer.HalfLifeOfRule(award.rule_id);
    if (!award.awarded || award.half_life < 0 || half_life < 0 || award.half_life == half_life) {
      continue;
    }
    // The history holds every award of the rule when folding it under the old half-life gives
    // the stored value back; then it is folded again under the new one.
    RuleAward before;
    RuleAward after;
    for (const HistoryEntry& e : history) {
      for (const auto& [rule, points] : e.awards) {
        if (rule == award.rule_id) {
          FoldAward(&before, e.event.timestamp, points, award.half_life);
          FoldAward(&after, e.event.timestamp, points, half_life);
        }
      }
    }
    const bool whole =
        before.awarded && before.latest == award.latest &&
        std::fabs(before.value - award.value) <= 1e-9 * std::max(1.0, std::fabs(award.value));
    if (whole) {
      award.value = after.value;
      award.latest = after.latest;
    }
    award.half_life = half_life;
  }
}

}  // namespace handoff
