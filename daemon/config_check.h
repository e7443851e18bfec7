// What an operator should know about a configuration before the daemon runs on it: the
// warnings the daemon logs at start (settings that expose it), and `handoffd --check-config`,
// which validates everything the daemon would need without starting anything.
//
// Pure functions of the options (CheckConfig also reads the rule files and looks at the data
// directory); thread-safe.
#pragma once

#include <string>
#include <vector>

#include "handoff/options.h"
#include "handoff/status.h"

namespace handoff {

// One line per setting that exposes the daemon or its data: a listener beyond loopback without
// the authentication its protocol has (or with none to have), a test-only setting in force.
// Empty when the settings are the safe defaults.
std::vector<std::string> ConfigWarnings(const Options& options);

// Validates what parsing cannot: the rule files load (every error listed as FILE:LINE:COL), and
// the data directory is a directory this process can write, or can be created. Does not open the
// store (a running daemon holds its lock). Appends a human-readable report to *report, warnings
// included. OK when the daemon would start with these settings; InvalidArgument otherwise.
Status CheckConfig(const Options& options, std::string* report);

}  // namespace handoff
