// LogProgress: how far this node's engine has applied the cluster's event log, shared between
// the applier (which writes it) and the publisher (which waits on it at start: it routes events
// by the engine's identity links only once the engine has applied every link already logged).
#pragma once

#include <atomic>
#include <cstdint>

namespace handoff {

struct LogProgress {
  // The applier is running (the engine has started and restored its state).
  std::atomic<bool> applying{false};
  // The last stream sequence whose effects the engine has made durable.
  std::atomic<uint64_t> durable_seq{0};
};

}  // namespace handoff
