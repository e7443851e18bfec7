// Subscription: the socket-free half of the subscriber protocol (SPEC 9): parsing what a sales
// tool sends, deciding whether an outbox record matches a subscription, and writing the server's
// reply lines. SubscriberServer (engine/subscriber_server.h) does the networking.
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
// Not thread-safe: make one ClientLineParser / RecordFieldReader per thread and reuse it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/engine.h"
#include "engine/event_parser.h"

namespace handoff {

// The outbox record kinds (SPEC 9), in the order of their bits in SubscriptionFilter::kinds.
enum class OutboxKind : uint8_t {
  kStage = 0,
  kRouted,
  kReassigned,
  kAccepted,
  kRejected,
  kClosed,
  kEscalated,
  kUnrouted,
};
inline constexpr int kOutboxKindCount = 8;

// "stage" -> kStage, ... (case-sensitive); nullopt for anything else.
std::optional<OutboxKind> OutboxKindFromName(std::string_view name);
std::string_view OutboxKindName(OutboxKind kind);

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

// The fields of a stored record that filters look at; empty when the record lacks one.
struct RecordFields {
  std::string_view kind;
  std::string_view rep;
  std::string_view from_rep;
  std::string_view team;
};

// Whether a record with `fields` passes every filter of `filter`. A record lacking a field a
// filter names does not match it (a rep-filtered subscription sees no stage records).
bool FilterMatches(const SubscriptionFilter& filter, const RecordFields& fields);

// Reads kind/rep/from_rep/team from a stored record's JSON: one pass over its top-level keys with
// simdjson On-Demand, nested values skipped unread. Keeps its buffers between calls.
class RecordFieldReader {
 public:
  RecordFieldReader();
  ~RecordFieldReader();
  RecordFieldReader(const RecordFieldReader&) = delete;
  RecordFieldReader& operator=(const RecordFieldReader&) = delete;

  // False when `json` is not a JSON object. The views in *out stay valid until the next call.
  bool Read(std::string_view json, RecordFields* out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

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
  EventParser json_;
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
