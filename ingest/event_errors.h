// The JSON that tells a tracker one of its events was rejected (SPEC 3 and 4), written in one
// place for both transports so their replies cannot drift apart.
//
// TCP replies with a line per rejected event:
//   {"error":"missing_field","message":"track needs \"event\"","line":17,"messageId":"m-17"}
// HTTP (ingest/segment_http.h) puts the same fields in its answer body: next to "success":false
// for a rejected single event, after "index" for each rejected element of a batch.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ingest/event_parser.h"

namespace handoff {

// Appends the fields, without braces: "error":CODE,"message":TEXT[,"line":N][,"messageId":ID].
// `line` is the 1-based line number on a TCP connection (HTTP has none); the messageId appears
// only when the event had one.
void AppendEventErrorFields(const ParseError& err, std::optional<uint64_t> line, std::string* out);

// Appends one whole TCP reply line, newline included, for an event rejected on `line`.
void AppendEventErrorLine(const ParseError& err, uint64_t line, std::string* out);

// Appends the TCP reply line that says accepted events could not be made durable (so they are not
// acknowledged): {"error":"unavailable","message":TEXT} and a newline.
void AppendUnavailableLine(std::string_view message, std::string* out);

// Appends the TCP reply line that stands for `count` error lines the server did not queue because
// the client was not reading its replies (SPEC 3; README "Replies to a client that does not
// read"): {"error":"replies_dropped","count":N,"first_line":A,"last_line":B} and a newline.
// `first_line` and `last_line` are the connection's line numbers of the first and last of them.
void AppendRepliesDroppedLine(uint64_t count, uint64_t first_line, uint64_t last_line,
                              std::string* out);

}  // namespace handoff
