// JsonParser: any JSON text -> a Value, the whole document checked.
//
// For every reader of JSON that is not an event: admin request bodies, subscriber command lines,
// the router's saved state, the CLI's answers. Events go through ingest/event_parser.h, which
// validates them against SPEC 2 as it reads.
//
// Not thread-safe: make one per thread and reuse it (it keeps simdjson's buffers and a padded copy
// of the input between calls).
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "handoff/status.h"
#include "handoff/value.h"

namespace handoff {

// Deepest nesting of objects/arrays accepted in one document (an event object is depth 1). Deeper
// documents are invalid; this bounds the recursion of every JSON walker here.
inline constexpr int kMaxJsonDepth = 128;

class JsonParser {
 public:
  // `max_bytes`: longer texts are refused (0: no limit).
  explicit JsonParser(size_t max_bytes = 0);
  ~JsonParser();
  JsonParser(const JsonParser&) = delete;
  JsonParser& operator=(const JsonParser&) = delete;

  // Parses exactly one JSON value into *out, reusing its storage. InvalidArgument, with the
  // reason, when the text is not one valid JSON value, nests deeper than kMaxJsonDepth or is
  // longer than max_bytes; *out is then unspecified. A string escaping a lone UTF-16 surrogate
  // (valid JSON, no Unicode character) holds U+FFFD there.
  [[nodiscard]] Status Parse(std::string_view json, Value* out);

 private:
  [[nodiscard]] Status ParseText(std::string_view json, Value* out);  // one attempt

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace handoff
