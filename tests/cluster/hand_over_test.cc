// The hand-over messages of a merge across partitions: each decodes to what was encoded, is told
// apart from events by its first byte, and bytes cut short or foreign fail cleanly.
#include "cluster/hand_over.h"

#include <gtest/gtest.h>

#include <string>

#include "cluster/event_log.h"

namespace handoff {
namespace {

TEST(HandOverTest, RequestsAndAnswersDecodeToWhatWasEncoded) {
  HandOverRequest request;
  request.link = {4242, 7};
  request.older_id = "anon-7";
  request.into = "kim@acme.com";
  request.partition = 11;
  std::string bytes;
  EncodeHandOverRequest(request, &bytes);
  EXPECT_EQ(KindOfLogMessage(bytes), LogMessageKind::kHandOverRequest);
  HandOverRequest back;
  ASSERT_TRUE(DecodeHandOverRequest(bytes, &back));
  EXPECT_EQ(back.link, request.link);
  EXPECT_EQ(back.older_id, "anon-7");
  EXPECT_EQ(back.into, "kim@acme.com");
  EXPECT_EQ(back.partition, 11u);
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeHandOverRequest(bytes.substr(0, n), &back)) << n;
  }

  HandOverAnswer answer;
  answer.link = {4242, 7};
  answer.part = 1;
  answer.parts = 3;
  answer.bytes = std::string("\x01lead\x00bytes", 11);
  EncodeHandOverAnswer(answer, &bytes);
  EXPECT_EQ(KindOfLogMessage(bytes), LogMessageKind::kHandOverAnswer);
  HandOverAnswer got;
  ASSERT_TRUE(DecodeHandOverAnswer(bytes, &got));
  EXPECT_EQ(got.link, answer.link);
  EXPECT_EQ(got.part, 1u);
  EXPECT_EQ(got.parts, 3u);
  EXPECT_EQ(got.bytes, answer.bytes);
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeHandOverAnswer(bytes.substr(0, n), &got)) << n;
  }
  EXPECT_FALSE(DecodeHandOverRequest(bytes, &back)) << "an answer is not a request";
}

TEST(HandOverTest, EventMessagesAreNotHandOvers) {
  std::string message;
  StartLogMessage(&message);
  EXPECT_EQ(KindOfLogMessage(message), LogMessageKind::kEvents);
  EXPECT_EQ(KindOfLogMessage(""), LogMessageKind::kEvents);
  HandOverAnswer answer;
  answer.parts = 2;
  answer.part = 2;  // past the last part
  std::string bytes;
  EncodeHandOverAnswer(answer, &bytes);
  EXPECT_FALSE(DecodeHandOverAnswer(bytes, &answer));
}

TEST(HandOverTest, MessageIdsComeFromTheLinksPlace) {
  EXPECT_EQ(HandOverRequestId({12, 3}), "handover/12/3");
  EXPECT_EQ(HandOverAnswerId({12, 3}, 0), "handover-answer/12/3/0");
  EXPECT_NE(HandOverAnswerId({12, 3}, 0), HandOverAnswerId({12, 3}, 1));
}

}  // namespace
}  // namespace handoff
