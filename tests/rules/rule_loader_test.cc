#include "rules/rule_loader.h"

#include <date/tz.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "rules/sha256.h"
#include "tests/rules/rule_load_testutil.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::StartsWith;

using ::handoff::testing::Errors;
using ::handoff::testing::Load;

// Lines 1-3; a test's own text starts at line 4.
constexpr std::string_view kScores =
    "scores:\n"
    "  fit: {kind: profile}\n"
    "  eng: {kind: event, half_life: 14d}\n";
std::string WithScores(std::string_view rest) { return std::string(kScores) + std::string(rest); }

bool Holds(const Expression& e) { return e.Test(EvalContext{}); }

constexpr std::string_view kSpecExample = R"(scores:
  fit:        {kind: profile}                 # recomputed from the lead's current traits
  engagement: {kind: event, half_life: 14d}   # accumulated from events, decays; no half_life: no decay

rules:
  - id: senior-title                          # unique, [a-z0-9_-]+
    score: fit
    when: traits.title matches "(?i)\\b(vp|head|chief|director)\\b"
    points: 20
  - id: pricing-page
    score: engagement
    when: type == "page" && properties.path starts_with "/pricing"
    points: 10
    cap: {points: 30, per: 1d}                # at most 30 points from this rule per lead per window
  - id: demo-request
    score: engagement
    when: event == "Demo Requested"
    points: 50
    once: true                                # at most once per lead, ever
  - id: unsubscribed
    score: engagement
    when: event == "Unsubscribed"
    points: -40

stages:                                       # lowest first; every lead starts in stage "new"
  - name: mql
    enter: score.engagement >= 40 || score.fit >= 50
    exit:  score.engagement < 30 && score.fit < 40      # optional; default: !(enter)
  - name: sql
    enter: score.engagement >= 80 && score.fit >= 25
    exit:  score.engagement < 60

routing:
  stage: sql                  # a lead reaching this stage (or above) from below, with no open owner, is routed
  account_match: true         # a lead whose email domain has an owner goes to that owner if eligible
  sla: {accept_within: 10m, max_reassign: 2}
  teams:                      # first team whose `when` holds takes the lead
    - id: enterprise
      when: traits.company.employees >= 1000 || traits.employees >= 1000
      strategy: weighted_round_robin          # round_robin | weighted_round_robin | least_loaded
      skill: lower(traits.language)           # optional: a rep must list this value in skills
      reps:
        - {id: alice, weight: 2, max_open: 25, max_per_day: 10,
           timezone: America/New_York, hours: "Mon-Fri 09:00-17:00", skills: [en, de]}
        - {id: bob, weight: 1}
    - id: everyone-else
      when: true
      strategy: round_robin
      reps: [{id: carol}, {id: dan}]
)";

TEST(RuleLoaderTest, LoadsTheSpecExample) {
  std::shared_ptr<const RuleSet> rs = Load(kSpecExample);
  ASSERT_NE(rs, nullptr);
  ASSERT_THAT(rs->scores, SizeIs(2));
  EXPECT_EQ(rs->scores[0].name, "fit");
  EXPECT_EQ(rs->scores[0].kind, ScoreKind::kProfile);
  EXPECT_EQ(rs->scores[0].half_life, 0);
  EXPECT_EQ(rs->scores[1].name, "engagement");
  EXPECT_EQ(rs->scores[1].kind, ScoreKind::kEvent);
  EXPECT_EQ(rs->scores[1].half_life, 14 * 86400);
  EXPECT_EQ(rs->scores[1].pos.line, 3);
  EXPECT_EQ(rs->scores[1].pos.col, 3);

  ASSERT_THAT(rs->rules, SizeIs(4));
  EXPECT_EQ(rs->rules[0].id, "senior-title");
  EXPECT_EQ(rs->rules[0].score, 0);
  EXPECT_EQ(rs->rules[0].points, 20);
  EXPECT_EQ(rs->rules[0].when.source(),
            R"(traits.title matches "(?i)\\b(vp|head|chief|director)\\b")");
  EXPECT_EQ(rs->rules[0].pos.file, "r.yaml");
  EXPECT_EQ(rs->rules[0].pos.line, 6);
  EXPECT_EQ(rs->rules[0].pos.col, 5);
  ASSERT_TRUE(rs->rules[1].cap.has_value());
  EXPECT_EQ(rs->rules[1].cap->points, 30);
  EXPECT_EQ(rs->rules[1].cap->per, 86400);
  EXPECT_FALSE(rs->rules[1].once);
  EXPECT_TRUE(rs->rules[2].once);
  EXPECT_FALSE(rs->rules[2].cap.has_value());
  EXPECT_EQ(rs->rules[3].points, -40);
  EXPECT_THAT(rs->profile_rules, ElementsAre(0));
  EXPECT_THAT(rs->event_rules, ElementsAre(1, 2, 3));

  ASSERT_THAT(rs->stages, SizeIs(3));
  EXPECT_EQ(rs->stages[0].name, "new");
  EXPECT_EQ(rs->stages[1].name, "mql");
  EXPECT_TRUE(rs->stages[1].has_exit);
  EXPECT_TRUE(rs->stages[1].enter.ok());
  EXPECT_EQ(rs->stages[2].name, "sql");

  const RoutingDef& routing = rs->routing;
  EXPECT_TRUE(routing.enabled);
  EXPECT_EQ(routing.stage, "sql");
  EXPECT_EQ(routing.stage_index, 2);
  EXPECT_TRUE(routing.account_match);
  EXPECT_EQ(routing.sla.accept_within, 600);
  EXPECT_EQ(routing.sla.max_reassign, 2);
  ASSERT_THAT(routing.teams, SizeIs(2));
  const TeamDef& enterprise = routing.teams[0];
  EXPECT_EQ(enterprise.id, "enterprise");
  EXPECT_EQ(enterprise.strategy, RoutingStrategy::kWeightedRoundRobin);
  ASSERT_TRUE(enterprise.skill.has_value());
  EXPECT_EQ(enterprise.skill->source(), "lower(traits.language)");
  ASSERT_THAT(enterprise.reps, SizeIs(2));
  const RepDef& alice = enterprise.reps[0];
  EXPECT_EQ(alice.id, "alice");
  EXPECT_EQ(alice.weight, 2);
  EXPECT_EQ(alice.max_open, 25);
  EXPECT_EQ(alice.max_per_day, 10);
  EXPECT_EQ(alice.timezone, "America/New_York");
  EXPECT_EQ(alice.tz, date::locate_zone("America/New_York"));
  EXPECT_FALSE(alice.hours.always);
  EXPECT_EQ(alice.hours.text, "Mon-Fri 09:00-17:00");
  EXPECT_THAT(alice.hours.intervals, SizeIs(5));
  EXPECT_THAT(alice.skills, ElementsAre(Value::String("en"), Value::String("de")));
  const RepDef& bob = enterprise.reps[1];
  EXPECT_EQ(bob.weight, 1);
  EXPECT_EQ(bob.max_open, -1);
  EXPECT_EQ(bob.max_per_day, -1);
  EXPECT_EQ(bob.timezone, "UTC");
  EXPECT_NE(bob.tz, nullptr);
  EXPECT_TRUE(bob.hours.always);
  EXPECT_THAT(bob.skills, IsEmpty());
  const TeamDef& rest = routing.teams[1];
  EXPECT_EQ(rest.strategy, RoutingStrategy::kRoundRobin);
  EXPECT_FALSE(rest.skill.has_value());
  EXPECT_TRUE(Holds(rest.when));
  ASSERT_THAT(rest.reps, SizeIs(2));
  EXPECT_EQ(rest.reps[0].id, "carol");
  EXPECT_EQ(rest.reps[1].id, "dan");

  EXPECT_EQ(rs->path, "r.yaml");
  EXPECT_EQ(rs->sha256, Sha256Hex(kSpecExample));
  EXPECT_EQ(rs->FindScore("engagement"), 1);
  EXPECT_EQ(rs->FindScore("nope"), -1);
  EXPECT_EQ(rs->FindStage("new"), 0);
  EXPECT_EQ(rs->FindStage("sql"), 2);
  EXPECT_EQ(rs->FindRule("demo-request"), 2);
  EXPECT_EQ(rs->FindRule("nope"), -1);
}

