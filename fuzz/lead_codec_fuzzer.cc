// The lead-state codec (storage/lead_codec.h): the bytes come from disk, so any bytes at all must
// decode to a LeadState or to Corruption, never crash.
//
// Invariants:
//   - A failed decode is Corruption.
//   - A decoded lead is well-formed: its traits' objects have unique keys (handoff/value.h).
//   - Round trip: decode -> encode -> decode succeeds, and encoding the second decode gives the
//     same bytes as the first encode (byte equality, so NaNs compare too).
//   - DecodeValue (the same form for a Value alone) on the same bytes: the same round trip.
// Byte equality with the input itself is not an invariant: the decoder accepts any non-zero byte
// as true and over-long varints, which encode shorter.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "handoff/lead_state.h"
#include "storage/lead_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace handoff;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  LeadState lead;
  const Status status = DecodeLeadState(input, &lead);
  if (status.ok()) {
    FUZZ_CHECK(fuzz::KeysUnique(lead.traits));
    std::string encoded;
    EncodeLeadState(lead, &encoded);
    LeadState again;
    FUZZ_CHECK(DecodeLeadState(encoded, &again).ok());
    std::string reencoded;
    EncodeLeadState(again, &reencoded);
    FUZZ_CHECK(encoded == reencoded);
  } else {
    FUZZ_CHECK(status.code() == Status::Code::kCorruption);
  }

  std::string_view rest = input;
  Value value;
  if (DecodeValue(&rest, &value)) {
    FUZZ_CHECK(rest.size() <= input.size());
    FUZZ_CHECK(fuzz::KeysUnique(value));
    std::string encoded;
    EncodeValue(value, &encoded);
    // Not byte-equal to what was consumed: the decoder takes any non-zero bool byte and
    // over-long varints. Canonical once encoded, though.
    std::string_view view = encoded;
    Value again;
    FUZZ_CHECK(DecodeValue(&view, &again) && view.empty());
    std::string reencoded;
    EncodeValue(again, &reencoded);
    FUZZ_CHECK(encoded == reencoded);
  }
  return 0;
}
