#include "net/line_framer.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace handoff {
namespace {

// What the framer reported for one line. The line's bytes are copied: the view passed to the
// callback is only valid during the call.
struct Line {
  uint64_t number = 0;
  std::string text;
  bool too_long = false;

  bool operator==(const Line&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Line& line) {
  return os << "{" << line.number << ", \"" << line.text << "\", "
            << (line.too_long ? "too_long" : "ok") << "}";
}

// Feeds `reads` one by one, then (when `finish`) ends the stream; returns every reported line.
std::vector<Line> Frame(size_t max_line_bytes, const std::vector<std::string>& reads,
                        bool finish = true) {
  LineFramer framer(max_line_bytes);
  std::vector<Line> lines;
  auto on_line = [&](uint64_t number, std::string_view line, bool too_long) {
    lines.push_back(Line{number, std::string(line), too_long});
  };
  for (const std::string& read : reads) {
    framer.Feed(read, on_line);
  }
  if (finish) {
    framer.Finish(on_line);
  }
  return lines;
}

TEST(LineFramerTest, SeveralLinesInOneRead) {
  EXPECT_EQ(Frame(100, {"one\ntwo\nthree\n"}),
            (std::vector<Line>{{1, "one", false}, {2, "two", false}, {3, "three", false}}));
}

TEST(LineFramerTest, LineSplitAcrossReads) {
  EXPECT_EQ(Frame(100, {"ab", "cd", "ef\ngh", "\n"}),
            (std::vector<Line>{{1, "abcdef", false}, {2, "gh", false}}));
}

TEST(LineFramerTest, NewlineAloneInARead) {
  EXPECT_EQ(Frame(100, {"abc", "\n", "\n", "x\n"}),
            (std::vector<Line>{{1, "abc", false}, {2, "", false}, {3, "x", false}}));
}

TEST(LineFramerTest, EmptyReadsChangeNothing) {
  LineFramer framer(100);
  int calls = 0;
  auto on_line = [&](uint64_t, std::string_view, bool) { ++calls; };
  framer.Feed("", on_line);
  framer.Feed("ab", on_line);
  framer.Feed("", on_line);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(framer.buffered(), 2u);
  framer.Feed("\n", on_line);
  EXPECT_EQ(calls, 1);
}

// Blank lines count: `{"ack":N}` counts every line of the connection, blank or not (SPEC 3).
TEST(LineFramerTest, BlankLinesAreLinesAndCount) {
  EXPECT_EQ(Frame(100, {"\n\na\n\n"}),
            (std::vector<Line>{{1, "", false}, {2, "", false}, {3, "a", false}, {4, "", false}}));
}

// The framer splits on '\n' only; the CR of a CRLF is part of the newline and leaves with it, a
// CR inside a line never splits it, and an unterminated last line loses its final CR too.
TEST(LineFramerTest, TheCrOfACrlfLeavesWithTheNewline) {
  EXPECT_EQ(
      Frame(100, {"a\r\n\r\nb\rc\n\r\r\nd\r"}),
      (std::vector<Line>{
          {1, "a", false}, {2, "", false}, {3, "b\rc", false}, {4, "\r", false}, {5, "d", false}}));
}

TEST(LineFramerTest, NulAndHighBytesAreOrdinaryBytes) {
  const std::string line("a\0b\xff", 4);
  EXPECT_EQ(Frame(100, {line + "\n"}), (std::vector<Line>{{1, line, false}}));
}

TEST(LineFramerTest, LinesCountsCompletedLines) {
  LineFramer framer(100);
  auto ignore = [](uint64_t, std::string_view, bool) {};
  EXPECT_EQ(framer.lines(), 0u);
  framer.Feed("a\nb\nc", ignore);
  EXPECT_EQ(framer.lines(), 2u);  // "c" is not complete yet
  EXPECT_EQ(framer.buffered(), 1u);
  framer.Feed("\n\n", ignore);
  EXPECT_EQ(framer.lines(), 4u);
  EXPECT_EQ(framer.buffered(), 0u);
}

TEST(LineFramerTest, ALineOfExactlyTheLimitIsAccepted) {
  const std::string max(8, 'x');
  EXPECT_EQ(Frame(8, {max + "\n"}), (std::vector<Line>{{1, max, false}}));
  // Also when it arrives in pieces, and when the newline comes in a read of its own.
  EXPECT_EQ(Frame(8, {"xxx", "xxxxx", "\n"}), (std::vector<Line>{{1, max, false}}));
}

// SPEC 3: the limit counts the line without its newline, and a CRLF is one.
TEST(LineFramerTest, TheCrOfACrlfDoesNotCountTowardsTheLimit) {
  const std::string max(8, 'x');
  EXPECT_EQ(Frame(8, {max + "\r\n"}), (std::vector<Line>{{1, max, false}}));
  // The CR at the end of one read, the LF in the next.
  EXPECT_EQ(Frame(8, {max + "\r", "\n"}), (std::vector<Line>{{1, max, false}}));
  // A line of exactly the limit and its CRLF inside a longer line's copy (partial, then whole).
  EXPECT_EQ(Frame(8, {"xxx", "xxxxx\r\n"}), (std::vector<Line>{{1, max, false}}));
  // A CR that more bytes follow counts: 9 bytes before the newline.
  EXPECT_EQ(Frame(8, {max + "\r", "y\n"}), (std::vector<Line>{{1, "", true}}));
  EXPECT_EQ(Frame(8, {max + "y\r\n"}), (std::vector<Line>{{1, "", true}}));
}

TEST(LineFramerTest, ALineOverTheLimitIsTooLongAndSkipped) {
  EXPECT_EQ(Frame(8, {"ok\n" + std::string(9, 'x') + "\nnext\n"}),
            (std::vector<Line>{{1, "ok", false}, {2, "", true}, {3, "next", false}}));
}

// Reported as soon as the line passes the limit, before its newline arrives (a client that never
// sends one still hears about it), and only once however many more bytes follow.
TEST(LineFramerTest, TooLongIsReportedOnceBeforeTheNewline) {
  LineFramer framer(8);
  std::vector<Line> lines;
  auto on_line = [&](uint64_t number, std::string_view line, bool too_long) {
    lines.push_back(Line{number, std::string(line), too_long});
  };
  framer.Feed("xxxxxx", on_line);
  EXPECT_TRUE(lines.empty());
  framer.Feed("xxx", on_line);  // 9 bytes: over the limit
  EXPECT_EQ(lines, (std::vector<Line>{{1, "", true}}));
  EXPECT_EQ(framer.lines(), 1u);
  for (int i = 0; i < 100; ++i) {
    framer.Feed(std::string(1000, 'y'), on_line);
  }
  EXPECT_EQ(lines.size(), 1u);
  framer.Feed("zz\nafter\n", on_line);
  EXPECT_EQ(lines, (std::vector<Line>{{1, "", true}, {2, "after", false}}));
  EXPECT_EQ(framer.lines(), 2u);
}

// Memory stays bounded whatever the client sends: nothing of a too-long line is kept.
TEST(LineFramerTest, BufferStaysBoundedByTheLimit) {
  LineFramer framer(16);
  auto ignore = [](uint64_t, std::string_view, bool) {};
  for (int i = 0; i < 1000; ++i) {
    framer.Feed(std::string(7, 'x'), ignore);
    EXPECT_LE(framer.buffered(), 16u);
  }
  EXPECT_EQ(framer.buffered(), 0u);
  EXPECT_EQ(framer.lines(), 1u);
}

TEST(LineFramerTest, TooLongLineEndingInTheSameRead) {
  EXPECT_EQ(Frame(4, {"abcde\nabcd\nabcdefgh\n"}),
            (std::vector<Line>{{1, "", true}, {2, "abcd", false}, {3, "", true}}));
}

TEST(LineFramerTest, ZeroLimitAllowsOnlyBlankLines) {
  EXPECT_EQ(Frame(0, {"\nx\n\n"}),
            (std::vector<Line>{{1, "", false}, {2, "", true}, {3, "", false}}));
}

TEST(LineFramerTest, FinishReportsAFinalLineWithoutNewline) {
  EXPECT_EQ(Frame(100, {"a\nlast"}), (std::vector<Line>{{1, "a", false}, {2, "last", false}}));
  EXPECT_EQ(Frame(100, {"a\nla", "st"}, /*finish=*/false), (std::vector<Line>{{1, "a", false}}));
}

TEST(LineFramerTest, FinishAfterACompleteLineReportsNothing) {
  EXPECT_EQ(Frame(100, {"a\n"}), (std::vector<Line>{{1, "a", false}}));
  EXPECT_EQ(Frame(100, {}), (std::vector<Line>{}));
}

// A too-long final line was already reported when it passed the limit; the end of the stream
// must not report it again (nor its tail as a line of its own).
TEST(LineFramerTest, FinishDoesNotRepeatATooLongFinalLine) {
  EXPECT_EQ(Frame(4, {"ok\nabcdefgh"}), (std::vector<Line>{{1, "ok", false}, {2, "", true}}));
}

TEST(LineFramerTest, FinishClearsTheBufferAndIsIdempotent) {
  LineFramer framer(100);
  std::vector<Line> lines;
  auto on_line = [&](uint64_t number, std::string_view line, bool too_long) {
    lines.push_back(Line{number, std::string(line), too_long});
  };
  framer.Feed("tail", on_line);
  framer.Finish(on_line);
  framer.Finish(on_line);
  EXPECT_EQ(lines, (std::vector<Line>{{1, "tail", false}}));
  EXPECT_EQ(framer.buffered(), 0u);
  EXPECT_EQ(framer.lines(), 1u);
}

// However the stream is cut into reads, the lines are the same: try every split into two reads
// and every split into single bytes.
TEST(LineFramerTest, SameLinesWhateverTheReadBoundaries) {
  const std::string input = "first\n\nsecond line\r\n" + std::string(20, 'L') + "\nok\ntail";
  const std::vector<Line> whole = Frame(10, {input});
  ASSERT_EQ(whole, (std::vector<Line>{{1, "first", false},
                                      {2, "", false},
                                      {3, "", true},
                                      {4, "", true},
                                      {5, "ok", false},
                                      {6, "tail", false}}));
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    EXPECT_EQ(Frame(10, {input.substr(0, cut), input.substr(cut)}), whole) << "cut at " << cut;
  }
  std::vector<std::string> bytes;
  for (char c : input) {
    bytes.emplace_back(1, c);
  }
  EXPECT_EQ(Frame(10, bytes), whole);
}

}  // namespace
}  // namespace handoff
