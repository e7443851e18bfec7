#include "rules/suggest.h"

#include <gtest/gtest.h>

namespace handoff {
namespace {

TEST(SuggestTest, EditDistanceCountsTranspositionsAsOne) {
  EXPECT_EQ(EditDistance("points", "points"), 0);
  EXPECT_EQ(EditDistance("pionts", "points"), 1);
  EXPECT_EQ(EditDistance("point", "points"), 1);
  EXPECT_EQ(EditDistance("Points", "points"), 0);
  EXPECT_EQ(EditDistance("", "abc"), 3);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3);
}

TEST(SuggestTest, NearestNameOnlyWhenClose) {
  const std::vector<std::string_view> keys = {"id", "score", "when", "points", "cap", "once"};
  EXPECT_EQ(NearestName("pionts", keys), "points");
  EXPECT_EQ(NearestName("scor", keys), "score");
  EXPECT_EQ(NearestName("wehn", keys), "when");
  EXPECT_EQ(NearestName("Once", keys), "once");
  EXPECT_EQ(NearestName("ix", keys), "id");
  EXPECT_EQ(NearestName("frequency", keys), "");
  EXPECT_EQ(NearestName("x", keys), "");   // one letter is no evidence
  EXPECT_EQ(NearestName("id", keys), "");  // not a typo
  EXPECT_EQ(NearestName("weighted_robin", {"round_robin", "weighted_round_robin"}), "");
  EXPECT_EQ(NearestName("weighted_round_robn", {"round_robin", "weighted_round_robin"}),
            "weighted_round_robin");
}

TEST(SuggestTest, DidYouMean) {
  EXPECT_EQ(DidYouMean("evnt", {"profile", "event"}), " (did you mean \"event\"?)");
  EXPECT_EQ(DidYouMean("zzzzzz", {"profile", "event"}), "");
}

}  // namespace
}  // namespace handoff
