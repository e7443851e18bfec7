// IncrementalMap: a hash map whose growth never holds its owner for one long rehash.
//
// A std::unordered_map rehashes all of its nodes at once when it outgrows its buckets: with a
// few hundred thousand leads that is 30-60 ms of pointer chasing inside one insert, and on the
// engine thread every ack and routed record waits behind it (measured: the 30-60 ms tail of
// event-to-routed latency at 50,000 events/s). This map spreads the work as Redis's dict does:
// when the current table is full, it becomes the old table, a new one with twice the buckets is
// reserved, and every later insert moves a few nodes from the old table to the new one
// (`extract`/`insert` of node handles: no copy, no allocation per node). Lookups and erases look
// in both. The old table is empty long before the new one is full (kMoveStep nodes an insert
// against a new table with room for twice the entries), so there are never more than two.
// What a growth still costs at once is zeroing the new bucket array. On memory new to the process
// that was a page fault every 512 buckets, ~40 ns an entry in this VM (7 ms at 173k entries, 53 ms
// at 1.45M; against ~170 ns an entry to rehash every node). So the next array is prepared while
// the table fills its second half, a page an insert (base/bucket_arena.h), and the growth takes
// it already in memory. Maps that grow into the millions want a table of our own, as
// DedupeIndex and KeyedTable (the lead cache) have.
//
// The interface is the small part of std::unordered_map the engine uses, with pointers instead
// of iterators (an entry may move between the two tables). Heterogeneous lookup works when Hash
// and Eq are transparent (StringIncrementalMap below). Iteration order is unspecified.
//
// Pointers to values stay valid until their entry is erased (nodes move, values do not).
//
// Thread safety: none; one owner.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "base/bucket_arena.h"
#include "base/string_map.h"
#include "base/zeroed_memory.h"

namespace handoff {

// The allocator of IncrementalMap's tables: nodes (an entry each) from std::allocator; a block of
// kMapAtLeast bytes or more, which in a node-based map is only ever a bucket array, from the
// map's BucketArena. Allocators of one arena compare equal and travel with their tables on a
// move or swap.
template <typename T>
class BucketAllocator {
 public:
  using value_type = T;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;

  explicit BucketAllocator(BucketArena* arena) noexcept : arena_(arena) {}
  template <typename U>
  BucketAllocator(const BucketAllocator<U>& other) noexcept  // NOLINT: rebinding is implicit
      : arena_(other.arena()) {}

  T* allocate(size_t n) {
    if (Bytes(n) >= kMapAtLeast) {
      return static_cast<T*>(arena_->Allocate(Bytes(n)));
    }
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, size_t n) noexcept {
    if (Bytes(n) >= kMapAtLeast) {
      FreeBucketBlock(p);  // the arena itself is not needed: the block knows its size
      return;
    }
    std::allocator<T>().deallocate(p, n);
  }

  BucketArena* arena() const noexcept { return arena_; }
  template <typename U>
  bool operator==(const BucketAllocator<U>& other) const noexcept {
    return arena_ == other.arena();
  }

 private:
  // T is a node or, for a bucket array, a pointer to one: its size is what is meant.
  static constexpr size_t Bytes(size_t n) {
    return n * sizeof(T);  // NOLINT(bugprone-sizeof-expression)
  }

  BucketArena* arena_;
};

template <typename K, typename V, typename Hash = std::hash<K>, typename Eq = std::equal_to<K>>
class IncrementalMap {
 public:
  using Map = std::unordered_map<K, V, Hash, Eq, BucketAllocator<std::pair<const K, V>>>;

  // Nodes moved from the old table per insert.
  static constexpr size_t kMoveStep = 8;

  IncrementalMap() = default;
  // The tables' allocators point at the arena, which stays where it is on the heap.
  IncrementalMap(IncrementalMap&&) noexcept = default;
  IncrementalMap& operator=(IncrementalMap&& other) noexcept {
    // The tables first: their blocks are freed without the arena, but the arena must outlive
    // every table that may still allocate from it.
    current_ = std::move(other.current_);
    old_ = std::move(other.old_);
    arena_ = std::move(other.arena_);
    return *this;
  }
  IncrementalMap(const IncrementalMap&) = delete;
  IncrementalMap& operator=(const IncrementalMap&) = delete;

  // The value under `key`, or null.
  template <typename Q>
  V* Find(const Q& key) {
    if (auto it = current_.find(key); it != current_.end()) {
      return &it->second;
    }
    if (old_.empty()) {
      return nullptr;
    }
    auto it = old_.find(key);
    return it == old_.end() ? nullptr : &it->second;
  }
  template <typename Q>
  const V* Find(const Q& key) const {
    return const_cast<IncrementalMap*>(this)->Find(key);
  }
  template <typename Q>
  bool Contains(const Q& key) const {
    return Find(key) != nullptr;
  }

