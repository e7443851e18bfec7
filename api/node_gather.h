// Cluster mode: one admin read answered from every node's part (docs/cluster.md, "What each
// read gives"). The node asked sends the same request, marked forwarded, to every other node
// holding partitions, computes its own part, and merges the parts once all are in.
//
// Used by GET /v1/leads (each node's page of the leads it holds) and GET /v1/funnel (each
// node's totals and held stage counts). The merge runs on the io thread, never the engine's.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "api/handlers.h"

namespace handoff {

// Every part's body (this node's and each other node's 200 answer, in no set order) and the
// caller's responder.
using GatherMerge =
    std::function<void(const std::vector<std::string>& parts, const HttpRespond& respond)>;

// The request as another node should receive it: same method, target and body, with
// kForwardedHeader "1" first among its headers (that node answers itself) and the caller's
// Authorization.
ForwardRequest ForwardedCopy(const HttpRequest& request);

// When the API knows other nodes (ApiContext::locator) and `request` is not itself forwarded,
// sends ForwardedCopy(request) to every other node holding partitions, replaces *respond with
// the responder of this node's own part, and returns true: once every part is in, `merge` runs
// with all of them and the caller's responder. A node that cannot be reached or answers other
// than 200 makes the answer a 503 "unavailable" naming `what` and that node (a part silently
// missing would mislead). Returns false, *respond untouched, when there is nothing to gather:
// the caller answers alone. Call on the io thread.
bool GatherFromOtherNodes(ApiContext& api, const HttpRequest& request, std::string_view what,
                          HttpRespond* respond, GatherMerge merge);

}  // namespace handoff
