// `handoff tail` (tools/tail.cc) and `handoff accept|reject|close` (tools/sales.cc): the lines
// they send, how they read the stream, and whole runs against a scripted subscriber port.
#include "tools/tail.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "tests/testutil.h"
#include "tests/tools/fake_server.h"
#include "tools/net.h"
#include "tools/sales.h"

namespace handoff {
namespace {

using testing::FakeConnection;
using testing::FakeServer;
using ::testing::HasSubstr;

TEST(SubscribeLineTest, OnlyTheGivenFilters) {
  EXPECT_EQ(SubscribeLine({}), R"({"subscribe":{}})");
  SubscribeRequest r;
  r.kinds = {"routed", "stage"};
  r.rep = "alice";
  r.team = "en\"t";
  r.from = 41;
  EXPECT_EQ(SubscribeLine(r),
            R"({"subscribe":{"kinds":["routed","stage"],"rep":"alice","team":"en\"t"},"from":41})");
  SubscribeRequest from0;
  from0.from = 0;
  EXPECT_EQ(SubscribeLine(from0), R"({"subscribe":{},"from":0})");
}

TEST(ClassifyStreamLineTest, Kinds) {
  Value v;
  EXPECT_EQ(ClassifyStreamLine(R"({"seq":1,"kind":"routed"})", &v), StreamLineKind::kRecord);
  EXPECT_EQ(ClassifyStreamLine(R"({ "seq": 1, "kind": "stage" })", &v), StreamLineKind::kRecord);
  EXPECT_EQ(ClassifyStreamLine(R"({"heartbeat":12})", &v), StreamLineKind::kHeartbeat);
  EXPECT_EQ(ClassifyStreamLine(R"({"ok":3})", &v), StreamLineKind::kOk);
  EXPECT_EQ(ClassifyStreamLine(R"({"error":"gap","oldest":9})", &v), StreamLineKind::kError);
  EXPECT_EQ(JsonUint(v, "oldest"), 9u);
  EXPECT_EQ(ClassifyStreamLine("nonsense", &v), StreamLineKind::kOther);
  EXPECT_EQ(ClassifyStreamLine(R"({"x":1})", &v), StreamLineKind::kOther);
}

TEST(SalesCommandLineTest, Shapes) {
  EXPECT_EQ(SalesCommandLine("accept", 42, ""), R"({"accept":42})");
  EXPECT_EQ(SalesCommandLine("reject", 42, "not my \"region\""),
            R"({"reject":42,"reason":"not my \"region\""})");
  EXPECT_EQ(SalesCommandLine("reject", 42, ""), R"({"reject":42})");
  EXPECT_EQ(SalesCommandLine("close", 7, "won"), R"({"close":7,"outcome":"won"})");
  EXPECT_EQ(SalesCommandLine("close", 7, "won", 12000),
            R"({"close":7,"outcome":"won","amount":12000})");
}

TEST(InterpretSalesReplyTest, WaitsForTheAnswerAboutItsSeq) {
  std::string msg;
  EXPECT_EQ(InterpretSalesReply(R"({"seq":50,"kind":"routed"})", 42, &msg), SalesReply::kIgnore);
  EXPECT_EQ(InterpretSalesReply(R"({"heartbeat":50})", 42, &msg), SalesReply::kIgnore);
  EXPECT_EQ(InterpretSalesReply(R"({"ok":41})", 42, &msg), SalesReply::kIgnore);
  EXPECT_EQ(InterpretSalesReply(R"({"error":"gap","oldest":3})", 42, &msg), SalesReply::kIgnore);
  EXPECT_EQ(InterpretSalesReply(R"({"error":"x","message":"y","seq":41})", 42, &msg),
            SalesReply::kIgnore);
  EXPECT_EQ(InterpretSalesReply(R"({"ok":42})", 42, &msg), SalesReply::kOk);
  EXPECT_EQ(
      InterpretSalesReply(R"({"error":"not_owner","message":"held by bob","seq":42})", 42, &msg),
      SalesReply::kFailed);
  EXPECT_EQ(msg, "not_owner: held by bob");
  // A refused subscription names no seq: it is the answer too.
  EXPECT_EQ(InterpretSalesReply(R"({"error":"bad_request","message":"unknown kind"})", 42, &msg),
            SalesReply::kFailed);
  EXPECT_EQ(msg, "bad_request: unknown kind");
}

TEST(TailCommandTest, PrintsRecordsAndSkipsHeartbeatsUntilTheServerCloses) {
  std::string subscribe;
  FakeServer server([&](FakeConnection& c) {
    c.ReadLine(&subscribe);
    c.Write(R"({"heartbeat":3})"
            "\n"
            R"({"error":"gap","oldest":5})"
            "\n"
            R"({"seq":5,"kind":"routed","lead":"u1"})"
            "\n");
    c.Write(R"({"seq":6,"kind":"stage","lead":"u2"})"
            "\n");
  });
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(TailCommand({"--kinds", "routed,stage", "--rep", "alice", "--from", "2", "-p",
                         server.address()},
                        out, err),
            0);
  EXPECT_EQ(subscribe, R"({"subscribe":{"kinds":["routed","stage"],"rep":"alice"},"from":2})");
  EXPECT_EQ(out.str(), R"({"seq":5,"kind":"routed","lead":"u1"})"
                       "\n"
                       R"({"seq":6,"kind":"stage","lead":"u2"})"
                       "\n");
  EXPECT_THAT(err.str(), HasSubstr("gap: records before 5 are gone"));
}

