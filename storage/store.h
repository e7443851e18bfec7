// Store: the durable copy of the engine's state.
//
// The engine keeps hot state in memory and writes here once per group commit: everything one
// commit changes (leads, dedupe ids, outbox records, meta) goes into one CommitBatch, applied
// atomically by Store::Commit. After a restart the store holds exactly the committed batches
// (SPEC 10); a batch is either wholly there or wholly absent. Keys and values are bytes: the store
// knows nothing of rules, scores or record formats (storage/store_format.h lists what goes where).
//
// This is the seam the rest of the daemon is built on: RocksStore (storage/rocks_store.h) is the
// implementation; tests may use an in-memory one.
//
// Thread safety: every read method may be called from any thread, concurrently with each other
// and with writes. Commit and TrimOutbox are serialized internally; the engine calls them from its
// one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "handoff/clock.h"
#include "handoff/status.h"
#include "storage/commit_batch.h"

namespace handoff {

// A consistent, read-only view of the store as of one moment (a RocksDB snapshot): every read
// through it sees exactly the batches committed before it was taken, however many commit after.
// For long scans off the engine thread (the backtest, SPEC 13) that must not see a half-changed
// state. Holding one keeps RocksDB from dropping the versions it sees: release it when done.
// Thread safety: one snapshot may be read from any one thread at a time; it must not outlive
// the store it came from.
class StoreSnapshot {
 public:
  virtual ~StoreSnapshot() = default;
  // As Store::GetLead / ScanLeads / ScanLinks / GetMeta / ScanMeta, at the snapshot.
  virtual Status GetLead(std::string_view lead_id, std::string* encoded) const = 0;
  virtual Status ScanLeads(
      const std::function<bool(std::string_view id, std::string_view encoded)>& fn) const = 0;
  virtual Status ScanLinks(
      const std::function<void(std::string_view id, std::string_view root)>& fn) const = 0;
  virtual Status GetMeta(std::string_view key, std::string* value) const = 0;
  virtual Status ScanMeta(
      std::string_view prefix,
      const std::function<void(std::string_view key, std::string_view value)>& fn) const = 0;
  // As Store::GetHistory, at the snapshot (a lead's chain read by key: the backtest folds a
  // lead's awards again under a changed half-life, as the engine does on a read).
  virtual Status GetHistory(std::string_view key, std::string* value) const = 0;
  // Calls fn(key, value) for every history bucket in key order (block, then bucket), until fn
  // returns false. Keys and values as Store::GetHistory has them.
  virtual Status ScanHistory(
      const std::function<bool(std::string_view key, std::string_view value)>& fn) const = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies the batch atomically. When it returns OK the batch is durable per
  // the store's durability setting and the batch is cleared. On error nothing of the batch is
  // applied and the batch is left as it was; the caller must not acknowledge the batch's events,
  // and after a write error the store may refuse further writes until Recover() succeeds.
  virtual Status Commit(CommitBatch* batch) = 0;

  // Work Commit leaves for later so that a commit returns (and its events are acknowledged)
  // sooner: RocksStore copies a slice of its lead journal into `leads` (rocks_store.h). Call after
  // a commit's result is handed on, from one thread at a time; a Commit on another thread may
  // overlap it (the engine commits itself when idle), and the store serializes the two.
  // Failures are not the caller's: the work is tried again at the next call. Default: nothing.
  virtual void AfterCommit() {}

  // After a failed Commit: lets writes go on once the cause is gone (RocksDB: DB::Resume, which
  // also flushes what the failed log write may have left behind). OK when nothing needed
  // recovering; an error while the cause persists. Call from the committing thread.
  virtual Status Recover() = 0;

  // The encoded state of a lead; NotFound when absent.
  virtual Status GetLead(std::string_view lead_id, std::string* encoded) const = 0;

  // Visits leads in key order, starting after `after` (empty: from the first), until fn returns
  // false or the leads end. Sees one consistent snapshot. For paging: pass the last id visited.
  virtual Status ScanLeads(
      std::string_view after,
      const std::function<bool(std::string_view id, std::string_view encoded)>& fn) const = 0;

  // At start: calls fn(id, record) for each lead in the pinned index (CommitBatch::PutPinned),
  // in id order.
  virtual Status ScanPinned(
      const std::function<void(std::string_view id, std::string_view record)>& fn) const = 0;

