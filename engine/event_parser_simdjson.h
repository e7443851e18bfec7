// simdjson On-Demand <-> Value helpers, for code that already holds an ondemand value (the event
// parser, HTTP handlers that read a body themselves). Kept apart from event_parser.h so most
// includers do not pay for <simdjson.h>.
//
// All functions consume the value fully, so every byte of it is checked (On-Demand alone only
// checks what is read), and return simdjson's error code: SUCCESS, or the reason the JSON is
// malformed (DEPTH_ERROR past `max_depth` levels of objects/arrays). After an error the
// document cannot be read further.
#pragma once

#include <simdjson.h>

#include "engine/event_parser.h"
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

// Converts `json` into *out, reusing *out's object/array storage where it has some. Every JSON
// number becomes a double, including integers beyond 64 bits (and 1e400 becomes infinity, which
// Value prints as null). Duplicate object keys: the last value wins, in the first key's place.
[[nodiscard]] simdjson::error_code JsonToValue(simdjson::ondemand::value json, Value* out,
                                               int max_depth = kMaxJsonDepth);

// Walks `json` to its end without keeping it: the check that an ignored field is valid JSON.
[[nodiscard]] simdjson::error_code SkipJsonValue(simdjson::ondemand::value json,
                                                 int max_depth = kMaxJsonDepth);

// Reads a JSON number of any size as a double (see JsonToValue).
[[nodiscard]] simdjson::error_code JsonNumberToDouble(simdjson::ondemand::value json, double* out);

}  // namespace handoff