TEST(RuleLoaderTest, DefaultExampleLoadsClean) {
  LoadResult r = LoadRules(testing::SourceDir() + "/rules/examples/default.yaml");
  for (const LoadError& e : r.errors) {
    ADD_FAILURE() << e.ToString();
  }
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.rules->scores.size(), 2u);
  EXPECT_GE(r.rules->rules.size(), 15u);
  EXPECT_TRUE(r.rules->routing.enabled);
  EXPECT_GE(r.rules->routing.teams.size(), 2u);
}

TEST(RuleLoaderTest, EmptyInputIsAnEmptyRuleSet) {
  for (std::string_view text : {"", "# only a comment\n", "---\n", "scores:\nrules:\n"}) {
    std::shared_ptr<const RuleSet> rs = Load(text);
    ASSERT_NE(rs, nullptr) << text;
    EXPECT_THAT(rs->rules, IsEmpty());
    ASSERT_THAT(rs->stages, SizeIs(1));
    EXPECT_EQ(rs->stages[0].name, "new");
    EXPECT_FALSE(rs->routing.enabled);
  }
}

// ---- YAML structure ----

TEST(RuleLoaderTest, YamlSyntaxErrorHasAPosition) {
  EXPECT_THAT(Errors("scores: {fit: {kind: profile}\n"),
              ElementsAre("r.yaml:2:1: YAML syntax error: end of map flow not found"));
  EXPECT_THAT(Errors("rules:\n  - id: a\n   score: b\n"),
              ElementsAre("r.yaml:3:4: YAML syntax error: end of sequence not found"));
}

// Found by a black-box review: a NUL in a rule file was blamed on the next line, with the byte in
// the message, or read with the letter after it ("unknown key \"ules\""). YAML allows no control
// character but tab, line feed and carriage return; the error is at the character.
TEST(RuleLoaderTest, AControlCharacterIsASyntaxErrorAtItsPlace) {
  using namespace std::string_literals;
  EXPECT_THAT(
      Errors("scores:\n  s: {kind: event}\n\0\n"s),
      ElementsAre("r.yaml:3:1: YAML syntax error: control character U+0000 is not allowed"));
  EXPECT_THAT(
      Errors("scores:\n  s: {kind: event}\n\0rules: []\n"s),
      ElementsAre("r.yaml:3:1: YAML syntax error: control character U+0000 is not allowed"));
  EXPECT_THAT(
      Errors("scores:\n  s: {kind: ev\x01"
             "ent}\n"),
      ElementsAre("r.yaml:2:15: YAML syntax error: control character U+0001 is not allowed"));
  EXPECT_THAT(
      Errors("scores: {}\x7f\n"),
      ElementsAre("r.yaml:1:11: YAML syntax error: control character U+007F is not allowed"));
  // Tab, carriage return and line feed are YAML's own.
  EXPECT_THAT(Errors("scores:\r\n  s: {kind:\tevent}\r\n"), IsEmpty());
}

