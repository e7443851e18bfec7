// `handoff backtest PATH [--since TIME] [--at TIME] [--apply] [--json]`: replays the daemon's
// stored history under a candidate rule file and shows what would change (SPEC 13).
//
// The command reads PATH (one rule file: a directory's files are separate YAML documents whose
// maps cannot be joined into one body, so a directory is refused), starts a job with
// POST /v1/rules/backtest?wait=0 and polls GET /v1/rules/backtest/{id} every 200 ms until it is
// done, drawing a progress bar on stderr when stderr is a terminal (nothing otherwise). It then
// prints a report for people (FormatBacktestReport), or with --json the daemon's result as is.
// With --apply it then sends the same YAML to POST /v1/rules/apply (the daemon writes it over its
// rules file, reloads and re-stages every lead) and prints the new version and how many leads
// changed stage; with --json that answer follows as a second JSON line.
//
// Exit code: 0 done (and applied), 1 the daemon rejected the rule file (each error printed to
// stdout as PATH:LINE:COL: message, as `handoff lint` does), 2 usage, file, connection or other
// HTTP errors, and a backtest job that failed.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "handoff/status.h"

namespace handoff {

// The POST target: /v1/rules/backtest?wait=W[&since=..][&at=..] (values percent-encoded).
std::string BacktestTarget(std::string_view since, std::string_view at, int wait_seconds);

// One progress line, without '\r' or '\n', at most `width` columns:
// ` 42% [========>           ] running  3.2 s`. `progress` is clamped to 0..1; `state` is the
// job's state as the daemon names it ("queued", "running").
std::string FormatBacktestProgress(double progress, std::string_view state, double seconds,
                                   int width);

// Renders a finished job's result (the JSON of GET /v1/rules/backtest/{id} in state "done") for
// a person: leads and events replayed (and history entries skipped as undecodable), stages now vs
// candidate with the difference, the stage changes, every rule's points now vs candidate with the
// difference, the candidate's routing by team and rep, and at most `max_examples` example leads
// with their scores now -> candidate. Columns are aligned; stages keep the daemon's order.
// InvalidArgument when `json` is not a JSON object.
Status FormatBacktestReport(std::string_view json, std::string* out, size_t max_examples = 5);

// The errors of a 422 answer (validate's body), one line each: `PATH:LINE:COL: message`. `path`
// is the file the command read: the daemon only saw it as a request body. InvalidArgument when
// `json` holds no "errors" array.
Status FormatRuleErrors(std::string_view json, std::string_view path, std::string* out);

// `applied: rules version N; M of L leads changed stage` from POST /v1/rules/apply's 200 answer.
Status FormatApplyResult(std::string_view json, std::string* out);

// The subcommand: `args` are the words after "backtest". The progress bar goes to `err` only
// when `err_is_terminal`.
int BacktestCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                    bool err_is_terminal);

}  // namespace handoff