TEST(TailCommandTest, HeartbeatsOnRequestAndALimit) {
  std::string subscribe;
  FakeServer server([&](FakeConnection& c) {
    c.ReadLine(&subscribe);
    c.Write(R"({"heartbeat":0})"
            "\n"
            R"({"seq":1,"kind":"stage"})"
            "\n"
            R"({"seq":2,"kind":"stage"})"
            "\n");
    std::string ignored;
    c.ReadLine(&ignored);  // until the client leaves
  });
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(TailCommand({"--heartbeats", "-n", "1", "-p", server.address()}, out, err), 0);
  EXPECT_EQ(subscribe, R"({"subscribe":{}})");
  EXPECT_EQ(out.str(), R"({"heartbeat":0})"
                       "\n"
                       R"({"seq":1,"kind":"stage"})"
                       "\n");
}

TEST(TailCommandTest, RefusedSubscriptionExitsTwo) {
  FakeServer server([&](FakeConnection& c) {
    std::string line;
    c.ReadLine(&line);
    c.Write(R"({"error":"bad_request","message":"unknown kind \"routd\""})"
            "\n");
    c.ReadLine(&line);
  });
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(TailCommand({"--kinds", "routd", "-p", server.address()}, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("bad_request: unknown kind"));
}

TEST(SalesCommandTest, AcceptSkipsRecordsUntilOk) {
  std::string subscribe;
  std::string command;
  FakeServer server([&](FakeConnection& c) {
    c.ReadLine(&subscribe);
    c.ReadLine(&command);
    c.Write(R"({"seq":43,"kind":"routed"})"
            "\n"
            R"({"heartbeat":43})"
            "\n"
            R"({"ok":42})"
            "\n");
  });
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(SalesCommand("accept", {"42", "--subscribe", server.address()}, out, err), 0)
      << err.str();
  EXPECT_EQ(subscribe, R"({"subscribe":{}})");
  EXPECT_EQ(command, R"({"accept":42})");
  EXPECT_EQ(out.str(), "accepted 42\n");
}

TEST(SalesCommandTest, CloseAsARepAndRejectFailure) {
  std::string subscribe;
  std::string command;
  FakeServer server(
      [&](FakeConnection& c) {
        c.ReadLine(&subscribe);
        c.ReadLine(&command);
        if (command.find("close") != std::string::npos) {
          c.Write(R"({"ok":7})"
                  "\n");
        } else {
          c.Write(R"({"error":"not_found","message":"no record 7","seq":7})"
                  "\n");
        }
      },
      2);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(
      SalesCommand("close", {"7", "--outcome", "won", "--rep", "alice", "-p", server.address()},
                   out, err),
      0)
      << err.str();
  EXPECT_EQ(subscribe, R"({"subscribe":{"rep":"alice"}})");
  EXPECT_EQ(command, R"({"close":7,"outcome":"won"})");
  EXPECT_EQ(out.str(), "closed 7 (won)\n");
  EXPECT_EQ(SalesCommand("reject", {"7", "--reason", "not mine", "-p", server.address()}, out, err),
            1);
  EXPECT_EQ(command, R"({"reject":7,"reason":"not mine"})");
  EXPECT_EQ(err.str(), "handoff reject 7: not_found: no record 7\n");
}

TEST(SalesCommandTest, CloseShowsTheAmountAsSent) {
  std::string command;
  FakeServer server([&](FakeConnection& c) {
    std::string subscribe;
    c.ReadLine(&subscribe);
    c.ReadLine(&command);
    c.Write(R"({"ok":6})"
            "\n");
  });
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(
      SalesCommand("close",
                   {"6", "--outcome", "won", "--amount", "1234567.89", "-p", server.address()}, out,
                   err),
      0)
      << err.str();
  EXPECT_EQ(command, R"({"close":6,"outcome":"won","amount":1234567.89})");
  EXPECT_EQ(out.str(), "closed 6 (won, amount 1234567.89)\n");
}

TEST(SalesCommandTest, UsageErrors) {
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(SalesCommand("accept", {}, out, err), 2);
  EXPECT_EQ(SalesCommand("accept", {"x"}, out, err), 2);
  EXPECT_EQ(SalesCommand("close", {"7"}, out, err), 2);  // --outcome is required
  EXPECT_EQ(SalesCommand("close", {"7", "--outcome", "maybe"}, out, err), 2);
  EXPECT_EQ(SalesCommand("accept", {"7", "--reason", "x"}, out, err), 2);  // reject only
}

// Found by a black-box review: `--amount nan` passed CLI11's non-negative check and closed the
// lead without its amount (JSON has no NaN). A deal value is a finite number of 0 or more.
TEST(SalesCommandTest, AnAmountThatIsNotAFiniteNonNegativeNumberIsAUsageError) {
  for (const char* amount : {"nan", "NaN", "-nan", "inf", "-5", "1e400", "12abc", ""}) {
    std::ostringstream out;
    std::ostringstream err;
    EXPECT_EQ(SalesCommand("close", {"7", "--outcome", "won", "--amount", amount}, out, err), 2)
        << amount;
    EXPECT_THAT(err.str(), HasSubstr("--amount")) << amount;
  }
}

TEST(SalesCommandTest, NoAnswerTimesOut) {
  FakeServer server([&](FakeConnection& c) {
    std::string line;
    while (c.ReadLine(&line)) {
    }
  });
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(SalesCommand("accept", {"1", "--timeout", "0.05", "-p", server.address()}, out, err),
            2);
  EXPECT_THAT(err.str(), HasSubstr("no answer"));
}

}  // namespace
}  // namespace handoff
