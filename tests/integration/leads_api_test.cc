// Leads over the real HTTP API equal what the scoring library computes (SPEC 2, 5.2, 5.3, 6);
// the admin token (SPEC 6).
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "ingest/event_parser.h"
#include "rules/rule_loader.h"
#include "scoring/scorer.h"
#include "tests/integration/daemon_harness.h"
#include "tests/testutil.h"

namespace handoff::testing {
namespace {

// Hand-computable: one day half-life, a cap, a once rule, a profile score, a score that never
// decays, and two stages.
constexpr std::string_view kRules =
    "scores:\n"
    "  fit: {kind: profile}\n"
    "  engagement: {kind: event, half_life: 1d}\n"
    "  lifetime: {kind: event}\n"
    "rules:\n"
    "  - id: vp-title\n"
    "    score: fit\n"
    "    when: traits.title matches \"(?i)\\\\bvp\\\\b\"\n"
    "    points: 20\n"
    "  - id: acme\n"
    "    score: fit\n"
    "    when: traits.company.name == \"Acme\"\n"
    "    points: 15\n"
    "  - id: pricing\n"
    "    score: engagement\n"
    "    when: type == \"page\" && properties.path starts_with \"/pricing\"\n"
    "    points: 10\n"
    "    cap: {points: 20, per: 1d}\n"
    "  - id: demo\n"
    "    score: engagement\n"
    "    when: event == \"Demo Requested\"\n"
    "    points: 50\n"
    "    once: true\n"
    "  - id: any-event\n"
    "    score: lifetime\n"
    "    when: true\n"
    "    points: 1\n"
    "stages:\n"
    "  - name: mql\n"
    "    enter: score.engagement >= 40\n"
    "    exit: score.engagement < 20\n"
    "  - name: sql\n"
    "    enter: score.engagement >= 60 && score.fit >= 30\n";

constexpr double kDay = 86400;
constexpr double kT0 = 1767225600;  // 2026-01-01T00:00:00Z

std::string Ts(double t) { return std::to_string(static_cast<int64_t>(t)); }

// The events of lead u1, each with an explicit timestamp (epoch seconds).
std::vector<std::string> LeadU1Events() {
  return {
      R"({"type":"identify","userId":"u1","messageId":"u1-1","timestamp":)" + Ts(kT0) +
          R"(,"traits":{"title":"VP Sales","email":"a@acme.com","tmp":"x"}})",
      R"({"type":"page","userId":"u1","messageId":"u1-2","timestamp":)" + Ts(kT0 + 3600) +
          R"(,"properties":{"path":"/pricing"}})",
      R"({"type":"page","userId":"u1","messageId":"u1-3","timestamp":)" + Ts(kT0 + 7200) +
          R"(,"properties":{"path":"/pricing/enterprise"}})",
      // Over the cap (20 a day): cut to nothing.
      R"({"type":"page","userId":"u1","messageId":"u1-4","timestamp":)" + Ts(kT0 + 10800) +
          R"(,"properties":{"path":"/pricing"}})",
      // 50 points: engagement reaches ~64.8 -> mql (fit is 20, so not sql).
      R"({"type":"track","userId":"u1","messageId":"u1-5","timestamp":)" + Ts(kT0 + 43200) +
          R"(,"event":"Demo Requested"})",
      // once: nothing.
      R"({"type":"track","userId":"u1","messageId":"u1-6","timestamp":)" + Ts(kT0 + 50000) +
          R"(,"event":"Demo Requested"})",
      // traits.company = {name, employees, id}: fit 35 -> sql (engagement ~61.1 here).
      R"({"type":"group","userId":"u1","messageId":"u1-7","timestamp":)" + Ts(kT0 + 50400) +
          R"(,"groupId":"g1","traits":{"name":"Acme","employees":500}})",
      // null deletes a trait.
      R"({"type":"identify","userId":"u1","messageId":"u1-8","timestamp":)" + Ts(kT0 + 50400) +
          R"(,"traits":{"tmp":null}})",
  };
}

// The engagement of u1 read at `at`, by the decay formula of SPEC 5.2.
double EngagementAt(double at) {
  const double awards[][2] = {{10, kT0 + 3600}, {10, kT0 + 7200}, {50, kT0 + 43200}};
  double r = std::max(at, kT0 + 43200);
  double sum = 0;
  for (const auto& a : awards) {
    sum += a[0] * std::exp2(-(r - a[1]) / kDay);
  }
  return sum;
}

double PricingAt(double at) {
  double r = std::max(at, kT0 + 43200);  // R is per score: the demo award moves it too
  return 10 * std::exp2(-(r - (kT0 + 3600)) / kDay) + 10 * std::exp2(-(r - (kT0 + 7200)) / kDay);
}

void ExpectClose(double actual, double expected) {
  EXPECT_NEAR(actual, expected, 1e-9 * std::max(1.0, std::fabs(expected)));
}

class LeadsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rules_path_ = daemon_.WriteRules(kRules);
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
    for (const Value& e : client.errors()) {
      ADD_FAILURE() << "rejected: " << e.ToJson();
    }
  }

