// The admin changes cluster mode replicates (ingest/admin_sink.h, cluster/admin_replica.h): the
// key and value each one is stored as, and how a node applies one to its engine.
//
// Keys (the bucket allows letters, digits and -_=/. only, so ids are hex-encoded):
//   rep.<hex rep id>            "online" or "away"      PUT /v1/reps/{id}/availability
//   account.<hex lower domain>  the owning rep's id     PUT /v1/accounts/{domain}
//   rules                       RulesValue(...)         POST /v1/rules/reload, /v1/rules/apply
// A value is the state the admin asked for, so applying it again changes nothing: a node whose
// rules already have the value's sha256 leaves them as they are.
#pragma once

#include <string>
#include <string_view>

#include "core/engine.h"
#include "handoff/status.h"

namespace handoff {

std::string RepAvailabilityKey(std::string_view rep);
std::string RepAvailabilityValue(bool online);
std::string AccountOwnerKey(std::string_view domain);
inline constexpr std::string_view kRulesKey = "rules";
// The rule file `yaml` as every node should hold it; `reevaluate`: as POST /v1/rules/apply, every
// lead's stage is evaluated again at once under it (Engine::ReevaluateStages).
std::string RulesValue(std::string_view yaml, bool reevaluate);

// Applies the change stored under `key` on `engine` and returns once the commit that holds it is
// durable: NotFound for a rep the rules in force do not have, InvalidArgument for a key or value
// this version does not know (written by a newer Handoff), FailedPrecondition for rules this node
// cannot take (they do not load here, or its rules path is a directory), Unavailable when the
// engine does not answer within a minute. Blocks: call it from the replica's thread, never the
// engine's or an io thread. Thread-safe.
//
// With the cluster's one router (Engine::global_router), the rules, stored at the bucket's
// `revision`, also go into the routing log, where every node's router takes them at one place
// (docs/cluster.md, "The router and the outbox"); every node logs them, the routers take the
// first of each revision.
Status ApplyAdminChange(Engine* engine, std::string_view key, std::string_view value,
                        uint64_t revision);

}  // namespace handoff
