// `handoff send` (tools/send.cc): line counting, line-number mapping, progress and summary text,
// and whole runs against a scripted ingest server.
#include "tools/send.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <sstream>
#include <thread>

#include "tests/testutil.h"
#include "tests/tools/fake_server.h"
#include "tools/net.h"

namespace handoff {
namespace {

using ::testing::ContainsRegex;
using testing::FakeConnection;
using testing::FakeServer;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(LineCounterTest, CountsLinesBlankLinesAndAPartialLastLine) {
  LineCounter c;
  c.Feed("{\"a\":1}\n\n  \t\r\n{\"b\"");
  EXPECT_EQ(c.lines(), 3u);
  EXPECT_EQ(c.blank_lines(), 2u);
  EXPECT_TRUE(c.partial());
  c.Feed(":2}\n");
  EXPECT_EQ(c.lines(), 4u);
  EXPECT_EQ(c.blank_lines(), 2u);
  EXPECT_FALSE(c.partial());
  c.Feed("   ");
  EXPECT_TRUE(c.partial());
  c.FinishLine();
  EXPECT_EQ(c.lines(), 5u);
  EXPECT_EQ(c.blank_lines(), 3u);
}

TEST(LineCounterTest, BlanknessSurvivesChunkBoundaries) {
  LineCounter c;
  c.Feed(" ");
  c.Feed("\t");
  c.Feed("x");
  c.Feed("\n \n");
  EXPECT_EQ(c.lines(), 2u);
  EXPECT_EQ(c.blank_lines(), 1u);
  LineCounter empty;
  empty.Feed("");
  EXPECT_EQ(empty.lines(), 0u);
  EXPECT_FALSE(empty.partial());
}

TEST(LineMapTest, MapsConnectionLinesBackToInputs) {
  LineMap map;
  map.Add("a.ndjson", 1);  // lines 1-3
  map.Add("empty", 4);     // no lines
  map.Add("b.ndjson", 4);  // lines 4-10
  map.Add("<stdin>", 11);
  std::string name;
  uint64_t line = 0;
  ASSERT_TRUE(map.Lookup(1, &name, &line));
  EXPECT_EQ(name, "a.ndjson");
  EXPECT_EQ(line, 1u);
  ASSERT_TRUE(map.Lookup(3, &name, &line));
  EXPECT_EQ(name, "a.ndjson");
  EXPECT_EQ(line, 3u);
  ASSERT_TRUE(map.Lookup(4, &name, &line));
  EXPECT_EQ(name, "b.ndjson");
  EXPECT_EQ(line, 1u);
  ASSERT_TRUE(map.Lookup(10, &name, &line));
  EXPECT_EQ(name, "b.ndjson");
  EXPECT_EQ(line, 7u);
  ASSERT_TRUE(map.Lookup(12, &name, &line));
  EXPECT_EQ(name, "<stdin>");
  EXPECT_EQ(line, 2u);
  EXPECT_FALSE(map.Lookup(0, &name, &line));
}

TEST(LineMapTest, ALaterShareOfAnInputKeepsTheInputsLineNumbers) {
  LineMap map;
  map.Add("a.ndjson", 1, 501);  // this connection carries a.ndjson from its line 501
  map.Add("b.ndjson", 11);
  std::string name;
  uint64_t line = 0;
  ASSERT_TRUE(map.Lookup(3, &name, &line));
  EXPECT_EQ(name, "a.ndjson");
  EXPECT_EQ(line, 503u);
  ASSERT_TRUE(map.Lookup(12, &name, &line));
  EXPECT_EQ(name, "b.ndjson");
  EXPECT_EQ(line, 2u);
}

// The text of a share, rebuilt from its spans.
std::string ShareText(const std::vector<std::string_view>& inputs,
                      const std::vector<InputSpan>& share) {
  std::string text;
  for (const InputSpan& span : share) {
    text.append(inputs[span.input].substr(span.begin, span.end - span.begin));
  }
  return text;
}

TEST(SplitIntoSharesTest, CutsAtLineEndsIntoSharesOfAboutEqualSize) {
  std::string a;
  for (int i = 0; i < 100; ++i) {
    a += "{\"n\":" + std::to_string(1000 + i) + "}\n";  // 11 bytes a line
  }
  const std::vector<std::string_view> inputs = {a};
  const auto shares = SplitIntoShares(inputs, 4);
  ASSERT_EQ(shares.size(), 4u);
  std::string joined;
  uint64_t next_line = 1;
  for (const auto& share : shares) {
    ASSERT_EQ(share.size(), 1u);
    const std::string text = ShareText(inputs, share);
    EXPECT_EQ(text.back(), '\n');
    EXPECT_EQ(share[0].first_line, next_line);
    next_line += static_cast<uint64_t>(std::count(text.begin(), text.end(), '\n'));
    EXPECT_EQ(text.size(), 25u * 11u);  // 100 equal lines: 25 each
    joined += text;
  }
  EXPECT_EQ(joined, a);
}

TEST(SplitIntoSharesTest, SharesSpanInputsAndNumberLinesWithinEachInput) {
  // 3 + 1 + 4 lines, the second input without its final newline, an empty input between.
  const std::vector<std::string_view> inputs = {"aaa\nbbb\nccc\n", "", "ddd",
                                                "eee\nfff\nggg\nhhh\n"};
  const auto shares = SplitIntoShares(inputs, 3);
  ASSERT_EQ(shares.size(), 3u);
  // 31 bytes: targets at 10 and 20 end up after "ccc\n" (12) and inside "fff" -> after it (23).
  EXPECT_EQ(shares[0], (std::vector<InputSpan>{{0, 0, 12, 1}}));
  EXPECT_EQ(shares[1], (std::vector<InputSpan>{{2, 0, 3, 1}, {3, 0, 8, 1}}));
  EXPECT_EQ(shares[2], (std::vector<InputSpan>{{3, 8, 16, 3}}));
}

TEST(SplitIntoSharesTest, FewerSharesThanAskedWhenLinesRunOut) {
  const std::vector<std::string_view> one_line = {"{\"a\":1}\n"};
  EXPECT_EQ(SplitIntoShares(one_line, 16).size(), 1u);
  // A line longer than a share swallows the cuts that fall inside it: 4 asked, 2 made.
  const std::string long_line(1000, 'x');
  const std::string text = long_line + "\nshort\n";
  const std::vector<std::string_view> inputs = {text};
  const auto shares = SplitIntoShares(inputs, 4);
  ASSERT_EQ(shares.size(), 2u);
  EXPECT_EQ(ShareText(inputs, shares[0]), long_line + "\n");
  EXPECT_EQ(ShareText(inputs, shares[1]), "short\n");
  EXPECT_TRUE(SplitIntoShares({"", ""}, 4).empty());
  EXPECT_TRUE(SplitIntoShares({"x\n"}, 0).empty());
}

TEST(SendFormatTest, Progress) {
  SendProgress p;
  p.lines = 1000;
  p.bytes = 2'400'000;
  p.acked = 900;
  p.total_bytes = 10'000'000;
  p.seconds = 2;
  EXPECT_EQ(FormatSendProgress(p, 200),
            " 24% [====>               ] 1000 lines  2.4 MB  500 lines/s  1.2 MB/s  acked 900");
  // Narrow terminals lose the bar, then the tail.
  EXPECT_EQ(FormatSendProgress(p, 70), " 24% 1000 lines  2.4 MB  500 lines/s  1.2 MB/s  acked 900");
  EXPECT_EQ(FormatSendProgress(p, 10).size(), 10u);
  p.total_bytes = 0;  // standard input: no percentage
  EXPECT_EQ(FormatSendProgress(p, 200), "1000 lines  2.4 MB  500 lines/s  1.2 MB/s  acked 900");
  p.bytes = p.total_bytes = 10;
  EXPECT_THAT(FormatSendProgress(p, 200), StartsWith("100% [====================] "));
}

TEST(SendFormatTest, SummaryAndRejectedLine) {
  EXPECT_EQ(FormatSendSummary(1000, 2, 3, 0),
            "sent 1000 lines in 2.00 s (500 lines/s), 997 applied-or-duplicate, 3 rejected");
  EXPECT_EQ(FormatSendSummary(10, 0.5, 1, 2),
            "sent 10 lines in 0.50 s (20 lines/s), 7 applied-or-duplicate, 1 rejected, 2 blank");
  EXPECT_EQ(FormatRejectedLine("events.ndjson", 17, "missing_field", "track needs \"event\""),
            "events.ndjson:17: missing_field: track needs \"event\"");
  EXPECT_EQ(FormatDroppedReplies("e.ndjson", 3, "e.ndjson", 9, 1),
            "e.ndjson:3-9: replies_dropped: 1 rejected line in this range, not reported one by "
            "one (the replies were not read fast enough)");
}

// Plays the daemon: every line containing "bad" is rejected, and an ack follows every read.
struct FakeIngest {
  std::mutex mu;
  std::string received;