  Value GetLead(const std::string& id, double at) {
    HttpResult r = HttpClient(daemon_.http_port()).Get("/v1/leads/" + id + "?at=" + Ts(at));
    EXPECT_EQ(r.status, 200) << r.body;
    return r.Json();
  }

  DaemonProcess daemon_{DaemonOptions{}};
  std::string rules_path_;
};

TEST_F(LeadsApiTest, LeadMatchesHandComputedDecayAndTheScorerLibrary) {
  const std::vector<std::string> events = LeadU1Events();
  Ingest(events);

  // The same events through the scoring library, with the same rules.
  LoadResult loaded = LoadRules(rules_path_);
  ASSERT_TRUE(loaded.ok());
  Scorer scorer(loaded.rules);
  Lead lead;
  lead.id = "u1";
  EventParser parser;
  for (const std::string& line : events) {
    Event event;
    ParseError err;
    ASSERT_TRUE(parser.Parse(line, &event, &err)) << err.message;
    scorer.Apply(event, &lead);
  }

  for (double at : {kT0 + 50400, kT0 + 2 * kDay, kT0 + 10 * kDay, kT0}) {
    SCOPED_TRACE("at=" + Ts(at));
    Value got = GetLead("u1", at);
    EXPECT_EQ(JsonString(got, "id"), "u1");
    // Hand-computed.
    ExpectClose(JsonNumber(got, "scores.engagement"), EngagementAt(at));
    EXPECT_EQ(JsonNumber(got, "scores.fit"), 35);
    EXPECT_EQ(JsonNumber(got, "scores.lifetime"), 8);
    // The library, to the last bit (scores print so they read back to the same double).
    std::vector<std::vector<ScorePart>> parts;
    std::vector<double> scores;
    scorer.Breakdown(&lead, at, &parts, &scores);
    const RuleSet& rs = scorer.rules();
    for (size_t s = 0; s < rs.scores.size(); ++s) {
      EXPECT_EQ(JsonNumber(got, "scores." + rs.scores[s].name), scores[s]) << rs.scores[s].name;
      // The breakdown lists the same rules with the same points, and adds up to the score.
      const Value* list = JsonAt(got, "breakdown." + rs.scores[s].name);
      ASSERT_NE(list, nullptr);
      ASSERT_TRUE(list->is_array());
      ASSERT_EQ(list->as_array().size(), parts[s].size()) << rs.scores[s].name;
      double sum = 0;
      for (size_t i = 0; i < parts[s].size(); ++i) {
        const Value& part = list->as_array()[i];
        EXPECT_EQ(JsonString(part, "rule"), parts[s][i].rule_id);
        EXPECT_EQ(JsonNumber(part, "points"), parts[s][i].points);
        sum += JsonNumber(part, "points");
      }
      ExpectClose(sum, JsonNumber(got, "scores." + rs.scores[s].name));
    }
    // Breakdown by hand.
    const Value* engagement = JsonAt(got, "breakdown.engagement");
    ASSERT_NE(engagement, nullptr);
    ASSERT_EQ(engagement->as_array().size(), 2u);
    EXPECT_EQ(JsonString(engagement->as_array()[0], "rule"), "pricing");
    ExpectClose(JsonNumber(engagement->as_array()[0], "points"), PricingAt(at));
    EXPECT_EQ(JsonString(engagement->as_array()[1], "rule"), "demo");
    const Value* fit = JsonAt(got, "breakdown.fit");
    ASSERT_NE(fit, nullptr);
    ASSERT_EQ(fit->as_array().size(), 2u);
    EXPECT_EQ(JsonString(fit->as_array()[0], "rule"), "vp-title");
    EXPECT_EQ(JsonNumber(fit->as_array()[0], "points"), 20);
    EXPECT_EQ(JsonString(fit->as_array()[1], "rule"), "acme");
    EXPECT_EQ(JsonNumber(fit->as_array()[1], "points"), 15);

    // Reading never changes the stage: only events (and the re-check, off here) do.
    EXPECT_EQ(JsonString(got, "stage"), "sql");
    EXPECT_EQ(JsonString(got, "stage"), lead.stage);
    EXPECT_EQ(JsonNumber(got, "events"), 8);
    EXPECT_EQ(JsonString(got, "first_seen"), "2026-01-01T00:00:00.000Z");
    EXPECT_EQ(JsonString(got, "last_seen"), "2026-01-01T14:00:00.000Z");
    const Value* owner = JsonAt(got, "owner");
    ASSERT_NE(owner, nullptr);
    EXPECT_TRUE(owner->is_null());

    // Traits: identify merged, group under traits.company with its id, null deleted.
    Value traits = JsonOrFail(R"({"title":"VP Sales","email":"a@acme.com",)"
                              R"("company":{"name":"Acme","employees":500,"id":"g1"}})");
    const Value* got_traits = JsonAt(got, "traits");
    ASSERT_NE(got_traits, nullptr);
    EXPECT_EQ(*got_traits, traits) << got_traits->ToJson();
    EXPECT_EQ(*got_traits, lead.traits);
  }
}