  // At start, rebuilding the in-memory dedupe index: calls id_fn(id, received_at) for each id of
  // the older per-id form (PutDedupe), then block_fn(block, at, hashes) for each dedupe-log block
  // (PutDedupeBlock) in block order. Expired entries the store has not dropped yet are included.
  virtual Status ScanDedupe(const std::function<void(std::string_view id, EpochSeconds at)>& id_fn,
                            const std::function<void(uint64_t block, EpochSeconds at,
                                                     std::string_view hashes)>& block_fn) const = 0;

  // A meta value; NotFound when absent.
  virtual Status GetMeta(std::string_view key, std::string* value) const = 0;
  // Calls fn(key, value) for every meta value whose key starts with `prefix`, in key order (the
  // router's queue entries, parked leads and account owners: one record each).
  virtual Status ScanMeta(
      std::string_view prefix,
      const std::function<void(std::string_view key, std::string_view value)>& fn) const = 0;

  // Fills *out with up to max_records outbox records with from_seq <= seq <= last_seq, in seq
  // order, as (seq, stored bytes). Fewer (or none) when the outbox ends. Records trimmed away are
  // skipped: compare the first seq with from_seq (or OldestOutboxSeq) to detect a gap.
  // `last_seq` is what the caller knows to be committed (the outbox head): a reader on another
  // thread must not touch records of a Commit that has not returned, even though RocksDB may
  // already show them; nothing of ours orders that read after the write.
  virtual Status ReadOutbox(uint64_t from_seq, uint64_t last_seq, size_t max_records,
                            std::vector<std::pair<uint64_t, std::string>>* out) const = 0;
  // The lowest seq still stored; 0 when the outbox is empty. Note the outbox may be empty after a
  // trim: the next seq to hand out belongs in meta, committed with the records.
  virtual uint64_t OldestOutboxSeq() const = 0;
  // Deletes the oldest records whose time is more than the outbox retention before `now`
  // (one range deletion). Only a prefix is deleted: it stops at the first record still within
  // retention, so the stored outbox is always contiguous. Meant for the daemon's cron.
  virtual Status TrimOutbox(EpochSeconds now) = 0;

  // Calls fn(id, root) for every identity link. At start.
  virtual Status ScanLinks(
      const std::function<void(std::string_view id, std::string_view root)>& fn) const = 0;

  // A history bucket by its key (store_format::HistoryKey); NotFound when absent or trimmed.
  virtual Status GetHistory(std::string_view key, std::string* value) const = 0;
  // The key of the last history bucket stored (empty when none): where block numbers resume.
  virtual Status LastHistoryKey(std::string* key) const = 0;
  // Deletes the oldest history blocks whose time is before `cutoff` (one range deletion of a
  // prefix of blocks, as TrimOutbox does). Meant for the daemon's cron.
  virtual Status TrimHistory(EpochSeconds cutoff) = 0;

  // Calls fn(key, value) for the funnel keys in [begin, end) in key order (end empty: to the
  // last), until fn returns false. Keys and values are the funnel's own (funnel/).
  virtual Status ScanFunnel(
      std::string_view begin, std::string_view end,
      const std::function<bool(std::string_view key, std::string_view value)>& fn) const = 0;
  // Compacts every column family fully, so expired dedupe ids and trimmed records leave the disk
  // now rather than later. Slow; for tests and maintenance.
  virtual Status CompactAll() = 0;

  // A consistent read-only view of everything committed so far (see StoreSnapshot).
  virtual std::unique_ptr<StoreSnapshot> Snapshot() const = 0;

  // Storage statistics, for debugging. Free text.
  virtual std::string Stats() const = 0;

  // Memory the store holds, in bytes (a store in memory reports zeros). Any thread.
  struct Memory {
    uint64_t memtables = 0;      // write buffers, every column family
    uint64_t table_readers = 0;  // index and filter blocks held outside the block cache
    uint64_t block_cache = 0;    // the block cache in use
    uint64_t lead_journal = 0;   // lead states changed since their last checkpoint
  };
  virtual Memory MemoryUsage() const { return {}; }
};

}  // namespace handoff
