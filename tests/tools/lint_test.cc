// `handoff lint` (tools/lint.cc).
#include "tools/lint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "tests/testutil.h"

namespace handoff {
namespace {

using ::testing::HasSubstr;

TEST(LintTest, CleanFilePrintsASummaryAndExitsZero) {
  testing::TempDir dir;
  const std::string path = dir.WriteFile(
      "rules.yaml",
      "scores:\n  eng: {kind: event}\nrules:\n  - {id: a, score: eng, when: true, points: 1}\n"
      "stages:\n  - {name: sql, enter: score.eng > 1}\n"
      "routing:\n  stage: sql\n  teams: [{id: t, reps: [{id: r}]}]\n");
  std::ostringstream out;
  EXPECT_EQ(Lint(path, out), 0);
  EXPECT_EQ(out.str(), path + ": ok (1 scores, 1 rules, 1 stages, 1 teams)\n");
}

TEST(LintTest, ErrorsPrintOnePerLineAndExitOne) {
  testing::TempDir dir;
  const std::string path =
      dir.WriteFile("rules.yaml",
                    "scores:\n  eng: {kind: evnt}\nrules:\n  - {id: a, score: eng, when: true, "
                    "pionts: 1}\n");
  std::ostringstream out;
  EXPECT_EQ(Lint(path, out), 1);
  EXPECT_EQ(out.str(),
            path +
                ":2:15: kind must be \"profile\" or \"event\", got \"evnt\" (did you mean "
                "\"event\"?)\n" +
                path + ":4:5: missing required key \"points\" in rule \"a\"\n" + path +
                ":4:37: unknown key \"pionts\" in rule (did you mean \"points\"?)\n");
}

TEST(LintTest, DefaultExampleIsClean) {
  std::ostringstream out;
  EXPECT_EQ(Lint(testing::SourceDir() + "/rules/examples/default.yaml", out), 0) << out.str();
  EXPECT_THAT(out.str(), HasSubstr(": ok ("));
}

TEST(LintTest, MissingPathExitsOne) {
  std::ostringstream out;
  EXPECT_EQ(Lint("/nonexistent/rules", out), 1);
  EXPECT_THAT(out.str(), HasSubstr("/nonexistent/rules: cannot read rules: "));
}

TEST(LintTest, CommandUsage) {
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(LintCommand({}, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("usage: handoff lint PATH"));
  EXPECT_EQ(LintCommand({"a", "b"}, out, err), 2);
  EXPECT_EQ(LintCommand({"--help"}, out, err), 0);
  EXPECT_EQ(LintCommand({"/nonexistent/rules"}, out, err), 1);
}

}  // namespace
}  // namespace handoff