// Found by a black-box review: bytes that are not UTF-8 were read as they were, and a message
// quoting them made the 422 of POST /v1/rules/validate invalid JSON. YAML is Unicode text: the
// first such byte is a syntax error at its place.
TEST(RuleLoaderTest, AByteThatIsNotUtf8IsASyntaxErrorAtItsPlace) {
  EXPECT_THAT(Errors("scores:\n  e: {kind: \xff}\n"),
              ElementsAre("r.yaml:2:13: YAML syntax error: byte 0xFF is not UTF-8 (a rule file is "
                          "UTF-8 text)"));
  // After characters of two, three and four bytes (a column is a character); and in a comment.
  EXPECT_THAT(Errors("# caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc3\n"),
              ElementsAre("r.yaml:1:12: YAML syntax error: byte 0xC3 is not UTF-8 (a rule file is "
                          "UTF-8 text)"));
  EXPECT_THAT(Errors("# caf\xc3\xa9 \xf0\x9f\x98\x80\nscores: {}\n"), IsEmpty());
}

// Found by a black-box review: with a byte-order mark first, yaml-cpp's positions were three
// columns short on every line, and a flow map's quoted scalar was read from the wrong bytes (a
// valid file failed). The mark is not part of the document: the file reads as without it.
TEST(RuleLoaderTest, AByteOrderMarkFirstIsNotPartOfTheFile) {
  const std::string bom = "\xEF\xBB\xBF";
  const std::string flow =
      "scores:\n  e: {kind: event}\nrules:\n  - {id: a, score: e, when: 'true', points: 1}\n";
  EXPECT_THAT(Errors(bom + flow), IsEmpty());
  const std::string bad =
      "scores:\n  e: {kind: event, half_life: 0d}\nrules:\n  - id: a\n    score: e\n"
      "    when: foo(1)\n    points: x\n";
  EXPECT_THAT(Errors(bom + bad), ElementsAreArray(Errors(bad)));
  EXPECT_THAT(Errors(bom + "scores: [\n"), ElementsAreArray(Errors("scores: [\n")));
}

// Found by a black-box review: a line indented with a tab was blamed at its colon ("illegal map
// value"); the error is at the tab and says why.
TEST(RuleLoaderTest, ATabIndentingALineIsTheErrorAtTheTab) {
  EXPECT_THAT(Errors("scores:\n\ts: {kind: event}\n"),
              ElementsAre("r.yaml:2:1: YAML syntax error: a tab indents this line (YAML indents "
                          "with spaces only)"));
  EXPECT_THAT(Errors("scores:\n  \ts: {kind: event}\n"),
              ElementsAre("r.yaml:2:3: YAML syntax error: a tab indents this line (YAML indents "
                          "with spaces only)"));
  // A tab after the indentation is not blamed; a syntax error elsewhere keeps yaml-cpp's words.
  EXPECT_THAT(Errors("scores:\n  s:\t{kind: event}\n"), IsEmpty());
  EXPECT_THAT(Errors("scores: {fit: {kind: profile}\n"),
              ElementsAre("r.yaml:2:1: YAML syntax error: end of map flow not found"));
}

// Found by a black-box review: yaml-cpp 0.7 takes a quoted string that runs to the end of the
// file as if it were closed there, so `when: "true` on the last line loaded and awarded points.
TEST(RuleLoaderTest, AQuotedStringWithoutItsClosingQuoteIsASyntaxError) {
  constexpr std::string_view kHead =
      "scores:\n  fit: {kind: profile}\nrules:\n  - id: a\n    score: fit\n    points: 1\n";
  for (std::string_view unclosed : {"    when: \"true\n", "    when: 'true\n",
                                    "    when: \"true\\\"\n", "    when: 'it''s\n"}) {
    EXPECT_THAT(Errors(std::string(kHead) + std::string(unclosed)),
                ElementsAre(StartsWith("r.yaml:7:11: YAML syntax error: end of file inside a "
                                       "quoted string")))
        << unclosed;
  }
  // Closed ones load, whatever they hold: escapes, '' in single quotes, a later line, a quote in
  // a comment after them.
  for (std::string_view closed :
       {"    when: \"traits.t == \\\"a\\\\\\\\\\\"\" # \"\n", "    when: 'traits.t == \"it''s\"'\n",
        "    when: \"traits.t ==\n      \\\"x\\\"\"\n"}) {
    EXPECT_THAT(Errors(std::string(kHead) + std::string(closed)), IsEmpty()) << closed;
  }
}

TEST(RuleLoaderTest, TopLevelMustBeAMapOfKnownSections) {
  EXPECT_THAT(Errors("- a\n- b\n"),
              ElementsAre("r.yaml:1:1: the rule file must be a map (keys: scores, rules, stages, "
                          "routing), got a list"));
  EXPECT_THAT(Errors("rule:\n  - id: a\nfoo: 1\n"),
              ElementsAre("r.yaml:1:1: unknown key \"rule\" in the rule file (did you mean "
                          "\"rules\"?)",
                          "r.yaml:3:1: unknown key \"foo\" in the rule file (expected one of: "
                          "scores, rules, stages, routing)"));
}

TEST(RuleLoaderTest, OneDocumentPerFile) {
  // The position is the `---` that starts the second document.
  EXPECT_THAT(Errors("rules: []\n---\nstages: []\n"),
              ElementsAre(StartsWith("r.yaml:2:1: a rule file holds one YAML document")));
  EXPECT_THAT(Errors("---\nrules: []\n\n--- # more\nstages: []\n"),
              ElementsAre(StartsWith("r.yaml:4:1: a rule file holds one YAML document")));
}