TEST_F(LeadsApiTest, OutOfOrderEventsScoreAsInOrder) {
  // The same three awards sent in two different orders to two leads read the same.
  auto page = [](const std::string& user, double t, int n) {
    return R"({"type":"page","userId":")" + user + R"(","messageId":")" + user + "-" +
           std::to_string(n) + R"(","timestamp":)" + Ts(t) +
           R"(,"properties":{"path":"/pricing"}})";
  };
  auto demo = [](const std::string& user, double t) {
    return R"({"type":"track","userId":")" + user + R"(","messageId":")" + user +
           R"(-demo","timestamp":)" + Ts(t) + R"(,"event":"Demo Requested"})";
  };
  Ingest({page("ooo-a", kT0 + 3600, 1), page("ooo-a", kT0 + 90000, 2), demo("ooo-a", kT0 + 7200)});
  Ingest({demo("ooo-b", kT0 + 7200), page("ooo-b", kT0 + 90000, 2), page("ooo-b", kT0 + 3600, 1)});
  const double at = kT0 + 3 * kDay;
  const double expected = 10 * std::exp2(-(at - (kT0 + 3600)) / kDay) +
                          10 * std::exp2(-(at - (kT0 + 90000)) / kDay) +
                          50 * std::exp2(-(at - (kT0 + 7200)) / kDay);
  ExpectClose(JsonNumber(GetLead("ooo-a", at), "scores.engagement"), expected);
  ExpectClose(JsonNumber(GetLead("ooo-b", at), "scores.engagement"), expected);
}

TEST_F(LeadsApiTest, AtAcceptsEveryTimeFormIncludingAnUnencodedPlusOffset) {
  Ingest({R"({"type":"page","userId":"at-1","messageId":"at-1","timestamp":)" + Ts(kT0) +
          R"(,"properties":{"path":"/pricing"}})"});
  HttpClient http(daemon_.http_port());
  // kT0 + 1 day, written four ways: epoch seconds, Z, an offset with a raw '+', and %2B.
  const std::string forms[] = {Ts(kT0 + kDay), "2026-01-02T00:00:00Z", "2026-01-02T01:00:00+01:00",
                               "2026-01-02T01:00:00%2B01:00"};
  const double expected = JsonNumber(GetLead("at-1", kT0 + kDay), "scores.engagement");
  EXPECT_LT(expected, 10);  // decayed: the time was read
  for (const std::string& at : forms) {
    HttpResult r = http.Get("/v1/leads/at-1?at=" + at);
    ASSERT_EQ(r.status, 200) << at << ": " << r.body;
    EXPECT_EQ(JsonNumber(r.Json(), "scores.engagement"), expected) << at;
  }
}

