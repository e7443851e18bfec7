// LeadIdFilter: which lead ids the store may hold, answered from memory, so that a new lead (an id
// no event named before) is created without asking RocksDB first. With millions of leads most of
// them are out of the engine's cache, and a lookup of an absent id checks a bloom filter in every
// level of the store and now and then reads a block: it was a quarter of the engine thread's time
// when every event named a new lead (bench/README.md, the many-leads row).
//
// A bloom filter: "certainly not" is exact, "maybe" is wrong for about 1 id in 200 (that lookup
// goes to the store as before). Ids are never removed (a deleted or merged lead stays a "maybe").
// It grows without rebuilding: when the newest segment holds its capacity, a segment of twice that
// capacity is added, and a lookup checks every segment (one cache line each). Two filters are
// joined by Absorb, which is how the engine merges the ids it scanned from the store at start
// with the ones it created meanwhile.
//
// Memory: 2 bytes an id of capacity (16 bits a key, in 64-byte blocks).
//
// Thread safety: none; one owner at a time (the scan builds one, then hands it to the engine).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace handoff {

class LeadIdFilter {
 public:
  // The smallest segment: 1M ids, 2 MB.
  static constexpr size_t kMinCapacity = size_t{1} << 20;

  // The largest first segment: 256M ids, 512 MB (a capacity asked past it, say from a damaged
  // count, is cut to it; the filter still grows past it as ids come).
  static constexpr size_t kMaxFirstCapacity = size_t{1} << 28;

  // `capacity`: ids the first segment holds before the filter grows (clamped to
  // [kMinCapacity, kMaxFirstCapacity]). A moved-from filter holds nothing and may be used.
  explicit LeadIdFilter(size_t capacity = kMinCapacity);

  void Add(std::string_view id);
  // False: `id` was never added. True: it was, or (rarely) it collides with ids that were.
  bool MayContain(std::string_view id) const;
  // Starts loading the blocks a MayContain(id) reads, one cache line a segment, for a lookup
  // shortly after (the engine's next event, when its lead is not in the lead cache).
  void Prefetch(std::string_view id) const;
  // Takes every id of `other` (left empty, holding no memory). Later adds go to this filter's
  // newest segment.
  void Absorb(LeadIdFilter&& other);

  size_t ids() const;  // ids added (an id added twice counts twice)
  size_t memory_bytes() const;

 private:
  // One cache line: a lookup's probes all land in it (unaligned, most blocks spanned two).
  struct alignas(64) Block {
    uint64_t words[8];
  };
  struct Segment {
    std::vector<Block> blocks;
    size_t capacity = 0;
    size_t added = 0;
  };
  static Segment NewSegment(size_t capacity);

  std::vector<Segment> segments_;  // adds go to the last one; empty only when moved from
};

}  // namespace handoff
