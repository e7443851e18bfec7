// LeadHandOver: one lead as a node hands it to another (cluster mode, a merge of leads held in
// two partitions, docs/cluster.md "Several nodes"): its id, its other ids, its state and its
// history entries with their apply orders (their places in the cluster's log), so the receiving
// engine can merge it exactly as if it had applied the lead's events itself.
//
// Encode/Decode: the bytes carried in the cluster's log. Decode takes bytes from the network:
// false on anything Encode did not make, never a crash. Not thread-safe (a value type).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "handoff/lead_state.h"
#include "history/history_log.h"

namespace handoff {

struct LeadHandOver {
  std::string root;                   // the lead's id
  std::vector<std::string> ids;       // its other ids (linked to it)
  LeadState state;                    // its history chains mean nothing on another node
  std::vector<HistoryEntry> entries;  // its history before the link, in apply order
  // Its events applied after the link by the node that had it (they came under its ids before
  // that node knew of the link): applied to the merged lead after the link, in apply order.
  std::vector<HistoryEntry> later;
  // The lead it merges into, and the last log sequence of the lead's home partition (the
  // partition of `root`) the export covers: the receiving node knows that partition's events of
  // these ids up to there are in this hand-over, and that later ones follow the lead through the
  // log. 0 and empty in a hand-over written before they were carried.
  std::string into;
  uint64_t covered_seq = 0;

  void Encode(std::string* out) const;
  [[nodiscard]] bool Decode(std::string_view in);
};

}  // namespace handoff