// Found by fuzz/rule_file_fuzzer.cc: with yaml-cpp 0.7, YAML::LoadAll never returned on a ','
// outside a flow collection (its parser repeats an empty document there), eating memory until the
// process died; a POST /v1/rules/validate of ", a: s" took the daemon down. A syntax error now.
TEST(RuleLoaderTest, StrayCommaIsASyntaxErrorNotAHang) {
  EXPECT_THAT(Errors(", 4ccount_maywhen: s\n"),
              ElementsAre("r.yaml:1:1: YAML syntax error: unexpected ','"));
  EXPECT_THAT(Errors(","), ElementsAre("r.yaml:1:1: YAML syntax error: unexpected ','"));
  // After a first document, the stuck parser is a second document (already an error).
  EXPECT_THAT(Errors("rules: []\n...\n,\n"),
              ElementsAre(StartsWith("r.yaml:3:1: a rule file holds one YAML document")));
  // Empty documents that do move on are still just documents.
  EXPECT_THAT(Errors("---\n---\n"),
              ElementsAre(StartsWith("r.yaml:2:1: a rule file holds one YAML document")));
  EXPECT_THAT(Errors("# only a comment\n"), ElementsAre());
}

TEST(RuleLoaderTest, DuplicateKeys) {
  EXPECT_THAT(Errors("rules: []\nstages: []\nrules: []\n"),
              ElementsAre("r.yaml:3:1: duplicate key \"rules\" in the rule file (first given at "
                          "line 1)"));
}

TEST(RuleLoaderTest, SectionsOfTheWrongType) {
  EXPECT_THAT(Errors("scores: [fit]\nrules: {id: a}\nstages: mql\nrouting: [a]\n"),
              ElementsAre(StartsWith("r.yaml:1:9: scores must be a map of score name to "
                                     "definition"),
                          "r.yaml:2:8: rules must be a list of rules, each starting with \"- "
                          "id:\", got a map",
                          StartsWith("r.yaml:3:9: stages must be a list of stages"),
                          StartsWith("r.yaml:4:10: routing must be a map (keys: stage, "
                                     "account_match, sla, teams), got a list")));
}

// ---- scores ----

// Score and stage names may use capitals (the spec is silent; MQL and SQL are how marketing
// teams write them), compared as written.
TEST(RuleLoaderTest, CapitalsInScoreAndStageNames) {
  std::shared_ptr<const RuleSet> rules = Load(
      "scores:\n"
      "  Engagement: {kind: event}\n"
      "rules:\n"
      "  - id: demo\n"
      "    score: Engagement\n"
      "    when: event == \"Demo\"\n"
      "    points: 50\n"
      "stages:\n"
      "  - name: MQL\n"
      "    enter: score.Engagement >= 40\n"
      "  - name: Sales-Qualified\n"
      "    enter: score.Engagement >= 80 && lead.stage == \"MQL\"\n");
  ASSERT_NE(rules, nullptr);
  EXPECT_GE(rules->FindScore("Engagement"), 0);
  EXPECT_LT(rules->FindScore("engagement"), 0);
  EXPECT_GE(rules->FindStage("MQL"), 0);
  EXPECT_GE(rules->FindStage("Sales-Qualified"), 0);
}

TEST(RuleLoaderTest, ScoreErrors) {
  EXPECT_THAT(
      Errors("scores:\n"
             "  fit: {kind: profile, half_life: 3d}\n"
             "  eng: {kind: evnt}\n"
             "  9lives: {kind: event}\n"
             "  in: {kind: event}\n"
             "  fit: {kind: event}\n"
             "  x: profile\n"
             "  y: {half_life: 1d, decay: 2}\n"
             "  z: {kind: event, half_life: 14}\n"),
      ElementsAre(
          "r.yaml:2:24: half_life is only for event scores; \"fit\" is a profile score "
          "(recomputed from traits, it does not decay)",
          "r.yaml:3:15: kind must be \"profile\" or \"event\", got \"evnt\" (did you mean "
          "\"event\"?)",
          StartsWith("r.yaml:4:3: invalid score name \"9lives\": expected letters"),
          "r.yaml:5:3: invalid score name \"in\": it is a keyword of the expression language",
          "r.yaml:6:3: duplicate score \"fit\" (first defined at line 2)",
          "r.yaml:7:6: score must be a map (keys: kind, half_life), got \"profile\"",
          "r.yaml:8:6: missing required key \"kind\" in score \"y\"",
          "r.yaml:8:22: unknown key \"decay\" in score (expected one of: kind, half_life)",
          "r.yaml:9:31: half_life: duration \"14\" has no unit: expected a positive whole number "
          "followed by a unit s, m, h, d or w (e.g. 90s, 10m, 14d)"));
}

// ---- rules ----

TEST(RuleLoaderTest, UnknownKeySuggestsTheNearest) {
  EXPECT_THAT(Errors(WithScores("rules:\n"
                                "  - id: a\n"
                                "    score: eng\n"
                                "    when: true\n"
                                "    points: 1\n"
                                "    pionts: 3\n")),
              ElementsAre("r.yaml:9:5: unknown key \"pionts\" in rule (did you mean "
                          "\"points\"?)"));
}

// SPEC 5.2: `cap` and `once` are load errors on a profile rule, whatever their value.
TEST(RuleLoaderTest, OnceOnAProfileRuleIsAnErrorEvenWhenFalse) {
  EXPECT_THAT(Errors(WithScores("rules:\n"          // 4
                                "  - id: a\n"       // 5
                                "    score: fit\n"  // 6
                                "    when: true\n"  // 7
                                "    points: 1\n"   // 8
                                "    once: false\n")),
              ElementsAre("r.yaml:9:5: once is only for rules of event scores; \"fit\" is a "
                          "profile score"));
}

