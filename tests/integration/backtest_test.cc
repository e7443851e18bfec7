// Backtest over the wire (SPEC 13), checked exactly as the contract states it: a daemon that has
// applied a history under one rule file backtests a candidate, and a fresh daemon fed the same
// history under the candidate must have exactly the scores and stages the backtest reported.
#include <gtest/gtest.h>

#include <cmath>
#include <ctime>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tests/integration/daemon_harness.h"
#include "tests/testutil.h"

namespace handoff::testing {
namespace {

// The rules in force: stages no lead can reach, so every lead is "new" now and every lead the
// candidate stages shows up among the examples, with its scores.
constexpr std::string_view kLiveRules =
    "scores:\n"
    "  engagement: {kind: event, half_life: 7d}\n"
    "  fit: {kind: profile}\n"
    "rules:\n"
    "  - id: pricing\n"
    "    score: engagement\n"
    "    when: type == \"page\" && properties.path starts_with \"/pricing\"\n"
    "    points: 10\n"
    "  - id: old-rule\n"
    "    score: engagement\n"
    "    when: event == \"Webinar\"\n"
    "    points: 15\n"
    "  - id: big\n"
    "    score: fit\n"
    "    when: traits.employees >= 1000\n"
    "    points: 30\n"
    "stages:\n"
    "  - name: mql\n"
    "    enter: score.engagement >= 100000\n"
    "  - name: sql\n"
    "    enter: score.engagement >= 200000\n";

// The candidate: other points, a cap, a `once`, a negative rule, a rule reading a score, a new
// profile rule, the webinar rule gone, reachable stages with exits, and routing.
constexpr std::string_view kCandidateRules =
    "scores:\n"
    "  engagement: {kind: event, half_life: 3d}\n"
    "  fit: {kind: profile}\n"
    "rules:\n"
    "  - id: pricing\n"
    "    score: engagement\n"
    "    when: type == \"page\" && properties.path starts_with \"/pricing\"\n"
    "    points: 12.5\n"
    "    cap: {points: 30, per: 1d}\n"
    "  - id: demo\n"
    "    score: engagement\n"
    "    when: event == \"Demo\"\n"
    "    points: 40\n"
    "    once: true\n"
    "  - id: unsubscribe\n"
    "    score: engagement\n"
    "    when: event == \"Unsubscribe\"\n"
    "    points: -25\n"
    "  - id: warm-webinar\n"
    "    score: engagement\n"
    "    when: event == \"Webinar\" && score.engagement >= 20\n"
    "    points: 7\n"
    "  - id: big\n"
    "    score: fit\n"
    "    when: traits.employees >= 1000\n"
    "    points: 30\n"
    "  - id: vp\n"
    "    score: fit\n"
    "    when: traits.title matches \"(?i)vp\"\n"
    "    points: 20\n"
    "stages:\n"
    "  - name: mql\n"
    "    enter: score.engagement >= 25 || score.fit >= 50\n"
    "    exit: score.engagement < 15 && score.fit < 50\n"
    "  - name: sql\n"
    "    enter: score.engagement >= 55 && score.fit >= 20\n"
    "    exit: score.engagement < 40\n"
    "routing:\n"
    "  stage: sql\n"
    "  teams:\n"
    "    - id: enterprise\n"
    "      when: traits.employees >= 1000\n"
    "      reps: [{id: alice}, {id: bob}]\n"
    "    - id: smb\n"
    "      when: true\n"
    "      reps: [{id: carol, max_open: 2}]\n";

constexpr double kStart = 1767225600;  // 2026-01-01T00:00:00Z
constexpr double kAt = kStart + 20 * 86400;

// A history with everything a replay must get right: out-of-order times, caps across windows,
// `once`, negative points, traits changing (profile scores), anonymous visitors merged into
// known leads by alias and by identify, and duplicates by messageId.
std::vector<std::string> History() {
  std::mt19937 rng(20261201);
  std::vector<std::string> lines;
  int message = 0;
  auto id = [&] { return "m" + std::to_string(++message); };
  auto time = [&] {
    return std::to_string(kStart + std::uniform_real_distribution<double>(0, 14 * 86400)(rng));
  };
  const char* events[] = {"Demo", "Webinar", "Unsubscribe", "Other"};
  for (int lead = 0; lead < 60; ++lead) {
    const std::string user = "u" + std::to_string(lead);
    const std::string anon = "a" + std::to_string(lead);
    const bool merged = lead % 3 == 0;
    const std::string who =
        merged ? R"("anonymousId":")" + anon + "\"" : R"("userId":")" + user + "\"";
    const int n = 3 + static_cast<int>(rng() % 8);
    for (int i = 0; i < n; ++i) {
      if (rng() % 2 == 0) {
        lines.push_back(R"({"type":"page",)" + who + R"(,"properties":{"path":"/pricing/)" +
                        std::to_string(i) + R"("},"messageId":")" + id() + R"(","timestamp":)" +
                        time() + "}");
      } else {
        lines.push_back(R"({"type":"track",)" + who + R"(,"event":")" + events[rng() % 4] +
                        R"(","messageId":")" + id() + R"(","timestamp":)" + time() + "}");
      }
    }
    if (lead % 2 == 0) {
      lines.push_back(R"({"type":"identify","userId":")" + user + R"(","traits":{"employees":)" +
                      std::to_string(rng() % 3000) + R"(,"title":")" +
                      (rng() % 2 ? "VP Sales" : "Engineer") + R"("},"messageId":")" + id() +
                      R"(","timestamp":)" + time() + "}");
    }
    if (merged) {
      // The known lead has events of its own first, then the link (alias, or identify).
      lines.push_back(R"({"type":"track","userId":")" + user + R"(","event":"Demo","messageId":")" +
                      id() + R"(","timestamp":)" + time() + "}");
      if (lead % 2 == 0) {
        lines.push_back(R"({"type":"alias","previousId":")" + anon + R"(","userId":")" + user +
                        R"(","messageId":")" + id() + R"(","timestamp":)" + time() + "}");
      } else {
        lines.push_back(R"({"type":"identify","anonymousId":")" + anon + R"(","userId":")" + user +
                        R"(","traits":{"title":"VP"},"messageId":")" + id() + R"(","timestamp":)" +
                        time() + "}");
      }
      lines.push_back(R"({"type":"page","userId":")" + user +
                      R"(","properties":{"path":"/pricing"},"messageId":")" + id() +
                      R"(","timestamp":)" + time() + "}");
    }
  }
  lines.push_back(lines[5]);  // a duplicate: applied once
  return lines;
}

