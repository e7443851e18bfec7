// FactBlock: the funnel facts of one commit and one hour, stored under one key.
//
// Each outbox record makes one FunnelFact (funnel/funnel.h). Stored a key each, they were a
// memtable insert and a WAL entry a record, ~1 us of the commit thread each: under a load where
// one event in three routes a lead, a quarter of that thread (bench/README.md). A block holds a
// commit's facts of one hour instead, keyed by its earliest fact's time and its first fact's
// seq; a window's partial hour reads the blocks from the hour's start and keeps the facts inside.
//
// Stored form: a version byte (2), then each fact's `FunnelFact::Encode` bytes, length-prefixed.
// Facts stored before blocks (one `FunnelFact::Encode` a key, version byte 1) read as a block of
// one. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "funnel/funnel_totals.h"

namespace handoff {

class FactBlock {
 public:
  // Adds a fact whose window time, in milliseconds (the key's order), is `window_ms`.
  void Add(const FunnelFact& fact, uint64_t window_ms);
  bool empty() const { return facts_ == 0; }
  size_t facts() const { return facts_; }
  // The key's parts: the earliest window time of its facts, the seq of its first fact.
  uint64_t min_window_ms() const { return min_window_ms_; }
  uint64_t first_seq() const { return first_seq_; }
  // The stored form; valid until the next Add or Clear.
  std::string_view bytes() const { return bytes_; }
  // Empties the block, keeping its buffer for the next commit.
  void Clear();

 private:
  std::string bytes_;
  std::string scratch_;
  size_t facts_ = 0;
  uint64_t min_window_ms_ = 0;
  uint64_t first_seq_ = 0;
};

// Appends the facts of a stored value (a block, or one fact in the form before blocks) to
// `out`. False, with `out` as it was, on bytes neither form makes.
[[nodiscard]] bool DecodeStoredFacts(std::string_view value, std::vector<FunnelFact>* out);

}  // namespace handoff
