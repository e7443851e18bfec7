// LogProgress: what this node owns of the cluster's event log and how far its engine has
// applied it, shared by the leases and the applier (which write it) and the publisher (which
// waits on it at start: it routes events by the engine's identity links only once the engine has
// applied every link already logged in the partitions it owns).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

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

  // The partitions this node holds a lease for (their clocks are this node's to log).
  void Hold(uint32_t partition, bool held) {
    std::lock_guard<std::mutex> lock(held_mu_);
    auto at = std::find(held_.begin(), held_.end(), partition);
    if (held && at == held_.end()) {
      held_.push_back(partition);
    } else if (!held && at != held_.end()) {
      held_.erase(at);
    }
  }
  std::vector<uint32_t> held() const {
    std::lock_guard<std::mutex> lock(held_mu_);
    std::vector<uint32_t> out = held_;
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  mutable std::mutex held_mu_;
  std::vector<uint32_t> held_;  // under held_mu_
};

}  // namespace handoff
