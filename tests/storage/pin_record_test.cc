#include "storage/pin_record.h"

#include <gtest/gtest.h>

#include <string>

namespace handoff {
namespace {

TEST(PinRecordTest, RoundTrips) {
  PinRecord record;
  record.in_memory = true;
  record.next_check = 1'800'063'672.5;
  record.rules_tag = RulesTag("0123456789abcdef0011");
  record.stage = "mql";
  std::string bytes;
  EncodePinRecord(record, &bytes);
  PinRecord back;
  ASSERT_TRUE(DecodePinRecord(bytes, &back).ok());
  EXPECT_FALSE(back.legacy);
  EXPECT_TRUE(back.in_memory);
  EXPECT_EQ(back.next_check, record.next_check);
  EXPECT_EQ(back.rules_tag, 0x0123456789abcdefULL);
  EXPECT_EQ(back.stage, "mql");
}

TEST(PinRecordTest, AnEmptyValueIsALegacyEntry) {
  PinRecord back;
  ASSERT_TRUE(DecodePinRecord("", &back).ok());
  EXPECT_TRUE(back.legacy);
}

TEST(PinRecordTest, EveryTruncationAndAnUnknownVersionAreCorruption) {
  PinRecord record;
  record.stage = "sql";
  std::string bytes;
  EncodePinRecord(record, &bytes);
  for (size_t n = 1; n < bytes.size(); ++n) {
    PinRecord back;
    EXPECT_TRUE(DecodePinRecord(bytes.substr(0, n), &back).code() == Status::Code::kCorruption)
        << n;
  }
  PinRecord back;
  EXPECT_TRUE(DecodePinRecord(bytes + "x", &back).code() == Status::Code::kCorruption);
  bytes[0] = 9;
  EXPECT_TRUE(DecodePinRecord(bytes, &back).code() == Status::Code::kCorruption);
}

}  // namespace
}  // namespace handoff
