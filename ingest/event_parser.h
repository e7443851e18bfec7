// EventParser: one JSON text -> a validated Event (SPEC section 2), or an error code + message.
//
// Used by TCP ingest (one NDJSON line per call) and HTTP ingest (one event per /v1/<type> body,
// or a /v1/batch body). Built on simdjson On-Demand, but the whole document is always checked:
// every field, known or not, is walked to the end, so a malformed value anywhere (even in a
// field this event type ignores) and any trailing content make the event invalid_json.
//
// Validation, in this order; the first failing check is the one reported:
//   1. invalid_json     not JSON, trailing content, not an object, nested deeper than
//                       kMaxJsonDepth.
//   2. type             missing/null -> missing_field; not a string -> invalid_field; not one of
//                       track/page/screen/identify/group/alias (case-sensitive) ->
//                       unsupported_type. Skipped when the caller implies the type (below).
//   3. userId, then anonymousId: not a string (and not null) -> invalid_field.
//   4. neither a non-empty userId nor a non-empty anonymousId -> missing_field.
//   5. messageId        not a string -> invalid_field ("" is taken as absent: no dedupe).
//   6. timestamp        RFC 3339 string or epoch number (base/timestamp.h); anything else,
//                       including a bad date or a non-finite number -> invalid_field.
//   7. track: event     missing/null/"" -> missing_field; not a string -> invalid_field.
//      page/screen: name  not a string (and not null) -> invalid_field ("" is a present name).
//   8. properties (track/page/screen), 9. traits (identify/group), 10. context (all):
//                       not an object (and not null) -> invalid_field.
//   11. group: groupId  missing/null/"" -> missing_field; a string, or a number which is
//                       stored as its shortest text ("42", "1.5"); anything else -> invalid_field.
//   12. alias: previousId  missing/null/"" -> missing_field; not a string -> invalid_field.
// Fields a type does not use (properties of identify/group, traits of track/page/screen, event
// of non-track, name of track, groupId of non-group, previousId of non-alias) and unknown fields
// are ignored: checked as JSON only, not stored. Field names are case-sensitive. A key that
// appears twice in one object: the last one wins (as JavaScript's JSON.parse does), in its first
// position.
//
// Thread-safety: an EventParser is not thread-safe; make one per thread and reuse it. It keeps
// simdjson's buffers and a padded copy buffer between calls, and overwrites a reused Event's
// strings and property containers in place, so a steady stream of similar events allocates only
// for JSON string values longer than std::string's inline buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/json_parser.h"
#include "handoff/event.h"
#include "handoff/status.h"
#include "handoff/value.h"

namespace handoff {

struct ParseError {
  EventError code = EventError::kNone;
  std::string message;  // names the field, e.g. `track needs "event"`
  // The event's messageId when it was a string (even if the event is rejected for another
  // reason, or the JSON broke after it), so an error reply can echo it; else empty.
  std::string message_id;

  void Clear() {
    code = EventError::kNone;
    message.clear();
    message_id.clear();
  }
};

// The SPEC's default limit for one NDJSON line, without its newline.
inline constexpr size_t kDefaultMaxLineBytes = 64 * 1024;

// Fills *err with line_too_long for a line over `limit` bytes; for framers that reject a line
// before it is complete (so before it ever reaches a parser). `bytes` is the line's length as far
// as the caller knows it; the message states only the limit, since a framer that stops reading
// knows no more than that the line is longer.
void SetLineTooLong(size_t bytes, size_t limit, ParseError* err);

// An element of a /v1/batch body that was rejected.
struct BatchError {
  size_t index = 0;  // 0-based position in "batch"
  ParseError error;
};

class EventParser {
 public:
  struct Options {
    // Parse() rejects a text longer than this with line_too_long; 0 means no limit. ParseBatch
    // ignores it (the HTTP layer limits body size).
    size_t max_bytes = 0;
  };

  EventParser();
  explicit EventParser(Options options);
  ~EventParser();
  EventParser(const EventParser&) = delete;
  EventParser& operator=(const EventParser&) = delete;

  // Parses and validates one event. `json` needs no padding (it is copied into a reused padded
  // buffer). On success fills *out, reusing its strings' and values' storage, and returns true.
  // On failure fills *err (code, message, message_id) and returns false; *out is then
  // unspecified. With `implied_type` (the HTTP /v1/track, /v1/page, ... endpoints) the event
  // has that type and its own "type" field, if any, is ignored like an unknown field. A string
  // escaping a lone UTF-16 surrogate (valid JSON, no Unicode character) holds U+FFFD there.
  bool Parse(std::string_view json, Event* out, ParseError* err,
             std::optional<EventType> implied_type = std::nullopt);

  // Parses a /v1/batch body: {"batch":[event, ...], ...}. Returns false, with *err, when the
  // body as a whole is unusable: not JSON / not an object / malformed anywhere (invalid_json),
  // no "batch" (missing_field), "batch" not an array or given twice (invalid_field). Otherwise
  // returns true with the valid elements in *events, in order, and one BatchError per rejected
  // element in *errors (an element that is not an object is invalid_json). Each element needs
  // its own "type". A top-level "context" object is merged into every event's context, the
  // event's own keys winning (Segment's batch semantics). Other top-level keys (sentAt,
  // writeKey, ...) are ignored. *events is reused element by element.
  bool ParseBatch(std::string_view body, std::vector<Event>* events,
                  std::vector<BatchError>* errors, ParseError* err);

 private:
  // One attempt each; Parse and ParseBatch try again on the text with lone surrogate escapes
  // replaced (base/utf8.h) when it has some and the first attempt found the JSON invalid.
  bool ParseText(std::string_view json, Event* out, ParseError* err,
                 std::optional<EventType> implied_type);
  bool ParseBatchText(std::string_view body, std::vector<Event>* events,
                      std::vector<BatchError>* errors, ParseError* err);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace handoff
