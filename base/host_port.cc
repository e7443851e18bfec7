#include "base/host_port.h"

#include <charconv>

namespace handoff {

Result<HostPort> ParseHostPort(std::string_view text, const HostPortRules& rules) {
  if (text.empty()) {
    return Status::InvalidArgument("empty address");
  }
  const auto error = [text](std::string_view what) {
    return Status::InvalidArgument("\"" + std::string(text) + "\": " + std::string(what));
  };
  HostPort out;
  std::string_view port_text = text;
  if (const size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    std::string_view host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string_view::npos) {
      return error("write an IPv6 address as [ADDR]:PORT");
    }
    if (host.empty() && !rules.allow_empty_host) {
      return error("no host before ':'");
    }
    out.host = std::string(host.empty() ? rules.default_host : host);
  } else {
    out.host = std::string(rules.default_host);
  }
  unsigned value = 0;
  const char* end = port_text.data() + port_text.size();
  const auto [stop, ec] = std::from_chars(port_text.data(), end, value);
  if (ec != std::errc() || stop != end || value > 65535 || (value == 0 && !rules.allow_port_zero)) {
    return error(rules.allow_port_zero ? "expected PORT or HOST:PORT with a port in 0..65535"
                                       : "expected PORT or HOST:PORT with a port in 1..65535");
  }
  out.port = static_cast<uint16_t>(value);
  return out;
}

std::string FormatHostPort(const HostPort& address) {
  if (address.host.find(':') != std::string::npos) {
    return "[" + address.host + "]:" + std::to_string(address.port);
  }
  return address.host + ":" + std::to_string(address.port);
}

}  // namespace handoff
