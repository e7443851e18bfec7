// The subscriber protocol (SPEC 9), as SubscriberServer reads it: LineFramer cuts the stream into
// lines, ClientLineParser parses each non-blank one, a rejected line gets an error reply. The
// same bytes also go through DecodeStoredRecord (outbox records as stored, the other input of a
// subscriber stream).
//
// Invariants:
//   - A parsed subscribe has a kinds mask of known kinds only; its filter matches a record exactly
//     when the record's kind is in the mask (or the mask is empty) and its rep and team equal the
//     filter's non-empty ones; a `from` is at most 2^53.
//   - A parsed accept/reject/close has a seq > 0; a close's outcome is won, lost or recycled; a
//     reject's reason is what the line says.
//   - A rejected line has code bad_request, invalid_outcome or invalid_amount and a message, and
//   its reply (and
//     an ok reply) is one JSON line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/json_parser.h"
#include "fuzz/fuzz_check.h"
#include "net/line_framer.h"
#include "outbox/outbox_record.h"
#include "outbox/stored_record.h"
#include "subscribe/subscription.h"

namespace handoff {
namespace {

constexpr size_t kMaxLineBytes = 64 * 1024;  // SubscriberServerOptions' default

void CheckReply(JsonParser& json, const std::string& reply) {
  FUZZ_CHECK(!reply.empty() && reply.back() == '\n');
  const std::string_view body(reply.data(), reply.size() - 1);
  FUZZ_CHECK(body.find('\n') == std::string_view::npos);
  Value v;
  FUZZ_CHECK(json.Parse(body, &v).ok() && v.is_object());
}

void CheckSubscribe(const SubscribeRequest& req) {
  constexpr uint32_t kAllKinds = (1u << kOutboxKindCount) - 1;
  FUZZ_CHECK((req.filter.kinds & ~kAllKinds) == 0);
  if (req.from.has_value()) {
    FUZZ_CHECK(*req.from <= (uint64_t{1} << 53));
  }
  const std::string other = req.filter.rep + "x";
  for (int k = 0; k < kOutboxKindCount; ++k) {
    const auto kind = static_cast<OutboxKind>(k);
    const bool kind_in = req.filter.kinds == 0 || (req.filter.kinds & (1u << k)) != 0;
    RecordHeader header{kind, req.filter.rep, req.filter.team};
    FUZZ_CHECK(FilterMatches(req.filter, header) == kind_in);
    header.rep = other;
    FUZZ_CHECK(FilterMatches(req.filter, header) == (kind_in && req.filter.rep.empty()));
  }
  if (req.filter.MatchesEverything()) {
    FUZZ_CHECK(FilterMatches(req.filter, RecordHeader{}));
  }
}

void HandleLine(ClientLineParser& parser, JsonParser& json, std::string_view line) {
  ClientLine out;
  ClientLineError err;
  std::string reply;
  if (!parser.Parse(line, &out, &err)) {
    FUZZ_CHECK(err.code == "bad_request" || err.code == "invalid_outcome" ||
               err.code == "invalid_amount");
    FUZZ_CHECK(!err.message.empty());
    AppendErrorReply(err.code, err.message, err.seq, &reply);
    CheckReply(json, reply);
    return;
  }
  if (out.command == ClientCommand::kSubscribe) {
    CheckSubscribe(out.subscribe);
    AppendHeartbeat(out.subscribe.from.value_or(0), &reply);
    CheckReply(json, reply);
    return;
  }
  const SalesAction& action = out.action;
  FUZZ_CHECK(action.seq > 0);
  FUZZ_CHECK(action.as_rep.empty());
  if (action.kind == SalesActionKind::kClose) {
    FUZZ_CHECK(action.outcome == "won" || action.outcome == "lost" || action.outcome == "recycled");
  } else {
    FUZZ_CHECK(action.outcome.empty());
  }
  if (action.kind != SalesActionKind::kReject) {
    FUZZ_CHECK(action.reason.empty());
  }
  AppendOkReply(action.seq, &reply);
  CheckReply(json, reply);
}

bool IsBlank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace
}  // namespace handoff

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace handoff;
  static ClientLineParser* parser = new ClientLineParser(kMaxLineBytes);
  static JsonParser* json = new JsonParser();
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  LineFramer framer(kMaxLineBytes);
  auto on_line = [&](uint64_t, std::string_view line, bool too_long) {
    if (!too_long && !IsBlank(line)) {
      HandleLine(*parser, *json, line);
    }
  };
  framer.Feed(input, on_line);
  framer.Finish(on_line);

  RecordHeader header;
  std::string_view record_json;
  if (DecodeStoredRecord(input, &header, &record_json)) {
    FUZZ_CHECK(static_cast<int>(header.kind) < kOutboxKindCount);
    FUZZ_CHECK(record_json.data() >= input.data() &&
               record_json.data() + record_json.size() <= input.data() + input.size());
  }
  return 0;
}