  // Inserts V(args...) under `key` unless the key is there; returns the value under `key` and
  // whether it was inserted.
  template <typename KK, typename... Args>
  std::pair<V*, bool> TryEmplace(KK&& key, Args&&... args) {
    if (V* v = Find(key); v != nullptr) {
      return {v, false};
    }
    MakeRoom();
    auto [it, inserted] =
        current_.try_emplace(K(std::forward<KK>(key)), std::forward<Args>(args)...);
    return {&it->second, inserted};
  }
  // The value under `key`, default-constructed first when absent.
  template <typename KK>
  V& operator[](KK&& key) {
    return *TryEmplace(std::forward<KK>(key)).first;
  }

  // Removes `key`; returns 1 when it was there, else 0.
  template <typename Q>
  size_t Erase(const Q& key) {
    if (auto it = current_.find(key); it != current_.end()) {
      current_.erase(it);
      return 1;
    }
    if (auto it = old_.find(key); it != old_.end()) {
      old_.erase(it);
      return 1;
    }
    return 0;
  }

  // Removes `key` and hands back its value (one lookup, where Find then Erase would take two);
  // nullopt when it was not there.
  template <typename Q>
  std::optional<V> Take(const Q& key) {
    for (Map* table : {&current_, &old_}) {
      if (auto it = table->find(key); it != table->end()) {
        std::optional<V> value(std::move(it->second));
        table->erase(it);
        return value;
      }
    }
    return std::nullopt;
  }

  size_t size() const { return current_.size() + old_.size(); }
  // Entries of the old table not yet moved: 0 except for a while after the map grew.
  size_t moving() const { return old_.size(); }
  bool empty() const { return current_.empty() && old_.empty(); }
  // Buckets of both tables (8 bytes each); they change only when the map grows (tests).
  size_t bucket_count() const { return current_.bucket_count() + old_.bucket_count(); }
  // Growths whose bucket array was prepared in full beforehand (tests).
  size_t prepared_growths() const { return arena_->prepared_hits(); }
  void clear() {
    current_.clear();
    old_.clear();
  }

  // Calls fn(key, value) for every entry; fn must not insert or erase.
  template <typename Fn>
  void ForEach(Fn&& fn) {
    for (auto& [k, v] : current_) {
      fn(k, v);
    }
    for (auto& [k, v] : old_) {
      fn(k, v);
    }
  }
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const auto& [k, v] : current_) {
      fn(k, v);
    }
    for (const auto& [k, v] : old_) {
      fn(k, v);
    }
  }

 private:
  // Before an insert: a step of the move under way, and a new table when this one is full.
  void MakeRoom() {
    MoveFromOld(kMoveStep);
    const double capacity =
        static_cast<double>(current_.bucket_count()) * current_.max_load_factor();
    if (static_cast<double>(current_.size() + 1) <= capacity) {
      if (2 * current_.size() >= static_cast<size_t>(capacity)) {
        // The second half: a page of the next growth's array. libstdc++ rounds the count
        // reserved below up to a prime, a few percent more; an eighth more covers it.
        const size_t next_buckets = 2 * (static_cast<size_t>(capacity) + 1);
        const size_t next_bytes = (next_buckets + next_buckets / 8) * sizeof(void*);
        if (next_bytes >= kMapAtLeast) {
          arena_->Prepare(next_bytes);
        }
      }
      return;
    }
    // Full. The old table is empty by now (see the head comment); were it not, finish it.
    MoveFromOld(old_.size());
    old_.swap(current_);
    Map fresh(0, Hash(), Eq(), current_.get_allocator());
    fresh.reserve(2 * (old_.size() + 1));
    current_.swap(fresh);
  }
  void MoveFromOld(size_t count) {
    for (size_t i = 0; i < count && !old_.empty(); ++i) {
      current_.insert(old_.extract(old_.begin()));
    }
  }

  // Declared first, destroyed last: the tables may hand their blocks back until they go.
  std::unique_ptr<BucketArena> arena_ = std::make_unique<BucketArena>();
  Map current_{0, Hash(), Eq(), typename Map::allocator_type(arena_.get())};
  Map old_{0, Hash(), Eq(), typename Map::allocator_type(arena_.get())};
};

// Keyed by std::string, searched by std::string_view without a copy.
template <typename V>
using StringIncrementalMap = IncrementalMap<std::string, V, TransparentStringHash, std::equal_to<>>;

}  // namespace handoff
