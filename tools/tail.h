// `handoff tail`: subscribe to the daemon's outbox stream and print each record (SPEC 9, 11).
//
//   handoff tail [--kinds routed,stage] [--rep R] [--team T] [--from N] [--heartbeats] [-n N]
//
// Prints every record line exactly as the daemon sends it (one JSON object a line), flushing
// whenever no further line is already waiting, so `handoff tail | jq` sees records at once.
// Heartbeats are printed only with --heartbeats. A gap (records trimmed by retention) is noted on
// stderr and the stream goes on. Runs until interrupted, until the daemon closes the connection
// (exit 0), or until -n records were printed (exit 0). A refused subscription exits 2.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "handoff/value.h"

namespace handoff {

struct SubscribeRequest {
  std::vector<std::string> kinds;  // empty: every kind
  std::string rep;                 // empty: any rep
  std::string team;                // empty: any team
  std::optional<uint64_t> from;    // nullopt: only records after the current head
};

// {"subscribe":{"kinds":[...],"rep":..,"team":..},"from":N}, with only the given filters.
std::string SubscribeLine(const SubscribeRequest& request);

// What a line from the subscriber port is.
enum class StreamLineKind {
  kRecord,     // an outbox record: {"seq":..,"kind":..,...}
  kHeartbeat,  // {"heartbeat":HEAD}
  kOk,         // {"ok":SEQ}: a command succeeded
  kError,      // {"error":CODE,...}: a gap, a refused subscription or a failed command
  kOther,      // not JSON, or none of the above
};

// Classifies `line`. Records are recognised by their leading `{"seq":` without parsing; anything
// else is parsed into *parsed (left null for records).
StreamLineKind ClassifyStreamLine(std::string_view line, Value* parsed);

// The subcommand: `args` are the words after "tail".
int TailCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace handoff