  void Serve(FakeConnection& c) {
    uint64_t lines = 0;
    std::string partial;
    std::string chunk;
    while (true) {
      chunk.clear();
      if (!c.ReadSome(&chunk)) {
        return;
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        received += chunk;
      }
      partial += chunk;
      std::string replies;
      size_t nl;
      while ((nl = partial.find('\n')) != std::string::npos) {
        ++lines;
        if (partial.substr(0, nl).find("bad") != std::string::npos) {
          replies += R"({"error":"invalid_json","message":"not JSON","line":)" +
                     std::to_string(lines) + "}\n";
        }
        partial.erase(0, nl + 1);
      }
      replies += R"({"ack":)" + std::to_string(lines) + "}\n";
      c.Write(replies);
    }
  }
};

TEST(SendCommandTest, SendsFilesMapsRejectionsAndWaitsForTheFinalAck) {
  testing::TempDir dir;
  const std::string a = dir.WriteFile("a.ndjson", "{\"n\":1}\nbad one\n");
  const std::string b = dir.WriteFile("b.ndjson", "\n{\"n\":2}\nbad two");  // no final newline
  const std::string empty = dir.WriteFile("empty.ndjson", "");
  FakeIngest ingest;
  FakeServer server([&](FakeConnection& c) { ingest.Serve(c); });
  std::ostringstream out;
  std::ostringstream err;
  int code = SendCommand({a, empty, b, "--ingest", server.address()}, out, err,
                         /*out_is_terminal=*/false);
  EXPECT_EQ(code, 1) << err.str();
  EXPECT_EQ(ingest.received, "{\"n\":1}\nbad one\n\n{\"n\":2}\nbad two\n");
  std::istringstream lines(out.str());
  std::string l1, l2, l3;
  std::getline(lines, l1);
  std::getline(lines, l2);
  std::getline(lines, l3);
  EXPECT_EQ(l1, a + ":2: invalid_json: not JSON");
  EXPECT_EQ(l2, b + ":3: invalid_json: not JSON");
  EXPECT_THAT(l3, ContainsRegex("^sent 5 lines in [0-9.]+ s \\([0-9]+ lines/s\\), 2 "
                                "applied-or-duplicate, 2 rejected, 1 blank$"));
  EXPECT_EQ(err.str(), "");
}

// A client that reads its replies too slowly gets one `replies_dropped` line for many rejected
// lines (SPEC 3, README "Replies to a client that does not read"): send counts all of them as
// rejected and names their range, also when it spans two files.
TEST(SendCommandTest, CountsTheLinesOfARepliesDroppedSummaryAsRejected) {
  testing::TempDir dir;
  const std::string a = dir.WriteFile("a.ndjson", "bad 1\nbad 2\nbad 3\n");
  const std::string b = dir.WriteFile("b.ndjson", "{\"n\":4}\nbad 5\n");
  FakeServer server([&](FakeConnection& c) {
    std::string received;
    std::string chunk;
    while (std::count(received.begin(), received.end(), '\n') < 5) {
      chunk.clear();
      if (!c.ReadSome(&chunk)) {
        return;
      }
      received += chunk;
    }
    c.Write(R"({"error":"invalid_json","message":"not JSON","line":1})"
            "\n"
            R"({"error":"replies_dropped","count":3,"first_line":2,"last_line":5})"
            "\n"
            R"({"ack":5})"
            "\n");
    chunk.clear();
    c.ReadSome(&chunk);  // until the client closes
  });
  std::ostringstream out;
  std::ostringstream err;
  int code = SendCommand({a, b, "--ingest", server.address()}, out, err,
                         /*out_is_terminal=*/false);
  EXPECT_EQ(code, 1) << err.str();
  std::istringstream lines(out.str());
  std::string l1, l2, l3;
  std::getline(lines, l1);
  std::getline(lines, l2);
  std::getline(lines, l3);
  EXPECT_EQ(l1, a + ":1: invalid_json: not JSON");
  EXPECT_EQ(l2, a + ":2-" + b +
                    ":2: replies_dropped: 3 rejected lines in this range, not "
                    "reported one by one (the replies were not read fast enough)");
  EXPECT_THAT(l3, ContainsRegex("^sent 5 lines in [0-9.]+ s \\([0-9]+ lines/s\\), 1 "
                                "applied-or-duplicate, 4 rejected$"));
  EXPECT_EQ(err.str(), "");
}

// Once a line is rejected, `send` lets only a window of lines go unanswered before it writes
// more, so error replies cannot pile up past the 1 MiB the daemon queues for a connection (then
// they would come as a replies_dropped summary). Without the window the whole file goes out
// while the server reads without answering.
TEST(SendCommandTest, AfterARejectedLineWaitsForAnswersBeforeSendingMore) {
  constexpr uint64_t kLines = 500000;
  testing::TempDir dir;
  std::string text;
  for (uint64_t i = 0; i < kLines; ++i) {
    text += "{\"type\":\"x\"}\n";
  }
  const std::string path = dir.WriteFile("bad.ndjson", text);
  auto reject = [](uint64_t line) {
    return R"({"error":"unsupported_type","message":"no","line":)" + std::to_string(line) + "}\n";
  };
  uint64_t read_unanswered = 0;
  FakeServer server([&](FakeConnection& c) {
    std::string line;
    uint64_t read = 0;
    if (!c.ReadLine(&line)) {
      return;
    }
    c.Write(reject(++read));
    // Give the client time to read that, then read on without answering until it stops writing.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    while (read < kLines && c.ReadLine(&line, 500)) {
      ++read;
    }
    read_unanswered = read;
    std::string replies;
    for (uint64_t i = 2; i <= read; ++i) {
      replies += reject(i);
    }
    c.Write(replies);
    while (read < kLines && c.ReadLine(&line)) {  // from here on, answer every line at once
      c.Write(reject(++read));
    }
    c.Write(R"({"ack":)" + std::to_string(read) + "}\n");
    std::string rest;
    c.ReadSome(&rest);  // until the client closes
  });
  std::ostringstream out;
  std::ostringstream err;
  const int code = SendCommand({path, "--ingest", server.address()}, out, err,
                               /*out_is_terminal=*/false);
  EXPECT_EQ(code, 1) << err.str();
  EXPECT_LT(read_unanswered, kLines);
  const std::string printed = out.str();
  EXPECT_EQ(static_cast<uint64_t>(std::count(printed.begin(), printed.end(), '\n')), kLines + 1);
  EXPECT_THAT(printed, HasSubstr(path + ":500000: unsupported_type: no\n"));
  EXPECT_THAT(printed, HasSubstr("500000 rejected"));
}

TEST(SendCommandTest, AllAcceptedExitsZeroAndShowsProgressOnATerminal) {
  testing::TempDir dir;
  std::string big;
  for (int i = 0; i < 20000; ++i) {
    big += "{\"type\":\"track\",\"event\":\"x\",\"userId\":\"u" + std::to_string(i) + "\"}\n";
  }
  const std::string path = dir.WriteFile("big.ndjson", big);
  FakeIngest ingest;
  FakeServer server([&](FakeConnection& c) { ingest.Serve(c); });
  std::ostringstream out;
  std::ostringstream err;
  int code = SendCommand({"-p", server.address(), path}, out, err, /*out_is_terminal=*/true);
  EXPECT_EQ(code, 0) << err.str();
  EXPECT_EQ(ingest.received, big);
  // Whatever progress was drawn is erased before the summary.
  std::string text = out.str();
  size_t summary = text.rfind("sent 20000 lines");
  ASSERT_NE(summary, std::string::npos) << text;
  EXPECT_THAT(text.substr(summary), ContainsRegex("20000 applied-or-duplicate, 0 rejected\n$"));
}

TEST(SendCommandTest, ConnectionsSendContiguousSharesAndReportTheTotal) {
  testing::TempDir dir;
  std::string a;
  for (int i = 0; i < 300; ++i) {
    a += "{\"n\":" + std::to_string(i) + (i == 250 ? ",\"bad\":1" : "") + "}\n";
  }
  const std::string b_text = "{\"last\":1}\nbad tail";  // no final newline
  const std::string path_a = dir.WriteFile("a.ndjson", a);
  const std::string path_b = dir.WriteFile("b.ndjson", b_text);
  // The fake serves connections one after the other: each lane closes once its own lines are
  // all acknowledged, which lets the next one be served.
  FakeIngest ingest;
  std::vector<std::string> per_connection;
  std::ostringstream out;
  std::ostringstream err;
  int code = 0;
  {
    FakeServer server(
        [&](FakeConnection& c) {
          const size_t before = ingest.received.size();
          ingest.Serve(c);
          per_connection.push_back(ingest.received.substr(before));
        },
        3);
    code = SendCommand(
        {path_a, path_b, "--connections", "3", "--max-ack-gap", "--ingest", server.address()}, out,
        err, /*out_is_terminal=*/false);
  }  // joins the server: every connection has been served
  EXPECT_EQ(code, 1) << err.str();
  ASSERT_EQ(per_connection.size(), 3u);
  EXPECT_EQ(per_connection[0] + per_connection[1] + per_connection[2], a + b_text + "\n");
  for (const std::string& share : per_connection) {
    EXPECT_FALSE(share.empty());
    EXPECT_EQ(share.back(), '\n');
  }
  // Rejected lines keep their numbers within their files, whichever connection carried them.
  EXPECT_THAT(out.str(), HasSubstr(path_a + ":251: invalid_json: not JSON\n"));
  EXPECT_THAT(out.str(), HasSubstr(path_b + ":2: invalid_json: not JSON\n"));
  EXPECT_THAT(out.str(), ContainsRegex("sent 302 lines in [0-9.]+ s \\([0-9]+ lines/s\\) over 3 "
                                       "connections, 300 applied-or-duplicate, 2 rejected\n"));
  EXPECT_THAT(out.str(), ContainsRegex("longest wait between acks: [0-9.]+ ms, ending [0-9.]+ s "
                                       "after the first byte\n$"));
  EXPECT_EQ(err.str(), "");
}

TEST(SendCommandTest, ConnectionsNeedFiles) {
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(SendCommand({"-", "--connections", "2", "--ingest", "127.0.0.1:1"}, out, err, false),
            2);
  EXPECT_THAT(err.str(), HasSubstr("needs"));
}

TEST(SendCommandTest, ConnectionLostBeforeTheFinalAckExitsTwo) {
  testing::TempDir dir;
  const std::string path = dir.WriteFile("a.ndjson", "{}\n{}\n{}\n");
  FakeServer server([&](FakeConnection& c) {
    std::string line;
    c.ReadLine(&line);
    c.Write("{\"ack\":1}\n");
  });  // closes after one line
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(SendCommand({path, "--ingest", server.address()}, out, err, false), 2);
  EXPECT_THAT(err.str(), HasSubstr("acknowledged"));
}

TEST(SendCommandTest, UsageAndFileErrorsExitTwo) {
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(SendCommand({}, out, err, false), 2);
  EXPECT_EQ(SendCommand({"/nonexistent/file.ndjson"}, out, err, false), 2);
  EXPECT_THAT(err.str(), HasSubstr("cannot open /nonexistent/file.ndjson"));
  EXPECT_EQ(SendCommand({"x", "--ingest", "nope"}, out, err, false), 2);
  std::ostringstream help;
  EXPECT_EQ(SendCommand({"--help"}, help, err, false), 0);
  EXPECT_THAT(help.str(), HasSubstr("--ingest"));
}

}  // namespace
}  // namespace handoff
