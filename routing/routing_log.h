// The two seams of cluster mode's routing log (docs/cluster.md, "The router and the outbox").
//
// RoutingLog: where the engine logs the inputs its partitions produce (stage changes, merges,
// erasures) and those it is asked for (sales answers), in the order it produced them. Cluster mode
// implements it by publishing to the log; inputs reach every node's RoutingSink from there.
//
// RoutingSink: takes the routing log's inputs back, in the log's order, to apply them to the
// node's RouterReplica (the engine implements it; cluster mode's log applier calls it).
//
// Both are thread-safe.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "handoff/status.h"
#include "routing/routing_input.h"

namespace handoff {

class RoutingLog {
 public:
  virtual ~RoutingLog() = default;
  // Logs `inputs`, after every input appended before them. Never blocks on the network.
  // `stored` (may be empty) runs, on the log's own thread, once the log holds all of them.
  virtual void Append(std::vector<RoutingInput> inputs, std::function<void()> stored) = 0;
  // The router closed `lead` (of partition `partition`) as `recycled`: its stage goes back to the
  // first in its partition's own log, once per `reset_id` whoever else asks. Never blocks.
  virtual void LogStageReset(uint32_t partition, std::string lead, std::string reset_id,
                             EpochSeconds at) = 0;
};

// Consecutive inputs of the routing log, with the log position they bring the node to.
struct RoutingBatch {
  std::vector<RoutingInput> inputs;
  // Meta records written in the same commit as the inputs' effects: the log position.
  std::vector<std::pair<std::string, std::string>> log_positions;
  // Applied before (the node's outbox has their records): rebuild the router's state only,
  // publishing nothing and answering no one.
  bool replay = false;
  // Runs on the sink's thread once the inputs' effects are durable (or with the error).
  std::function<void(const Status&)> done;
};

class RoutingSink {
 public:
  virtual ~RoutingSink() = default;
  virtual void SubmitRouting(RoutingBatch batch) = 0;
};

}  // namespace handoff
