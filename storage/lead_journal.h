// LeadJournal: the lead states written since their last checkpoint, in memory, in generations.
//
// Why: a group commit used to put every changed lead into the `leads` column family, one
// memtable insert each, and the skiplist search of those inserts was half of the commit thread
// (bench/README.md). A lead that changes in many commits was inserted once per commit. Now a
// commit writes its changed leads as one block of the `lead_journal` column family (one insert),
// and the newest state of each lead lives here until a checkpoint copies it into `leads`, once
// per generation however often it changed (storage/rocks_store.h explains the whole cycle).
//
// A generation collects the blocks applied to it (newest state per lead, or "deleted"); the
// active one takes new blocks; Freeze makes it immutable (shared by scans and snapshots) and
// starts a new one. Lookups read the active generation, then the frozen ones newest first: the
// first that holds the id answers. Frozen generations are checkpointed and dropped oldest first.
//
// Block format (the `lead_journal` value): a sequence of
//   u8 op (1: put, 2: delete), varint id size, id, [put: varint state size, state].
//
// Thread safety: none; RocksStore guards it. Frozen generations are immutable and may be read
// from any thread through the shared pointers Frozen() hands out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "storage/coding.h"

namespace handoff {

class LeadJournal {
 public:
  // What a generation holds for one lead: its newest state (bytes inside one of the
  // generation's blocks), or that it was deleted.
  struct Slot {
    std::string_view state;
    bool deleted = false;
  };

  using Entry = std::pair<std::string_view, const Slot*>;

  class Generation {
   public:
    // The slot for `id`, or null when this generation holds none.
    const Slot* Find(std::string_view id) const;
    size_t size() const { return slots_.size(); }
    // Lead writes applied to it (at least size(); more when leads changed in several commits).
    uint64_t writes() const { return writes_; }
    // The last journal block applied to it (0: none).
    uint64_t last_block() const { return last_block_; }
    // Memory it holds: its blocks and its table.
    uint64_t bytes() const { return bytes_ + slots_.capacity() * (sizeof(Slot) + 24); }
    // Frozen generations only. Every lead, in a fixed order (a checkpoint walks it by position).
    const std::vector<Entry>& entries() const { return entries_; }
    // Frozen generations only. Every lead in key order; sorted on first use, by whichever
    // thread asks first (thread-safe).
    const std::vector<Entry>& Sorted() const;

   private:
    friend class LeadJournal;
    // The blocks applied to it, which the slots' ids and states point into: a commit's block is
    // kept whole instead of copying each lead out of it (and no allocation per lead).
    std::deque<std::string> blocks_;  // a deque: adding one never moves the others' bytes
    absl::flat_hash_map<std::string_view, Slot> slots_;
    uint64_t last_block_ = 0;
    uint64_t bytes_ = 0;
    uint64_t writes_ = 0;
    std::vector<Entry> entries_;  // set by Freeze
    mutable std::once_flag sorted_once_;
    mutable std::vector<Entry> sorted_;
  };
  using FrozenGeneration = std::shared_ptr<const Generation>;

  LeadJournal();

  // Encoding of a block.
  static void AppendPut(std::string_view id, std::string_view state, std::string* block);
  static void AppendDelete(std::string_view id, std::string* block);
  // Calls fn(id, state, deleted) for each operation of `block`, in order. False when the block
  // does not decode (the bytes are from disk: never a crash); fn has seen the operations before
  // the bad one.
  template <typename Fn>
  [[nodiscard]] static bool ForEachInBlock(std::string_view block, Fn&& fn);

  // Applies journal block number `block` (> every block applied before) to the active
  // generation, which keeps `bytes`. With `check` (bytes read from disk), false when it does not
  // decode, and then nothing of it is applied; without, the block must be one the Append
  // functions built.
  [[nodiscard]] bool Apply(uint64_t block, std::string&& bytes, bool check);
  // An empty string with the capacity of a block of a dropped generation, when one is spare: the
  // next block is built in it (no new memory, so no page faults, once the journal is warm).
  std::string TakeSpareBlock();
  // The block bytes applied to the active generation since it began (what Freeze is driven by).
  uint64_t active_block_bytes() const { return active_block_bytes_; }
  bool active_empty() const { return active_->size() == 0; }
  // Leads the active generation's table holds before it grows (tests); 0 before its first block.
  size_t active_room() const {
    return active_->slots_.capacity() - active_->slots_.capacity() / 8;  // absl's 7/8 load
  }

