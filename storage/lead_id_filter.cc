#include "storage/lead_id_filter.h"

#include <algorithm>
#include <functional>
#include <iterator>

#include "base/mix64.h"

namespace handoff {
namespace {

constexpr size_t kBitsPerId = 16;
constexpr size_t kIdsPerBlock = sizeof(uint64_t) * 8 * 8 / kBitsPerId;  // 32
// Bits set per id, nine bits of the mixed hash each (7 * 9 = 63 of 64).
constexpr int kProbes = 7;

uint64_t HashOf(std::string_view id) { return std::hash<std::string_view>{}(id); }

// Lemire's multiply-shift: the high 64 bits of h * n, a value in [0, n).
size_t BlockIndex(uint64_t h, size_t n) {
  return static_cast<size_t>((static_cast<unsigned __int128>(h) * n) >> 64);
}

}  // namespace

LeadIdFilter::LeadIdFilter(size_t capacity) {
  segments_.push_back(NewSegment(std::clamp(capacity, kMinCapacity, kMaxFirstCapacity)));
}

LeadIdFilter::Segment LeadIdFilter::NewSegment(size_t capacity) {
  Segment s;
  s.capacity = capacity;
  s.blocks.resize((capacity + kIdsPerBlock - 1) / kIdsPerBlock, Block{});
  return s;
}

void LeadIdFilter::Add(std::string_view id) {
  if (segments_.empty()) {
    segments_.push_back(NewSegment(kMinCapacity));  // moved from
  } else if (segments_.back().added >= segments_.back().capacity) {
    segments_.push_back(NewSegment(segments_.back().capacity * 2));
  }
  Segment& s = segments_.back();
  const uint64_t h = HashOf(id);
  Block& block = s.blocks[BlockIndex(h, s.blocks.size())];
  uint64_t bits = Mix64(h);
  for (int i = 0; i < kProbes; ++i, bits >>= 9) {
    block.words[(bits >> 6) & 7] |= uint64_t{1} << (bits & 63);
  }
  ++s.added;
}

bool LeadIdFilter::MayContain(std::string_view id) const {
  const uint64_t h = HashOf(id);
  // The bit positions come from a hash that shares nothing visible with the block index (the
  // upper bits of the plain hash).
  const uint64_t mixed = Mix64(h);
  // Newest first: a lead that comes back is more often a recent one.
  for (auto s = segments_.rbegin(); s != segments_.rend(); ++s) {
    const Block& block = s->blocks[BlockIndex(h, s->blocks.size())];
    uint64_t bits = mixed;
    bool all = true;
    for (int i = 0; i < kProbes && all; ++i, bits >>= 9) {
      all = (block.words[(bits >> 6) & 7] >> (bits & 63)) & 1;
    }
    if (all) {
      return true;
    }
  }
  return false;
}

void LeadIdFilter::Prefetch(std::string_view id) const {
  const uint64_t h = HashOf(id);
  for (const Segment& s : segments_) {
    __builtin_prefetch(&s.blocks[BlockIndex(h, s.blocks.size())]);
  }
}

void LeadIdFilter::Absorb(LeadIdFilter&& other) {
  // This filter's newest segment stays last, so adds go on filling it.
  segments_.insert(segments_.empty() ? segments_.end() : segments_.end() - 1,
                   std::make_move_iterator(other.segments_.begin()),
                   std::make_move_iterator(other.segments_.end()));
  other.segments_.clear();
}

size_t LeadIdFilter::ids() const {
  size_t n = 0;
  for (const Segment& s : segments_) {
    n += s.added;
  }
  return n;
}

size_t LeadIdFilter::memory_bytes() const {
  size_t n = 0;
  for (const Segment& s : segments_) {
    n += s.blocks.size() * sizeof(Block);
  }
  return n;
}

}  // namespace handoff
