// Store: the durable copy of the engine's state, in RocksDB.
//
// The engine keeps hot state in memory and writes here once per group commit: everything one
// commit changes (leads, dedupe ids, outbox records, meta) goes into one CommitBatch, applied
// atomically by Store::Commit. After a restart the store holds exactly the committed batches
// (SPEC 10); a batch is either wholly there or wholly absent.
//
// Thread safety: every read method may be called from any thread, concurrently with each other
// and with writes. Commit and TrimOutbox are serialized internally; the engine calls them from its
// one thread. A CommitBatch is not thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "handoff/clock.h"
#include "handoff/status.h"

namespace rocksdb {
class Cache;
class ColumnFamilyHandle;
class DB;
class Env;
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
};

// Everything one group commit writes. The batch only records operations (in one flat buffer, so
// adding an event allocates nothing once the buffer has grown); Store::Commit applies them in one
// atomic RocksDB write. A later operation on the same key wins. Reusable: Commit clears it.
//
// It deliberately does not depend on RocksDB or on an open Store, so engine code can build batches
// without either.
class CommitBatch {
 public:
  CommitBatch() = default;
  CommitBatch(CommitBatch&&) = default;
  CommitBatch& operator=(CommitBatch&&) = default;

  void PutLead(std::string_view lead_id, std::string_view encoded_state);
  void DeleteLead(std::string_view lead_id);
  // Remembers `message_id` as received at `received_at` (replacing an earlier time).
  void PutDedupe(std::string_view message_id, EpochSeconds received_at);
  // `seq` >= 1 (SPEC 9: the first record is 1); `at` is the record's time, used by TrimOutbox.
  void PutOutbox(uint64_t seq, EpochSeconds at, std::string_view record_json);
  // Small named values: rule version, next outbox seq, routing state, ...
  void PutMeta(std::string_view key, std::string_view value);
  void DeleteMeta(std::string_view key);

  bool empty() const { return count_ == 0; }
  size_t count() const { return count_; }
  // Bytes of keys and values recorded (plus a few bytes of framing each).
  size_t size_bytes() const { return rep_.size(); }
  // Forgets every operation but keeps the buffer's capacity.
  void Clear();

 private:
  friend class Store;
  enum class Op : uint8_t { kPutLead, kDeleteLead, kPutDedupe, kPutOutbox, kPutMeta, kDeleteMeta };
  struct Entry {
    Op op;
    std::string_view key;
    std::string_view value;  // empty for deletes
  };

  void Append(Op op, std::string_view key, std::string_view value_head,
              std::string_view value_tail);
  // Calls fn(const Entry&) for each operation in order. False if the buffer is malformed (a bug).
  template <typename Fn>
  bool ForEach(Fn&& fn) const;

  // Per operation: u8 op, u32 key size, u32 value size (host order; never persisted), key, value.
  std::string rep_;
  size_t count_ = 0;
  uint64_t min_outbox_seq_ = 0;  // 0: no outbox record in the batch
};

class Store {
 public:
  // Opens (creating if missing) the store at options.path. Errors: InvalidArgument for bad
  // options, IoError when the directory cannot be opened or is locked by another process,
  // Corruption when the files do not read.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);

  // Flushes memtables (so the next open need not replay the log) and closes. Committed data is
  // safe whether or not this runs: the log has it.
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Applies the batch atomically. When it returns OK the batch is durable per
  // options.durability and the batch is cleared. On error nothing of the batch is applied and the
  // batch is left as it was; after a write error RocksDB may refuse further writes (IoError) until
  // the store is reopened, and the caller must not acknowledge the batch's events.
  Status Commit(CommitBatch* batch);

  // The encoded state of a lead; NotFound when absent.
  Status GetLead(std::string_view lead_id, std::string* encoded) const;

  // Visits leads in key order, starting after `after` (empty: from the first), until fn returns
  // false or the leads end. Sees one consistent snapshot. For paging: pass the last id visited.
  Status ScanLeads(
      std::string_view after,
      const std::function<bool(std::string_view id, std::string_view encoded)>& fn) const;

  // True when `message_id` was recorded with a receive time within options.dedupe_window of `now`
  // (pass the same clock's time). An expired id that RocksDB has not yet dropped is unseen.
  Result<bool> SeenMessage(std::string_view message_id, EpochSeconds now) const;
  // Batch form (one RocksDB MultiGet): (*results)[i] answers ids[i].
  Status SeenMessages(const std::vector<std::string_view>& ids, EpochSeconds now,
                      std::vector<bool>* results) const;

  // A meta value; NotFound when absent.
  Status GetMeta(std::string_view key, std::string* value) const;

  // Fills *out with up to max_records outbox records with seq >= from_seq, in seq order, as
  // (seq, record JSON). Fewer (or none) when the outbox ends. Records trimmed away are skipped:
  // compare the first seq with from_seq (or OldestOutboxSeq) to detect a gap.
  Status ReadOutbox(uint64_t from_seq, size_t max_records,
                    std::vector<std::pair<uint64_t, std::string>>* out) const;
  // The lowest seq still stored; 0 when the outbox is empty. Note the outbox may be empty after a
  // trim: the next seq to hand out belongs in meta, committed with the records.
  uint64_t OldestOutboxSeq() const { return oldest_outbox_seq_.load(std::memory_order_acquire); }
  // Deletes the oldest records whose time is more than options.outbox_retention before `now`
  // (one range deletion). Only a prefix is deleted: it stops at the first record still within
  // retention, so the stored outbox is always contiguous. Meant for the daemon's cron.
  Status TrimOutbox(EpochSeconds now);

  // Compacts every column family fully, so expired dedupe ids and trimmed records leave the disk
  // now rather than when RocksDB gets to them. Slow; for tests and maintenance.
  Status CompactAll();

  // RocksDB's statistics per column family, for debugging. Free text.
  std::string Stats() const;

 private:
  Store() = default;
  Status Close();
  rocksdb::ColumnFamilyHandle* cf(size_t index) const { return handles_[index]; }

  StoreOptions options_;
  std::shared_ptr<rocksdb::Cache> block_cache_;
  std::unique_ptr<rocksdb::DB> db_;
  // In the order of kColumnFamilies in store.cc; owned (destroyed in Close).
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;

  std::mutex write_mu_;  // serializes Commit and TrimOutbox; guards write_batch_
  std::unique_ptr<rocksdb::WriteBatch> write_batch_;  // reused by every Commit
  std::atomic<uint64_t> oldest_outbox_seq_{0};
};

}  // namespace handoff
