// KeyedTable: owned objects found by a string key that each object holds, in an open-addressing
// table of 16-byte slots (the key's hash and the object's address).
//
// Why not std::unordered_map<std::string, std::unique_ptr<T>>: a lookup there loads a bucket, the
// node before the first of that bucket (libstdc++'s bucket points at its predecessor), then the
// node with its copy of the key, and only then the object: three cache misses before the one the
// caller wants, on a table of a few hundred thousand leads that is never in cache. Here a lookup
// loads one slot (its hash tells a match from a miss almost always) and then the object, whose
// key it compares; and the slot can be prefetched (Prefetch) while the caller still works on the
// previous lookup's object. The engine's lead lookup was 11-13 % of its thread as a node map.
//
// Growth does not hold the owner for long (as IncrementalMap and DedupeIndex): at three quarters
// full, counting erased slots, the table moves to a new slot array of zeroed pages
// (base/zeroed_memory.h: untouched pages cost nothing) sized for four times the live objects,
// and every later insert moves kMoveStep slots of the old array across. Lookups look in the new
// array, then in the old one until it is emptied. Erasing leaves a marker (linear probing needs
// the chain unbroken); the markers go with the next move to a new array, which churn (objects
// erased and inserted, as a bounded cache does) also triggers. One case scans the rest of the
// old array inside one insert: the new array filling before the old one is moved, which takes
// nearly every object being erased first.
//
// Contract:
//  - KeyOf()(const T&) returns the object's key as something convertible to std::string_view;
//    the key must not change while the object is in the table.
//  - At most one object per key: Insert requires the key to be absent.
//  - Objects never move; pointers stay valid until the object is taken out or the table dies.
//
// Thread safety: none; one owner.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <utility>

#include "base/zeroed_memory.h"

namespace handoff {

template <typename T, typename KeyOf>
class KeyedTable {
 public:
  // Slots of the old array moved to the new one per insert.
  static constexpr size_t kMoveStep = 8;

  KeyedTable() = default;
  ~KeyedTable() { clear(); }
  KeyedTable(const KeyedTable&) = delete;
  KeyedTable& operator=(const KeyedTable&) = delete;

  // The object under `key`, or null.
  T* Find(std::string_view key) const {
    const uint64_t tag = Tag(key);
    if (T* found = current_.Find(key, tag); found != nullptr) {
      return found;
    }
    return old_.capacity == 0 ? nullptr : old_.Find(key, tag);
  }
  bool Contains(std::string_view key) const { return Find(key) != nullptr; }

  // Starts loading the slot where `key` would be, for a Find shortly after.
  void Prefetch(std::string_view key) const {
    if (current_.capacity != 0) {
      __builtin_prefetch(&current_.slots[Tag(key) & (current_.capacity - 1)]);
    }
  }
  // Starts loading the object under `key` (a likely one: the first whose hash matches, without
  // comparing keys), for a Find shortly after. Best a few lookups after Prefetch of the same key,
  // when its slot is in cache. False when no slot of the current array matches: `key` is most
  // likely not in the table (it may be among the slots a growth has not moved yet).
  bool PrefetchObject(std::string_view key) const {
    if (current_.capacity == 0) {
      return false;
    }
    const uint64_t tag = Tag(key);
    const size_t mask = current_.capacity - 1;
    for (size_t i = tag & mask; current_.slots[i].tag != kEmpty; i = (i + 1) & mask) {
      if (current_.slots[i].tag == tag) {
        __builtin_prefetch(current_.slots[i].object);
        return true;
      }
    }
    return false;
  }

  // Takes ownership of `object`, whose key must not be in the table; returns it.
  T& Insert(std::unique_ptr<T> object) {
    assert(object != nullptr);
    assert(Find(KeyOf()(*object)) == nullptr);
    MakeRoom();
    T* raw = object.release();
    current_.Place(Tag(KeyOf()(*raw)), raw);
    ++size_;
    return *raw;
  }

  // Removes the object under `key` and hands it back; null when there is none.
  std::unique_ptr<T> Take(std::string_view key) {
    const uint64_t tag = Tag(key);
    for (Array* array : {&current_, &old_}) {
      if (array->capacity == 0) {
        continue;
      }
      if (Slot* slot = array->FindSlot(key, tag); slot != nullptr) {
        T* object = slot->object;
        slot->tag = kErased;
        slot->object = nullptr;
        --array->live;
        --size_;
        return std::unique_ptr<T>(object);
      }
    }
    return nullptr;
  }
  // Removes and destroys the object under `key`; returns 1 when there was one, else 0.
  size_t Erase(std::string_view key) { return Take(key) != nullptr ? 1 : 0; }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Slots of the old array not yet moved (0 except for a while after a move began; tests).
  size_t moving() const { return old_.capacity == 0 ? 0 : old_.capacity - moved_; }
  // Slots of both arrays (16 bytes each; tests and memory accounting).
  size_t slot_count() const { return current_.capacity + old_.capacity; }

