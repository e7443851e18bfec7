// NDJSON ingest (SPEC 2 and 3), as the TCP ingest server runs it: the bytes arrive in arbitrary
// chunks, LineFramer cuts them into lines, EventParser parses each non-blank line, a rejected one
// gets its error reply line.
//
// Invariants:
//   - Framing does not depend on how the stream is chunked: the lines (and too-long reports) are
//     exactly those of a plain split on '\n' with the line limit applied, in order, numbered 1..n.
//   - A parsed event has what SPEC 2 requires: a lead key, the event name of a track, the groupId
//     of a group, the previousId of an alias, objects (or null) for properties/traits/context, a
//     finite timestamp; its values print as JSON that reads back equal.
//   - A line JsonParser rejects is invalid_json for EventParser too, and the other way round.
//   - A rejection has a code and a message, and its reply is one valid JSON line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/json_parser.h"
#include "fuzz/fuzz_check.h"
#include "handoff/event.h"
#include "ingest/event_errors.h"
#include "ingest/event_parser.h"
#include "net/line_framer.h"

namespace handoff {
namespace {

struct Line {
  uint64_t number;
  std::string text;
  bool too_long;
};

// What the framer must produce: a plain split, each line without the CR of a CRLF (a line's
// last CR, SPEC 3), which the limit does not count either.
std::vector<Line> ReferenceLines(std::string_view data, size_t limit) {
  std::vector<Line> lines;
  uint64_t number = 0;
  while (!data.empty()) {
    const size_t nl = data.find('\n');
    std::string_view line = data.substr(0, nl);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    ++number;
    if (line.size() > limit) {
      lines.push_back({number, "", true});
    } else {
      lines.push_back({number, std::string(line), false});
    }
    if (nl == std::string_view::npos) {
      break;
    }
    data.remove_prefix(nl + 1);
  }
  return lines;
}

bool IsBlank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

void CheckEvent(const Event& event, std::string_view line, JsonParser& json) {
  FUZZ_CHECK(!event.lead_key().empty());
  // An empty event name or groupId is a value (SPEC 2 counts "" as missing for the ids only); an
  // alias's previousId may not be empty (it would link the empty id).
  switch (event.type) {
    case EventType::kTrack:
      FUZZ_CHECK(event.has_name);
      break;
    case EventType::kAlias:
      FUZZ_CHECK(!event.previous_id.empty());
      break;
    default:
      break;
  }
  FUZZ_CHECK(event.properties.is_null() || event.properties.is_object());
  FUZZ_CHECK(event.traits.is_null() || event.traits.is_object());
  FUZZ_CHECK(event.context.is_null() || event.context.is_object());
  if (event.has_timestamp) {
    FUZZ_CHECK(event.timestamp - event.timestamp == 0);  // finite
  }
  for (const Value* v : {&event.properties, &event.traits, &event.context}) {
    FUZZ_CHECK(fuzz::KeysUnique(*v));
    fuzz::CheckJsonRoundTrip(json, *v);
  }
  // The fields hold what the JSON says (the last of a repeated key wins).
  Value doc;
  FUZZ_CHECK(json.Parse(line, &doc).ok());
  FUZZ_CHECK(doc.is_object());
  const Value* type = doc.Find("type");
  FUZZ_CHECK(type != nullptr && type->is_string());
  FUZZ_CHECK(type->as_string() == EventTypeName(event.type));
  const Value* user = doc.Find("userId");
  FUZZ_CHECK(user == nullptr || user->is_null() || user->as_string() == event.user_id);
}

void RunStream(std::string_view data, size_t limit) {
  // Chunk boundaries from a small PRNG seeded by the input, so every input is reproducible.
  uint64_t state = 0x9e3779b97f4a7c15ULL ^ (data.size() * 0x100000001b3ULL) ^ limit;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };

  const std::vector<Line> expected = ReferenceLines(data, limit);
  std::vector<Line> got;
  LineFramer framer(limit);
  auto on_line = [&](uint64_t number, std::string_view line, bool too_long) {
    FUZZ_CHECK(!too_long || line.empty());
    got.push_back({number, std::string(line), too_long});
  };
  std::string_view rest = data;
  while (!rest.empty()) {
    const size_t n = std::min<size_t>(rest.size(), 1 + next() % 64);
    framer.Feed(rest.substr(0, n), on_line);
    FUZZ_CHECK(framer.buffered() <= limit + 1);  // + a CR that may be a CRLF's
    rest.remove_prefix(n);
  }
  framer.Finish(on_line);
  FUZZ_CHECK(framer.buffered() == 0);
  // An input ending in '\n' has no empty last line: ReferenceLines stops at the last '\n'.
  const std::vector<Line>& want = expected;
  FUZZ_CHECK(got.size() == want.size());
  FUZZ_CHECK(framer.lines() == got.size());
  for (size_t i = 0; i < got.size(); ++i) {
    FUZZ_CHECK(got[i].number == i + 1);
    FUZZ_CHECK(got[i].too_long == want[i].too_long);
    FUZZ_CHECK(got[i].text == want[i].text);
  }

  static EventParser* parser = nullptr;
  static JsonParser* json = nullptr;
  if (parser == nullptr) {
    parser = new EventParser(EventParser::Options{.max_bytes = kDefaultMaxLineBytes});
    json = new JsonParser();
  }
  Event event;
  ParseError err;
  std::string reply;
  Value parsed;
  for (const Line& line : got) {
    if (line.too_long || IsBlank(line.text)) {
      continue;
    }
    const bool ok = parser->Parse(line.text, &event, &err);
    const bool is_json = fuzz::IsJson(*json, line.text, &parsed);
    if (ok) {
      CheckEvent(event, line.text, *json);
      continue;
    }
    FUZZ_CHECK(err.code != EventError::kNone);
    FUZZ_CHECK(!err.message.empty());
    FUZZ_CHECK((err.code == EventError::kInvalidJson) == (!is_json || !parsed.is_object()));
    reply.clear();
    AppendEventErrorLine(err, line.number, &reply);
    FUZZ_CHECK(!reply.empty() && reply.back() == '\n');
    const std::string_view body(reply.data(), reply.size() - 1);
    FUZZ_CHECK(body.find('\n') == std::string_view::npos);
    FUZZ_CHECK(fuzz::IsJson(*json, body, &parsed) && parsed.is_object());
  }
}

}  // namespace
}  // namespace handoff

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  handoff::RunStream(input, handoff::kDefaultMaxLineBytes);
  handoff::RunStream(input, 100);  // a small limit, so too-long lines are common
  return 0;
}
