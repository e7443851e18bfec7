// The JSON form of a lead for the admin API and `handoff lead` (SPEC 6).
#pragma once

#include <string>

#include "scoring/lead.h"
#include "scoring/scorer.h"

namespace handoff {

// {"id","stage","owner","traits","scores","breakdown","first_seen","last_seen","events"}, with
// scores and breakdown read at `at`. Engine thread (it may refresh the lead's scoring cache).
void AppendLeadJson(const Scorer& scorer, Lead* lead, EpochSeconds at, std::string* out);

}  // namespace handoff
