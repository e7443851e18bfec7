// `handoff lead` (tools/lead.cc): the request, the rendering of a lead, and the exit codes
// against a scripted HTTP server.
#include "tools/lead.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "tests/testutil.h"
#include "tests/tools/fake_server.h"
#include "tools/net.h"

namespace handoff {
namespace {

using testing::FakeConnection;
using testing::FakeServer;
using ::testing::HasSubstr;

constexpr char kLead[] =
    R"({"id":"u 1","stage":"sql","owner":{"rep":"frank","team":"everyone-else","seq":7,)"
    R"("accepted":false},"traits":{"email":"a@acme.com","title":"VP Sales",)"
    R"("company":{"id":"acme","employees":250},"tags":["x"],"empty":{}},)"
    R"("scores":{"fit":30,"engagement":93.19999999},)"
    R"("breakdown":{"fit":[{"rule":"senior-title","points":20},{"rule":"work-email","points":10}],)"
    R"("engagement":[{"rule":"demo-request","points":50},{"rule":"pricing-page","points":48.2},)"
    R"({"rule":"unsubscribed","points":-5}]},)"
    R"("first_seen":"2026-11-22T10:00:00.000Z","last_seen":"2026-11-22T10:05:00.000Z","events":6})";

TEST(FormatScoreTest, TwoDecimalsAtMost) {
  EXPECT_EQ(FormatScore(45), "45");
  EXPECT_EQ(FormatScore(93.19999999), "93.2");
  EXPECT_EQ(FormatScore(0.126), "0.13");
  EXPECT_EQ(FormatScore(-40), "-40");
  EXPECT_EQ(FormatScore(-0.001), "0");
  EXPECT_EQ(FormatScore(1e6), "1000000");
}

TEST(LeadTargetTest, PercentEncodesIdAndTime) {
  EXPECT_EQ(LeadTarget("u123", ""), "/v1/leads/u123");
  EXPECT_EQ(LeadTarget("a/b c@d.com", "2026-11-22T10:00:00+01:00"),
            "/v1/leads/a%2Fb%20c%40d.com?at=2026-11-22T10%3A00%3A00%2B01%3A00");
}

TEST(FormatLeadTest, ShowsEveryPartAligned) {
  std::string text;
  ASSERT_OK(FormatLead(kLead, "", &text));
  EXPECT_EQ(text,
            "lead u 1\n"
            "  stage       sql\n"
            "  owner       frank (team everyone-else, record 7, not accepted yet)\n"
            "  first seen  2026-11-22T10:00:00.000Z\n"
            "  last seen   2026-11-22T10:05:00.000Z\n"
            "  events      6\n"
            "\n"
            "scores (now):\n"
            "  fit                30\n"
            "    senior-title    +20\n"
            "    work-email      +10\n"
            "  engagement       93.2\n"
            "    demo-request    +50\n"
            "    pricing-page  +48.2\n"
            "    unsubscribed     -5\n"
            "\n"
            "traits:\n"
            "  email              a@acme.com\n"
            "  title              VP Sales\n"
            "  company.id         acme\n"
            "  company.employees  250\n"
            "  tags               [\"x\"]\n"
            "  empty              {}\n");
}

TEST(FormatLeadTest, NoOwnerNoScoresNoTraits) {
  std::string text;
  ASSERT_OK(FormatLead(R"({"id":"x","stage":"new","owner":null,"traits":{},"scores":{},)"
                       R"("breakdown":{},"first_seen":"a","last_seen":"b","events":1})",
                       "2026-01-01T00:00:00Z", &text));
  EXPECT_THAT(text, HasSubstr("  owner       none\n"));
  EXPECT_THAT(text, HasSubstr("scores (at 2026-01-01T00:00:00Z):\n  (none)\n"));
  EXPECT_THAT(text, HasSubstr("traits:\n  (none)\n"));
  EXPECT_FALSE(FormatLead("[1]", "", &text).ok());
  EXPECT_FALSE(FormatLead("nope", "", &text).ok());
}

TEST(FormatLeadTest, ShowsAClosedOwnersOutcomeAndTheLinkedIds) {
  std::string text;
  ASSERT_OK(FormatLead(R"({"id":"u2","aliases":["anon-1","u1"],"stage":"new",)"
                       R"("owner":{"rep":"frank","team":"t","seq":9,"accepted":true,)"
                       R"("closed":true,"outcome":"won"},"traits":{},"scores":{},)"
                       R"("breakdown":{},"first_seen":"a","last_seen":"b","events":3})",
                       "", &text));
  EXPECT_THAT(text, HasSubstr("  owner       frank (team t, record 9, accepted, closed won)\n"));
  EXPECT_THAT(text, HasSubstr("  aliases     anon-1, u1\n"));
}

// Answers one request with `status` and `body`, remembering the request head.
struct FakeHttp {
  int status;
  std::string body;
  std::string request;
  void Serve(FakeConnection& c) {
    std::string line;
    while (c.ReadLine(&line) && line != "\r") {
      request += line + "\n";
    }
    c.Write("HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" +
            "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  }
};

TEST(LeadCommandTest, PrintsTheLeadOrItsJson) {
  FakeHttp http{200, kLead, ""};
  FakeServer server([&](FakeConnection& c) { http.Serve(c); }, 2);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(LeadCommand({"u 1", "--http", server.address(), "--token", "tok"}, out, err), 0)
      << err.str();
  EXPECT_THAT(out.str(), HasSubstr("    pricing-page  +48.2\n"));
  EXPECT_THAT(http.request, HasSubstr("GET /v1/leads/u%201 HTTP/1.1"));
  EXPECT_THAT(http.request, HasSubstr("Authorization: Bearer tok"));
  std::ostringstream json;
  EXPECT_EQ(LeadCommand({"u 1", "--json", "--at", "1700000000", "-p", server.address()}, json, err),
            0);
  EXPECT_EQ(json.str(), std::string(kLead) + "\n");
  EXPECT_THAT(http.request, HasSubstr("GET /v1/leads/u%201?at=1700000000 HTTP/1.1"));
}

TEST(LeadCommandTest, UnknownLeadExitsOne) {
  FakeHttp http{404, R"({"error":"not_found","message":"no lead \"zz\""})", ""};
  FakeServer server([&](FakeConnection& c) { http.Serve(c); });
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(LeadCommand({"zz", "--http", server.address()}, out, err), 1);
  EXPECT_EQ(err.str(), "handoff lead: no lead \"zz\"\n");
  EXPECT_EQ(out.str(), "");
}

TEST(LeadCommandTest, UnauthorizedExitsTwoWithAHint) {
  FakeHttp http{401, R"({"error":"unauthorized","message":"Authorization: Bearer TOKEN required"})",
                ""};
  FakeServer server([&](FakeConnection& c) { http.Serve(c); });
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(LeadCommand({"zz", "--http", server.address()}, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("HTTP 401: Authorization: Bearer TOKEN required"));
  EXPECT_THAT(err.str(), HasSubstr("--token"));
}

TEST(LeadCommandTest, UsageErrorsExitTwo) {
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(LeadCommand({}, out, err), 2);
  EXPECT_EQ(LeadCommand({"a", "b"}, out, err), 2);
  // An empty id: no request (it would read the lead list as a lead).
  err.str("");
  EXPECT_EQ(LeadCommand({"", "--http", "127.0.0.1:1"}, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("the lead id is empty"));
  err.str("");
  EXPECT_EQ(ForgetCommand({"", "--http", "127.0.0.1:1"}, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("the lead id is empty"));
}

}  // namespace
}  // namespace handoff
