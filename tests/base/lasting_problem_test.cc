#include "base/lasting_problem.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace handoff {
namespace {

using std::chrono::seconds;
using Clock = LastingProblem::Clock;

class LastingProblemTest : public ::testing::Test {
 protected:
  LastingProblem Problem() {
    return LastingProblem(
        "opening bucket B", "ingest waits", seconds(10), seconds(60),
        [this](LogLevel level, std::string_view line) {
          lines_.push_back((level == LogLevel::kWarning ? "WARN " : "INFO ") + std::string(line));
        });
  }
  const Clock::time_point t0_ = Clock::time_point() + seconds(1000);
  std::vector<std::string> lines_;
};

TEST_F(LastingProblemTest, ABlipThatClearsWithinTheQuietTimeSaysNothing) {
  LastingProblem problem = Problem();
  problem.Failed("timeout", t0_);
  problem.Failed("timeout", t0_ + seconds(9));
  EXPECT_TRUE(problem.failing());
  problem.Cleared(t0_ + seconds(9));
  EXPECT_FALSE(problem.failing());
  EXPECT_TRUE(lines_.empty());
}

TEST_F(LastingProblemTest, ALastingProblemIsSaidWithItsLatestCauseThenEveryIntervalThenItsEnd) {
  LastingProblem problem = Problem();
  problem.Failed("timeout", t0_);
  problem.Failed("no suitable peers", t0_ + seconds(10));
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_EQ(lines_[0],
            "WARN opening bucket B: failing for 10.0 s (no suitable peers); ingest waits");
  problem.Failed("no suitable peers", t0_ + seconds(69));
  EXPECT_EQ(lines_.size(), 1u);  // not again before `every`
  problem.Failed("timeout", t0_ + seconds(70));
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_EQ(lines_[1], "WARN opening bucket B: failing for 70.0 s (timeout); ingest waits");
  problem.Cleared(t0_ + seconds(75));
  ASSERT_EQ(lines_.size(), 3u);
  EXPECT_EQ(lines_[2], "INFO opening bucket B: working again after 75.0 s");
  problem.Cleared(t0_ + seconds(80));
  EXPECT_EQ(lines_.size(), 3u);  // said once

  // A new problem starts its own quiet time.
  problem.Failed("timeout", t0_ + seconds(100));
  problem.Failed("timeout", t0_ + seconds(105));
  EXPECT_EQ(lines_.size(), 3u);
  problem.Failed("timeout", t0_ + seconds(110));
  ASSERT_EQ(lines_.size(), 4u);
  EXPECT_EQ(lines_[3], "WARN opening bucket B: failing for 10.0 s (timeout); ingest waits");
}

TEST_F(LastingProblemTest, AWaitThatIsNotAnErrorSaysWaiting) {
  LastingProblem problem = Problem();
  problem.set_state_word("waiting");
  problem.Failed("applied through 5 of 9", t0_);
  problem.Failed("applied through 7 of 9", t0_ + seconds(10));
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_EQ(lines_[0],
            "WARN opening bucket B: waiting for 10.0 s (applied through 7 of 9); ingest waits");
}

}  // namespace
}  // namespace handoff
