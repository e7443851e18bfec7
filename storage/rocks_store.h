// RocksStore: the Store (storage/store.h) in RocksDB, one column family per kind of key
// (storage/store_format.h). Group commits are one atomic WriteBatch each; `durability` decides
// whether the write-ahead log is fsynced before Commit returns.
//
// Thread safety: as Store.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "handoff/clock.h"
#include "handoff/status.h"
#include "storage/lead_journal.h"
#include "storage/store.h"

namespace rocksdb {
class Cache;
class ColumnFamilyHandle;
class DB;
class Env;
class FileSystem;
class WriteBatch;
}  // namespace rocksdb

namespace handoff {

// What "committed" means when Commit returns OK (SPEC 10, `durability`).
enum class Durability : uint8_t {
  kProcess,  // written to the write-ahead log (OS page cache): survives kill -9 of the daemon
  kFsync,    // and the log fsynced: survives power loss
};

struct StoreOptions {
  // The data directory; created (with parents) if missing.
  std::string path;
  // Default: kProcess.
  Durability durability = Durability::kProcess;
  // Seconds a messageId is remembered, by its receive time. Must be >= 0. Default: 24 h.
  double dedupe_window = 86400;
  // Seconds an outbox record is kept, by its record time. Must be >= 0. Default: 7 d.
  double outbox_retention = 7 * 86400;
  // Read by dedupe expiry (lookups take `now` explicitly; the compaction filter reads this).
  // Must outlive the Store. Default (null): SystemClock::Instance().
  const Clock* clock = nullptr;
  // The RocksDB environment; for tests that inject file-system faults. Must outlive the Store.
  // Default (null): rocksdb::Env::Default().
  rocksdb::Env* env = nullptr;
  // For tests of a disk that cannot be written, from outside the process: while this path exists
  // every write of the store fails (storage/fault_injection_fs.h). Ignored when `env` is set.
  // Default (empty): no fault injection, nothing installed.
  std::string fault_file;
  // Bytes of lead journal blocks after which the leads changed since the last checkpoint are
  // frozen and copied into the `leads` column family, a slice after each commit (RocksStore
  // below). The leads changed since then stay in memory, so this bounds that memory (about as
  // much again while a frozen generation is copied) and the journal read back at start.
  // 0: no journal; every commit writes its leads in place. Default: 256 MiB (the daemon's
  // `lead_journal_bytes` setting).
  uint64_t lead_journal_bytes = uint64_t{256} << 20;
};

// Leads are journaled (StoreOptions::lead_journal_bytes): a commit writes the leads it changed as
// one block of the `lead_journal` column family, in the same atomic write as the rest of the
// batch, and keeps their states in memory (storage/lead_journal.h). When a generation shows that
// leads changed about once each (new leads streaming in: the journal would only add a copy),
// commits write the leads the journal does not hold in place, in `leads`, and journal every lead
// again for a trial generation after a while; a lead the journal holds is always journaled, so
// its newest state is where reads look first. Once the blocks since the
// last freeze pass lead_journal_bytes, those states are frozen; after each later commit, the
// commit thread copies a slice of the oldest frozen generation into `leads` (each lead once,
// however many commits changed it), and with the last slice deletes the journal blocks it
// covered. Reads look in memory first. At open the remaining blocks are read back into memory;
// at close everything is copied. A crash anywhere in the cycle leaves the blocks of every state
// not yet copied, and copying a state twice is harmless.
class RocksStore final : public Store {
 public:
  // Opens (creating if missing) the store at options.path. Errors: InvalidArgument for bad
  // options, IoError when the directory cannot be opened or is locked by another process,
  // Corruption when the files do not read.
  static Result<std::unique_ptr<RocksStore>> Open(const StoreOptions& options);

  // True when RocksDB's checksums (the log's records, the tables' blocks) run on the CPU's crc32
  // instruction (storage/crc32c.h); false: RocksDB's own loop, a third of a commit's time.
  bool checksums_in_hardware() const { return checksums_in_hardware_; }

  // Flushes memtables (so the next open need not replay the log) and closes. Committed data is
  // safe whether or not this runs: the log has it.
  ~RocksStore() override;
  RocksStore(const RocksStore&) = delete;
  RocksStore& operator=(const RocksStore&) = delete;

  // Applies the batch atomically. When it returns OK the batch is durable per
  // options.durability and the batch is cleared. On error nothing of the batch is applied and the
  // batch is left as it was; after a write error RocksDB refuses further writes until Recover()
  // succeeds, and the caller must not acknowledge the batch's events.
  Status Commit(CommitBatch* batch) override;
  Status Recover() override;
  // Copies a slice of the oldest frozen journal generation into `leads`: twice as many leads as
  // the commits since the last call wrote, at least a few thousand. Commit does it itself when
  // the frozen generations pass twice StoreOptions::lead_journal_bytes (AfterCommit not called,
  // or not keeping up), so that the journal's memory stays bounded either way.
  void AfterCommit() override;

  // The encoded state of a lead; NotFound when absent.
  Status GetLead(std::string_view lead_id, std::string* encoded) const override;

  // Visits leads in key order, starting after `after` (empty: from the first), until fn returns
  // false or the leads end. Sees one consistent snapshot. For paging: pass the last id visited.
  Status ScanLeads(
      std::string_view after,
      const std::function<bool(std::string_view id, std::string_view encoded)>& fn) const override;

