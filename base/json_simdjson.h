// simdjson On-Demand <-> Value helpers, for code that already holds an ondemand value (the event
// parser, JsonParser). Kept apart from json_parser.h so most includers do not pay for
// <simdjson.h>.
//
// All functions consume the value fully, so every byte of it is checked (On-Demand alone only
// checks what is read), and return simdjson's error code: SUCCESS, or the reason the JSON is
// malformed (DEPTH_ERROR past `max_depth` levels of objects/arrays). After an error the
// document cannot be read further.
#pragma once

#include <simdjson.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/json_parser.h"
#include "handoff/value.h"

// Returns the simdjson error of `expr` from the enclosing function, if any. The enclosing scope
// names simdjson::error_code and simdjson::SUCCESS as error_code and SUCCESS.
#define HANDOFF_JSON_TRY(expr)           \
  do {                                   \
    const error_code _json_err = (expr); \
    if (_json_err != SUCCESS) {          \
      return _json_err;                  \
    }                                    \
  } while (0)

namespace handoff {

// A reusable input buffer: copies text in and pads it as simdjson needs (SIMDJSON_PADDING zero
// bytes after the end), growing only when a longer text comes.
class PaddedBuffer {
 public:
  // Copies `json` (as "[json]" when `wrap_in_array`) and returns a view of the padded copy,
  // valid until the next call.
  simdjson::padded_string_view Pad(std::string_view json, bool wrap_in_array = false);

 private:
  std::unique_ptr<char[]> buffer_;
  size_t capacity_ = 0;  // of buffer_, padding included
};

// True once the document has been read to its last token: nothing trails the root value.
// (simdjson 3.0.1's document has no at_end(); current_location() reports OUT_OF_BOUNDS there.)
bool AtDocumentEnd(simdjson::ondemand::document& doc);

// "invalid JSON: <reason>" for people, with the bad-literal errors named plainly.
std::string JsonErrorMessage(simdjson::error_code error);

// Converts `json` into *out, reusing *out's object/array storage where it has some. Every JSON
// number becomes a double, including integers beyond 64 bits (and 1e400 becomes infinity, which
// Value prints as null). Duplicate object keys: the last value wins, in the first key's place.
[[nodiscard]] simdjson::error_code JsonToValue(simdjson::ondemand::value json, Value* out,
                                               int max_depth = kMaxJsonDepth);

// Walks `json` to its end without keeping it: the check that an ignored field is valid JSON.
[[nodiscard]] simdjson::error_code SkipJsonValue(simdjson::ondemand::value json,
                                                 int max_depth = kMaxJsonDepth);

// A number's text as written (simdjson's raw token without the whitespace after it), valid
// while the document's input is. Call before the value is read.
std::string_view JsonNumberText(simdjson::ondemand::value json);

// Reads a JSON number of any size as a double (see JsonToValue).
[[nodiscard]] simdjson::error_code JsonNumberToDouble(simdjson::ondemand::value json, double* out);

}  // namespace handoff
