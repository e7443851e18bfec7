// Outbox: the one owner of outbox records (SPEC 9): their sequence numbers, their stored form,
// the committed head, the notice to subscribers, and trimming past retention.
//
// Writing (engine thread only): Append() gives a record the next seq and adds it to the commit
// batch; Seal() records the next seq in the same batch, hands the batch's records to the memory
// readers read from, and returns the next seq; once the commit returned, Committed() with that
// value publishes the new head and tells the listener. Nobody sees a record before the commit that
// holds it. Batches may be sealed while an earlier one is still being written (the engine's
// pipelined commit): each is published with the seq it was sealed at.
//
// Reading (any thread) goes through OutboxReader: head(), oldest() and Read(). The newest records
// are read from memory (RecentRecords, a few MiB), older ones from the store.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "handoff/clock.h"
#include "handoff/status.h"
#include "outbox/outbox_record.h"
#include "outbox/recent_records.h"
#include "storage/store.h"

namespace handoff {

// Reads committed records. Thread-safe.
class OutboxReader {
 public:
  virtual ~OutboxReader() = default;
  // The newest committed seq; 0 before the first record.
  virtual uint64_t head() const = 0;
  // The lowest seq still stored; 0 when none is.
  virtual uint64_t oldest() const = 0;
  // Up to `max_records` stored records with from_seq <= seq <= last_seq, in seq order, as (seq,
  // stored bytes); decode each with DecodeStoredRecord. Trimmed records are skipped: compare the
  // first seq with from_seq to see a gap. `last_seq` is a head the caller read (head(), or one it
  // was told): never more, since the store may already hold records of the batch being written,
  // which are not acknowledged, and which the caller's thread has not synchronised with.
  virtual Status Read(uint64_t from_seq, uint64_t last_seq, size_t max_records,
                      std::vector<std::pair<uint64_t, std::string>>* out) const = 0;
};

class Outbox : public OutboxReader {
 public:
  // The most bytes of the newest records kept in memory for readers (RecentRecords): at 50,000
  // events/s with one in three routing a lead, about half a second of records.
  static constexpr size_t kRecentRecordBytes = 8u << 20;

  // `store` is borrowed and must outlive the outbox.
  explicit Outbox(Store* store, size_t recent_record_bytes = kRecentRecordBytes);
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Reads the next seq from the store. Call once, before the first Append.
  Status Restore();

  // Engine thread: sets record->seq to the next seq, encodes the record and adds it to `batch`.
  // Returns the seq.
  uint64_t Append(OutboxRecord* record, CommitBatch* batch);
  // Engine thread, when `batch` is sealed: adds the next seq to it when records were appended since
  // the last seal, and publishes those records to RecentRecords (one lock a commit, not a record).
  // Returns the next seq, to hand to Committed once `batch` is durable.
  uint64_t Seal(CommitBatch* batch);
  // Engine thread: the batch sealed by Seal's answer `sealed_next_seq` is durable; publishes
  // the new head and calls the listener (when set) with it.
  void Committed(uint64_t sealed_next_seq);
  // Set before the first commit; called on the engine thread with the new head.
  void SetListener(std::function<void(uint64_t head)> listener) { listener_ = std::move(listener); }
  // Engine thread (the cron): drops records older than the store's outbox retention.
  Status Trim(EpochSeconds now);
  // Bytes of the newest records held in memory for readers (RecentRecords). Thread-safe.
  size_t recent_record_bytes() const { return recent_.bytes(); }

  // OutboxReader.
  uint64_t head() const override { return head_.load(std::memory_order_acquire); }
  uint64_t oldest() const override { return store_->OldestOutboxSeq(); }
  Status Read(uint64_t from_seq, uint64_t last_seq, size_t max_records,
              std::vector<std::pair<uint64_t, std::string>>* out) const override;

 private:
  Store* const store_;
  uint64_t next_seq_ = 1;
  uint64_t next_seq_written_ = 1;  // the next seq as the store last had it
  std::atomic<uint64_t> head_{0};
  std::function<void(uint64_t)> listener_;
  RecentRecords recent_;
  std::string json_scratch_;
};

}  // namespace handoff
