// HistoryLog: every applied event, per lead, in RocksDB (SPEC 8), without a write per event.
//
// Each group commit is one block. A block's events are spread over kBuckets buckets by a hash of
// their lead's id, and each non-empty bucket is one stored value (key: block, bucket), so one
// commit adds at most kBuckets writes however many events it holds. Each entry records the event
// as applied (enough to re-apply it), its apply order (a global sequence), its receive time and
// the points each rule awarded it, plus a pointer to the previous block holding an event of the
// same lead. A lead keeps only the newest such block (LeadState::history), so a lead's history
// is a chain read newest first, one bucket per block it appears in.
//
// Retention: blocks older than the retention are deleted as a prefix by the cron (TrimHistory);
// a chain that reaches a trimmed block ends there.
//
// Not thread-safe: the engine thread appends, flushes and reads (reads see appended entries not
// yet committed).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "handoff/clock.h"
#include "handoff/event.h"
#include "handoff/lead_state.h"
#include "handoff/status.h"
#include "storage/store.h"

namespace handoff {

// The points each rule awarded one event, as the history is given them: rule id -> points.
using LoggedAwards = std::vector<std::pair<std::string_view, double>>;

// One applied event as the history keeps it.
struct HistoryEntry {
  uint64_t apply_seq = 0;  // global apply order, from 1
  std::string lead;        // the lead it was applied to, by its id then
  EpochSeconds received_at = 0;
  Event event;                                         // as applied: timestamp set
  std::vector<std::pair<std::string, double>> awards;  // rule id -> points awarded
};

class HistoryLog {
 public:
  static constexpr uint32_t kBuckets = 256;
  // The meta key of the next block number (one past the last block written).
  static constexpr std::string_view kMetaNextBlock = "history.next_block";

  // `store` is borrowed. With `enabled` false, Append records nothing (only apply seqs move).
  HistoryLog(Store* store, bool enabled);

  // Reads where block numbers and apply seqs resume. Call once, before the first Append.
  Status Restore();
  bool enabled() const { return enabled_; }

  // The apply seq the next Append gets.
  uint64_t next_apply_seq() const { return next_apply_seq_; }

  // Records an applied event of the lead whose chain is `chain` (chain->lead is the lead's id;
  // chain->head moves to this block). Returns its apply seq: `apply_seq` when not 0 (cluster
  // mode: the event's place in the log; a partition rebuilt after a takeover goes back), else one
  // past every apply seq given so far.
  uint64_t Append(HistoryChain* chain, EpochSeconds received_at, const Event& event,
                  const LoggedAwards& awards, uint64_t apply_seq = 0);
  // The same for an event already encoded (EncodeEvent's bytes, `encoded_event`).
  uint64_t AppendEncoded(HistoryChain* chain, EpochSeconds received_at,
                         std::string_view encoded_event, const LoggedAwards& awards,
                         uint64_t apply_seq = 0);

  // Adds this block's buckets and the next apply seq to `batch`; the block is then done. `now`
  // is the block's time (for retention).
  void Flush(CommitBatch* batch, EpochSeconds now);

  // Every entry on `chains`, in apply order (oldest first). Entries in blocks already trimmed
  // are missing (the chain ends there); with `cut`, (*cut)[i] says whether chain i ended so.
  // IoError/Corruption from the store.
  Status Read(const std::vector<HistoryChain>& chains, std::vector<HistoryEntry>* out,
              std::vector<bool>* cut = nullptr);

  // The same from a store snapshot (committed entries only; none of an unflushed block), off
  // the engine thread: the backtest. Thread-safe as far as `snapshot` is.
  static Status ReadAt(const StoreSnapshot& snapshot, const std::vector<HistoryChain>& chains,
                       std::vector<HistoryEntry>* out);

  // Removes every entry on `chains` (erasure): their buckets are rewritten without them in
  // `batch`, entries not yet flushed are dropped.
  Status Erase(const std::vector<HistoryChain>& chains, CommitBatch* batch);

