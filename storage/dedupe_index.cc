#include "storage/dedupe_index.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "base/mix64.h"

namespace handoff {
namespace {

constexpr int kTimeBits = 42;  // ms: about 139 years on either side of the base
constexpr uint64_t kTimeMask = (uint64_t{1} << kTimeBits) - 1;
constexpr uint32_t kLowMask = (uint32_t{1} << (64 - kTimeBits)) - 1;
constexpr size_t kMinSlots = 1024;
constexpr size_t kMoveStep = 4;

uint64_t Load(const char* p, size_t n) {
  uint64_t v = 0;
  std::memcpy(&v, p, n);
  return v;
}

// A keyed 64-bit hash of `s`: words folded through a strong mixer, length included.
uint64_t KeyedHash(std::string_view s, uint64_t key) {
  uint64_t h = Mix64(key ^ (s.size() * 0x9e3779b97f4a7c15ull));
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    h = Mix64(h ^ Load(s.data() + i, 8)) + 0x9e3779b97f4a7c15ull;
  }
  if (i < s.size()) {
    h = Mix64(h ^ Load(s.data() + i, s.size() - i) ^ 0xff51afd7ed558ccdull);
  }
  return Mix64(h);
}

}  // namespace

DedupeIndex::DedupeIndex(double window_seconds) : window_(window_seconds) {}

uint64_t DedupeIndex::NewSeed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

DedupeIndex::Hash DedupeIndex::HashOf(std::string_view id) const {
  Hash h;
  h.high = KeyedHash(id, seed_);
  if (h.high == 0) {
    h.high = 1;
  }
  h.low = static_cast<uint32_t>(KeyedHash(id, ~seed_)) & kLowMask;
  return h;
}

uint64_t DedupeIndex::TimeCode(EpochSeconds t) {
  // Rounded up: an id may be remembered up to a millisecond longer, never shorter.
  const auto ms = static_cast<int64_t>(std::ceil(t * 1000));
  if (!has_base_) {
    base_ms_ = ms - static_cast<int64_t>(kTimeMask / 2);
    has_base_ = true;
  }
  const int64_t rel = ms - base_ms_;
  if (rel < 0) {
    return 0;  // older than anything the window can reach
  }
  return static_cast<uint64_t>(std::min<int64_t>(rel, static_cast<int64_t>(kTimeMask)));
}

EpochSeconds DedupeIndex::TimeOf(uint64_t packed) const {
  return static_cast<double>(base_ms_ + static_cast<int64_t>(packed & kTimeMask)) / 1000.0;
}

bool DedupeIndex::SameHash(const Slot& slot, const Hash& h) {
  return slot.high == h.high && (slot.low_and_time >> kTimeBits) == h.low;
}

bool DedupeIndex::Fresh(const Slot& slot, EpochSeconds now) const {
  return now - TimeOf(slot.low_and_time) < window_;
}

DedupeIndex::SlotArray DedupeIndex::NewSlots(size_t n, ZeroedPages pages) {
  // Zeroed pages that the inserts using them touch, not all at once here.
  return SlotArray(static_cast<Slot*>(AllocateZeroed(n * sizeof(Slot), pages)), FreeSlots{n});
}

DedupeIndex::Slot* DedupeIndex::FindIn(Slot* slots, size_t capacity, const Hash& h) {
  if (capacity == 0) {
    return nullptr;
  }
  const size_t mask = capacity - 1;
  for (size_t i = h.high & mask;; i = (i + 1) & mask) {
    Slot& slot = slots[i];
    if (slot.high == 0) {
      return nullptr;
    }
    if (SameHash(slot, h)) {
      return &slot;
    }
  }
}

DedupeIndex::Slot* DedupeIndex::Find(Table& table, const Hash& h) {
  if (Slot* s = FindIn(table.slots.get(), table.capacity, h); s != nullptr) {
    return s;
  }
  return FindIn(table.moving.get(), table.moving_capacity, h);
}

void DedupeIndex::Place(Slot* slots, size_t capacity, const Slot& slot) {
  const size_t mask = capacity - 1;
  size_t i = slot.high & mask;
  while (slots[i].high != 0) {
    i = (i + 1) & mask;
  }
  slots[i] = slot;
}

void DedupeIndex::MoveSome(Table& table, size_t count) {
  if (table.moving == nullptr) {
    return;
  }
  const size_t end = std::min(table.moving_capacity, table.moved + count);
  for (; table.moved < end; ++table.moved) {
    const Slot& s = table.moving[table.moved];
    // Copied with its time as it is now (Find may have refreshed it here). No id is in both
    // arrays uncopied: an insert happens only after Find looked in both.
    if (s.high != 0) {
      Place(table.slots.get(), table.capacity, s);
    }
  }
  if (table.moved == table.moving_capacity) {
    table.moving.reset();
    table.moving_capacity = 0;
    table.moved = 0;
  }
}

