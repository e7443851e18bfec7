// UTF-8 well-formedness (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF).
//
// Text from the network is checked where it is parsed (simdjson validates every JSON string), but
// some bytes reach an answer or a log another way: a percent-decoded path, a header value, a rule
// file. AppendJsonString (handoff/value.h) writes U+FFFD for what this finds is not UTF-8, and the
// rule loader rejects it. Pure function; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace handoff {

// The length (1-4) of the well-formed UTF-8 sequence starting at in[i], or 0 when there is none
// (a stray continuation byte, a sequence cut short, an overlong form, a surrogate, a code point
// past U+10FFFF). `i` must be < in.size().
size_t Utf8SequenceLength(std::string_view in, size_t i);

}  // namespace handoff
