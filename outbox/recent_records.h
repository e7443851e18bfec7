// RecentRecords: the stored bytes of the newest outbox records, kept in memory so that a reader
// who keeps up with the head (a subscriber, an SSE stream) gets them without a store iterator.
//
// A cache in front of Store::ReadOutbox, never the durable copy: the engine stages each record as
// it appends it and publishes a commit's records when it seals the commit (before it is durable;
// readers only ask up to a head they read, as with the store), so whatever it holds is also in
// the store or in the batch being written. Bounded by a byte budget: the oldest records leave
// first, staged ones too (a commit of a million records stages only the newest budget's worth).
// Dropping records is always safe (readers fall back to the store), so a trim drops what it
// deleted and a failure to hold a record is no error.
//
// Thread safety: Stage, Publish and DropBefore on one thread (the engine's), Read on any. Staging
// takes no lock; one mutex, taken once per Publish (a lock per record cost the engine ~3 % of its
// time at 50,000 events/s, bench/README.md) and held for a copy of at most one read's records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace handoff {

class RecentRecords {
 public:
  // What a held record costs beyond its bytes (its string), counted against the budget.
  static constexpr size_t kRecordOverheadBytes = sizeof(std::string);

  // `budget_bytes`: the most bytes held, each record counted as its size plus
  // kRecordOverheadBytes (0 holds none).
  explicit RecentRecords(size_t budget_bytes) : budget_bytes_(budget_bytes) {}

  // Keeps record `seq` for the next Publish, without a lock. `seq` is the one after the last
  // staged, or any seq when none is; anything else starts the staging again, as does a record
  // over the whole budget (which Publish then answers by emptying the cache: what it holds would
  // no longer run up to the newest seq).
  void Stage(uint64_t seq, std::string record);

  // Adds the staged records to those readers read, under one lock. Staged records that do not
  // follow the newest held one replace everything held, so what it holds is always one run of
  // consecutive seqs.
  void Publish();

  // When `from_seq` is held: sets *out to the held records with from_seq <= seq <= last_seq, at
  // most `max_records`, in seq order, and returns true. Otherwise returns false and leaves *out
  // alone: the caller reads the store.
  bool Read(uint64_t from_seq, uint64_t last_seq, size_t max_records,
            std::vector<std::pair<uint64_t, std::string>>* out) const;

  // Forgets every record below `seq` (0: every record); after a trim of the store.
  void DropBefore(uint64_t seq);

  // Bytes held (published), as counted against the budget (a reading for memory reports).
  size_t bytes() const;

 private:
  static size_t Cost(const std::string& record) { return record.size() + kRecordOverheadBytes; }
  // Forgets what is staged; the next Publish empties the cache first.
  void RestartStaging();
  // Moves the oldest held record to *dropped, to be freed once the lock is released.
  void DropOldestLocked(std::vector<std::string>* dropped);

  const size_t budget_bytes_;
  // Engine thread only: the records staged since the last Publish, the first of seq
  // staged_first_seq_, and whether Publish must empty the cache first.
  std::deque<std::string> staged_;
  uint64_t staged_first_seq_ = 0;
  size_t staged_bytes_ = 0;
  bool reset_on_publish_ = false;
  // Guarded by mu_:
  mutable std::mutex mu_;
  std::deque<std::string> records_;  // records_[i] has seq first_seq_ + i
  uint64_t first_seq_ = 0;
  size_t bytes_ = 0;
};

}  // namespace handoff