TEST(RuleLoaderTest, RuleErrorsEachWithLineAndColumn) {
  EXPECT_THAT(
      Errors(WithScores("rules:\n"                         // 4
                        "  - id: Pricing Page\n"           // 5
                        "    score: engagment\n"           // 6
                        "    when: true\n"                 // 7
                        "    points: ten\n"                // 8
                        "  - id: b\n"                      // 9
                        "    score: eng\n"                 // 10
                        "    when:\n"                      // 11
                        "    points: \"5\"\n"              // 12
                        "    once: yes\n"                  // 13
                        "  - id: b\n"                      // 14
                        "    score: fit\n"                 // 15
                        "    when: true\n"                 // 16
                        "    points: 1\n"                  // 17
                        "    cap: {points: 5, per: 1d}\n"  // 18
                        "    once: true\n"                 // 19
                        "  - score: eng\n"                 // 20
                        "  - just a string\n"              // 21
                        "  - id: c\n"                      // 22
                        "    score: [eng]\n"               // 23
                        "    when: {a: 1}\n"               // 24
                        "    points: 1\n")),               // 25
      ElementsAre(
          "r.yaml:5:9: invalid rule id \"Pricing Page\": expected lowercase letters, digits, "
          "'-' and '_'",
          "r.yaml:6:12: unknown score \"engagment\"",
          "r.yaml:8:13: points must be a number, got \"ten\"",
          "r.yaml:11:5: when has no value: expected an expression (write true to always hold)",
          "r.yaml:12:13: points must be a number, got the string \"5\" (remove the quotes)",
          "r.yaml:13:11: once must be true or false, got \"yes\"",
          "r.yaml:14:9: duplicate rule id \"b\" (first defined at line 9)",
          "r.yaml:18:5: cap is only for rules of event scores; \"fit\" is a profile score",
          "r.yaml:19:5: once is only for rules of event scores; \"fit\" is a profile score",
          "r.yaml:20:5: missing required key \"id\" in rule",
          "r.yaml:20:5: missing required key \"when\" in rule",
          "r.yaml:20:5: missing required key \"points\" in rule",
          "r.yaml:21:5: rule must be a map (keys: id, score, when, points, cap, once), got \"just "
          "a string\"",
          "r.yaml:23:12: score must be a single value, got a list",
          "r.yaml:24:11: when must be an expression, got a map (quote an expression that starts "
          "with '[' or '{')"));
}

TEST(RuleLoaderTest, UnknownScoreWithNoScoresDefined) {
  EXPECT_THAT(Errors("rules:\n  - {id: a, score: fit, when: true, points: 1}\n"),
              ElementsAre("r.yaml:2:20: unknown score \"fit\" (no scores are defined: add one "
                          "under scores:)"));
}

TEST(RuleLoaderTest, CapErrors) {
  EXPECT_THAT(
      Errors(
          WithScores("rules:\n"
                     "  - {id: a, score: eng, when: true, points: 1, cap: {points: 0, per: 1.5h}}\n"
                     "  - {id: b, score: eng, when: true, points: 1, cap: {points: 5}}\n"
                     "  - {id: c, score: eng, when: true, points: 1, cap: {points: 5, per: 1d, "
                     "pre: 2}}\n"
                     "  - {id: d, score: eng, when: true, points: 1, cap: 30}\n")),
      ElementsAre(
          "r.yaml:5:62: cap points must be greater than 0, got \"0\"",
          "r.yaml:5:70: per: duration \"1.5h\" is not a whole number: expected a positive whole "
          "number followed by a unit s, m, h, d or w (e.g. 90s, 10m, 14d); use a smaller unit "
          "instead of a fraction",
          "r.yaml:6:53: missing required key \"per\" in cap",
          "r.yaml:7:74: unknown key \"pre\" in cap (did you mean \"per\"?)",
          "r.yaml:8:53: cap must be a map (keys: points, per), got \"30\""));
}

TEST(RuleLoaderTest, ConstantsWhereAnExpressionIsExpected) {
  std::shared_ptr<const RuleSet> rs =
      Load(WithScores("rules:\n"
                      "  - {id: a, score: eng, when: true, points: 1}\n"
                      "  - {id: b, score: eng, when: TRUE, points: 1}\n"
                      "  - {id: c, score: eng, when: False, points: 1}\n"
                      "  - {id: d, score: eng, when: ~, points: 1}\n"
                      "  - {id: e, score: eng, when: 1, points: 1}\n"
                      "  - {id: f, score: eng, when: \"true\", points: 1}\n"
                      "  - {id: g, score: eng, when: null, points: 1}\n"
                      "  - {id: h, score: eng, when: 0x10, points: 0x10}\n"
                      "  - {id: i, score: eng, when: 0o7, points: 1}\n"
                      "  - {id: j, score: eng, when: .inf, points: 1}\n"
                      "  - {id: k, score: eng, when: -.Inf, points: 1}\n"
                      "  - {id: l, score: eng, when: .NaN, points: 1}\n"));
  ASSERT_NE(rs, nullptr);
  ASSERT_EQ(rs->rules.size(), 12u);
  for (size_t i = 7; i < rs->rules.size(); ++i) {  // YAML 1.2 numbers, none of them true
    EXPECT_FALSE(Holds(rs->rules[i].when)) << rs->rules[i].id;
  }
  EXPECT_EQ(rs->rules[7].points, 16);
  EXPECT_TRUE(Holds(rs->rules[0].when));
  EXPECT_TRUE(Holds(rs->rules[1].when));
  EXPECT_FALSE(Holds(rs->rules[2].when));
  EXPECT_FALSE(Holds(rs->rules[3].when));
  EXPECT_FALSE(Holds(rs->rules[4].when));  // the number 1 is not the boolean true
  EXPECT_TRUE(Holds(rs->rules[5].when));   // compiled: the literal true
  EXPECT_FALSE(Holds(rs->rules[6].when));
  for (const RuleDef& rule : rs->rules) {
    EXPECT_TRUE(rule.when.ok()) << rule.id;
  }
}