  // Gives the entries on `chains` whose apply seq is a key of `awards` those awards instead of
  // the ones they were logged with (a merge's replay awarded other points: SPEC 8, the merged
  // lead is what one id would have been given). Entries keep their block, place, apply seq and
  // event; their buckets are rewritten in `batch`, entries not yet flushed are changed in place.
  // The string views must outlive the call.
  Status RewriteAwards(const std::vector<HistoryChain>& chains,
                       const std::unordered_map<uint64_t, LoggedAwards>& awards,
                       CommitBatch* batch);

  // Deletes blocks older than `cutoff` (the cron).
  Status Trim(EpochSeconds cutoff) { return store_->TrimHistory(cutoff); }

  // The bucket of a lead id (stable across builds: a fixed hash).
  static uint32_t BucketOf(std::string_view lead);

 private:
  // A stored bucket's value as `got` left it in `bytes` (the result of a store read): its time
  // moves to `time` (when given) and `bytes` keeps the entries; not found is an empty bucket.
  static Status SplitBucketTime(Status got, std::string* bytes, std::string* time);
  // Read and ReadAt: walks each chain through read_bucket(block, bucket, &bytes), which gives
  // the bucket's entries (without its time; empty when there is none).
  template <typename BucketFn>
  static Status ReadChains(const BucketFn& read_bucket, const std::vector<HistoryChain>& chains,
                           std::vector<HistoryEntry>* out, std::vector<bool>* cut);
  // Sorts `entries` by apply seq, moving each entry once.
  static void SortByApplySeq(std::vector<HistoryEntry>* entries);
  // Calls fn(entry bytes, lead, prev) for every entry in a bucket's bytes (after the block time).
  // False when the bytes do not decode.
  template <typename Fn>
  static bool ForEachEntry(std::string_view bucket, Fn&& fn);
  // Walks every block of `chains` and passes each entry of a chain's lead to
  // edit(raw, &out), which appends what replaces it (nothing: removed) and returns whether that
  // differs from the entry; a bucket with a change is written back (in `batch`, or in place
  // while pending).
  template <typename Edit>
  Status EditChains(const std::vector<HistoryChain>& chains, CommitBatch* batch, Edit&& edit);
  // The bucket's entries (pending, edited in this batch, or stored); empty with OK when it is
  // gone. `time`, when given, gets the stored block time in front of them (empty when pending).
  Status Bucket(uint64_t block, uint32_t bucket, std::string* bytes, std::string* time = nullptr);

  Store* const store_;
  const bool enabled_;
  uint64_t block_ = 1;           // the block being built
  uint64_t next_apply_seq_ = 1;  // the next apply seq to hand out
  uint64_t apply_seq_written_ = 1;
  uint64_t block_written_ = 1;
  // The block being built: per bucket, kTimeSize bytes the Flush fills with the block time, then
  // the entries; empty when the bucket has none. Kept with their capacity from block to block, so
  // appending an event reallocates nothing once the buckets have grown (they grew by doubling in
  // every block, a tenth of the engine thread).
  std::string& PendingEntries(uint32_t bucket);         // adds the time's room on first use
  std::string_view PendingView(uint32_t bucket) const;  // the entries only
  std::vector<std::string> pending_;                    // kBuckets of them
  std::vector<uint32_t> touched_;                       // buckets used in this block
  // Buckets of stored blocks that RewriteAwards or Erase changed since the last Flush: key -> the
  // value put in the batch (the block time, then the entries; no entries: deleted). The batch is
  // not in the store until it is committed, so a later read or edit of such a bucket before the
  // Flush (two merges of one group commit whose leads share a bucket) starts from here; reading
  // the store instead would put the older bucket back over the first edit.
  std::unordered_map<std::string, std::string> edited_;
  std::string scratch_;
};

}  // namespace handoff
