// The funnel's stored forms (funnel/funnel_totals.h: hour totals and facts; funnel/
// latency_histogram.h): read back from the data directory at start and for every window's
// partial hours, so any bytes must decode or be refused, never crash.
//
// Invariants:
//   - FunnelTotals::Decode and FunnelFact::Decode either succeed or leave their object as it was;
//     DecodeStoredFacts either appends at least one fact or leaves its vector as it was, and what
//     it appends, added to a FactBlock, decodes back to as many facts.
//   - Round trip: decode -> encode -> decode succeeds and encodes to the same bytes (canonical
//     once encoded: the decoders accept over-long varints and repeated keys, which encode
//     shorter).
//   - A decoded histogram's quantiles are ordered (p50 <= p90 <= p99).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "funnel/fact_block.h"
#include "funnel/funnel_totals.h"
#include "funnel/latency_histogram.h"
#include "fuzz/fuzz_check.h"

namespace {

void CheckQuantiles(const handoff::LatencyHistogram& h) {
  if (h.count() == 0) {
    return;
  }
  const double p50 = *h.Quantile(0.5);
  const double p90 = *h.Quantile(0.9);
  const double p99 = *h.Quantile(0.99);
  FUZZ_CHECK(p50 <= p90 && p90 <= p99);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace handoff;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  FunnelTotals totals;
  totals.routed = 7;
  const FunnelTotals before = totals;
  if (totals.Decode(input)) {
    CheckQuantiles(totals.to_routed);
    CheckQuantiles(totals.to_accepted);
    std::string encoded;
    totals.Encode(&encoded);
    FunnelTotals again;
    FUZZ_CHECK(again.Decode(encoded));
    std::string reencoded;
    again.Encode(&reencoded);
    FUZZ_CHECK(encoded == reencoded);
  } else {
    FUZZ_CHECK(totals == before);
  }

  FunnelFact fact;
  fact.seq = 9;
  if (fact.Decode(input)) {
    std::string encoded;
    fact.Encode(&encoded);
    FunnelFact again;
    FUZZ_CHECK(again.Decode(encoded));
    std::string reencoded;
    again.Encode(&reencoded);
    FUZZ_CHECK(encoded == reencoded);
  } else {
    FUZZ_CHECK(fact.seq == 9);
  }

  // A stored fact value (funnel/fact_block.h): a block, or one fact in the older form.
  std::vector<FunnelFact> facts(1);
  if (DecodeStoredFacts(input, &facts)) {
    FUZZ_CHECK(facts.size() > 1);
    FactBlock block;
    for (size_t i = 1; i < facts.size(); ++i) {
      block.Add(facts[i], i);
    }
    std::vector<FunnelFact> again;
    FUZZ_CHECK(DecodeStoredFacts(block.bytes(), &again));
    FUZZ_CHECK(again.size() == facts.size() - 1);
    FUZZ_CHECK(block.min_window_ms() == 1 && block.first_seq() == facts[1].seq);
  } else {
    FUZZ_CHECK(facts.size() == 1);
  }

  std::string_view rest = input;
  LatencyHistogram histogram;
  if (histogram.Decode(&rest)) {
    CheckQuantiles(histogram);
  }
  return 0;
}
