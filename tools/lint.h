// `handoff lint PATH`: check a rule file or directory exactly as the daemon would load it.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace handoff {

// Loads `path` (a file or a directory of *.yaml). Every error goes to `out` as one line
// `FILE:LINE:COL: message` (stdout, so it can be piped into an editor's quickfix list) and the
// result is 1. When the rules are clean, `out` gets one line
// `PATH: ok (N scores, M rules, K stages, T teams)` (K counts defined stages, not the implicit
// "new") and the result is 0.
int Lint(const std::string& path, std::ostream& out);

// The subcommand: `args` are the words after "lint". A usage error prints to `err` and returns 2.
int LintCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace handoff
