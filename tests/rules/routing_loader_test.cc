// The `routing` section (rules/routing_loader.cc), loaded through the public LoadRulesFromString.
#include <date/tz.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rules/rule_loader.h"
#include "rules/working_hours.h"
#include "tests/rules/rule_load_testutil.h"

namespace handoff {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;
using ::testing::StartsWith;

using ::handoff::testing::Errors;
using ::handoff::testing::Load;

// Lines 1-6; a test's routing section starts at line 7.
constexpr std::string_view kBase =
    "scores:\n"
    "  fit: {kind: profile}\n"
    "  eng: {kind: event, half_life: 14d}\n"
    "stages:\n"
    "  - {name: mql, enter: score.eng > 40}\n"
    "  - {name: sql, enter: score.eng > 80}\n";
std::string WithBase(std::string_view rest) { return std::string(kBase) + std::string(rest); }

TEST(RoutingLoaderTest, Defaults) {
  std::shared_ptr<const RuleSet> rs =
      Load(WithBase("routing:\n"
                    "  stage: mql\n"
                    "  teams:\n"
                    "    - id: t\n"
                    "      reps: [{id: carol}]\n"));
  ASSERT_NE(rs, nullptr);
  const RoutingDef& routing = rs->routing;
  EXPECT_TRUE(routing.enabled);
  EXPECT_EQ(routing.stage_index, 1);
  EXPECT_FALSE(routing.account_match);
  EXPECT_EQ(routing.sla.accept_within, 0);
  EXPECT_EQ(routing.sla.max_reassign, 2);
  ASSERT_THAT(routing.teams, SizeIs(1));
  const TeamDef& team = routing.teams[0];
  EXPECT_EQ(team.strategy, RoutingStrategy::kRoundRobin);
  EXPECT_TRUE(team.when.Test(EvalContext{}));  // no `when`: takes every lead
  EXPECT_FALSE(team.skill.has_value());
  EXPECT_EQ(team.pos.line, 10);
  ASSERT_THAT(team.reps, SizeIs(1));
  const RepDef& carol = team.reps[0];
  EXPECT_EQ(carol.id, "carol");
  EXPECT_EQ(carol.weight, 1);
  EXPECT_EQ(carol.max_open, -1);
  EXPECT_EQ(carol.max_per_day, -1);
  EXPECT_EQ(carol.timezone, "UTC");
  EXPECT_EQ(carol.tz, date::locate_zone("UTC"));
  EXPECT_TRUE(carol.hours.always);
  EXPECT_EQ(carol.pos.line, 11);
  EXPECT_EQ(carol.pos.col, 14);
}

TEST(RoutingLoaderTest, NoRoutingSectionMeansRoutingOff) {
  std::shared_ptr<const RuleSet> rs = Load(kBase);
  ASSERT_NE(rs, nullptr);
  EXPECT_FALSE(rs->routing.enabled);
  EXPECT_EQ(rs->routing.stage_index, -1);
}

TEST(RoutingLoaderTest, EveryStrategyAndBlockAndFlowReps) {
  std::shared_ptr<const RuleSet> rs = Load(WithBase(
      "routing:\n"
      "  stage: sql\n"
      "  account_match: true\n"
      "  sla:\n"
      "    accept_within: 90s\n"
      "    max_reassign: 0\n"
      "  teams:\n"
      "    - {id: a, strategy: weighted_round_robin, reps: [{id: a1, weight: 3}, {id: a2}]}\n"
      "    - id: b\n"
      "      when: traits.employees >= 200 && score.fit > 10\n"
      "      strategy: least_loaded\n"
      "      skill: lower(traits.language)\n"
      "      reps:\n"
      "        - id: b1\n"
      "          max_open: 5\n"
      "          max_per_day: 7\n"
      "          timezone: Europe/Berlin\n"
      "          hours: Mon-Fri 08:30-17:30\n"
      "          skills: [de, en]\n"
      "        - {id: b2@example.com, skills: []}\n"
      "    - {id: c, strategy: round_robin, reps: [{id: C-3.PO_1}]}\n"));
  ASSERT_NE(rs, nullptr);
  const RoutingDef& routing = rs->routing;
  EXPECT_EQ(routing.stage_index, 2);
  EXPECT_TRUE(routing.account_match);
  EXPECT_EQ(routing.sla.accept_within, 90);
  EXPECT_EQ(routing.sla.max_reassign, 0);
  ASSERT_THAT(routing.teams, SizeIs(3));
  EXPECT_EQ(routing.teams[0].strategy, RoutingStrategy::kWeightedRoundRobin);
  EXPECT_EQ(routing.teams[1].strategy, RoutingStrategy::kLeastLoaded);
  EXPECT_EQ(routing.teams[2].strategy, RoutingStrategy::kRoundRobin);
  EXPECT_EQ(RoutingStrategyName(routing.teams[0].strategy), "weighted_round_robin");
  EXPECT_EQ(RoutingStrategyName(routing.teams[1].strategy), "least_loaded");
  EXPECT_EQ(RoutingStrategyName(routing.teams[2].strategy), "round_robin");
  EXPECT_EQ(routing.teams[0].reps[0].weight, 3);
  EXPECT_EQ(routing.teams[0].reps[1].id, "a2");
  const RepDef& b1 = routing.teams[1].reps[0];
  EXPECT_EQ(b1.max_open, 5);
  EXPECT_EQ(b1.max_per_day, 7);
  EXPECT_EQ(b1.tz, date::locate_zone("Europe/Berlin"));
  EXPECT_TRUE(b1.hours.Contains(MinuteOfWeek(0, 8, 30)));
  EXPECT_FALSE(b1.hours.Contains(MinuteOfWeek(0, 17, 30)));
  EXPECT_THAT(b1.skills, ElementsAre(Value::String("de"), Value::String("en")));
  EXPECT_EQ(routing.teams[1].reps[1].id, "b2@example.com");
  EXPECT_EQ(routing.teams[2].reps[0].id, "C-3.PO_1");
  ASSERT_TRUE(routing.teams[1].skill.has_value());
  EXPECT_EQ(routing.teams[1].when.source(), "traits.employees >= 200 && score.fit > 10");
}

TEST(RoutingLoaderTest, ErrorsEachWithLineAndColumn) {
  EXPECT_THAT(
      Errors(WithBase(
          "routing:\n"                                                  // 7
          "  stage: sqll\n"                                             // 8
          "  account_match: yes\n"                                      // 9
          "  sla: {accept_within: 10, max_reassign: -1, timeout: 5}\n"  // 10
          "  teams:\n"                                                  // 11
          "    - id: unrouted\n"                                        // 12
          "      strategy: round_robbin\n"                              // 13
          "      reps: [{id: carol, timezone: America/Nwe_York, hours: \"Mon-Fri 9:00-17:00, "
          "Sat 10:00-25:00\"}]\n"      // 14
          "    - id: t2\n"             // 15
          "      strategy: fastest\n"  // 16
          "      reps: [{id: carol, weight: 0, max_open: 0, max_per_day: 1.5, hours: \"Mnday "
          "09:00-17:00\", skills: en}]\n"  // 17
          "    - id: t2\n"                 // 18
          "      reps: []\n"               // 19
          "    - id: t3\n"                 // 20
          "      skill: [a]\n"             // 21
          "      repz: [{id: x}]\n")),     // 22
      ElementsAre(
          "r.yaml:8:10: unknown stage \"sqll\" (did you mean \"sql\"?)",
          "r.yaml:9:18: account_match must be true or false, got \"yes\"",
          StartsWith("r.yaml:10:24: accept_within: duration \"10\" has no unit"),
          "r.yaml:10:42: max_reassign must be a whole number from 0 to 2147483647, got \"-1\"",
          "r.yaml:10:46: unknown key \"timeout\" in sla (expected one of: accept_within, "
          "max_reassign)",
          "r.yaml:12:11: team id \"unrouted\" is reserved for the queue of leads no team takes; "
          "choose another id",
          "r.yaml:13:17: unknown strategy \"round_robbin\": expected round_robin, "
          "weighted_round_robin or least_loaded (did you mean \"round_robin\"?)",
          "r.yaml:14:36: unknown time zone \"America/Nwe_York\" (did you mean "
          "\"America/New_York\"?)",
          "r.yaml:14:92: hours: invalid time \"25:00\": expected 00:00 to 23:59 or 24:00",
          "r.yaml:16:17: unknown strategy \"fastest\": expected round_robin, weighted_round_robin "
          "or least_loaded",
          "r.yaml:17:19: rep \"carol\" is already in team \"unrouted\" (line 14); a rep belongs "
          "to one team",
          "r.yaml:17:34: weight must be a whole number from 1 to 2147483647, got \"0\"",
          "r.yaml:17:47: max_open must be a whole number from 1 to 2147483647, got \"0\"",
          "r.yaml:17:63: max_per_day must be a whole number from 1 to 2147483647, got \"1.5\"",
          "r.yaml:17:76: hours: unknown day \"Mnday\": expected Mon, Tue, Wed, Thu, Fri, Sat or "
          "Sun",
          "r.yaml:17:104: skills must be a list like [a, b], got \"en\"",
          "r.yaml:18:11: duplicate team id \"t2\" (first defined at line 15)",
          "r.yaml:19:13: reps must be a list of at least one rep (e.g. reps: [{id: carol}]), got "
          "an empty list",
          "r.yaml:20:7: missing required key \"reps\" in team \"t3\"",
          "r.yaml:21:14: skill must be an expression, got a list (quote an expression that "
          "starts with '[' or '{')",
          "r.yaml:22:7: unknown key \"repz\" in team (did you mean \"reps\"?)"));
}

TEST(RoutingLoaderTest, StageMustBeADefinedStageAboveNew) {
  EXPECT_THAT(Errors(WithBase("routing:\n  stage: new\n  teams: [{id: t, reps: [{id: r}]}]\n")),
              ElementsAre("r.yaml:8:10: routing cannot start at stage \"new\" (every lead starts "
                          "there); name a stage defined under stages:"));
  EXPECT_THAT(Errors("routing:\n  stage: sql\n  teams: [{id: t, reps: [{id: r}]}]\n"),
              ElementsAre("r.yaml:2:10: unknown stage \"sql\" (no stages are defined: add them "
                          "under stages:)"));
}

TEST(RoutingLoaderTest, StageAndTeamsAreRequired) {
  EXPECT_THAT(Errors(WithBase("routing:\n  account_match: true\n")),
              ElementsAre("r.yaml:8:3: missing required key \"stage\" in routing",
                          "r.yaml:8:3: missing required key \"teams\" in routing"));
  EXPECT_THAT(Errors(WithBase("routing:\n  stage: sql\n  teams:\n")),
              ElementsAre("r.yaml:9:3: teams must be a list of at least one team, each starting "
                          "with \"- id:\", got no value"));
  EXPECT_THAT(Errors(WithBase("routing:\n  stage: sql\n  teams: [{id: t, reps: [{weight: 2}]}]\n")),
              ElementsAre("r.yaml:9:26: missing required key \"id\" in rep"));
}

TEST(RoutingLoaderTest, RepIdsAreValidated) {
  EXPECT_THAT(Errors(WithBase("routing:\n  stage: sql\n  teams: [{id: t, reps: [{id: a b}]}]\n")),
              ElementsAre("r.yaml:9:31: invalid rep id \"a b\": expected letters, digits, '.', "
                          "'@', '-' and '_'"));
}

TEST(RoutingLoaderTest, TimeZones) {
  for (const char* zone : {"UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"}) {
    std::shared_ptr<const RuleSet> rs = Load(WithBase(
        std::string("routing:\n  stage: sql\n  teams: [{id: t, reps: [{id: r, timezone: ") + zone +
        "}]}]\n"));
    ASSERT_NE(rs, nullptr) << zone;
    EXPECT_EQ(rs->routing.teams[0].reps[0].tz, date::locate_zone(zone));
    EXPECT_EQ(rs->routing.teams[0].reps[0].timezone, zone);
  }
  EXPECT_THAT(
      Errors(WithBase("routing:\n  stage: sql\n  teams:\n"
                      "    - {id: t, reps: [{id: r, timezone: Mars/Olympus_Mons}]}\n"
                      "    - {id: u, reps: [{id: s, timezone: europe/berlin}]}\n"
                      "    - {id: v, reps: [{id: w, timezone: [UTC]}]}\n")),
      ElementsAre("r.yaml:10:40: unknown time zone \"Mars/Olympus_Mons\" (expected an IANA time "
                  "zone name such as America/New_York, Europe/Berlin or UTC)",
                  "r.yaml:11:40: unknown time zone \"europe/berlin\" (did you mean "
                  "\"Europe/Berlin\"?)",
                  "r.yaml:12:40: timezone must be a single value, got a list"));
}

TEST(RoutingLoaderTest, HoursErrorsPointIntoTheString) {
  EXPECT_THAT(
      Errors(WithBase("routing:\n"
                      "  stage: sql\n"
                      "  teams:\n"
                      "    - id: t\n"
                      "      reps:\n"
                      "        - id: r\n"
                      "          hours: Mon-Fri 09:00-17:00, Sat 10:00-12:00 Sun\n"
                      "        - id: s\n"
                      "          hours: 'Mon-Fri 9-17'\n"
                      "        - id: q\n"
                      "          hours: \"\"\n")),
      ElementsAre(
          StartsWith("r.yaml:13:55: hours: expected ',' between hour ranges, found \"Sun\""),
          StartsWith("r.yaml:15:27: hours: expected a time HH:MM, found \"9-17\""),
          StartsWith("r.yaml:17:18: hours: empty hours")));
}

}  // namespace
}  // namespace handoff