void Feed(DaemonProcess& daemon, const std::vector<std::string>& lines) {
  IngestClient ingest;
  ASSERT_OK(ingest.Connect(daemon.ingest_port()));
  ASSERT_OK(ingest.SendLines(lines));
  ASSERT_OK(ingest.WaitForAck(ingest.lines_sent()));
  EXPECT_TRUE(ingest.errors().empty()) << ingest.errors().front().ToJson();
}

// Every lead of the daemon, by id, as GET /v1/leads/{id}?at=kAt answers it.
std::map<std::string, Value> Leads(DaemonProcess& daemon) {
  HttpClient http(daemon.http_port());
  std::map<std::string, Value> leads;
  std::string after;
  for (;;) {
    HttpResult page = http.Get("/v1/leads?limit=100&after=" + after);
    EXPECT_EQ(page.status, 200) << page.body;
    const Value body = page.Json();
    const Value* list = body.Find("leads");
    if (list == nullptr || !list->is_array() || list->as_array().empty()) {
      break;
    }
    for (const Value& lead : list->as_array()) {
      const std::string id = JsonString(lead, "id");
      HttpResult one = http.Get("/v1/leads/" + id + "?at=" + std::to_string(kAt));
      EXPECT_EQ(one.status, 200) << one.body;
      leads[id] = one.Json();
      after = id;
    }
  }
  return leads;
}

// Posts a backtest and follows its job to the end.
Value Backtest(HttpClient& http, std::string_view candidate, const std::string& query) {
  HttpResult posted = http.Post("/v1/rules/backtest?" + query, candidate);
  EXPECT_TRUE(posted.status == 200 || posted.status == 202) << posted.body;
  Value job = posted.Json();
  const std::string id = JsonString(job, "id");
  EXPECT_TRUE(WaitUntil([&] {
    job = http.Get("/v1/rules/backtest/" + id).Json();
    return JsonString(job, "state") == "done" || JsonString(job, "state") == "failed";
  }));
  EXPECT_EQ(JsonString(job, "state"), "done") << job.ToJson();
  return job;
}

