// AdminSink: where an admin change goes when it must hold on every node (cluster mode, SPEC 6).
//
// The single daemon changes admin state (a rep's availability, an account's owner) on its engine
// directly. In cluster mode the HTTP handlers hand the change to an AdminSink instead
// (cluster/admin_replica.h implements it), which stores it once for the whole cluster and has
// every node apply it. It sits beside IngestSink because, like events, admin changes are input
// that a later stage applies: the API (above the engine) and the cluster (beside it) both see it.
#pragma once

#include <functional>
#include <string>

#include "handoff/status.h"

namespace handoff {

class AdminSink {
 public:
  virtual ~AdminSink() = default;
  // Stores `value` under `key` for every node. `done` runs once, on the sink's thread: OK once
  // this node has applied the value (it holds here when the caller answers, and on the others
  // within their watch delay), or the error when it could not be stored (nothing changed
  // anywhere: the caller may retry). Thread-safe.
  virtual void Put(std::string key, std::string value, std::function<void(const Status&)> done) = 0;
};

}  // namespace handoff
