// Identity over the real daemon (SPEC 8): anonymous visitors merged into known leads over TCP,
// reading by any linked id, history, erasure, and merges that survive kill -9.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/daemon_harness.h"
#include "tests/testutil.h"

namespace handoff::testing {
namespace {

constexpr char kAt[] = "?at=2026-11-20T10:05:00Z";

std::string Line(const std::string& body, const std::string& message_id, int minute) {
  char ts[40];
  std::snprintf(ts, sizeof(ts), "2026-11-20T10:%02d:00Z", minute);
  return "{" + body + R"(,"messageId":")" + message_id + R"(","timestamp":")" + ts + "\"}";
}

class IdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_.options().rules = ExampleRulesAlwaysOpen(daemon_);
    ASSERT_OK(daemon_.Start());
  }
  void TearDown() override {
    if (daemon_.running()) {
      EXPECT_OK(daemon_.Stop());
    }
  }
  void Ingest(const std::vector<std::string>& lines) {
    IngestClient client;
    ASSERT_OK(client.Connect(daemon_.ingest_port()));
    ASSERT_OK(client.SendLines(lines));
    ASSERT_OK(client.WaitForAck(lines.size()));
    EXPECT_TRUE(client.errors().empty()) << client.errors()[0].ToJson();
  }
  HttpResult Get(const std::string& target) { return HttpClient(daemon_.http_port()).Get(target); }

  DaemonProcess daemon_{DaemonOptions{}};
};

// The issue's walk-through on the example rules.
TEST_F(IdentityTest, AnAnonymousVisitorBecomesAKnownLeadAndIsRoutedAtOnce) {
  SubscriberClient sales;
  ASSERT_OK(sales.Connect(daemon_.subscribe_port()));
  ASSERT_OK(sales.SendLine(R"({"subscribe":{"kinds":["routed"]}})"));
  Ingest(
      {Line(R"("type":"page","anonymousId":"anon-42","properties":{"path":"/pricing"})", "p1", 1),
       Line(R"("type":"page","anonymousId":"anon-42","properties":{"path":"/pricing/enterprise"})",
            "p2", 2),
       Line(R"("type":"track","anonymousId":"anon-42","event":"Webinar Attended")", "w1", 3),
       Line(R"("type":"identify","anonymousId":"anon-42","userId":"kim@acme.com",)"
            R"("traits":{"email":"kim@acme.com","title":"Head of Growth","employees":400})",
            "i1", 4),
       Line(R"("type":"track","userId":"kim@acme.com","event":"Demo Requested")", "d1", 5)});
  HttpResult kim = Get(std::string("/v1/leads/kim@acme.com") + kAt);
  ASSERT_EQ(kim.status, 200) << kim.body;
  Value lead = kim.Json();
  SCOPED_TRACE(lead.ToJson());
  EXPECT_NEAR(JsonNumber(lead, "scores.engagement"), 85, 0.01);  // 35 + 50, minutes of decay
  EXPECT_EQ(JsonString(lead, "stage"), "sql");
  EXPECT_EQ(JsonNumber(lead, "events"), 5);
  // Any linked id answers the merged lead; no orphan.
  HttpResult by_anon = Get(std::string("/v1/leads/anon-42") + kAt);
  ASSERT_EQ(by_anon.status, 200);
  EXPECT_EQ(JsonString(by_anon.Json(), "id"), "kim@acme.com");
  EXPECT_EQ(by_anon.Json().Find("aliases")->ToJson(), R"(["anon-42"])");
  EXPECT_EQ(JsonString(lead, "owner.team"), "mid-market");
  HttpResult list = Get("/v1/leads");
  EXPECT_EQ(list.Json().Find("leads")->as_array().size(), 1u) << list.body;
  // Routed at once.
  std::vector<Value> routed;
  ASSERT_OK(sales.ReadRecords(1, &routed));
  EXPECT_EQ(JsonString(routed[0], "lead"), "kim@acme.com");
  EXPECT_EQ(JsonString(routed[0], "trigger"), "d1");
  // The history lists every applied event in apply order, with the points each rule awarded.
  HttpResult history = Get("/v1/leads/anon-42/history?limit=2");
  ASSERT_EQ(history.status, 200) << history.body;
  const Value page1 = history.Json();
  ASSERT_EQ(page1.Find("events")->as_array().size(), 2u);
  EXPECT_EQ(JsonString(page1.Find("events")->as_array()[0], "messageId"), "p1");
  EXPECT_EQ(page1.Find("events")->as_array()[0].Find("points")->ToJson(),
            R"([{"rule":"pricing-page","points":10}])");
  const std::string next = std::to_string(static_cast<uint64_t>(JsonNumber(page1, "next")));
  const Value page2 = Get("/v1/leads/kim@acme.com/history?after=" + next).Json();
  ASSERT_EQ(page2.Find("events")->as_array().size(), 3u) << page2.ToJson();
  EXPECT_EQ(JsonString(page2.Find("events")->as_array()[2], "messageId"), "d1");
  EXPECT_TRUE(page2.Find("next")->is_null());
}