void DedupeIndex::Insert(const Hash& h, EpochSeconds at, ZeroedPages pages) {
  Table& t = current_;
  if (t.used == 0) {
    t.started = at;
  }
  // Grow at three quarters full: a table holds its ids at 21-43 bytes each (16-byte slots), and
  // a miss still ends within a few cache lines (linear probing, ~8 slots at the worst load).
  if ((t.used + 1) * 4 > t.capacity * 3) {
    MoveSome(t, t.moving_capacity);  // the previous growth's rest (never left, at kMoveStep)
    t.moving = std::move(t.slots);
    t.moving_capacity = t.capacity;
    t.moved = 0;
    t.capacity = std::max(kMinSlots, t.capacity * 2);
    t.slots = NewSlots(t.capacity, pages);
    t.populated = pages == ZeroedPages::kNow ? t.capacity * sizeof(Slot) : 0;
  }
  // The new array's pages, a step an insert: ids land on random pages, and a page met first by
  // a lookup then an insert costs two faults and a TLB shootdown (~17 us here). Left to the
  // inserts, the 4,096 pages of a 16 MiB array made every event 4-8 times slower for the ~100 ms
  // after a growth (event-to-routed p99 20-40 ms at 50k events/s).
  PopulateSome(t.slots.get(), t.capacity * sizeof(Slot), kPopulateStep, &t.populated);
  // Four old slots an insert: the old array (capacity/2 slots) is copied within capacity/8
  // inserts, long before the table is three quarters full again (3/8 of capacity inserts on).
  MoveSome(t, kMoveStep);
  Slot slot;
  slot.high = h.high;
  slot.low_and_time = (static_cast<uint64_t>(h.low) << kTimeBits) | TimeCode(at);
  Place(t.slots.get(), t.capacity, slot);
  ++t.used;
}

void DedupeIndex::Rotate(EpochSeconds now) {
  // Every id of the current table is at least as young as its start; once that start is a
  // window old, the previous table holds only expired ids and goes.
  if (current_.used > 0 && now - current_.started >= window_) {
    previous_ = std::move(current_);
    current_ = Table{};
  }
}

bool DedupeIndex::CheckAndRecord(std::string_view id, EpochSeconds now) {
  if (window_ <= 0) {
    return false;
  }
  Rotate(now);
  const Hash h = HashOf(id);
  if (Slot* s = Find(current_, h); s != nullptr) {
    if (Fresh(*s, now)) {
      return true;
    }
    // Expired and applied again: remembered from now on.
    s->low_and_time = (static_cast<uint64_t>(h.low) << kTimeBits) | TimeCode(now);
  } else if (Slot* p = Find(previous_, h); p != nullptr && Fresh(*p, now)) {
    return true;
  } else {
    Insert(h, now);
  }
  const size_t at = block_.size();
  block_.resize(at + kBlockEntrySize);
  std::memcpy(block_.data() + at, &h.high, 8);
  std::memcpy(block_.data() + at + 8, &h.low, 4);
  return false;
}

void DedupeIndex::Prefetch(std::string_view id) const {
  if (window_ <= 0) {
    return;
  }
  const uint64_t high = HashOf(id).high;
  for (const Table* table : {&current_, &previous_}) {
    if (table->capacity != 0) {
      __builtin_prefetch(&table->slots.get()[high & (table->capacity - 1)]);
    }
  }
}

bool DedupeIndex::TakeBlock(std::string* block) {
  block->clear();
  if (block_.empty()) {
    return false;
  }
  block->swap(block_);
  return true;
}

bool DedupeIndex::RestoreBlock(std::string_view block, EpochSeconds at, EpochSeconds now) {
  if (block.size() % kBlockEntrySize != 0) {
    return false;
  }
  if (window_ <= 0 || now - at >= window_) {
    return true;
  }
  // A block holds the ids of one commit, thousands: while one is placed, the slot of one 16
  // entries on is loaded (a cache miss each on a table of millions; measured at start with 10M
  // ids in the window).
  constexpr size_t kAhead = 16 * kBlockEntrySize;
  for (size_t i = 0; i < block.size(); i += kBlockEntrySize) {
    if (i + kAhead < block.size() && current_.capacity != 0) {
      uint64_t ahead = 0;
      std::memcpy(&ahead, block.data() + i + kAhead, 8);
      __builtin_prefetch(&current_.slots.get()[ahead & (current_.capacity - 1)]);
    }
    Hash h;
    std::memcpy(&h.high, block.data() + i, 8);
    std::memcpy(&h.low, block.data() + i + 8, 4);
    if (h.high == 0) {
      return false;
    }
    h.low &= kLowMask;
    if (Slot* s = Find(current_, h); s != nullptr) {
      s->low_and_time = (static_cast<uint64_t>(h.low) << kTimeBits) |
                        std::max(s->low_and_time & kTimeMask, TimeCode(at));
    } else {
      // A start restores millions of ids in a row: each growth's array is faulted in by the
      // kernel at once rather than a page per fault, each taken twice (the lookup before the
      // insert reads the page first).
      Insert(h, at, ZeroedPages::kNow);
    }
  }
  return true;
}

void DedupeIndex::RestoreId(std::string_view id, EpochSeconds at, EpochSeconds now) {
  if (window_ <= 0 || now - at >= window_) {
    return;
  }
  const Hash h = HashOf(id);
  if (Slot* s = Find(current_, h); s != nullptr) {
    s->low_and_time = (static_cast<uint64_t>(h.low) << kTimeBits) |
                      std::max(s->low_and_time & kTimeMask, TimeCode(at));
  } else {
    Insert(h, at, ZeroedPages::kNow);  // as in RestoreBlock
  }
}

}  // namespace handoff
