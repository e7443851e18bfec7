// `handoff accept SEQ`, `handoff reject SEQ [--reason TEXT]`,
// `handoff close SEQ --outcome won|lost|recycled`: a sales tool's answers to a routed lead
// (SPEC 9, 11), sent on the subscriber port.
//
// The command subscribes with {"subscribe":{}} (no "from": no old records; with --rep R,
// {"subscribe":{"rep":R}}, so the daemon acts for that rep), sends the command line and waits for
// {"ok":SEQ} (exit 0) or an {"error":..} about it (printed, exit 1), skipping records and
// heartbeats in between. Exit 2 on usage or connection errors and when no answer comes within
// --timeout seconds.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "handoff/value.h"

namespace handoff {

// {"accept":SEQ}, {"reject":SEQ[,"reason":TEXT]}, {"close":SEQ,"outcome":OUTCOME[,"amount":N]}.
// `action` is "accept", "reject" or "close"; `text` is the reason or the outcome ("" for none);
// `amount` the deal value of a close (absent: none).
std::string SalesCommandLine(std::string_view action, uint64_t seq, std::string_view text,
                             std::optional<double> amount = std::nullopt);

enum class SalesReply {
  kIgnore,  // not the answer: a record, heartbeat, gap, or an answer about another seq
  kOk,      // {"ok":SEQ}
  kFailed,  // an error about this command (or about the subscription)
};

// Decides what one line from the subscriber port means for the command on `seq`. For kFailed,
// *message is `CODE: MESSAGE`.
SalesReply InterpretSalesReply(std::string_view line, uint64_t seq, std::string* message);

// The subcommands: `action` is "accept", "reject" or "close"; `args` the words after it.
int SalesCommand(std::string_view action, const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err);

}  // namespace handoff
