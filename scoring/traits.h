// The traits merge rules of SPEC 2.
#pragma once

#include "handoff/event.h"
#include "handoff/value.h"

namespace handoff {

// Merges `incoming` (an object; anything else is ignored) into `*target` key by key, at the top
// level: a value replaces the old one (a nested object replaces it whole), a null deletes the key.
// Returns true when *target changed.
bool MergeTraits(const Value& incoming, Value* target);

// Applies the traits part of `event` to a lead's traits: identify merges its traits; group merges
// its traits into traits.company and sets traits.company.id to groupId. Other types do nothing.
// Returns true when the traits changed.
bool ApplyEventTraits(const Event& event, Value* traits);

}  // namespace handoff
