#include "funnel/fact_block.h"

#include <algorithm>
#include <cstddef>

#include "storage/coding.h"

namespace handoff {
namespace {

constexpr uint8_t kFactVersion = 1;  // FunnelFact::Encode's first byte: a fact alone
constexpr uint8_t kBlockVersion = 2;

}  // namespace

void FactBlock::Add(const FunnelFact& fact, uint64_t window_ms) {
  if (facts_ == 0) {
    bytes_.clear();
    bytes_.push_back(static_cast<char>(kBlockVersion));
    min_window_ms_ = window_ms;
    first_seq_ = fact.seq;
  }
  min_window_ms_ = std::min(min_window_ms_, window_ms);
  scratch_.clear();
  fact.Encode(&scratch_);
  coding::PutString(scratch_, &bytes_);
  ++facts_;
}

void FactBlock::Clear() {
  bytes_.clear();
  facts_ = 0;
  min_window_ms_ = 0;
  first_seq_ = 0;
}

bool DecodeStoredFacts(std::string_view value, std::vector<FunnelFact>* out) {
  if (value.empty()) {
    return false;
  }
  if (static_cast<uint8_t>(value[0]) == kFactVersion) {
    FunnelFact fact;
    if (!fact.Decode(value)) {
      return false;
    }
    out->push_back(std::move(fact));
    return true;
  }
  if (static_cast<uint8_t>(value[0]) != kBlockVersion) {
    return false;
  }
  const size_t before = out->size();
  std::string_view in = value.substr(1);
  while (!in.empty()) {
    std::string_view bytes;
    FunnelFact fact;
    if (!coding::GetStringView(&in, &bytes) || !fact.Decode(bytes)) {
      out->erase(out->begin() + static_cast<std::ptrdiff_t>(before), out->end());
      return false;
    }
    out->push_back(std::move(fact));
  }
  return out->size() > before;  // a block is never written empty
}

}  // namespace handoff
