#include "ingest/event_errors.h"

#include <gtest/gtest.h>

#include <string>

namespace handoff {
namespace {

ParseError Error(EventError code, std::string message, std::string message_id = "") {
  ParseError err;
  err.code = code;
  err.message = std::move(message);
  err.message_id = std::move(message_id);
  return err;
}

TEST(EventErrorsTest, TcpLineAsInTheSpec) {
  std::string out;
  AppendEventErrorLine(Error(EventError::kMissingField, "track needs \"event\"", "m-17"), 17, &out);
  EXPECT_EQ(out,
            "{\"error\":\"missing_field\",\"message\":\"track needs \\\"event\\\"\",\"line\":17,"
            "\"messageId\":\"m-17\"}\n");
}

TEST(EventErrorsTest, NoMessageIdWhenTheEventHadNone) {
  std::string out;
  AppendEventErrorLine(Error(EventError::kInvalidJson, "invalid JSON"), 3, &out);
  EXPECT_EQ(out, "{\"error\":\"invalid_json\",\"message\":\"invalid JSON\",\"line\":3}\n");
}

TEST(EventErrorsTest, LinesAppend) {
  std::string out = "{\"ack\":1}\n";
  AppendEventErrorLine(Error(EventError::kInvalidField, "a"), 2, &out);
  AppendEventErrorLine(Error(EventError::kInvalidField, "b"), 3, &out);
  EXPECT_EQ(out,
            "{\"ack\":1}\n"
            "{\"error\":\"invalid_field\",\"message\":\"a\",\"line\":2}\n"
            "{\"error\":\"invalid_field\",\"message\":\"b\",\"line\":3}\n");
}

TEST(EventErrorsTest, HttpFieldsHaveNoLineAndNoBraces) {
  std::string out = "{\"index\":4,";
  AppendEventErrorFields(Error(EventError::kUnsupportedType, "no \"x\"", "m\n1"), std::nullopt,
                         &out);
  EXPECT_EQ(out,
            "{\"index\":4,\"error\":\"unsupported_type\",\"message\":\"no \\\"x\\\"\","
            "\"messageId\":\"m\\n1\"");
}

TEST(EventErrorsTest, UnavailableLine) {
  std::string out;
  AppendUnavailableLine("IO error: disk \"full\"", &out);
  EXPECT_EQ(out, "{\"error\":\"unavailable\",\"message\":\"IO error: disk \\\"full\\\"\"}\n");
}

}  // namespace
}  // namespace handoff
