// Internals shared by the router's files (router.cc and its siblings); not for other code.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "handoff/value.h"

namespace handoff::router_internal {

// The unrouted queue (SPEC 7): its public name, and its key among the team queues (not a valid
// team id, so no team can collide with it).
constexpr std::string_view kUnrouted = "unrouted";
constexpr std::string_view kUnroutedKey = "\x01unrouted";

// The lowercased domain of traits.email; empty when there is none.
std::string LowerDomainOf(const Value& traits);

inline bool Contains(const std::vector<std::string>& list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

}  // namespace handoff::router_internal
