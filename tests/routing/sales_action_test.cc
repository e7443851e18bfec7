// The one reader of sales commands (subscriber lines and POST /v1/actions bodies).
#include "routing/sales_action.h"

#include <gtest/gtest.h>

#include <string>

#include "base/json_parser.h"

namespace handoff {
namespace {

class SalesActionTest : public ::testing::Test {
 protected:
  bool Parse(std::string_view json) {
    Value value;
    EXPECT_TRUE(json_.Parse(json, &value).ok()) << json;
    return ParseSalesAction(value, &action_, &error_);
  }

  JsonParser json_;
  SalesAction action_;
  SalesActionError error_;
};

TEST_F(SalesActionTest, ReadsEachCommand) {
  ASSERT_TRUE(Parse(R"({"accept":42,"note":"tools may add keys"})"));
  EXPECT_EQ(action_.kind, SalesActionKind::kAccept);
  EXPECT_EQ(action_.seq, 42u);
  ASSERT_TRUE(Parse(R"({"reject":7,"reason":"not my region"})"));
  EXPECT_EQ(action_.kind, SalesActionKind::kReject);
  EXPECT_EQ(action_.reason, "not my region");
  ASSERT_TRUE(Parse(R"({"close":9,"outcome":"won"})"));
  EXPECT_EQ(action_.kind, SalesActionKind::kClose);
  EXPECT_EQ(action_.outcome, "won");
  EXPECT_FALSE(action_.amount.has_value());
  EXPECT_TRUE(action_.as_rep.empty());
  ASSERT_TRUE(Parse(R"({"close":9,"outcome":"won","amount":12000.5})"));
  EXPECT_EQ(action_.amount, 12000.5);
}

TEST_F(SalesActionTest, RefusesWithTheCodesOfTheProtocol) {
  EXPECT_FALSE(Parse(R"([1])"));
  EXPECT_EQ(error_.code, "bad_request");
  EXPECT_FALSE(Parse(R"({})"));
  EXPECT_EQ(error_.code, "bad_request");
  EXPECT_FALSE(Parse(R"({"accept":1,"close":2})"));
  EXPECT_EQ(error_.code, "bad_request");
  EXPECT_FALSE(Parse(R"({"accept":0})"));
  EXPECT_EQ(error_.code, "bad_request");
  EXPECT_EQ(error_.seq, 0u);
  EXPECT_FALSE(Parse(R"({"reject":3,"reason":1})"));
  EXPECT_EQ(error_.code, "bad_request");
  EXPECT_EQ(error_.seq, 3u);
  EXPECT_FALSE(Parse(R"({"close":4,"outcome":"maybe"})"));
  EXPECT_EQ(error_.code, "invalid_outcome");
  EXPECT_EQ(error_.seq, 4u);
  for (const char* json : {R"({"close":5,"outcome":"won","amount":-1})",
                           R"({"close":5,"outcome":"won","amount":"12000"})"}) {
    EXPECT_FALSE(Parse(json));
    EXPECT_EQ(error_.code, "invalid_amount") << json;
    EXPECT_EQ(error_.seq, 5u);
  }
}

}  // namespace
}  // namespace handoff