TEST(BacktestTest, EqualsAFreshDaemonFedTheSameHistoryUnderTheCandidate) {
  const std::vector<std::string> history = History();

  DaemonProcess live(DaemonOptions{});
  live.options().rules = live.WriteRules(kLiveRules);
  ASSERT_OK(live.Start());
  Feed(live, history);
  HttpClient http(live.http_port());
  const Value report =
      Backtest(http, kCandidateRules, "at=" + std::to_string(kAt) + "&examples=1000&wait=0");

  DaemonProcess fresh(DaemonOptions{});
  fresh.options().rules = fresh.WriteRules(kCandidateRules);
  ASSERT_OK(fresh.Start());
  Feed(fresh, history);
  const std::map<std::string, Value> truth = Leads(fresh);
  ASSERT_EQ(truth.size(), 60u);  // the anonymous visitors were merged into their leads

  EXPECT_EQ(JsonNumber(report, "leads"), 60);
  uint64_t events = 0;
  std::map<std::string, double> stages;
  std::map<std::string, double> rule_totals;
  for (const auto& [id, lead] : truth) {
    events += static_cast<uint64_t>(JsonNumber(lead, "events"));
    stages[JsonString(lead, "stage")] += 1;
    for (const auto& [score, parts] : lead.Find("breakdown")->as_object()) {
      for (const Value& part : parts.as_array()) {
        rule_totals[JsonString(part, "rule")] += JsonNumber(part, "points");
      }
    }
  }
  EXPECT_EQ(JsonNumber(report, "events"), static_cast<double>(events));
  for (const auto& [stage, count] : stages) {
    EXPECT_EQ(JsonNumber(report, "stages.candidate." + stage), count) << stage;
    EXPECT_EQ(JsonNumber(report, "stages.now.new"), 60);
  }
  // Every lead the candidate stages above "new" is an example: its scores and breakdown must be
  // exactly (to the bit) the fresh daemon's.
  const Value* examples = report.Find("examples");
  ASSERT_NE(examples, nullptr);
  size_t staged = 60 - static_cast<size_t>(stages["new"]);
  ASSERT_GT(staged, 10u);
  ASSERT_EQ(examples->as_array().size(), staged);
  for (const Value& example : examples->as_array()) {
    const std::string id = JsonString(example, "lead");
    ASSERT_TRUE(truth.contains(id)) << id;
    const Value& lead = truth.at(id);
    EXPECT_EQ(JsonString(example, "from"), "new");
    EXPECT_EQ(JsonString(example, "to"), JsonString(lead, "stage")) << id;
    EXPECT_EQ(example.Find("scores")->Find("candidate")->ToJson(), lead.Find("scores")->ToJson())
        << id;
    EXPECT_EQ(example.Find("breakdown")->Find("candidate")->ToJson(),
              lead.Find("breakdown")->ToJson())
        << id;
  }
  for (const Value& rule : report.Find("rules")->as_array()) {
    const std::string id = JsonString(rule, "rule");
    EXPECT_NEAR(JsonNumber(rule, "candidate"), rule_totals[id],
                1e-9 * (1 + std::abs(rule_totals[id])))
        << id;
  }
  // The webinar rule is gone from the candidate: it had points now, none under the candidate.
  bool saw_old_rule = false;
  for (const Value& rule : report.Find("rules")->as_array()) {
    if (JsonString(rule, "rule") == "old-rule") {
      saw_old_rule = true;
      EXPECT_GT(JsonNumber(rule, "now"), 0);
      EXPECT_EQ(JsonNumber(rule, "candidate"), 0);
    }
  }
  EXPECT_TRUE(saw_old_rule);
  // Routing, if routed now: every newly sql lead goes to a team; smb's one rep takes two.
  double routed_or_queued = 0;
  for (const auto& [team, n] : report.Find("routing")->Find("teams")->as_object()) {
    routed_or_queued += n.as_number();
  }
  EXPECT_EQ(routed_or_queued, stages["sql"]);
  const Value* carol = report.Find("routing")->Find("reps")->Find("carol");
  if (carol != nullptr) {
    EXPECT_LE(carol->as_number(), 2);
  }
  // Nothing live moved: the leads are all still "new" under the rules in force.
  HttpResult lead = http.Get("/v1/leads/u0");
  EXPECT_EQ(JsonString(lead.Json(), "stage"), "new");
  EXPECT_OK(fresh.Stop());
  EXPECT_OK(live.Stop());
}

