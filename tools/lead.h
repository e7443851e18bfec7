// `handoff lead ID [--at TIME] [--json]`: one lead's state and score breakdown (SPEC 6, 11),
// from GET /v1/leads/ID on the daemon's HTTP port.
//
// Exit code: 0 shown, 1 no such lead (404), 2 usage, connection or other HTTP error.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "handoff/status.h"

namespace handoff {

// The request target for `id` and optional `at` (both percent-encoded).
std::string LeadTarget(std::string_view id, std::string_view at);

// Renders the lead JSON of GET /v1/leads/ID for a person: stage, owner, first/last seen, events,
// every score with its rule parts (columns aligned), and the traits (nested objects flattened to
// dotted keys). `at` names the time the scores were read at ("" for now). InvalidArgument when
// `json` is not a JSON object.
Status FormatLead(std::string_view json, std::string_view at, std::string* out);

// A score for people: at most two decimals, trailing zeros dropped ("93.2", "45", "-0.01").
std::string FormatScore(double value);

// The subcommand: `args` are the words after "lead". `--history` lists the lead's applied events
// (GET /v1/leads/ID/history, every page).
int LeadCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// `handoff forget ID`: DELETE /v1/leads/ID (SPEC 8 erasure). Exit code: 0 erased, 1 no such
// lead, 2 usage, connection or other HTTP error.
int ForgetCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace handoff