  // Calls fn(T&) for every object; fn must not insert or take.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const Array* array : {&current_, &old_}) {
      for (size_t i = 0; i < array->capacity; ++i) {
        if (array->slots[i].tag >= kOccupied) {
          fn(*array->slots[i].object);
        }
      }
    }
  }

  // Destroys every object.
  void clear() {
    ForEach([](T& object) { delete &object; });
    current_.Release();
    old_.Release();
    moved_ = 0;
    size_ = 0;
  }

 private:
  // tag: 0 empty, 1 erased, else the key's hash with the top bit set.
  static constexpr uint64_t kEmpty = 0;
  static constexpr uint64_t kErased = 1;
  static constexpr uint64_t kOccupied = uint64_t{1} << 63;

  struct Slot {
    uint64_t tag;
    T* object;
  };

  struct Array {
    Slot* slots = nullptr;
    size_t capacity = 0;   // a power of two, or 0
    size_t live = 0;       // occupied slots
    size_t used = 0;       // occupied or erased slots
    size_t populated = 0;  // bytes of `slots` faulted in (PopulateSome)

    Slot* FindSlot(std::string_view key, uint64_t tag) const {
      if (capacity == 0) {
        return nullptr;
      }
      const size_t mask = capacity - 1;
      for (size_t i = tag & mask;; i = (i + 1) & mask) {
        Slot& slot = slots[i];
        if (slot.tag == kEmpty) {
          return nullptr;
        }
        if (slot.tag == tag && std::string_view(KeyOf()(*slot.object)) == key) {
          return &slot;
        }
      }
    }
    T* Find(std::string_view key, uint64_t tag) const {
      Slot* slot = FindSlot(key, tag);
      return slot == nullptr ? nullptr : slot->object;
    }
    // Into the first empty or erased slot of the key's chain (the key is known absent).
    void Place(uint64_t tag, T* object) {
      const size_t mask = capacity - 1;
      size_t i = tag & mask;
      while (slots[i].tag >= kOccupied) {
        i = (i + 1) & mask;
      }
      if (slots[i].tag == kEmpty) {
        ++used;
      }
      slots[i] = Slot{tag, object};
      ++live;
    }
    void Release() {
      FreeZeroed(slots, capacity * sizeof(Slot));
      *this = Array();
    }
  };

  static uint64_t Tag(std::string_view key) {
    return std::hash<std::string_view>{}(key) | kOccupied;
  }

  // Before an insert: a step of the move under way, and a new array when this one is full.
  //
  // Why an array never fills up (linear probing needs an empty slot to end a search): an insert
  // finds the current array at most three quarters used. A new array has room for four times the
  // live objects of both arrays, so the old array's live objects, moved in by later inserts, are
  // at most a quarter of it: used stays below capacity even when a move step comes before the
  // check. The old array only loses objects.
  void MakeRoom() {
    MoveFromOld(kMoveStep);
    // The current array's pages, a step an insert (as DedupeIndex: objects land on random pages,
    // each a fault or two when first met; base/zeroed_memory.h).
    PopulateSome(current_.slots, current_.capacity * sizeof(Slot), kPopulateStep,
                 &current_.populated);
    if (current_.capacity != 0 && (current_.used + 1) * 4 <= current_.capacity * 3) {
      return;
    }
    size_t capacity = 16;
    while (capacity < 4 * (size_ + 1)) {
      capacity *= 2;
    }
    Array fresh;
    // Zeroed pages that the inserts using them touch, not all at once here.
    fresh.slots = static_cast<Slot*>(AllocateZeroed(capacity * sizeof(Slot)));
    fresh.capacity = capacity;
    // Rare: the old array still holds objects (nearly everything was taken out since it began,
    // so the current array was small): they go straight to the new one.
    for (; old_.capacity != 0 && moved_ < old_.capacity; ++moved_) {
      if (const Slot& slot = old_.slots[moved_]; slot.tag >= kOccupied) {
        fresh.Place(slot.tag, slot.object);
      }
    }
    old_.Release();
    old_ = current_;
    current_ = fresh;
    moved_ = 0;
    if (old_.live == 0) {
      old_.Release();
    }
  }

  void MoveFromOld(size_t count) {
    if (old_.capacity == 0) {
      return;
    }
    const size_t end = moved_ + count < old_.capacity ? moved_ + count : old_.capacity;
    for (; moved_ < end; ++moved_) {
      Slot& slot = old_.slots[moved_];
      if (slot.tag >= kOccupied) {
        current_.Place(slot.tag, slot.object);
        // Erased, not empty: the old array's chains through this slot stay whole.
        slot.tag = kErased;
        slot.object = nullptr;
        --old_.live;
      }
    }
    if (moved_ == old_.capacity || old_.live == 0) {
      old_.Release();
      moved_ = 0;
    }
  }

  Array current_;
  Array old_;
  size_t moved_ = 0;  // slots of old_ before this index have been moved
  size_t size_ = 0;
};

}  // namespace handoff
