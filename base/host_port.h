// Network addresses as they are written in settings and options: "HOST:PORT", "[V6ADDR]:PORT",
// and the shorter forms a caller allows. One parser for the daemon's listen settings and the
// command-line tool's address options.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "handoff/status.h"

namespace handoff {

struct HostPort {
  std::string host;  // without brackets: "::1", not "[::1]"
  uint16_t port = 0;
};

// What an address may leave out: the daemon's listen settings and the tool's options differ.
struct HostPortRules {
  // The host of an address written as a bare "PORT".
  std::string_view default_host = "127.0.0.1";
  // ":PORT" (an empty host) also takes default_host; otherwise it is an error.
  bool allow_empty_host = false;
  // Port 0 is allowed (a listener's "any free port"); otherwise ports are 1..65535.
  bool allow_port_zero = false;
};

// Parses "PORT", "HOST:PORT" or "[V6ADDR]:PORT". The host is taken as written (not resolved);
// an IPv6 address must be in brackets, since "::1:80" could also be an address without a port.
// The port is decimal digits only (no sign, no spaces). InvalidArgument, quoting `text`, for
// anything else.
Result<HostPort> ParseHostPort(std::string_view text, const HostPortRules& rules);

// "HOST:PORT", or "[HOST]:PORT" when HOST contains a ':' (IPv6), so ParseHostPort reads it back.
std::string FormatHostPort(const HostPort& address);

}  // namespace handoff
