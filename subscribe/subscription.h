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
//   - Command lines ignore unknown keys (a tool may attach its own metadata). The seq must be a
//     positive integer (else bad_request); close needs an outcome of won/lost/recycled (else
//     invalid_outcome, naming the seq); a reject reason, when present, must be a string.
//
// Not thread-safe: make one ClientLineParser per thread and reuse it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/json_parser.h"
#include "outbox/stored_record.h"
#include "routing/sales_action.h"

namespace handoff {

struct SubscriptionFilter {
  // One bit per OutboxKind (1 << kind); 0: every kind.
  uint32_t kinds = 0;
  // Records whose "rep" equals this (exactly the record field; from_rep does not count); empty:
  // any record.
  std::string rep;
  // Records whose "team" equals this; empty: any record.
  std::string team;

  // True when every record matches (no field needs to be read).
  bool MatchesEverything() const { return kinds == 0 && rep.empty() && team.empty(); }
};

// Whether a record with `header` passes every filter of `filter`. A record lacking a field a
// filter names does not match it (a rep-filtered subscription sees no stage records).
bool FilterMatches(const SubscriptionFilter& filter, const RecordHeader& header);

struct SubscribeRequest {
  SubscriptionFilter filter;
  // Send records with seq > from; nullopt: only records after the head at subscribe time.
  std::optional<uint64_t> from;
};

enum class ClientCommand : uint8_t { kSubscribe, kSalesAction };

struct ClientLine {
  ClientCommand command = ClientCommand::kSubscribe;
  SubscribeRequest subscribe;  // kSubscribe
  SalesAction action;          // kSalesAction; as_rep is left empty for the server to fill
};

struct ClientLineError {
  std::string code;  // bad_request or invalid_outcome
  std::string message;
  uint64_t seq = 0;  // the command's seq when it was read before the error; else 0
};

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
