// LogProgress: what this node owns of the cluster's event log and how far its engine has
// applied it, shared by the leases and the applier (which write it) and the publisher (which
// waits on it at start: it routes events by the engine's identity links only once the engine has
// applied every link already logged in the partitions it owns).
#pragma once

#include <atomic>
#include <cstdint>

namespace handoff {

struct LogProgress {
  // The applier is running (the engine has started and restored its state).
  std::atomic<bool> applying{false};
  // The last stream sequence read whose effects the engine has made durable.
  std::atomic<uint64_t> durable_seq{0};
  // The leases' first round is done, and how many partitions this node holds.
  std::atomic<bool> settled{false};
  std::atomic<uint32_t> owned{0};
  // Lease rounds finished (the applier takes a round's ownership changes together).
  std::atomic<uint64_t> rounds{0};
  // This node holds partition 0, so it logs the replicated router's ticks (one node at a time).
  std::atomic<bool> router_clock{false};
};

}  // namespace handoff