TEST(BacktestTest, ABadCandidateGetsValidatesErrors) {
  DaemonProcess live(DaemonOptions{});
  live.options().rules = live.WriteRules(kLiveRules);
  ASSERT_OK(live.Start());
  HttpClient http(live.http_port());
  const std::string bad =
      "scores:\n  e: {kind: event}\nrules:\n  - id: x\n    score: nope\n"
      "    when: event == \"A\"\n    points: 1\n";
  HttpResult validated = http.Post("/v1/rules/validate", bad);
  HttpResult backtested = http.Post("/v1/rules/backtest", bad);
  EXPECT_EQ(validated.status, 422);
  EXPECT_EQ(backtested.status, 422);
  EXPECT_EQ(backtested.body, validated.body);
  EXPECT_EQ(http.Get("/v1/rules/backtest/12345").status, 404);
  EXPECT_EQ(http.Post("/v1/rules/backtest?wait=x", kLiveRules).status, 400);
  HttpResult cancel_unknown;
  ASSERT_OK(http.Request("DELETE", "/v1/rules/backtest/12345", "", {}, &cancel_unknown));
  EXPECT_EQ(cancel_unknown.status, 404);
  // A job cancelled after it finished stays done.
  HttpResult done = http.Post("/v1/rules/backtest?wait=60", kLiveRules);
  ASSERT_EQ(done.status, 200) << done.body;
  HttpResult cancel_done;
  ASSERT_OK(http.Request("DELETE", "/v1/rules/backtest/" + JsonString(done.Json(), "id"), "", {},
                         &cancel_done));
  EXPECT_EQ(cancel_done.status, 200);
  EXPECT_EQ(JsonString(cancel_done.Json(), "state"), "done");
  EXPECT_OK(live.Stop());
}

// A client polling a job across a restart must not be handed another job's report: ids of a new
// run never repeat those of the run before.
TEST(BacktestTest, AnIdFromBeforeARestartNamesNoJobAfterIt) {
  DaemonProcess live(DaemonOptions{});
  live.options().rules = live.WriteRules(kLiveRules);
  ASSERT_OK(live.Start());
  std::string before;
  {
    HttpClient http(live.http_port());
    HttpResult done = http.Post("/v1/rules/backtest?wait=60", kLiveRules);
    ASSERT_EQ(done.status, 200) << done.body;
    before = JsonString(done.Json(), "id");
  }
  ASSERT_OK(live.Restart());
  HttpClient http(live.http_port());
  HttpResult after = http.Post("/v1/rules/backtest?wait=60", kCandidateRules);
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_NE(JsonString(after.Json(), "id"), before);
  EXPECT_EQ(http.Get("/v1/rules/backtest/" + before).status, 404);
  EXPECT_OK(live.Stop());
}

TEST(BacktestTest, SinceReplaysOnlyLaterHistory) {
  DaemonProcess live(DaemonOptions{});
  live.options().rules = live.WriteRules(kLiveRules);
  ASSERT_OK(live.Start());
  Feed(
      live,
      {R"({"type":"page","userId":"early","properties":{"path":"/pricing"},"messageId":"e1","timestamp":1767225600})"});
  HttpClient http(live.http_port());
  // Receive times are the daemon's clock: "early" was received before `cut`, "late" after it.
  const double cut = static_cast<double>(std::time(nullptr)) + 1;
  ASSERT_TRUE(WaitUntil([&] { return static_cast<double>(std::time(nullptr)) > cut; }, 5));
  Feed(
      live,
      {R"({"type":"page","userId":"late","properties":{"path":"/pricing"},"messageId":"l1","timestamp":1767225600})"});
  const Value all = Backtest(http, kCandidateRules, "");
  EXPECT_EQ(JsonNumber(all, "leads"), 2);
  const Value later = Backtest(http, kCandidateRules, "since=" + std::to_string(cut));
  EXPECT_EQ(JsonNumber(later, "leads"), 1);
  EXPECT_EQ(JsonNumber(later, "events"), 1);
  EXPECT_OK(live.Stop());
}

