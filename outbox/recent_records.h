// RecentRecords: the stored bytes of the newest outbox records, kept in memory so that a reader
// who keeps up with the head (a subscriber, an SSE stream) gets them without a store iterator.
//
// A cache in front of Store::ReadOutbox, never the durable copy: the engine adds a commit's
// records when it seals the commit (before it is durable; readers only ask up to a head they
// read, as with the store), and whatever it holds is also in the store or in the batch being
// written. Bounded by a byte budget: the oldest records leave first. Dropping records is always
// safe (readers fall back to the store), so a trim drops what it deleted and a failure to hold a
// record is no error.
//
// Thread safety: Add and DropBefore on one thread (the engine's), Read on any; one mutex, taken
// once per Add of a whole commit's records (a lock per record cost the engine ~3 % of its time
// at 50,000 events/s, bench/README.md) and held for a copy of at most one read's records.
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

  // Holds `run`, the stored bytes of records first_seq, first_seq + 1, ... (moved out; `run` is
  // left empty). first_seq is the seq after the newest held, or any seq when none is held;
  // anything else empties the cache first, so what it holds is always one run of consecutive
  // seqs. A record over the whole budget empties it too.
  void Add(uint64_t first_seq, std::vector<std::string>* run);

  // When `from_seq` is held: sets *out to the held records with from_seq <= seq <= last_seq, at
  // most `max_records`, in seq order, and returns true. Otherwise returns false and leaves *out
  // alone: the caller reads the store.
  bool Read(uint64_t from_seq, uint64_t last_seq, size_t max_records,
            std::vector<std::pair<uint64_t, std::string>>* out) const;

  // Forgets every record below `seq` (0: every record); after a trim of the store.
  void DropBefore(uint64_t seq);

  // Bytes held, as counted against the budget (a reading for memory reports).
  size_t bytes() const;

 private:
  void DropOldestLocked();
  static size_t Cost(const std::string& record) { return record.size() + kRecordOverheadBytes; }

  const size_t budget_bytes_;
  mutable std::mutex mu_;
  std::deque<std::string> records_;  // records_[i] has seq first_seq_ + i
  uint64_t first_seq_ = 0;
  size_t bytes_ = 0;
};

}  // namespace handoff
