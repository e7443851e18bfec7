// Subscription: the socket-free half of the subscriber protocol (SPEC 9): parsing what a sales
// tool sends, deciding whether an outbox record matches a subscription, and writing the server's
// reply lines. SubscriberServer (subscribe/subscriber_server.h) does the networking.
//
// A client line is one JSON object holding exactly one command:
//   {"subscribe":{"kinds":[..],"rep":"alice","team":"enterprise"},"from":41}
//   {"accept":42}   {"reject":42,"reason":"..."}   {"close":42,"outcome":"won"|"lost"|"recycled"}
//
// Strictness, decided where the SPEC is silent:
//   - A subscribe line is strict: an unknown key (top level or inside "subscribe"), an unknown
//     kind, an empty "kinds" array, a non-string rep/team or a "from" that is not a non-negative
//     integer is bad_request, because a typo there ("form", "kind") would silently stream the
//     wrong records. null, or "" for rep/team, means the filter is absent.
//   - Command lines are read by ParseSalesAction (routing/sales_action.h), as POST /v1/actions
//     bodies are: unknown keys are ignored, the seq must be a positive integer, close needs an
//     outcome of won/lost/recycled (invalid_outcome, naming the seq), a reason must be a string.
//
// Not thread-safe: make one ClientLineParser per thread and reuse it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/json_parser.h"
#include "outbox/record_filter.h"
#include "outbox/stored_record.h"
#include "routing/sales_action.h"

namespace handoff {

// The filters of a subscribe line (outbox/record_filter.h, shared with GET /v1/stream).
using SubscriptionFilter = RecordFilter;

struct SubscribeRequest {
  SubscriptionFilter filter;
  // Send records with seq > from; nullopt: only records after the head at subscribe time.
  std::optional<uint64_t> from;
};

enum class ClientCommand : uint8_t { kSubscribe, kSalesAction };

struct ClientLine {
  ClientCommand command = ClientCommand::kSubscribe;
  SubscribeRequest subscribe;  // kSubscribe
  SalesAction action;          // kSalesAction; as_rep is left empty (any holder)
};

// code (bad_request or invalid_outcome), message, and the command's seq when it was read before
// the error (else 0): the same as a sales command's error.
using ClientLineError = SalesActionError;

class ClientLineParser {
 public:
  // `max_bytes`: longer lines are bad_request (0: no limit).
  explicit ClientLineParser(size_t max_bytes = 0);

  // Parses one line (without its newline). True with *out filled, or false with *err filled.
  bool Parse(std::string_view line, ClientLine* out, ClientLineError* err);

 private:
  JsonParser json_;
  Value value_;  // reused between calls
};

// Reply lines, each with its newline.
// {"ok":SEQ}
void AppendOkReply(uint64_t seq, std::string* out);
// {"error":CODE,"message":TEXT} or, when seq != 0, {"error":CODE,"message":TEXT,"seq":SEQ}
void AppendErrorReply(std::string_view code, std::string_view message, uint64_t seq,
                      std::string* out);
// {"heartbeat":HEAD}
void AppendHeartbeat(uint64_t head, std::string* out);
// {"error":"gap","oldest":N}
void AppendGap(uint64_t oldest, std::string* out);

}  // namespace handoff
