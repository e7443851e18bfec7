// The JSON form of a lead for the admin API and `handoff lead` (SPEC 6).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "scoring/lead.h"
#include "scoring/scorer.h"

namespace handoff {

// {"id","stage","owner","traits","scores","breakdown","first_seen","last_seen","events"}, with
// scores and breakdown read at `at`. Engine thread (it may refresh the lead's scoring cache).
// `aliases` (may be null): the other ids linked to the lead (SPEC 8), printed as "aliases".
// `owner` (may be null: the lead's own): the owner as routed (Engine::OwnerOf; in cluster mode
// the router's, not the lead's).
void AppendLeadJson(const Scorer& scorer, Lead* lead, EpochSeconds at, std::string* out,
                    const std::vector<std::string>* aliases = nullptr,
                    const std::optional<LeadOwner>* owner = nullptr);

}  // namespace handoff