TEST(RuleLoaderTest, BlockScalarExpressionsCompile) {
  std::shared_ptr<const RuleSet> rs =
      Load(WithScores("rules:\n"
                      "  - id: a\n"
                      "    score: eng\n"
                      "    when: |\n"
                      "      type == \"page\" &&\n"
                      "        properties.path starts_with \"/x\"\n"
                      "    points: 1\n"));
  ASSERT_NE(rs, nullptr);
  EXPECT_TRUE(rs->rules[0].when.ok());
}

TEST(RuleLoaderTest, ExpressionStartingWithBangMustBeQuoted) {
  EXPECT_THAT(Errors(WithScores("rules:\n"
                                "  - id: a\n"
                                "    score: eng\n"
                                "    when: !exists(traits.email)\n"
                                "    points: 1\n")),
              ElementsAre(StartsWith("r.yaml:7:11: when: YAML reads \"!exists(traits.email)\" as "
                                     "a tag; quote an expression that starts with '!'")));
  EXPECT_NE(Load(WithScores("rules:\n"
                            "  - id: a\n"
                            "    score: eng\n"
                            "    when: '!exists(traits.email)'\n"
                            "    points: 1\n")),
            nullptr);
}

// Expression errors point at the offending token in the file, whatever the scalar's style.
TEST(RuleLoaderTest, ExpressionErrorPositionsInPlainScalars) {
  // The SPEC's regex example with a missing parenthesis: the column of the pattern's quote.
  EXPECT_THAT(Errors(WithScores("rules:\n"
                                "  - id: a\n"
                                "    score: fit\n"
                                "    when: traits.title matches \"(?i)\\\\b(vp|head\\\\b\"\n"
                                "    points: 1\n")),
              ElementsAre(StartsWith("r.yaml:7:32: ")));
  EXPECT_THAT(Errors(WithScores("rules:\n"
                                "  - {id: a, score: eng, when: event == \"x\" && lowr(type), "
                                "points: 1}\n")),
              ElementsAre(StartsWith("r.yaml:5:47: ")));
}

TEST(RuleLoaderTest, ExpressionErrorPositionsInQuotedScalars) {
  // Double-quoted: `\\` and `\"` are two source characters for one character of the expression.
  // The expression is: traits.title matches "(?i)\\b(vp" && foo(1)
  EXPECT_THAT(Errors(WithScores("rules:\n"
                                "  - id: a\n"
                                "    score: fit\n"
                                "    when: \"traits.title matches \\\"(?i)\\\\\\\\b(vp\\\" && "
                                "foo(1)\"\n"
                                "    points: 1\n")),
              ElementsAre(StartsWith("r.yaml:7:33: "), StartsWith("r.yaml:7:53: ")));
  // Single-quoted: '' is one quote.
  EXPECT_THAT(Errors(WithScores("rules:\n"
                                "  - id: a\n"
                                "    score: eng\n"
                                "    when: 'event == \"it''s\" && lowr(type)'\n"
                                "    points: 1\n")),
              ElementsAre(StartsWith("r.yaml:7:32: ")));
}

TEST(RuleLoaderTest, ExpressionErrorPositionsInBlockScalars) {
  EXPECT_THAT(Errors(WithScores("rules:\n"
                                "  - id: a\n"
                                "    score: eng\n"
                                "    when: |\n"
                                "      type == \"page\" &&\n"
                                "        properties.path startswith \"/x\"\n"
                                "    points: 1\n")),
              ElementsAre(StartsWith("r.yaml:9:25: ")));
  EXPECT_THAT(Errors(WithScores("rules:\n"
                                "  - id: a\n"
                                "    score: eng\n"
                                "    when: >-  # folded\n"
                                "      type == \"page\" &&\n"
                                "      lowr(properties.path) == \"/x\"\n"
                                "    points: 1\n")),
              ElementsAre(StartsWith("r.yaml:9:7: ")));
}

TEST(RuleLoaderTest, ProfileRulesCannotReadEvents) {
  EXPECT_THAT(
      Errors(WithScores("rules:\n"
                        "  - {id: a, score: fit, when: type == \"page\", points: 1}\n"
                        "  - {id: b, score: fit, when: traits.x == score.eng, points: 1}\n")),
      ElementsAre(StartsWith("r.yaml:5:31: "), StartsWith("r.yaml:6:43: ")));
  // The same paths are fine in an event rule.
  EXPECT_NE(Load(WithScores("rules:\n"
                            "  - {id: a, score: eng, when: type == \"page\", points: 1}\n")),
            nullptr);
}

TEST(RuleLoaderTest, ColumnsCountCharactersNotBytes) {
  EXPECT_THAT(Errors(WithScores("rules:\n"
                                "  - {id: a, score: eng, when: event == \"café\" && lowr(type), "
                                "points: 1}\n")),
              ElementsAre(StartsWith("r.yaml:5:50: ")));
}

TEST(RuleLoaderTest, WindowsLineEndings) {
  EXPECT_THAT(Errors("scores:\r\n  eng: {kind: event}\r\nrules:\r\n  - id: a\r\n    score: eng\r\n"
                     "    when: true\r\n    pionts: 1\r\n"),
              ElementsAre("r.yaml:4:5: missing required key \"points\" in rule \"a\"",
                          "r.yaml:7:5: unknown key \"pionts\" in rule (did you mean \"points\"?)"));
}

