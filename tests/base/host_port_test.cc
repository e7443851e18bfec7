#include "base/host_port.h"

#include <gtest/gtest.h>

namespace handoff {
namespace {

// The command-line tool's rules: a client names a real port, and a host when it writes a ':'.
constexpr HostPortRules kClient = {.default_host = "127.0.0.1"};
// The daemon's listen settings: ":PORT" listens on the default host, port 0 on any free port.
constexpr HostPortRules kListener = {
    .default_host = "127.0.0.1", .allow_empty_host = true, .allow_port_zero = true};

TEST(HostPortTest, BarePortTakesTheDefaultHost) {
  Result<HostPort> a = ParseHostPort("7400", kClient);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 7400);
  a = ParseHostPort("7400", {.default_host = "::1"});
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->host, "::1");
}

TEST(HostPortTest, HostAndPort) {
  Result<HostPort> a = ParseHostPort("example.internal:17500", kClient);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->host, "example.internal");
  EXPECT_EQ(a->port, 17500);
  Result<HostPort> v6 = ParseHostPort("[::1]:9", kClient);
  ASSERT_TRUE(v6.ok()) << v6.status().message();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9);
  v6 = ParseHostPort("[::1]:7400", kListener);
  ASSERT_TRUE(v6.ok()) << v6.status().message();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 7400);
}

TEST(HostPortTest, ListenerMayLeaveOutTheHostAndAskForAnyPort) {
  Result<HostPort> a = ParseHostPort(":7401", kListener);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 7401);
  a = ParseHostPort("127.0.0.1:0", kListener);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->port, 0);
  a = ParseHostPort("[]:65535", kListener);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 65535);
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
    Result<HostPort> back = ParseHostPort(FormatHostPort(a), kClient);
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->host, a.host);
    EXPECT_EQ(back->port, a.port);
  }
}

}  // namespace
}  // namespace handoff