  // The active generation becomes the newest frozen one (when it holds anything).
  void Freeze();

  // How many leads a generation is expected to hold (the store's estimate from its generation
  // size). Each generation's table is made that big at its first block, or a quarter bigger
  // than the generation before it, whichever is more: growing it rehashes every lead at once,
  // and a commit that did so took 20-45 ms with ~300k leads (the write's ack, and every read of
  // the journal, wait).
  void ExpectLeadsPerGeneration(size_t leads);

  // The newest state of `id` in memory: a slot (maybe deleted), or null when the journal holds
  // nothing for it (read the `leads` column family).
  const Slot* Find(std::string_view id) const;

  // Frozen generations, oldest first.
  const std::deque<FrozenGeneration>& frozen() const { return frozen_; }
  // Drops the oldest frozen generation (once checkpointed); its blocks become spare unless a
  // scan or snapshot still holds it.
  void DropOldest();

  // Memory held: every generation's blocks and tables, and the spare blocks.
  uint64_t bytes() const;
  // Memory held by the frozen generations.
  uint64_t frozen_bytes() const;

 private:
  std::shared_ptr<Generation> active_;
  uint64_t active_block_bytes_ = 0;
  size_t expected_leads_ = 0;
  size_t next_room_ = 0;  // leads the active generation's table is made for at its first block
  static constexpr uint8_t kPut = 1;
  static constexpr uint8_t kDelete = 2;

  std::deque<FrozenGeneration> frozen_;
  std::vector<std::string> spare_blocks_;
  uint64_t spare_bytes_ = 0;
};

template <typename Fn>
bool LeadJournal::ForEachInBlock(std::string_view block, Fn&& fn) {
  while (!block.empty()) {
    uint8_t op = 0;
    std::string_view id;
    std::string_view state;
    if (!coding::GetByte(&block, &op) || !coding::GetStringView(&block, &id)) {
      return false;
    }
    if (op == kPut) {
      if (!coding::GetStringView(&block, &state)) {
        return false;
      }
      fn(id, state, false);
    } else if (op == kDelete) {
      fn(id, std::string_view(), true);
    } else {
      return false;
    }
  }
  return true;
}

// The leads of every generation in `generations` (oldest first) laid over a sorted stream of
// stored leads, in key order: what a scan of the leads sees. `stored(after)` must call its
// visitor with the stored leads after `after` (empty: all), in key order, until it returns false.
// Visits ids > `after` until fn returns false. Deleted leads are skipped.
class LeadOverlayScan {
 public:
  explicit LeadOverlayScan(std::vector<LeadJournal::FrozenGeneration> generations);
  // fn(id, state) -> keep going.
  using Visitor = std::function<bool(std::string_view id, std::string_view state)>;
  // Runs the merge; `stored` is called once.
  template <typename StoredScan>
  void Run(std::string_view after, StoredScan&& stored, const Visitor& fn) const;
  // The newest slot of `id` among the generations, or null.
  const LeadJournal::Slot* Find(std::string_view id) const;

 private:
  // The overlay's ids > after, sorted, newest slot each.
  std::vector<LeadJournal::Entry> Merged(std::string_view after) const;
  std::vector<LeadJournal::FrozenGeneration> generations_;
};

template <typename StoredScan>
void LeadOverlayScan::Run(std::string_view after, StoredScan&& stored, const Visitor& fn) const {
  const auto overlay = Merged(after);
  size_t next = 0;
  bool more = true;
  // Overlay ids before `id` (and `id` itself when the overlay has it) are visited first.
  auto emit_overlay_until = [&](std::string_view id, bool inclusive) {
    while (more && next < overlay.size() &&
           (overlay[next].first < id || (inclusive && overlay[next].first == id))) {
      const auto& [oid, slot] = overlay[next++];
      if (!slot->deleted) {
        more = fn(oid, slot->state);
      }
    }
  };
  stored([&](std::string_view id, std::string_view state) {
    emit_overlay_until(id, /*inclusive=*/false);
    if (!more) {
      return false;
    }
    if (next < overlay.size() && overlay[next].first == id) {
      emit_overlay_until(id, /*inclusive=*/true);  // the overlay's state replaces the stored one
      return more;
    }
    more = fn(id, state);
    return more;
  });
  while (more && next < overlay.size()) {
    const auto& [oid, slot] = overlay[next++];
    if (!slot->deleted) {
      more = fn(oid, slot->state);
    }
  }
}

}  // namespace handoff
