// LeadLocator: which node answers for a lead (cluster mode: the holder of its partition).
//
// The API asks it before a read of one lead, and forwards the request when another node holds
// the lead (docs/cluster.md, "What each read gives"). cluster/lead_directory.h implements it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace handoff {

class LeadLocator {
 public:
  virtual ~LeadLocator() = default;
  // The HTTP address ("host:port") of the node holding the lead `id` belongs to, when that is
  // another node; empty when this node holds it or no other node is known to (answer here).
  // Never blocks (reads a view kept up to date in the background). Thread-safe.
  virtual std::string ForwardAddress(std::string_view id) const = 0;
  // When `id` is not a lead of its own here (merged into another lead, or handed over to another
  // node in a merge) and another node holds the lead it went into: that node's HTTP address;
  // else empty. A forwarded read that reaches the node an id moved from goes one hop on.
  virtual std::string MovedAddress(std::string_view id) const = 0;
  // True when this node holds the partition of the lead whose root id is `root` (a list shows a
  // lead only on its holder: another node may keep a copy from before a takeover).
  virtual bool HeldHere(std::string_view root) const = 0;
  // True when this node holds `partition` (of the event stream; the engine counts leads by the
  // same partitions, EngineOptions::lead_partition).
  virtual bool HoldsPartition(uint32_t partition) const = 0;
  // The HTTP addresses of the other nodes holding partitions, as of the last lease round (a
  // list asks each of them for its part).
  virtual std::vector<std::string> OtherNodes() const = 0;
};

}  // namespace handoff
