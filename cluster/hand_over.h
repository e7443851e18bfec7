// The log messages of a merge across partitions (docs/cluster.md "Several nodes"): the newer
// lead's holder asks, in the older id's partition, for the lead that id belongs to; that
// partition's holder answers, in the newer lead's partition, with the lead (a LeadHandOver's
// bytes, in parts that fit a NATS message).
//
// Both are messages of the event stream beside the events (their own version byte), so they
// take their place in the partitions' order and a node rebuilding a partition reads them again.
// Pure functions; Decode* take bytes from the network: false on bad bytes, never a crash.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace handoff {

// Where a link is in the log: its message's stream sequence and its index in the message.
struct LinkPlace {
  uint64_t seq = 0;
  uint32_t index = 0;
  auto operator<=>(const LinkPlace&) const = default;
};

struct HandOverRequest {
  LinkPlace link;
  std::string older_id;    // the link's older id, as sent
  std::string into;        // the lead it links into (its id as the newer partition knows it)
  uint32_t partition = 0;  // the newer lead's partition: where the answer goes
};

struct HandOverAnswer {
  LinkPlace link;
  uint32_t part = 0;   // from 0
  uint32_t parts = 1;  // at least 1
  std::string bytes;   // this part of the LeadHandOver bytes (all parts empty: no such lead)
};

enum class LogMessageKind { kEvents, kHandOverRequest, kHandOverAnswer, kClock, kStageReset };

// What a message of the log holds, from its version byte (events for anything else: their
// decoder judges the rest).
LogMessageKind KindOfLogMessage(std::string_view payload);

void EncodeHandOverRequest(const HandOverRequest& request, std::string* out);
[[nodiscard]] bool DecodeHandOverRequest(std::string_view in, HandOverRequest* request);
void EncodeHandOverAnswer(const HandOverAnswer& answer, std::string* out);
[[nodiscard]] bool DecodeHandOverAnswer(std::string_view in, HandOverAnswer* answer);

// Nats-Msg-Ids derived from the link's place, so a node that sends one again (a restart, a
// rebuild) sends the same id and JetStream keeps one copy within its duplicate window.
std::string HandOverRequestId(const LinkPlace& link);
std::string HandOverAnswerId(const LinkPlace& link, uint32_t part);

// The largest part of an answer's bytes (NATS's default payload limit is 1 MiB).
inline constexpr size_t kHandOverPartBytes = 512 << 10;

}  // namespace handoff