TEST(RuleLoaderTest, ReportsEveryErrorInOnePass) {
  std::vector<std::string> errors =
      Errors(WithScores("rules:\n"
                        "  - {id: a, score: eng, when: type ==, points: 1}\n"
                        "  - {id: b, score: eng, when: true, points: x}\n"
                        "  - {id: c, score: nope, when: true, points: 1}\n"
                        "stages:\n"
                        "  - {name: mql, enter: score.nope > 1}\n"
                        "routing:\n"
                        "  stage: sql\n"
                        "  teams: [{id: t, reps: [{id: r, weight: 0}]}]\n"));
  ASSERT_THAT(errors, SizeIs(6));
  EXPECT_THAT(errors[0], StartsWith("r.yaml:5:"));
  EXPECT_THAT(errors[1], StartsWith("r.yaml:6:"));
  EXPECT_THAT(errors[2], StartsWith("r.yaml:7:"));
  EXPECT_THAT(errors[3], StartsWith("r.yaml:9:"));
  EXPECT_THAT(errors[4], StartsWith("r.yaml:11:10: unknown stage \"sql\""));
  EXPECT_THAT(errors[5], StartsWith("r.yaml:12:42: weight must be"));
}

// ---- stages ----

TEST(RuleLoaderTest, StageErrors) {
  EXPECT_THAT(
      Errors(WithScores("stages:\n"                        // 4
                        "  - name: new\n"                  // 5
                        "    enter: true\n"                // 6
                        "  - name: mql\n"                  // 7
                        "    enter: score.eng > 10\n"      // 8
                        "  - name: mql\n"                  // 9
                        "    enter: true\n"                // 10
                        "  - name: Sales Qualified\n"      // 11
                        "    enter: true\n"                // 12
                        "  - name: sql\n"                  // 13
                        "    exit: score.eng < 1\n"        // 14
                        "    enetr: true\n"                // 15
                        "  - name: opp\n"                  // 16
                        "    enter: traits.x > 1\n"        // 17
                        "    exit: properties.x > 1\n")),  // 18
      ElementsAre(
          "r.yaml:5:11: stage \"new\" is implicit (every lead starts there) and cannot be "
          "defined; define the stages above it",
          "r.yaml:9:11: duplicate stage \"mql\" (first defined at line 7)",
          "r.yaml:11:11: invalid stage name \"Sales Qualified\": expected letters, digits, '-' "
          "and '_'",
          "r.yaml:13:5: missing required key \"enter\" in stage \"sql\"",
          "r.yaml:15:5: unknown key \"enetr\" in stage (did you mean \"enter\"?)",
          StartsWith("r.yaml:18:11: ")));
}

TEST(RuleLoaderTest, StagesInOrderWithOptionalExit) {
  std::shared_ptr<const RuleSet> rs =
      Load(WithScores("stages:\n"
                      "  - {name: mql, enter: score.eng >= 40}\n"
                      "  - {name: sql, enter: score.eng >= 80, exit: score.eng < 60}\n"));
  ASSERT_NE(rs, nullptr);
  ASSERT_THAT(rs->stages, SizeIs(3));
  EXPECT_EQ(rs->stages[1].name, "mql");
  EXPECT_FALSE(rs->stages[1].has_exit);
  EXPECT_EQ(rs->stages[1].pos.line, 5);
  EXPECT_EQ(rs->stages[2].name, "sql");
  EXPECT_TRUE(rs->stages[2].has_exit);
  EXPECT_EQ(rs->stages[2].exit.source(), "score.eng < 60");
}

// ---- files and directories ----

TEST(RuleLoaderTest, MissingPath) {
  LoadResult r = LoadRules("/nonexistent/rules.yaml");
  EXPECT_FALSE(r.ok());
  ASSERT_THAT(r.errors, SizeIs(1));
  EXPECT_EQ(r.errors[0].line, 0);
  EXPECT_THAT(r.errors[0].ToString(), StartsWith("/nonexistent/rules.yaml: cannot read rules: "));
}

TEST(RuleLoaderTest, SingleFileRecordsPathAndDigest) {
  testing::TempDir dir;
  const std::string text = WithScores("rules:\n  - {id: a, score: eng, when: true, points: 1}\n");
  const std::string path = dir.WriteFile("rules.yaml", text);
  LoadResult r = LoadRules(path);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.rules->path, path);
  EXPECT_EQ(r.rules->sha256, Sha256Hex(text));
}

TEST(RuleLoaderTest, DirectoryConcatenatesListsInLexicalOrder) {
  testing::TempDir dir;
  const std::string b =
      "rules:\n  - {id: b1, score: eng, when: true, points: 2}\n"
      "stages:\n  - {name: sql, enter: score.eng > 80}\n";
  const std::string a = std::string(kScores) +
                        "rules:\n  - {id: a1, score: fit, when: true, points: 1}\n"
                        "stages:\n  - {name: mql, enter: score.eng > 40}\n"
                        "routing:\n  stage: sql\n  teams: [{id: t, reps: [{id: r}]}]\n";
  const std::string c = "rules:\n  - {id: c1, score: eng, when: true, points: 3}\n";
  dir.WriteFile("b.yaml", b);
  dir.WriteFile("a.yaml", a);
  dir.WriteFile("c.yaml", c);
  dir.WriteFile("notes.txt", "rules: [broken");
  dir.WriteFile("d.yml", "rules: [broken");
  dir.WriteFile(".hidden.yaml", "rules: [broken");
  std::filesystem::create_directory(dir.path() + "/sub.yaml");
  LoadResult r = LoadRules(dir.path());
  for (const LoadError& e : r.errors) {
    ADD_FAILURE() << e.ToString();
  }
  ASSERT_TRUE(r.ok());
  const RuleSet& rs = *r.rules;
  ASSERT_THAT(rs.rules, SizeIs(3));
  EXPECT_EQ(rs.rules[0].id, "a1");
  EXPECT_EQ(rs.rules[1].id, "b1");
  EXPECT_EQ(rs.rules[2].id, "c1");
  EXPECT_EQ(rs.rules[1].pos.file, dir.path() + "/b.yaml");
  ASSERT_THAT(rs.stages, SizeIs(3));
  EXPECT_EQ(rs.stages[1].name, "mql");
  EXPECT_EQ(rs.stages[2].name, "sql");
  EXPECT_EQ(rs.routing.stage_index, 2);
  EXPECT_THAT(rs.profile_rules, ElementsAre(0));
  EXPECT_EQ(rs.path, dir.path());
  Sha256 sha;
  for (const auto& [name, text] : {std::pair{"a.yaml", a}, {"b.yaml", b}, {"c.yaml", c}}) {
    sha.Update(name);
    sha.Update(std::string_view("\0", 1));
    sha.Update(text);
  }
  EXPECT_EQ(rs.sha256, sha.HexDigest());
}