  // The per-id dedupe form (CommitBatch::PutDedupe; the engine now logs hashes instead, and
  // reads this form only at start): true when `message_id` was recorded with a receive time
  // within options.dedupe_window of `now`. An expired id RocksDB has not yet dropped is unseen.
  // For tests of that form and its expiry.
  Result<bool> SeenMessage(std::string_view message_id, EpochSeconds now) const;
  Status ScanPinned(
      const std::function<void(std::string_view id, std::string_view record)>& fn) const override;
  Status ScanDedupe(const std::function<void(std::string_view id, EpochSeconds at)>& id_fn,
                    const std::function<void(uint64_t block, EpochSeconds at,
                                             std::string_view hashes)>& block_fn) const override;

  // A meta value; NotFound when absent.
  Status GetMeta(std::string_view key, std::string* value) const override;
  Status ScanMeta(
      std::string_view prefix,
      const std::function<void(std::string_view key, std::string_view value)>& fn) const override;

  // Fills *out with up to max_records outbox records with from_seq <= seq <= last_seq, in seq
  // order, as (seq, record JSON). Fewer (or none) when the outbox ends. Records trimmed away are
  // skipped: compare the first seq with from_seq (or OldestOutboxSeq) to detect a gap.
  Status ReadOutbox(uint64_t from_seq, uint64_t last_seq, size_t max_records,
                    std::vector<std::pair<uint64_t, std::string>>* out) const override;
  // The lowest seq still stored; 0 when the outbox is empty. Note the outbox may be empty after a
  // trim: the next seq to hand out belongs in meta, committed with the records.
  uint64_t OldestOutboxSeq() const override {
    return oldest_outbox_seq_.load(std::memory_order_acquire);
  }
  // Deletes the oldest records whose time is more than options.outbox_retention before `now`
  // (one range deletion). Only a prefix is deleted: it stops at the first record still within
  // retention, so the stored outbox is always contiguous. Meant for the daemon's cron.
  Status TrimOutbox(EpochSeconds now) override;

  // Compacts every column family fully, so expired dedupe ids and trimmed records leave the disk
  // now rather than when RocksDB gets to them. Slow; for tests and maintenance.
  Status ScanLinks(
      const std::function<void(std::string_view id, std::string_view root)>& fn) const override;
  Status GetHistory(std::string_view key, std::string* value) const override;
  Status LastHistoryKey(std::string* key) const override;
  Status TrimHistory(EpochSeconds cutoff) override;
  Status ScanFunnel(
      std::string_view begin, std::string_view end,
      const std::function<bool(std::string_view key, std::string_view value)>& fn) const override;
  Status CompactAll() override;
  std::unique_ptr<StoreSnapshot> Snapshot() const override;

  // RocksDB's statistics per column family, for debugging. Free text.
  std::string Stats() const override;
  Memory MemoryUsage() const override;

 private:
  RocksStore() = default;
  Status Close();
  rocksdb::ColumnFamilyHandle* cf(size_t index) const { return handles_[index]; }
  // At open: the journal's blocks into memory.
  Status ReadLeadJournal();
  // Copies up to `budget` leads of the oldest frozen generations into `leads`, dropping each
  // generation (and its journal blocks) once copied. Caller holds write_mu_.
  Status Checkpoint(size_t budget);
  // The frozen generations after freezing the active one: the overlay a scan or snapshot reads.
  std::vector<LeadJournal::FrozenGeneration> FreezeForRead() const;

  StoreOptions options_;
  // Only with options.fault_file; declared before db_ so that they outlive it.
  std::shared_ptr<rocksdb::FileSystem> fault_fs_;
  std::unique_ptr<rocksdb::Env> fault_env_;
  std::shared_ptr<rocksdb::Cache> block_cache_;
  std::unique_ptr<rocksdb::DB> db_;
  // In the order of kColumnFamilies in rocks_store.cc; owned (destroyed in Close).
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;

  std::mutex write_mu_;  // serializes Commit and TrimOutbox; guards write_batch_
  std::unique_ptr<rocksdb::WriteBatch> write_batch_;  // reused by every Commit
  bool checksums_in_hardware_ = false;
  std::atomic<uint64_t> oldest_outbox_seq_{0};

  // Guards journal_. The commit thread applies blocks and drops generations under it exclusively;
  // reads (any thread) look up under it shared; scans and snapshots freeze under it exclusively.
  mutable std::shared_mutex journal_mu_;
  mutable LeadJournal journal_;
  uint64_t next_journal_block_ = 1;  // guarded by write_mu_
  std::string journal_block_;        // the commit's block being built; guarded by write_mu_
  size_t checkpoint_pos_ = 0;        // leads of the oldest frozen generation copied; write_mu_
  size_t checkpoint_budget_ = 0;     // leads to copy at the next AfterCommit; write_mu_
  bool journal_all_ = true;      // journal every changed lead, or only those it holds; write_mu_
  uint64_t in_place_bytes_ = 0;  // lead bytes written in place since the last freeze; write_mu_
  std::vector<LeadJournal::Entry> checkpoint_slice_;  // reused; write_mu_
  // A commit's leads written in place (not journaled), views into its CommitBatch: sorted by key
  // before they go into the write batch. Reused; write_mu_.
  struct InPlaceLead {
    std::string_view key;
    std::string_view value;
    bool deleted;
  };
  std::vector<InPlaceLead> in_place_;
};

}  // namespace handoff
