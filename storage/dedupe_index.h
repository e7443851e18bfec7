// DedupeIndex: which messageIds were applied within the dedupe window (SPEC 3), answered from
// memory without a store lookup or a store write per event.
//
// Each id is kept as a 86-bit keyed hash plus the time it was recorded, in an open-addressing
// table of 16-byte slots (no allocation per id once the table has grown). The durable copy is a
// log: every group commit writes one block holding the hashes of the ids it recorded
// (TakeBlock -> CommitBatch::PutDedupeBlock), and at start the blocks still within the window are
// read back (RestoreBlock). A block carries its commit time, never earlier than any of its ids'
// receive times, so a restored id can only be remembered a few milliseconds longer, never shorter.
//
// Exactness: two different ids are confused only when 86 bits of a hash keyed by a random seed
// (kept in the store's meta) collide: about 1 in 10^17 for an id arriving among 10^9 remembered
// ones, and not something a client can aim for without the seed.
//
// Memory: two generations (the current table and the previous one); a generation older than the
// window is dropped whole, so the index holds at most about two windows' worth of ids. A table
// grows (doubles) at three quarters full: 21-43 bytes an id. Growth is incremental, as in Redis's
// dict: the doubled slots come zeroed from the allocator (untouched pages cost nothing), and each
// later insert moves a few slots of the old array over, so no single event pays for moving
// millions of ids (at once, the doubling at 786k ids took 30 ms and at 1.6M ids 46 ms, a stall
// of every ack behind it; now the slowest insert of 3M is a few ms of noise).
//
// Thread safety: none; one owner (the engine thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/zeroed_memory.h"
#include "handoff/clock.h"

namespace handoff {

class DedupeIndex {
 public:
  // Bytes per id in a block: 8 + 4 bytes of the hash.
  static constexpr size_t kBlockEntrySize = 12;

  // `window_seconds` >= 0: how long an id is remembered (0: not at all).
  explicit DedupeIndex(double window_seconds);
  // Not copied or moved: a moved-from table would keep its capacity without its slots.
  DedupeIndex(const DedupeIndex&) = delete;
  DedupeIndex& operator=(const DedupeIndex&) = delete;

  // The hash key; set before the first id (a new store picks a random one, see NewSeed).
  void SetSeed(uint64_t seed) { seed_ = seed; }
  uint64_t seed() const { return seed_; }
  static uint64_t NewSeed();

  // True when `id` was recorded within the window before `now` (a duplicate: nothing changes).
  // Otherwise records it at `now`, adds it to the next block, and returns false.
  bool CheckAndRecord(std::string_view id, EpochSeconds now);
  // Starts loading the slots CheckAndRecord(id) will look at first (in the current and the
  // previous generation), so that a call a little later does not wait for memory.
  void Prefetch(std::string_view id) const;

  // True when ids were recorded since the last TakeBlock.
  bool has_block() const { return !block_.empty(); }
  // Moves the hashes recorded since the last call into *block (replacing its contents); false
  // when there were none.
  bool TakeBlock(std::string* block);

  // At start: the ids of one stored block, recorded at `at` (skipped when already expired at
  // `now`). False when the block is malformed.
  bool RestoreBlock(std::string_view block, EpochSeconds at, EpochSeconds now);
  // At start: one id of the older per-id form, recorded at `at`.
  void RestoreId(std::string_view id, EpochSeconds at, EpochSeconds now);

  // Ids held (including expired ones not yet dropped) and the bytes of the tables.
  size_t size() const { return current_.used + previous_.used; }
  size_t memory_bytes() const {
    return (current_.capacity + current_.moving_capacity + previous_.capacity +
            previous_.moving_capacity) *
           sizeof(Slot);
  }

 private:
  struct Hash {
    uint64_t high;  // never 0 (0 marks an empty slot)
    uint32_t low;   // 22 bits are kept in the slot
  };
  struct Slot {
    uint64_t high = 0;
    uint64_t low_and_time = 0;  // hash bits above, time in ms since base_ms_ below
  };
  struct FreeSlots {
    // User-provided, not `size_t count = 0`: GCC 12 does not see a nested class's member
    // initializers yet where DedupeIndex (still incomplete) declares unique_ptr members, so
    // unique_ptr's default constructor would be rejected.
    FreeSlots() noexcept : count(0) {}
    explicit FreeSlots(size_t n) noexcept : count(n) {}
    size_t count;  // slots in the array
    void operator()(Slot* p) const { FreeZeroed(p, count * sizeof(Slot)); }
  };
  using SlotArray = std::unique_ptr<Slot[], FreeSlots>;
  struct Table {
    SlotArray slots;  // `capacity` slots, a power of two, or none
    size_t capacity = 0;
    size_t used = 0;           // ids held, in `slots` and in `moving` not yet moved
    EpochSeconds started = 0;  // when its first id was recorded
    // While the table grows: the array before it doubled. Slots below `moved` are copied into
    // `slots` already; the rest are still only here. A copied slot is left in place: a lookup
    // looks in `slots` first, so it finds the copy, and an id not yet copied stays findable.
    SlotArray moving;
    size_t moving_capacity = 0;
    size_t moved = 0;
    // Bytes of `slots` faulted in so far (PopulateSome, a step an insert after a growth).
    size_t populated = 0;
  };

  Hash HashOf(std::string_view id) const;
  uint64_t TimeCode(EpochSeconds t);
  EpochSeconds TimeOf(uint64_t packed) const;
  static bool SameHash(const Slot& slot, const Hash& h);
  // Zeroed slots (base/zeroed_memory.h: pages touched by use); aborts when memory is exhausted.
  static SlotArray NewSlots(size_t n, ZeroedPages pages);
  // The slot holding `h` in one array, or null.
  static Slot* FindIn(Slot* slots, size_t capacity, const Hash& h);
  // The slot holding `h` in `table` (its array, then the one it grows from), or null.
  static Slot* Find(Table& table, const Hash& h);
  // Places a slot in an array with room for it (linear probing).
  static void Place(Slot* slots, size_t capacity, const Slot& slot);
  // Copies up to `count` slots of the array `table` grows from; frees it once all are copied.
  static void MoveSome(Table& table, size_t count);
  // `pages`: how a growth's new array is faulted in (kNow while a start restores millions).
  void Insert(const Hash& h, EpochSeconds at, ZeroedPages pages = ZeroedPages::kOnUse);
  // Drops the previous generation once everything in it has expired.
  void Rotate(EpochSeconds now);
  bool Fresh(const Slot& slot, EpochSeconds now) const;

  const double window_;
  uint64_t seed_ = 0;
  int64_t base_ms_ = 0;  // times are kept as ms since this; set by the first time seen
  bool has_base_ = false;
  Table current_;
  Table previous_;
  std::string block_;  // hashes recorded since the last TakeBlock
};

}  // namespace handoff
