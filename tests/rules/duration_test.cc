#include "rules/duration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace handoff {
namespace {

using ::testing::HasSubstr;

double Seconds(std::string_view text) {
  double seconds = -1;
  std::string error;
  EXPECT_TRUE(ParseDuration(text, &seconds, &error)) << text << ": " << error;
  return seconds;
}

std::string Error(std::string_view text) {
  double seconds = -1;
  std::string error;
  EXPECT_FALSE(ParseDuration(text, &seconds, &error)) << text;
  EXPECT_EQ(seconds, -1) << "output touched on error";
  return error;
}

TEST(DurationTest, EveryUnit) {
  EXPECT_EQ(Seconds("90s"), 90);
  EXPECT_EQ(Seconds("10m"), 600);
  EXPECT_EQ(Seconds("2h"), 7200);
  EXPECT_EQ(Seconds("14d"), 14 * 86400);
  EXPECT_EQ(Seconds("1w"), 7 * 86400);
  EXPECT_EQ(Seconds("007s"), 7);
}

TEST(DurationTest, RejectsWhatTheSpecRejects) {
  EXPECT_THAT(Error("14"), HasSubstr("has no unit"));
  EXPECT_THAT(Error("1.5h"), HasSubstr("is not a whole number"));
  EXPECT_THAT(Error("0s"), HasSubstr("is zero"));
  EXPECT_THAT(Error("-5m"), HasSubstr("is negative"));
  EXPECT_THAT(Error("10x"), HasSubstr("unknown unit \"x\""));
  EXPECT_THAT(Error("10ms"), HasSubstr("unknown unit \"ms\""));
  EXPECT_THAT(Error("10M"), HasSubstr("unknown unit \"M\""));
  EXPECT_THAT(Error(""), HasSubstr("empty duration"));
  EXPECT_THAT(Error("d"), HasSubstr("invalid duration \"d\""));
  EXPECT_THAT(Error("10 m"), HasSubstr("unknown unit \" m\""));
  EXPECT_THAT(Error("+5m"), HasSubstr("invalid duration"));
  EXPECT_THAT(Error("99999999999999999999s"), HasSubstr("too large"));
}

TEST(DurationTest, MessagesSayWhatIsExpected) {
  EXPECT_EQ(Error("14"),
            "duration \"14\" has no unit: expected a positive whole number followed by a unit s, "
            "m, h, d or w (e.g. 90s, 10m, 14d)");
}

}  // namespace
}  // namespace handoff