// After a reload that changed a half-life, leads nothing has read since are stored folded under
// the old one. The backtest's "now" folds them again, as GET /v1/leads/{id} answers them: a
// backtest of the rules in force reports the same totals now and under the candidate, and no
// change (a review found "now" 15 against a live 12.5).
TEST(BacktestTest, NowIsTheLiveScoreAfterAReloadChangedAHalfLife) {
  DaemonProcess live(DaemonOptions{});
  live.options().rules = live.WriteRules(kLiveRules);
  ASSERT_OK(live.Start());
  Feed(live, History());
  std::string shorter(kLiveRules);
  const size_t at = shorter.find("half_life: 7d");
  ASSERT_NE(at, std::string::npos);
  shorter.replace(at, 13, "half_life: 2d");
  live.WriteRules(shorter);
  HttpClient http(live.http_port());
  HttpResult reloaded = http.Post("/v1/rules/reload", "");
  ASSERT_EQ(reloaded.status, 200) << reloaded.body;

  const Value report = Backtest(http, shorter, "at=" + std::to_string(kAt) + "&wait=0");
  EXPECT_EQ(report.Find("changes")->ToJson(), "{}");
  for (const Value& rule : report.Find("rules")->as_array()) {
    const double now = JsonNumber(rule, "now");
    EXPECT_NEAR(now, JsonNumber(rule, "candidate"), 1e-9 * (1 + std::abs(now)))
        << JsonString(rule, "rule");
  }
  // And "now" is what the API answers, lead by lead.
  double pricing = 0;
  for (const auto& [id, lead] : Leads(live)) {
    const Value* parts = lead.Find("breakdown")->Find("engagement");
    for (size_t i = 0; parts != nullptr && i < parts->as_array().size(); ++i) {
      if (JsonString(parts->as_array()[i], "rule") == "pricing") {
        pricing += JsonNumber(parts->as_array()[i], "points");
      }
    }
  }
  for (const Value& rule : report.Find("rules")->as_array()) {
    if (JsonString(rule, "rule") == "pricing") {
      EXPECT_NEAR(JsonNumber(rule, "now"), pricing, 1e-9 * (1 + pricing));
    }
  }
  EXPECT_OK(live.Stop());
}

TEST(BacktestTest, ApplyReloadsTheCandidateAndMovesStagesAtOnce) {
  DaemonProcess live(DaemonOptions{});
  live.options().rules = live.WriteRules(kLiveRules);
  ASSERT_OK(live.Start());
  // 50 fit points now (big + a VP title under the candidate): mql at once under the candidate,
  // without another event.
  Feed(
      live,
      {R"({"type":"identify","userId":"vp","traits":{"employees":5000,"title":"VP"},"messageId":"i1","timestamp":1767225600})"});
  HttpClient http(live.http_port());
  EXPECT_EQ(JsonString(http.Get("/v1/leads/vp").Json(), "stage"), "new");
  HttpResult applied = http.Post("/v1/rules/apply", kCandidateRules);
  ASSERT_EQ(applied.status, 200) << applied.body;
  EXPECT_EQ(JsonNumber(applied.Json(), "version"), 2);
  EXPECT_EQ(JsonNumber(applied.Json(), "leads"), 1);
  EXPECT_EQ(JsonNumber(applied.Json(), "changed"), 1);
  EXPECT_EQ(JsonString(http.Get("/v1/leads/vp").Json(), "stage"), "mql");
  // The rule file itself holds the candidate: a restart keeps it.
  ASSERT_OK(live.Restart());
  HttpClient again(live.http_port());
  EXPECT_EQ(JsonString(again.Get("/v1/leads/vp").Json(), "stage"), "mql");
  HttpResult bad = again.Post("/v1/rules/apply", "scores: [");
  EXPECT_EQ(bad.status, 422);
  // No body: refused, the rules in force kept (an empty file would drop every stage).
  EXPECT_EQ(again.Post("/v1/rules/apply", "").status, 400);
  EXPECT_EQ(again.Post("/v1/rules/apply", " \n").status, 400);
  EXPECT_EQ(JsonString(again.Get("/v1/leads/vp").Json(), "stage"), "mql");
  // A file without the lead's stage moves it at the swap, before the walk re-evaluates every
  // lead: it counts as changed all the same (it answered 0).
  std::string renamed(kCandidateRules);
  renamed.replace(renamed.find("name: mql"), 9, "name: warm");
  HttpResult moved = again.Post("/v1/rules/apply", renamed);
  ASSERT_EQ(moved.status, 200) << moved.body;
  EXPECT_EQ(JsonNumber(moved.Json(), "changed"), 1);
  EXPECT_EQ(JsonString(again.Get("/v1/leads/vp").Json(), "stage"), "warm");
  EXPECT_OK(live.Stop());
}

}  // namespace
}  // namespace handoff::testing