TEST_F(LeadsApiTest, ListLeadsByStageInPages) {
  std::vector<std::string> lines;
  std::set<std::string> mql;
  for (int i = 0; i < 7; ++i) {
    std::string id = "p" + std::to_string(i);
    mql.insert(id);
    lines.push_back(R"({"type":"track","userId":")" + id + R"(","messageId":")" + id +
                    R"(","timestamp":)" + Ts(kT0) + R"(,"event":"Demo Requested"})");
  }
  for (int i = 0; i < 4; ++i) {
    std::string id = "q" + std::to_string(i);  // stays "new"
    lines.push_back(R"({"type":"page","userId":")" + id + R"(","timestamp":)" + Ts(kT0) +
                    R"(,"properties":{"path":"/pricing"}})");
  }
  Ingest(lines);

  HttpClient http(daemon_.http_port());
  std::set<std::string> seen;
  std::string after;
  int pages = 0;
  for (;;) {
    std::string target = "/v1/leads?stage=mql&limit=3";
    if (!after.empty()) {
      target += "&after=" + after;
    }
    HttpResult r = http.Get(target);
    ASSERT_EQ(r.status, 200) << r.body;
    Value page = r.Json();
    const Value* leads = JsonAt(page, "leads");
    ASSERT_NE(leads, nullptr);
    ASSERT_TRUE(leads->is_array());
    ASSERT_LE(leads->as_array().size(), 3u);
    for (const Value& lead : leads->as_array()) {
      EXPECT_EQ(JsonString(lead, "stage"), "mql");
      EXPECT_TRUE(seen.insert(JsonString(lead, "id")).second) << "twice: " << lead.ToJson();
      EXPECT_EQ(JsonNumber(lead, "events"), 1);
    }
    ++pages;
    ASSERT_LT(pages, 10) << "paging does not end";
    const Value* next = JsonAt(page, "next");
    ASSERT_NE(next, nullptr);
    if (next->is_null()) {
      break;
    }
    ASSERT_TRUE(next->is_string());
    after = next->as_string();
  }
  EXPECT_EQ(seen, mql);
  EXPECT_GE(pages, 3);

  // Without a stage filter every lead is listed.
  HttpResult all = http.Get("/v1/leads?limit=1000");
  ASSERT_EQ(all.status, 200);
  const Value all_json = all.Json();  // JsonAt points into it: keep it alive
  const Value* leads = JsonAt(all_json, "leads");
  ASSERT_NE(leads, nullptr);
  EXPECT_EQ(leads->as_array().size(), 11u);
  // A bad limit is the caller's mistake.
  EXPECT_EQ(http.Get("/v1/leads?limit=0").status, 400);

  // `at` reads every listed lead's scores at that time, as it does for one lead: the demo's 50
  // points a day after them are 25.
  HttpResult at_day = http.Get("/v1/leads?stage=mql&limit=1&at=" + Ts(kT0 + kDay));
  ASSERT_EQ(at_day.status, 200) << at_day.body;
  const Value at_json = at_day.Json();
  const Value* listed = JsonAt(at_json, "leads");
  ASSERT_NE(listed, nullptr);
  ASSERT_EQ(listed->as_array().size(), 1u);
  const Value& first = listed->as_array()[0];
  EXPECT_EQ(JsonNumber(first, "scores.engagement"), 25) << first.ToJson();
  EXPECT_EQ(JsonNumber(first, "scores.engagement"),
            JsonNumber(GetLead(JsonString(first, "id"), kT0 + kDay), "scores.engagement"));
  EXPECT_EQ(http.Get("/v1/leads?at=yesterday").status, 400);
}

