// UTF-8 well-formedness (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF).
//
// Text from the network is checked where it is parsed (simdjson validates every JSON string), but
// some bytes reach an answer or a log another way: a percent-decoded path, a header value, a rule
// file. These helpers find and replace what is not UTF-8, so every JSON text the daemon writes
// stays valid JSON. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace handoff {

// The length (1-4) of the well-formed UTF-8 sequence starting at in[i], or 0 when there is none
// (a stray continuation byte, a sequence cut short, an overlong form, a surrogate, a code point
// past U+10FFFF). `i` must be < in.size().
size_t Utf8SequenceLength(std::string_view in, size_t i);

// The offset of the first byte of `in` that starts no well-formed sequence; npos when all of
// `in` is UTF-8.
size_t FirstInvalidUtf8(std::string_view in);

// `in` with every byte that is not part of a well-formed sequence replaced by U+FFFD (one per
// byte). Valid input comes back as is.
std::string ToValidUtf8(std::string_view in);

}  // namespace handoff
