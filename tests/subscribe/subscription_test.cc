// Client-line parsing and reply lines of the subscriber protocol (SPEC 9), without sockets.
// (Its filters are outbox/record_filter.h's: tests/outbox/record_filter_test.cc.)
#include "subscribe/subscription.h"

#include <gtest/gtest.h>

#include <string>

namespace handoff {
namespace {

class ClientLineParserTest : public ::testing::Test {
 protected:
  bool Parse(std::string_view line) {
    error_ = ClientLineError();
    return parser_.Parse(line, &line_, &error_);
  }
  // Parses a line that must fail with `code`; returns the message.
  std::string ExpectError(std::string_view line, std::string_view code) {
    EXPECT_FALSE(Parse(line)) << line;
    EXPECT_EQ(error_.code, code) << line;
    EXPECT_FALSE(error_.message.empty()) << line;
    return error_.message;
  }

  ClientLineParser parser_{64 * 1024};
  ClientLine line_;
  ClientLineError error_;
};

TEST_F(ClientLineParserTest, SubscribeWithEveryFilter) {
  ASSERT_TRUE(Parse(
      R"({"subscribe":{"kinds":["routed","reassigned"],"rep":"alice","team":"enterprise"},"from":41})"));
  EXPECT_EQ(line_.command, ClientCommand::kSubscribe);
  const SubscribeRequest& req = line_.subscribe;
  ASSERT_TRUE(req.from.has_value());
  EXPECT_EQ(*req.from, 41u);
  EXPECT_EQ(req.filter.rep, "alice");
  EXPECT_EQ(req.filter.team, "enterprise");
  EXPECT_EQ(req.filter.kinds, (1u << static_cast<unsigned>(OutboxKind::kRouted)) |
                                  (1u << static_cast<unsigned>(OutboxKind::kReassigned)));
  EXPECT_FALSE(req.filter.MatchesEverything());
}

TEST_F(ClientLineParserTest, EmptySubscribeIsEverythingFromNow) {
  ASSERT_TRUE(Parse(R"({"subscribe":{}})"));
  EXPECT_EQ(line_.command, ClientCommand::kSubscribe);
  EXPECT_FALSE(line_.subscribe.from.has_value());
  EXPECT_TRUE(line_.subscribe.filter.MatchesEverything());
}

TEST_F(ClientLineParserTest, NullAndEmptyFiltersAreAbsent) {
  ASSERT_TRUE(Parse(R"({"subscribe":{"kinds":null,"rep":"","team":null},"from":null})"));
  EXPECT_TRUE(line_.subscribe.filter.MatchesEverything());
  EXPECT_FALSE(line_.subscribe.from.has_value());
}

TEST_F(ClientLineParserTest, FromZeroMeansFromTheFirstRecord) {
  ASSERT_TRUE(Parse(R"( {"from":0,"subscribe":{"kinds":["stage"]}} )"));
  ASSERT_TRUE(line_.subscribe.from.has_value());
  EXPECT_EQ(*line_.subscribe.from, 0u);
}

TEST_F(ClientLineParserTest, ParserIsReusedAcrossLines) {
  ASSERT_TRUE(Parse(R"({"subscribe":{"rep":"alice"},"from":3})"));
  ASSERT_TRUE(Parse(R"({"subscribe":{}})"));
  EXPECT_TRUE(line_.subscribe.filter.MatchesEverything());
  EXPECT_FALSE(line_.subscribe.from.has_value());
}

TEST_F(ClientLineParserTest, BadSubscribeLines) {
  EXPECT_NE(
      ExpectError(R"({"subscribe":{"kinds":["routed","bogus"]}})", "bad_request").find("bogus"),
      std::string::npos);
  ExpectError(R"({"subscribe":{"kinds":[]}})", "bad_request");
  ExpectError(R"({"subscribe":{"kinds":"routed"}})", "bad_request");
  ExpectError(R"({"subscribe":{"kinds":[1]}})", "bad_request");
  ExpectError(R"({"subscribe":{"kind":["routed"]}})", "bad_request");
  ExpectError(R"({"subscribe":{"rep":5}})", "bad_request");
  ExpectError(R"({"subscribe":{"team":["a"]}})", "bad_request");
  ExpectError(R"({"subscribe":{},"form":41})", "bad_request");
  ExpectError(R"({"subscribe":{},"from":-1})", "bad_request");
  ExpectError(R"({"subscribe":{},"from":1.5})", "bad_request");
  ExpectError(R"({"subscribe":{},"from":"41"})", "bad_request");
  ExpectError(R"({"subscribe":[]})", "bad_request");
  ExpectError(R"({"subscribe":null})", "bad_request");
}

TEST_F(ClientLineParserTest, MalformedLines) {
  ExpectError("not json", "bad_request");
  ExpectError(R"({"subscribe":{})", "bad_request");
  ExpectError(R"({"subscribe":{}} trailing)", "bad_request");
  ExpectError("[1,2]", "bad_request");
  ExpectError("42", "bad_request");
  ExpectError("{}", "bad_request");
  ExpectError(R"({"hello":1})", "bad_request");
  ExpectError(R"({"accept":1,"reject":2})", "bad_request");
  ExpectError(R"({"subscribe":{},"accept":2})", "bad_request");
}

TEST_F(ClientLineParserTest, Accept) {
  ASSERT_TRUE(Parse(R"({"accept":42})"));
  EXPECT_EQ(line_.command, ClientCommand::kSalesAction);
  EXPECT_EQ(line_.action.kind, SalesActionKind::kAccept);
  EXPECT_EQ(line_.action.seq, 42u);
  EXPECT_TRUE(line_.action.as_rep.empty());
}

TEST_F(ClientLineParserTest, RejectWithAndWithoutReason) {
  ASSERT_TRUE(Parse(R"({"reject":42,"reason":"not my region"})"));
  EXPECT_EQ(line_.action.kind, SalesActionKind::kReject);
  EXPECT_EQ(line_.action.seq, 42u);
  EXPECT_EQ(line_.action.reason, "not my region");
  ASSERT_TRUE(Parse(R"({"reject":7})"));
  EXPECT_EQ(line_.action.seq, 7u);
  EXPECT_TRUE(line_.action.reason.empty());
  EXPECT_FALSE(Parse(R"({"reject":7,"reason":3})"));
  EXPECT_EQ(error_.code, "bad_request");
  EXPECT_EQ(error_.seq, 7u);
}

TEST_F(ClientLineParserTest, CloseOutcomes) {
  for (const char* outcome : {"won", "lost", "recycled"}) {
    ASSERT_TRUE(Parse(std::string(R"({"close":9,"outcome":")") + outcome + "\"}"));
    EXPECT_EQ(line_.action.kind, SalesActionKind::kClose);
    EXPECT_EQ(line_.action.seq, 9u);
    EXPECT_EQ(line_.action.outcome, outcome);
  }
  for (const char* line : {R"({"close":9})", R"({"close":9,"outcome":"maybe"})",
                           R"({"close":9,"outcome":"WON"})", R"({"close":9,"outcome":1})"}) {
    ExpectError(line, "invalid_outcome");
    EXPECT_EQ(error_.seq, 9u) << line;
  }
}

TEST_F(ClientLineParserTest, CloseAmount) {
  ASSERT_TRUE(Parse(R"({"close":9,"outcome":"won","amount":12000.5})"));
  ASSERT_TRUE(line_.action.amount.has_value());
  EXPECT_EQ(*line_.action.amount, 12000.5);
  ASSERT_TRUE(Parse(R"({"close":9,"outcome":"lost","amount":0})"));
  EXPECT_EQ(line_.action.amount, 0.0);
  ASSERT_TRUE(Parse(R"({"close":9,"outcome":"won","amount":null})"));
  EXPECT_FALSE(line_.action.amount.has_value());
  ASSERT_TRUE(Parse(R"({"close":9,"outcome":"won"})"));
  EXPECT_FALSE(line_.action.amount.has_value());
  for (const char* line : {R"({"close":9,"outcome":"won","amount":-1})",
                           R"({"close":9,"outcome":"won","amount":"12000"})",
                           R"({"close":9,"outcome":"won","amount":true})"}) {
    ExpectError(line, "invalid_amount");
    EXPECT_EQ(error_.seq, 9u) << line;
  }
}

TEST_F(ClientLineParserTest, CommandsIgnoreUnknownKeys) {
  ASSERT_TRUE(Parse(R"({"accept":5,"note":"called them"})"));
  EXPECT_EQ(line_.action.seq, 5u);
}

TEST_F(ClientLineParserTest, SeqMustBeAPositiveInteger) {
  for (const char* line :
       {R"({"accept":0})", R"({"accept":-3})", R"({"accept":1.5})", R"({"accept":"42"})",
        R"({"accept":null})", R"({"reject":true})", R"({"close":1e300,"outcome":"won"})"}) {
    ExpectError(line, "bad_request");
    EXPECT_EQ(error_.seq, 0u) << line;
  }
}

TEST(OutboxKindTest, NamesRoundTrip) {
  for (int i = 0; i < kOutboxKindCount; ++i) {
    const auto kind = static_cast<OutboxKind>(i);
    EXPECT_EQ(OutboxKindFromName(OutboxKindName(kind)), kind);
  }
  EXPECT_FALSE(OutboxKindFromName("Routed").has_value());
  EXPECT_FALSE(OutboxKindFromName("").has_value());
}

TEST(ReplyTest, Lines) {
  std::string out;
  AppendOkReply(42, &out);
  AppendErrorReply("unknown_seq", "no \"such\" seq", 42, &out);
  AppendErrorReply("bad_request", "nope", 0, &out);
  AppendHeartbeat(17, &out);
  AppendGap(5, &out);
  EXPECT_EQ(out,
            "{\"ok\":42}\n"
            "{\"error\":\"unknown_seq\",\"message\":\"no \\\"such\\\" seq\",\"seq\":42}\n"
            "{\"error\":\"bad_request\",\"message\":\"nope\"}\n"
            "{\"heartbeat\":17}\n"
            "{\"error\":\"gap\",\"oldest\":5}\n");
}

}  // namespace
}  // namespace handoff
