// tools/net.cc: addresses, the blocking line client, the HTTP client, command-line plumbing.
#include "tools/net.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <sstream>

#include "tests/testutil.h"
#include "tests/tools/fake_server.h"

namespace handoff {
namespace {

using testing::FakeConnection;
using testing::FakeServer;
using ::testing::HasSubstr;

TEST(PercentEncodeTest, KeepsUnreservedAndEscapesTheRest) {
  EXPECT_EQ(PercentEncode("abc-XYZ_0.9~"), "abc-XYZ_0.9~");
  EXPECT_EQ(PercentEncode("a b/c?d#e%f"), "a%20b%2Fc%3Fd%23e%25f");
  EXPECT_EQ(PercentEncode("user@acme.com"), "user%40acme.com");
  EXPECT_EQ(PercentEncode("\xc3\xa9"), "%C3%A9");
}

TEST(TcpConnectionTest, ReadsLinesAcrossWritesAndAFinalLineWithoutNewline) {
  FakeServer server([](FakeConnection& c) {
    c.Write("one\r\ntw");
    c.Write("o\nthree");
  });
  TcpConnection conn;
  ASSERT_OK(conn.Connect({"127.0.0.1", server.port()}));
  std::string line;
  ASSERT_OK(conn.ReadLine(&line));
  EXPECT_EQ(line, "one");
  ASSERT_OK(conn.ReadLine(&line));
  EXPECT_EQ(line, "two");
  ASSERT_OK(conn.ReadLine(&line));
  EXPECT_EQ(line, "three");
  Status eof = conn.ReadLine(&line);
  EXPECT_EQ(eof.code(), Status::Code::kUnavailable);
}

TEST(TcpConnectionTest, ReadLineHonoursItsDeadline) {
  FakeServer server([](FakeConnection& c) {
    std::string line;
    c.ReadLine(&line);  // until the client goes away
  });
  TcpConnection conn;
  ASSERT_OK(conn.Connect({"127.0.0.1", server.port()}));
  std::string line;
  Status st =
      conn.ReadLine(&line, std::chrono::steady_clock::now() + std::chrono::milliseconds(50));
  EXPECT_EQ(st.code(), Status::Code::kFailedPrecondition);
  conn.Close();
}

TEST(TcpConnectionTest, ConnectFailureNamesTheAddress) {
  uint16_t port = 0;
  {
    FakeServer server([](FakeConnection&) {});
    port = server.port();
    TcpConnection c;
    ASSERT_OK(c.Connect({"127.0.0.1", port}));
  }
  TcpConnection conn;
  Status st = conn.Connect({"127.0.0.1", port});
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("127.0.0.1:" + std::to_string(port)));
}

TEST(HttpCallTest, SendsTheRequestAndReadsAContentLengthBody) {
  std::string request;
  FakeServer server([&](FakeConnection& c) {
    std::string line;
    while (c.ReadLine(&line) && line != "\r") {
      request += line + "\n";
    }
    c.Write(
        "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n"
        "{\"a\":1}garbage");
    c.ReadLine(&line);  // keeps the connection open: the answer is complete without EOF
  });
  HttpReply reply;
  ASSERT_OK(HttpCall({"127.0.0.1", server.port()}, "GET", "/v1/leads/a%20b", "s3cret", "", &reply));
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(reply.content_type, "application/json");
  EXPECT_EQ(reply.body, "{\"a\":1}");
  EXPECT_THAT(request, HasSubstr("GET /v1/leads/a%20b HTTP/1.1\r\n"));
  EXPECT_THAT(request, HasSubstr("Authorization: Bearer s3cret\r\n"));
  EXPECT_THAT(request, HasSubstr("Connection: close\r\n"));
}

TEST(HttpCallTest, ReadsAChunkedBody) {
  FakeServer server([&](FakeConnection& c) {
    std::string line;
    while (c.ReadLine(&line) && line != "\r") {
    }
    c.Write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab");
    c.Write("c\r\n2;x=y\r\nde\r\n0\r\n\r\n");
    c.ReadLine(&line);
  });
  HttpReply reply;
  ASSERT_OK(HttpCall({"127.0.0.1", server.port()}, "GET", "/", "", "", &reply));
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "abcde");
}

TEST(HttpCallTest, NotHttpIsAnError) {
  FakeServer server([&](FakeConnection& c) { c.Write("hello\n"); });
  HttpReply reply;
  EXPECT_FALSE(HttpCall({"127.0.0.1", server.port()}, "GET", "/", "", "", &reply).ok());
}

TEST(HttpCallTest, ATruncatedBodyIsAnError) {
  FakeServer server(
      [&](FakeConnection& c) { c.Write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"); });
  HttpReply reply;
  EXPECT_FALSE(HttpCall({"127.0.0.1", server.port()}, "GET", "/", "", "", &reply).ok());
}

TEST(HttpCallTest, NoLengthReadsToEof) {
  FakeServer server([&](FakeConnection& c) {
    std::string line;
    while (c.ReadLine(&line) && line != "\r") {
    }
    c.Write("HTTP/1.0 200 OK\r\n\r\nall of it");
  });
  HttpReply reply;
  ASSERT_OK(HttpCall({"127.0.0.1", server.port()}, "GET", "/", "", "", &reply));
  EXPECT_EQ(reply.body, "all of it");
}

TEST(JsonHelpersTest, ReadFields) {
  Value v;
  ASSERT_OK(ParseJsonLine(R"({"ack":12,"neg":-1,"frac":1.5,"s":"x"})", &v));
  EXPECT_EQ(JsonUint(v, "ack"), 12u);
  EXPECT_EQ(JsonUint(v, "neg"), std::nullopt);
  EXPECT_EQ(JsonUint(v, "frac"), std::nullopt);
  EXPECT_EQ(JsonUint(v, "s"), std::nullopt);
  EXPECT_EQ(JsonText(v, "s"), "x");
  EXPECT_EQ(JsonText(v, "ack"), "");
}

TEST(ParseCommandLineTest, HelpUsageAndSuccess) {
  auto make = [](std::string* host, std::string* port) {
    auto app = std::make_unique<CLI::App>("does things", "handoff thing");
    AddHostOption(*app, host);
    AddAddressOption(*app, "-p,--port", port, 7400, "the listener");
    return app;
  };
  std::string host;
  std::string port;
  std::ostringstream out;
  std::ostringstream err;
  auto app = make(&host, &port);
  EXPECT_EQ(ParseCommandLine(*app, {"--help"}, out, err), 0);
  EXPECT_THAT(out.str(), HasSubstr("--host"));
  EXPECT_THAT(out.str(), HasSubstr("PORT or HOST:PORT"));

  app = make(&host, &port);
  EXPECT_EQ(ParseCommandLine(*app, {"--bogus"}, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("handoff thing:"));

  app = make(&host, &port);
  EXPECT_EQ(ParseCommandLine(*app, {"--host", "::1", "-p", "9"}, out, err), std::nullopt);
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, "9");
  std::optional<HostPort> a = ResolveAddressOption("thing", port, host, err);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(FormatHostPort(*a), "[::1]:9");
  a = ResolveAddressOption("thing", "7400", "127.0.0.1", err);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(FormatHostPort(*a), "127.0.0.1:7400");
  // A client names a real port, and a host when it writes a ':' (base/host_port.h has the rest).
  for (const char* bad : {"x", "0", ":80", "::1:80"}) {
    EXPECT_FALSE(ResolveAddressOption("thing", bad, host, err).has_value()) << bad;
  }
  EXPECT_THAT(err.str(), HasSubstr("handoff thing: bad address"));
}

}  // namespace
}  // namespace handoff
