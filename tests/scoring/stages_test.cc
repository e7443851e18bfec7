#include "scoring/stages.h"

#include <gtest/gtest.h>

#include <memory>

#include "rules/rule_loader.h"

namespace handoff {
namespace {

// Stages 0 new, 1 mql (enter >= 40, exit < 30), 2 sql (enter >= 80, default exit: !enter).
constexpr char kRules[] = R"(scores:
  e: {kind: event}
stages:
  - name: mql
    enter: score.e >= 40
    exit: score.e < 30
  - name: sql
    enter: score.e >= 80
)";

class NextStageTest : public ::testing::Test {
 protected:
  NextStageTest() {
    LoadResult loaded = LoadRulesFromString(kRules, "rules.yaml");
    EXPECT_TRUE(loaded.ok());
    rules_ = loaded.rules;
  }
  int Next(int current, double score, bool promote) {
    EvalContext ctx;
    ctx.traits = &traits_;
    ctx.scores = &score;
    ctx.lead_id = "u1";
    return NextStage(rules_->stages, current, ctx, promote);
  }
  std::shared_ptr<const RuleSet> rules_;
  Value traits_ = Value::MakeObject();
};

TEST_F(NextStageTest, PromotesToTheHighestStageWhoseEnterHolds) {
  EXPECT_EQ(Next(0, 10, true), 0);
  EXPECT_EQ(Next(0, 50, true), 1);
  EXPECT_EQ(Next(0, 90, true), 2);  // skips mql
  EXPECT_EQ(Next(1, 90, true), 2);
}

TEST_F(NextStageTest, DemotesOneStageAtATimeWhileExitsHold) {
  EXPECT_EQ(Next(2, 70, true), 1);    // sql's default exit (!enter) holds, mql's exit does not
  EXPECT_EQ(Next(2, 20, true), 0);    // cascades through mql's exit too
  EXPECT_EQ(Next(1, 35, true), 1);    // between exit and enter: stays
  EXPECT_EQ(Next(0, -100, true), 0);  // new never exits
}

TEST_F(NextStageTest, WithoutPromoteOnlyExitsAreChecked) {
  EXPECT_EQ(Next(0, 90, false), 0);
  EXPECT_EQ(Next(1, 90, false), 1);
  EXPECT_EQ(Next(2, 20, false), 0);
}

}  // namespace
}  // namespace handoff
