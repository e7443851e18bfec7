// UTF-8 well-formedness (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF).
//
// Text from the network is checked where it is parsed (simdjson validates every JSON string), but
// some bytes reach an answer or a log another way: a percent-decoded path, a header value, a rule
// file. AppendJsonString (handoff/value.h) writes U+FFFD for what this finds is not UTF-8, and the
// rule loader rejects it. Pure function; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace handoff {

// The length (1-4) of the well-formed UTF-8 sequence starting at in[i], or 0 when there is none
// (a stray continuation byte, a sequence cut short, an overlong form, a surrogate, a code point
// past U+10FFFF). `i` must be < in.size().
size_t Utf8SequenceLength(std::string_view in, size_t i);

// JSON text may escape a lone UTF-16 surrogate ("\ud83d" with no low half after it: JavaScript
// writes one for a string cut inside an emoji), which is no Unicode character, so simdjson refuses
// the string. This gives `json` with each such escape, inside a string, replaced by "\ufffd"
// (U+FFFD, as a browser's TextEncoder does), six bytes for six, so every position stays where it
// was. Returns false, leaving *out untouched, when `json` has none. Pairs and other escapes are
// left as they are; malformed JSON is scanned as far as it goes and left for the parser to refuse.
bool ReplaceLoneSurrogateEscapes(std::string_view json, std::string* out);

}  // namespace handoff