TEST(RuleLoaderTest, DirectoryMapSectionInOneFileOnly) {
  testing::TempDir dir;
  dir.WriteFile("a.yaml", std::string(kScores));
  dir.WriteFile("b.yaml", "# more scores\nscores:\n  other: {kind: event}\n");
  LoadResult r = LoadRules(dir.path());
  EXPECT_FALSE(r.ok());
  ASSERT_THAT(r.errors, SizeIs(1));
  EXPECT_EQ(r.errors[0].ToString(),
            dir.path() + "/b.yaml:2:1: section \"scores\" is already defined in " + dir.path() +
                "/a.yaml:1; a map section may appear in one file only");
}

TEST(RuleLoaderTest, DirectoryMapSectionInASecondFileHasItsOwnErrorsReportedToo) {
  testing::TempDir dir;
  dir.WriteFile("a.yaml", std::string(kScores) +
                              "stages:\n  - {name: sql, enter: score.eng >= 1}\n"
                              "routing:\n  stage: sql\n  teams: [{id: t, reps: [{id: r}]}]\n");
  // Its second section and the errors inside both sections: all of them at once (SPEC 5), and
  // no error for a rule using the score that section defines.
  dir.WriteFile("b.yaml",
                "scores:\n  other: {kind: event, half_life: 14}\n"
                "rules:\n  - {id: o, score: other, when: true, points: 1}\n"
                "routing:\n  stage: nosuch\n  teams: [{id: u, reps: [{id: s}]}]\n");
  LoadResult r = LoadRules(dir.path());
  EXPECT_EQ(r.rules, nullptr);
  std::vector<std::string> errors;
  for (const LoadError& e : r.errors) {
    errors.push_back(e.ToString());
  }
  const std::string b = dir.path() + "/b.yaml:";
  ASSERT_THAT(errors, SizeIs(4)) << ::testing::PrintToString(errors);
  EXPECT_THAT(errors[0], ::testing::StartsWith(b + "1:1: section \"scores\" is already defined"));
  EXPECT_THAT(errors[1], ::testing::StartsWith(b + "2:35: half_life"));
  EXPECT_THAT(errors[2], ::testing::StartsWith(b + "5:1: section \"routing\" is already defined"));
  EXPECT_THAT(errors[3], ::testing::StartsWith(b + "6:10: "));
}

TEST(RuleLoaderTest, DirectoryOneBadFileRejectsAllAndErrorsComeInFileOrder) {
  testing::TempDir dir;
  dir.WriteFile("a.yaml", std::string(kScores) + "rules:\n  - {id: x, score: eng, when: true}\n");
  dir.WriteFile("b.yaml",
                "rules:\n  - {id: y, score: eng, when: true, points: 1}\n"
                "  - {id: x, score: eng, when: true, points: 1}\n");
  dir.WriteFile("c.yaml", "rules: [oops\n");
  LoadResult r = LoadRules(dir.path());
  EXPECT_EQ(r.rules, nullptr);
  std::vector<std::string> errors;
  for (const LoadError& e : r.errors) {
    errors.push_back(e.ToString());
  }
  EXPECT_THAT(errors,
              ElementsAre(dir.path() + "/a.yaml:5:5: missing required key \"points\" in rule "
                                       "\"x\"",
                          StartsWith(dir.path() +
                                     "/b.yaml:3:10: duplicate rule id \"x\" (first "
                                     "defined at " +
                                     dir.path() + "/a.yaml:5)"),
                          StartsWith(dir.path() + "/c.yaml:2:1: YAML syntax error: ")));
}

TEST(RuleLoaderTest, DirectoryWithABrokenSymlinkIsAnError) {
  testing::TempDir dir;
  dir.WriteFile("a.yaml", std::string(kScores) + "rules: []\n");
  std::filesystem::create_symlink(dir.path() + "/gone.yaml", dir.path() + "/b.yaml");
  LoadResult r = LoadRules(dir.path());
  EXPECT_EQ(r.rules, nullptr);
  ASSERT_THAT(r.errors, SizeIs(1));
  EXPECT_THAT(r.errors[0].ToString(), StartsWith(dir.path() + "/b.yaml: "));
}

TEST(RuleLoaderTest, EmptyDirectoryIsAnError) {
  testing::TempDir dir;
  dir.WriteFile("readme.txt", "not rules");
  LoadResult r = LoadRules(dir.path());
  ASSERT_THAT(r.errors, SizeIs(1));
  EXPECT_EQ(r.errors[0].ToString(), dir.path() + ": no *.yaml rule files in the directory");
}

TEST(RuleLoaderTest, LoadErrorToString) {
  EXPECT_EQ((LoadError{"f.yaml", 3, 7, "boom"}).ToString(), "f.yaml:3:7: boom");
  EXPECT_EQ((LoadError{"f.yaml", 0, 0, "cannot read"}).ToString(), "f.yaml: cannot read");
}

}  // namespace
}  // namespace handoff