TEST_F(IdentityTest, ErasureRemovesTheLeadItsHistoryAndEveryLinkedId) {
  Ingest({Line(R"("type":"page","anonymousId":"anon-7","properties":{"path":"/pricing"})", "p1", 1),
          Line(R"("type":"alias","userId":"lee","previousId":"anon-7")", "a1", 2),
          Line(R"("type":"page","userId":"other","properties":{"path":"/pricing"})", "o1", 3)});
  HttpResult r;
  ASSERT_OK(HttpClient(daemon_.http_port()).Request("DELETE", "/v1/leads/anon-7", "", {}, &r));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonString(r.Json(), "deleted"), "lee");
  EXPECT_EQ(r.Json().Find("ids")->ToJson(), R"(["lee","anon-7"])");
  EXPECT_EQ(JsonNumber(r.Json(), "events"), 2);
  EXPECT_EQ(Get("/v1/leads/lee").status, 404);
  EXPECT_EQ(Get("/v1/leads/anon-7").status, 404);
  EXPECT_EQ(Get("/v1/leads/other").status, 200);
  // A later event under an erased id starts a new lead; the erasure survives a restart.
  ASSERT_OK(daemon_.Restart());
  EXPECT_EQ(Get("/v1/leads/lee").status, 404);
  Ingest({Line(R"("type":"page","anonymousId":"anon-7","properties":{"path":"/docs"})", "p2", 4)});
  Value fresh = Get("/v1/leads/anon-7").Json();
  EXPECT_EQ(JsonString(fresh, "id"), "anon-7");
  EXPECT_EQ(JsonNumber(fresh, "events"), 1);
  HttpResult again;
  ASSERT_OK(HttpClient(daemon_.http_port()).Request("DELETE", "/v1/leads/nobody", "", {}, &again));
  EXPECT_EQ(again.status, 404);
}

// A burst of anonymous events, identifies and aliases, with kill -9 in the middle: after a restart
// and a resend from the last acknowledged line, every lead equals an uninterrupted run's.
TEST(IdentityCrashTest, MergesSurviveKill9AtAnyPoint) {
  std::mt19937 rng(7);
  std::vector<std::string> lines;
  std::set<std::string> users;
  for (int i = 0; i < 3000; ++i) {
    const std::string anon = "anon-" + std::to_string(rng() % 400);
    const std::string user = "user-" + std::to_string(rng() % 150);
    const std::string id = "m" + std::to_string(i);
    users.insert(user);
    const int minute = static_cast<int>(rng() % 59);
    switch (rng() % 10) {
      case 0:
        lines.push_back(Line(R"("type":"identify","anonymousId":")" + anon + R"(","userId":")" +
                                 user + R"(","traits":{"title":"VP Sales"})",
                             id, minute));
        break;
      case 1:
        if (rng() % 4 != 0) {
          lines.push_back(
              Line(R"("type":"page","userId":")" + user + R"(","properties":{"path":"/pricing/x"})",
                   id, minute));
          break;
        }
        lines.push_back(Line(R"("type":"alias","userId":")" + user + R"(","previousId":")" +
                                 "user-" + std::to_string(rng() % 150) + "\"",
                             id, minute));
        break;
      case 2:
        lines.push_back(
            Line(R"("type":"track","anonymousId":")" + anon + R"(","event":"Webinar Attended")", id,
                 minute));
        break;
      default:
        lines.push_back(Line(
            R"("type":"page","anonymousId":")" + anon + R"(","properties":{"path":"/pricing"})", id,
            minute));
        break;
    }
  }
  const std::string rules = SourceDir() + "/rules/examples/default.yaml";
  auto snapshot = [&](DaemonProcess& d) {
    std::vector<std::string> out;
    for (const std::string& user : users) {
      HttpResult r = HttpClient(d.http_port()).Get("/v1/leads/" + user + kAt);
      out.push_back(std::to_string(r.status) + " " + r.body);
    }
    return out;
  };

  DaemonProcess calm{DaemonOptions{rules}};
  ASSERT_OK(calm.Start());
  {
    IngestClient client;
    ASSERT_OK(client.Connect(calm.ingest_port()));
    ASSERT_OK(client.SendLines(lines));
    ASSERT_OK(client.WaitForAck(lines.size()));
  }
  const std::vector<std::string> want = snapshot(calm);
  ASSERT_OK(calm.Stop());

  DaemonProcess crashy{DaemonOptions{rules}};
  ASSERT_OK(crashy.Start());
  size_t acked = 0;
  for (int cycle = 0; cycle < 3; ++cycle) {
    IngestClient client;
    ASSERT_OK(client.Connect(crashy.ingest_port()));
    // Send the rest in pieces and kill once some, but not all, of it is acknowledged.
    const size_t stop_after = acked + (lines.size() - acked) / 3;
    std::vector<std::string> rest(lines.begin() + acked, lines.end());
    ASSERT_OK(client.SendLines(rest));
    while (acked + client.last_ack() < stop_after) {
      ASSERT_OK(client.WaitForAck(client.last_ack() + 1));
    }
    acked += client.last_ack();
    ASSERT_OK(crashy.Kill9());
    ASSERT_OK(crashy.Start());
  }
  {
    IngestClient client;
    ASSERT_OK(client.Connect(crashy.ingest_port()));
    std::vector<std::string> rest(lines.begin() + acked, lines.end());
    ASSERT_OK(client.SendLines(rest));
    ASSERT_OK(client.WaitForAck(rest.size()));
  }
  EXPECT_EQ(snapshot(crashy), want);
  ASSERT_OK(crashy.Stop());
}

}  // namespace
}  // namespace handoff::testing
