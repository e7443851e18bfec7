// HistoryScan: a snapshot's whole history log, every lead at once, in apply order (SPEC 13).
//
// A backtest replays every stored event as a fresh daemon would have applied it. Reading lead by
// lead would cost one random read per (lead, block); this reads the history column family once,
// in key order (block, then bucket), and within each block puts the entries of its buckets back
// in apply order (a block's entries are spread over buckets by lead). Blocks are commits, so
// block order is apply order, and the whole scan is one sequential pass.
//
// Entries whose bytes do not decode are skipped and counted (never a crash). Thread safety: a
// HistoryScan is used by one thread; it reads only the snapshot it is given.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "handoff/status.h"
#include "history/history_log.h"
#include "storage/store.h"

namespace handoff {

class HistoryScan {
 public:
  struct Stats {
    uint64_t blocks = 0;
    uint64_t entries = 0;
    uint64_t undecodable = 0;  // entries or buckets skipped because their bytes do not decode
  };

  // `snapshot` is borrowed.
  explicit HistoryScan(const StoreSnapshot* snapshot) : snapshot_(snapshot) {}

  // Calls fn(entry) for every entry in apply order, until fn returns false. `entry` is reused
  // between calls. After each block, progress(fraction of the log's blocks read, 0..1) when set.
  // With `accept`, only entries whose lead id (as logged) it accepts are decoded and passed on:
  // a scan in several passes over parts of the leads pays little for the entries it skips.
  // IoError/Corruption from the store.
  Status ForEach(const std::function<bool(const HistoryEntry& entry)>& fn,
                 const std::function<void(double)>& progress = {},
                 const std::function<bool(std::string_view lead)>& accept = {});

  const Stats& stats() const { return stats_; }

 private:
  // Emits the buffered block in apply order; false when fn asked to stop.
  bool EmitBlock(const std::function<bool(const HistoryEntry&)>& fn);

  const StoreSnapshot* const snapshot_;
  Stats stats_;
  std::vector<std::string> buckets_;  // the current block's bucket bytes (reused)
  size_t buckets_used_ = 0;
  struct Pending {
    uint64_t apply_seq;
    uint32_t bucket;  // index into buckets_
    uint32_t offset;  // of the entry in that bucket
    uint32_t size;
  };
  std::vector<Pending> pending_;
  HistoryEntry entry_;
};

}  // namespace handoff