TEST_F(LeadsApiTest, UnknownLeadHealthAndMetrics) {
  HttpClient http(daemon_.http_port());
  HttpResult missing = http.Get("/v1/leads/nobody");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(http.Get("/v1/leads/u1?at=yesterday").status, 400);

  HttpResult health = http.Get("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body.substr(0, 2), "ok");

  Ingest(LeadU1Events());
  Ingest({R"({"type":"track","anonymousId":"anon-1","event":"Demo Requested","timestamp":)" +
          Ts(kT0) + "}"});
  // An anonymous lead is keyed by its anonymousId.
  EXPECT_EQ(JsonNumber(GetLead("anon-1", kT0), "events"), 1);

  HttpResult metrics = http.Get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  const std::string& m = metrics.body;
  EXPECT_EQ(PrometheusSample(m, R"(handoff_events_received_total{transport="tcp"})"), 9.0) << m;
  EXPECT_EQ(PrometheusSample(m, R"(handoff_events_applied_total{transport="tcp"})"), 9.0);
  EXPECT_EQ(PrometheusSample(m, R"(handoff_events_duplicate_total{transport="tcp"})"), 0.0);
  EXPECT_EQ(PrometheusSample(m, "handoff_leads"), 2.0);
  EXPECT_EQ(PrometheusSample(m, R"(handoff_stage_transitions_total{from="new",to="mql"})"), 2.0);
  EXPECT_EQ(PrometheusSample(m, R"(handoff_stage_transitions_total{from="mql",to="sql"})"), 1.0);
  EXPECT_EQ(PrometheusSample(m, "handoff_rules_version"), 1.0);
  // The outbox head gauge may trail the ack by a moment; the memory gauges, by a second.
  EXPECT_TRUE(WaitUntil(
      [&] { return PrometheusSample(http.Get("/metrics").body, "handoff_outbox_head") == 3.0; }));
  EXPECT_TRUE(WaitUntil([&] {
    const std::string now = http.Get("/metrics").body;
    return PrometheusSample(now, "handoff_leads_in_memory") == 2.0 &&
           PrometheusSample(now, R"(handoff_memory_bytes{part="dedupe_index"})") > 0 &&
           PrometheusSample(now, R"(handoff_memory_bytes{part="store_memtables"})") > 0 &&
           PrometheusSample(now, R"(handoff_memory_bytes{part="store_block_cache"})") >= 0;
  })) << http.Get("/metrics").body;
  EXPECT_NE(m.find("# TYPE handoff_apply_latency_seconds histogram"), std::string::npos);
  EXPECT_EQ(PrometheusSample(m, "handoff_apply_latency_seconds_count"), 9.0);
}

// --- admin token ---

class AdminTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_.WriteRules(kRules);
    daemon_.options().extra_args = {"--admin-token", "s3cret-token"};
    ASSERT_OK(daemon_.Start());
  }
  void TearDown() override {
    if (daemon_.running()) {
      EXPECT_OK(daemon_.Stop());
    }
  }
  DaemonProcess daemon_{DaemonOptions{}};
};

TEST_F(AdminTokenTest, AdminCallsNeedTheBearerToken) {
  HttpClient http(daemon_.http_port());
  const HttpClient::Headers none;
  const HttpClient::Headers wrong = {{"Authorization", "Bearer not-the-token"}};
  const HttpClient::Headers basic = {{"Authorization", "Basic czNjcmV0LXRva2VuOg=="}};
  const HttpClient::Headers right = {{"Authorization", "Bearer s3cret-token"}};

  for (const char* target : {"/v1/leads", "/v1/rules", "/v1/leads/u1", "/v1/reps"}) {
    SCOPED_TRACE(target);
    EXPECT_EQ(http.Get(target, none).status, 401);
    EXPECT_EQ(http.Get(target, wrong).status, 401);
    EXPECT_EQ(http.Get(target, basic).status, 401);
  }
  EXPECT_EQ(http.Get("/v1/leads", right).status, 200);
  EXPECT_EQ(http.Get("/v1/rules", right).status, 200);
  EXPECT_EQ(http.Get("/v1/reps", right).status, 200);
  EXPECT_EQ(http.Get("/v1/leads/u1", right).status, 404);  // authorized, just unknown

  // A reload without the token does nothing.
  EXPECT_EQ(http.Post("/v1/rules/reload", "", none).status, 401);
  EXPECT_EQ(http.Post("/v1/rules/validate", std::string(kRules), wrong).status, 401);
  HttpResult rules = http.Get("/v1/rules", right);
  EXPECT_EQ(JsonNumber(rules.Json(), "version"), 1);
  HttpResult reload = http.Post("/v1/rules/reload", "", right);
  EXPECT_EQ(reload.status, 200) << reload.body;
  EXPECT_EQ(JsonNumber(http.Get("/v1/rules", right).Json(), "version"), 2);

  // Health stays open; Segment ingest uses write keys (none configured: open), not the token.
  EXPECT_EQ(http.Get("/healthz", none).status, 200);
  HttpResult track =
      http.Post("/v1/track", R"({"userId":"u1","event":"Demo Requested","messageId":"h-1"})", none);
  EXPECT_EQ(track.status, 200) << track.body;
  HttpResult lead = http.Get("/v1/leads/u1", right);
  EXPECT_EQ(lead.status, 200);
  EXPECT_EQ(JsonNumber(lead.Json(), "events"), 1);
}

}  // namespace
}  // namespace handoff::testing
