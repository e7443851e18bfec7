#include "base/json_parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "tests/testutil.h"

namespace handoff {
namespace {

TEST(JsonParserTest, AnyJsonValue) {
  JsonParser parser;
  Value v;
  ASSERT_OK(parser.Parse(R"({"a":[1,"x",null,true,{"b":false}]})", &v));
  EXPECT_EQ(v.ToJson(), R"({"a":[1,"x",null,true,{"b":false}]})");
  ASSERT_OK(parser.Parse(" 42 ", &v));
  EXPECT_EQ(v.as_number(), 42);
  ASSERT_OK(parser.Parse(R"("s\u00e9")", &v));
  EXPECT_EQ(v.as_string(), "s\xc3\xa9");
  ASSERT_OK(parser.Parse("null", &v));
  EXPECT_TRUE(v.is_null());
  ASSERT_OK(parser.Parse("[]", &v));
  EXPECT_EQ(v.ToJson(), "[]");
  ASSERT_OK(parser.Parse("1e400", &v));
  EXPECT_TRUE(std::isinf(v.as_number()));
  for (const char* bad :
       {"", " ", "1 2", "[1] x", "1,2", "]", "[", "tru", "{\"a\":1", "\"x", "[1]]", "01"}) {
    const Status st = parser.Parse(bad, &v);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << bad;
  }
}

// Valid JSON that names no Unicode character: read as U+FFFD (a subscriber's or an admin's
// JSON, like an event's).
TEST(JsonParserTest, ALoneSurrogateEscapeIsAReplacementCharacter) {
  JsonParser parser;
  Value v;
  ASSERT_OK(parser.Parse(R"({"reason":"too busy \ud83d"})", &v));
  EXPECT_EQ(v.Find("reason")->as_string(), "too busy \xef\xbf\xbd");
  EXPECT_FALSE(parser.Parse(R"({"reason":"\ud83d)", &v).ok());
}

TEST(JsonParserTest, MaxBytes) {
  JsonParser parser(64);
  Value v;
  const Status too_long = parser.Parse(std::string(62, ' ') + "[1]", &v);
  EXPECT_EQ(too_long.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(too_long.message(), "line is longer than 64 bytes");
  ASSERT_OK(parser.Parse(std::string(61, ' ') + "[1]", &v));
}

TEST(JsonParserTest, NestingPastTheLimitIsRefused) {
  JsonParser parser;
  Value v;
  const std::string ok = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  ASSERT_OK(parser.Parse(ok, &v));
  const std::string deep =
      std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']');
  EXPECT_EQ(parser.Parse(deep, &v).code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace handoff
