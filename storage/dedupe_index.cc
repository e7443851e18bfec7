#include "storage/dedupe_index.h"

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

DedupeIndex::Slot* DedupeIndex::Find(Table& table, const Hash& h) {
  if (table.slots.empty()) {
    return nullptr;
  }
  const size_t mask = table.slots.size() - 1;
  for (size_t i = h.high & mask;; i = (i + 1) & mask) {
    Slot& slot = table.slots[i];
    if (slot.high == 0) {
      return nullptr;
    }
    if (SameHash(slot, h)) {
      return &slot;
    }
  }
}

void DedupeIndex::Insert(const Hash& h, EpochSeconds at) {
  Table& t = current_;
  if (t.used == 0) {
    t.started = at;
  }
  // Grow at three quarters full: a table holds its ids at 21-43 bytes each (16-byte slots), and
  // a miss still ends within a few cache lines (linear probing, ~8 slots at the worst load).
  if ((t.used + 1) * 4 > t.slots.size() * 3) {
    std::vector<Slot> old = std::move(t.slots);
    t.slots.assign(std::max(kMinSlots, old.size() * 2), Slot{});
    const size_t mask = t.slots.size() - 1;
    for (const Slot& s : old) {
      if (s.high == 0) {
        continue;
      }
      size_t i = s.high & mask;
      while (t.slots[i].high != 0) {
        i = (i + 1) & mask;
      }
      t.slots[i] = s;
    }
  }
  const size_t mask = t.slots.size() - 1;
  size_t i = h.high & mask;
  while (t.slots[i].high != 0) {
    i = (i + 1) & mask;
  }
  t.slots[i].high = h.high;
  t.slots[i].low_and_time = (static_cast<uint64_t>(h.low) << kTimeBits) | TimeCode(at);
  ++t.used;
}

void DedupeIndex::Rotate(EpochSeconds now) {
  // Every id of the current table is at least as young as its start; once that start is a
  // window old, the previous table holds only expired ids and goes.
  if (current_.used > 0 && now - current_.started >= window_) {
    previous_ = std::move(current_);
    current_ = Table{};
    current_.slots.reserve(previous_.slots.size());
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
  for (size_t i = 0; i < block.size(); i += kBlockEntrySize) {
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
      Insert(h, at);
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
    Insert(h, at);
  }
}

}  // namespace handoff
