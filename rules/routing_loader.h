// Internal to the rule loader: the `routing` section (SPEC 7), its syntax and validation.
#pragma once

#include <string>
#include <vector>

#include "rules/rule_set.h"
#include "rules/yaml_reader.h"

namespace handoff::rules_internal {

// Fills rules->routing from `node` (the value of the `routing` key). Needs rules->stages and the
// score names in place. Reports every error through `reader`.
void LoadRouting(YamlReader& reader, const Field& section,
                 const std::vector<std::string>& score_names, RuleSet* rules);

// The team id reserved for the queue of leads no team takes.
inline constexpr std::string_view kUnroutedTeam = "unrouted";

}  // namespace handoff::rules_internal
