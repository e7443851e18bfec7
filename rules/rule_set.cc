#include "rules/rule_set.h"

namespace handoff {

std::string_view RoutingStrategyName(RoutingStrategy s) {
  switch (s) {
    case RoutingStrategy::kRoundRobin:
      return "round_robin";
    case RoutingStrategy::kWeightedRoundRobin:
      return "weighted_round_robin";
    case RoutingStrategy::kLeastLoaded:
      return "least_loaded";
  }
  return "round_robin";
}

int RuleSet::FindScore(std::string_view name) const {
  for (size_t i = 0; i < scores.size(); ++i) {
    if (scores[i].name == name) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

int RuleSet::FindStage(std::string_view name) const {
  for (size_t i = 0; i < stages.size(); ++i) {
    if (stages[i].name == name) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

int RuleSet::FindRule(std::string_view id) const {
  for (size_t i = 0; i < rules.size(); ++i) {
    if (rules[i].id == id) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

void RuleSet::Finalize() {
  event_rules.clear();
  profile_rules.clear();
  for (size_t i = 0; i < rules.size(); ++i) {
    const int score = rules[i].score;
    if (score >= 0 && score < static_cast<int>(scores.size()) &&
        scores[score].kind == ScoreKind::kProfile) {
      profile_rules.push_back(static_cast<int>(i));
    } else {
      event_rules.push_back(static_cast<int>(i));
    }
  }
}

}  // namespace handoff
