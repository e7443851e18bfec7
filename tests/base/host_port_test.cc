#include "base/host_port.h"

#include <gtest/gtest.h>

namespace handoff {
namespace {

// The command-line tool's rules: a client names a real port, and a host when it writes a ':'.
constexpr HostPortRules kClient = {.default_host = "127.0.0.1"};
// The daemon's listen settings: ":PORT" listens on the default host, port 0 on any free port.
constexpr HostPortRules kListener = {
    .default_host = "127.0.0.1", .allow_empty_host = true, .allow_port_zero = true};

// Parses `text` under `rules` and checks the address it gives.
void ExpectAddress(std::string_view text, const HostPortRules& rules, std::string_view host,
                   uint16_t port) {
  SCOPED_TRACE(text);
  Result<HostPort> a = ParseHostPort(text, rules);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->host, host);
  EXPECT_EQ(a->port, port);
}

TEST(HostPortTest, BarePortTakesTheDefaultHost) {
  ExpectAddress("7400", kClient, "127.0.0.1", 7400);
  ExpectAddress("7400", {.default_host = "::1"}, "::1", 7400);
}

TEST(HostPortTest, HostAndPort) {
  ExpectAddress("example.internal:17500", kClient, "example.internal", 17500);
  ExpectAddress("[::1]:9", kClient, "::1", 9);
  ExpectAddress("[::1]:7400", kListener, "::1", 7400);
}

TEST(HostPortTest, ListenerMayLeaveOutTheHostAndAskForAnyPort) {
  ExpectAddress(":7401", kListener, "127.0.0.1", 7401);
  ExpectAddress("127.0.0.1:0", kListener, "127.0.0.1", 0);
  ExpectAddress("[]:65535", kListener, "127.0.0.1", 65535);
  EXPECT_FALSE(ParseHostPort(":7401", kClient).ok());
  EXPECT_FALSE(ParseHostPort("127.0.0.1:0", kClient).ok());
}

TEST(HostPortTest, RejectsBadAddresses) {
  for (const char* bad : {"", "0", "65536", "host:", ":80", "abc", "::1:80", "1.2.3.4:x", "80 ",
                          "127.0.0.1:99999", "h:+80", "h:-1", "h: 80", "[::1]", "[::1]80"}) {
    EXPECT_FALSE(ParseHostPort(bad, kClient).ok()) << bad;
  }
  for (const char* bad : {"", "65536", "host:", "abc", "::1:80", "127.0.0.1:99999", "h: 80"}) {
    EXPECT_FALSE(ParseHostPort(bad, kListener).ok()) << bad;
  }
}

TEST(HostPortTest, ErrorsQuoteTheText) {
  Result<HostPort> a = ParseHostPort("::1:80", kClient);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().message(), "\"::1:80\": write an IPv6 address as [ADDR]:PORT");
  a = ParseHostPort("h:99999", kListener);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().message(),
            "\"h:99999\": expected PORT or HOST:PORT with a port in 0..65535");
}

TEST(HostPortTest, FormatBracketsIpv6AndRoundTrips) {
  EXPECT_EQ(FormatHostPort({"::1", 9}), "[::1]:9");
  EXPECT_EQ(FormatHostPort({"example.internal", 17500}), "example.internal:17500");
  for (const HostPort& a : {HostPort{"::1", 9}, HostPort{"192.0.2.1", 80}, HostPort{"h", 65535}}) {
    ExpectAddress(FormatHostPort(a), kClient, a.host, a.port);
  }
}

}  // namespace
}  // namespace handoff
