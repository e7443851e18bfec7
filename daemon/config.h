// Config: the table of settings, the YAML config file and the command-line flags (SPEC 1).
//
// Precedence: defaults, then the config file (`--config FILE`), then flags. Every setting is
// checked against its bounds; a bad value is an error naming the key or flag and what is expected.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/host_port.h"
#include "handoff/options.h"
#include "handoff/status.h"

namespace handoff {

// Parses argv (argv[0] is the program). Sets *show_help when --help was asked for (then *help_text
// holds the text and options are not filled).
Status ParseCommandLine(int argc, char** argv, Options* options, bool* show_help,
                        std::string* help_text);

// Applies a YAML config file's settings to *options (nested maps flatten to dotted keys:
// `listen: {ingest: ...}` is `listen.ingest`).
Status ApplyConfigFile(const std::string& path, Options* options);

// Parses a listen setting: "HOST:PORT" (IPv6 as "[::1]:7400"), ":PORT" or "PORT" (on 127.0.0.1).
// Port 0 listens on any free port.
Result<HostPort> ParseListenAddress(std::string_view text);

// Duration settings: a rule-file duration (`60s`, `24h`) or, where zero is allowed, `0`.
Status ParseSettingDuration(const std::string& text, bool allow_zero, double* seconds);

}  // namespace handoff
