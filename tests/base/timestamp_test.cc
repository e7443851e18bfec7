#include "base/timestamp.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

namespace handoff {
namespace {

// Parses or fails the test; returns NaN on failure so a following EXPECT_EQ also fails.
double Parse(std::string_view text) {
  EpochSeconds t = 0;
  if (!ParseRfc3339(text, &t)) {
    ADD_FAILURE() << "rejected: " << text;
    return std::nan("");
  }
  return t;
}

bool Rejects(std::string_view text) {
  EpochSeconds t = 12345;
  const bool ok = ParseRfc3339(text, &t);
  EXPECT_EQ(t, 12345) << "output touched on failure: " << text;
  return !ok;
}

TEST(ParseRfc3339Test, Utc) {
  EXPECT_EQ(Parse("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(Parse("2026-11-22T10:00:00Z"), 1795341600);
  EXPECT_EQ(Parse("2000-03-01T00:00:00Z"), 951868800);
  EXPECT_EQ(Parse("1969-12-31T23:59:59Z"), -1);
  EXPECT_EQ(Parse("0000-01-01T00:00:00Z"), -62167219200);
  EXPECT_EQ(Parse("9999-12-31T23:59:59Z"), 253402300799);
}

TEST(ParseRfc3339Test, LowercaseSeparators) {
  EXPECT_EQ(Parse("2026-11-22t10:00:00z"), 1795341600);
  EXPECT_EQ(Parse("2026-11-22t10:00:00Z"), 1795341600);
  EXPECT_EQ(Parse("2026-11-22T10:00:00z"), 1795341600);
}

TEST(ParseRfc3339Test, Fractions) {
  EXPECT_DOUBLE_EQ(Parse("2026-11-22T10:00:00.123Z"), 1795341600.123);
  EXPECT_DOUBLE_EQ(Parse("2026-11-22T10:00:00.5Z"), 1795341600.5);
  EXPECT_DOUBLE_EQ(Parse("2026-11-22T10:00:00.000001Z"), 1795341600.000001);
  // Any number of digits; those past the 15th are read and ignored.
  EXPECT_DOUBLE_EQ(Parse("2026-11-22T10:00:00.12345678901234567890123Z"), 1795341600.123456789);
  EXPECT_DOUBLE_EQ(Parse("1970-01-01T00:00:00.25Z"), 0.25);
  // A fraction before the epoch still adds.
  EXPECT_DOUBLE_EQ(Parse("1969-12-31T23:59:59.75Z"), -0.25);
}

TEST(ParseRfc3339Test, Offsets) {
  EXPECT_EQ(Parse("2026-11-22T12:00:00+02:00"), 1795341600);
  EXPECT_EQ(Parse("2026-11-22T05:30:00-04:30"), 1795341600);
  EXPECT_EQ(Parse("2026-11-22T10:00:00+00:00"), 1795341600);
  EXPECT_EQ(Parse("2026-11-22T10:00:00-00:00"), 1795341600);
  // Offsets move across a day boundary.
  EXPECT_EQ(Parse("2026-11-23T09:59:00+23:59"), 1795341600);
  EXPECT_TRUE(Rejects("2026-11-21T10:00:00-24:00"));
}

TEST(ParseRfc3339Test, LeapYears) {
  EXPECT_EQ(Parse("2024-02-29T00:00:00Z"), 1709164800);
  EXPECT_EQ(Parse("2000-02-29T00:00:00Z"), 951782400);  // divisible by 400: leap
  EXPECT_TRUE(Rejects("2026-02-29T00:00:00Z"));
  EXPECT_TRUE(Rejects("1900-02-29T00:00:00Z"));  // divisible by 100, not 400: not leap
  EXPECT_TRUE(Rejects("2024-02-30T00:00:00Z"));
}

TEST(ParseRfc3339Test, ImpossibleDatesAndTimes) {
  EXPECT_TRUE(Rejects("2026-04-31T00:00:00Z"));
  EXPECT_TRUE(Rejects("2026-13-01T00:00:00Z"));
  EXPECT_TRUE(Rejects("2026-00-01T00:00:00Z"));
  EXPECT_TRUE(Rejects("2026-01-00T00:00:00Z"));
  EXPECT_TRUE(Rejects("2026-01-32T00:00:00Z"));
  EXPECT_TRUE(Rejects("2026-01-01T24:00:00Z"));
  EXPECT_TRUE(Rejects("2026-01-01T23:60:00Z"));
  EXPECT_TRUE(Rejects("2026-12-31T23:59:60Z"));  // leap seconds are not accepted
  EXPECT_TRUE(Rejects("2026-01-01T00:00:00+24:00"));
  EXPECT_TRUE(Rejects("2026-01-01T00:00:00+01:60"));
}

TEST(ParseRfc3339Test, Syntax) {
  EXPECT_TRUE(Rejects(""));
  EXPECT_TRUE(Rejects("2026-11-22"));
  EXPECT_TRUE(Rejects("2026-11-22T10:00Z"));       // seconds required
  EXPECT_TRUE(Rejects("2026-11-22T10:00:00"));     // offset required
  EXPECT_TRUE(Rejects("2026-11-22 10:00:00Z"));    // space separator
  EXPECT_TRUE(Rejects("2026-11-22T10:00:00.Z"));   // empty fraction
  EXPECT_TRUE(Rejects("2026-11-22T10:00:00,5Z"));  // comma fraction
  EXPECT_TRUE(Rejects("2026-11-22T10:00:00+0200"));
  EXPECT_TRUE(Rejects("2026-11-22T10:00:00+02"));
  EXPECT_TRUE(Rejects("2026-11-22T10:00:00ZZ"));
  EXPECT_TRUE(Rejects("2026-11-22T10:00:00Z "));
  EXPECT_TRUE(Rejects(" 2026-11-22T10:00:00Z"));
  EXPECT_TRUE(Rejects("26-11-22T10:00:00Z"));
  EXPECT_TRUE(Rejects("+2026-11-22T10:00:00Z"));
  EXPECT_TRUE(Rejects("2026-1-22T10:00:00Z"));
  EXPECT_TRUE(Rejects("2026-11-22T1:00:00Z"));
  EXPECT_TRUE(Rejects("2026/11/22T10:00:00Z"));
  EXPECT_TRUE(Rejects("2026-11-22X10:00:00Z"));
  EXPECT_TRUE(Rejects("2026-11-22T10:00:00.12a3Z"));
  EXPECT_TRUE(Rejects("1795341600"));
}

TEST(EpochFromNumberTest, SecondsAndMillis) {
  EpochSeconds t = 0;
  ASSERT_TRUE(EpochFromNumber(1795341600, &t));
  EXPECT_EQ(t, 1795341600);
  ASSERT_TRUE(EpochFromNumber(1795341600.25, &t));
  EXPECT_EQ(t, 1795341600.25);
  ASSERT_TRUE(EpochFromNumber(1795341600123, &t));
  EXPECT_DOUBLE_EQ(t, 1795341600.123);
  ASSERT_TRUE(EpochFromNumber(1795341600123.5, &t));
  EXPECT_DOUBLE_EQ(t, 1795341600.1235);
  // The boundary: 1e11 itself is seconds, anything above is milliseconds.
  ASSERT_TRUE(EpochFromNumber(1e11, &t));
  EXPECT_EQ(t, 1e11);
  ASSERT_TRUE(EpochFromNumber(100000000001, &t));
  EXPECT_DOUBLE_EQ(t, 100000000.001);
  ASSERT_TRUE(EpochFromNumber(0, &t));
  EXPECT_EQ(t, 0);
  // Negative numbers are seconds before 1970, used as given.
  ASSERT_TRUE(EpochFromNumber(-5.5, &t));
  EXPECT_EQ(t, -5.5);
  ASSERT_TRUE(EpochFromNumber(-1e12, &t));
  EXPECT_EQ(t, -1e12);
}

TEST(EpochFromNumberTest, NonFinite) {
  EpochSeconds t = 7;
  EXPECT_FALSE(EpochFromNumber(std::numeric_limits<double>::infinity(), &t));
  EXPECT_FALSE(EpochFromNumber(-std::numeric_limits<double>::infinity(), &t));
  EXPECT_FALSE(EpochFromNumber(std::nan(""), &t));
  // Beyond what a record can print (+-9e15 s), seconds or milliseconds.
  EXPECT_FALSE(EpochFromNumber(1e300, &t));
  EXPECT_FALSE(EpochFromNumber(-1e30, &t));
  EXPECT_FALSE(EpochFromNumber(9.1e18, &t));
  EXPECT_EQ(t, 7);
  ASSERT_TRUE(EpochFromNumber(9e18, &t));  // milliseconds: 9e15 s, the last printable
  EXPECT_EQ(FormatRfc3339Millis(t), "285200616-07-24T16:00:00.000Z");
  ASSERT_TRUE(EpochFromNumber(-9e15, &t));
  EXPECT_FALSE(FormatRfc3339Millis(t).empty());
}

TEST(ParseTimeParamTest, AcceptsBothForms) {
  EpochSeconds t = 0;
  ASSERT_TRUE(ParseTimeParam("2026-11-22T10:00:00.5Z", &t));
  EXPECT_EQ(t, 1795341600.5);
  ASSERT_TRUE(ParseTimeParam("1795341600", &t));
  EXPECT_EQ(t, 1795341600);
  ASSERT_TRUE(ParseTimeParam("1795341600.25", &t));
  EXPECT_EQ(t, 1795341600.25);
  ASSERT_TRUE(ParseTimeParam("1795341600123", &t));
  EXPECT_DOUBLE_EQ(t, 1795341600.123);
  ASSERT_TRUE(ParseTimeParam("1.7953416e9", &t));
  EXPECT_EQ(t, 1795341600);
  ASSERT_TRUE(ParseTimeParam("-1", &t));
  EXPECT_EQ(t, -1);
  ASSERT_TRUE(ParseTimeParam("0", &t));
  EXPECT_EQ(t, 0);
}

TEST(ParseTimeParamTest, RejectsJunk) {
  EpochSeconds t = 0;
  for (const char* bad : {"", " 1", "1 ", "+1", "1.", ".5", "01", "0x10", "inf", "nan", "1e",
                          "1e400", "abc", "2026-02-30T00:00:00Z", "1795341600s"}) {
    EXPECT_FALSE(ParseTimeParam(bad, &t)) << bad;
  }
}

TEST(FormatRfc3339MillisTest, Formats) {
  EXPECT_EQ(FormatRfc3339Millis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Millis(1795341600.123), "2026-11-22T10:00:00.123Z");
  EXPECT_EQ(FormatRfc3339Millis(1795341600), "2026-11-22T10:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Millis(1709164800), "2024-02-29T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Millis(-1), "1969-12-31T23:59:59.000Z");
  EXPECT_EQ(FormatRfc3339Millis(-0.25), "1969-12-31T23:59:59.750Z");
  EXPECT_EQ(FormatRfc3339Millis(253402300799.999), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339Millis(-62167219200), "0000-01-01T00:00:00.000Z");
  // Outside RFC 3339's four-digit years: as many digits as needed.
  EXPECT_EQ(FormatRfc3339Millis(253402300800), "10000-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Millis(-62167219201), "-0001-12-31T23:59:59.000Z");
}

TEST(FormatRfc3339MillisTest, YearsBeyondChronoRange) {
  // std::chrono::year stops at +-32767; the formatter goes on to +-9e15 s in 400-year cycles.
  EXPECT_EQ(FormatRfc3339Millis(971890963199.999), "32767-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339Millis(971890963200), "32768-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Millis(-1096193779200), "-32767-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Millis(-1096193779200.001), "-32768-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339Millis(1e12), "33658-09-27T01:46:40.000Z");
  EXPECT_EQ(FormatRfc3339Millis(-1e12), "-29719-04-05T22:13:20.000Z");
  EXPECT_EQ(FormatRfc3339Millis(9e15), "285200616-07-24T16:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Millis(-9e15), "-285196677-06-10T08:00:00.000Z");
}

TEST(FormatRfc3339MillisTest, TruncatesToTheMillisecond) {
  EXPECT_EQ(FormatRfc3339Millis(1795341600.1234), "2026-11-22T10:00:00.123Z");
  EXPECT_EQ(FormatRfc3339Millis(1795341600.1236), "2026-11-22T10:00:00.123Z");
  EXPECT_EQ(FormatRfc3339Millis(1795341659.9996), "2026-11-22T10:00:59.999Z");
  EXPECT_EQ(FormatRfc3339Millis(86399.9999), "1970-01-01T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339Millis(-0.0004), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(PrintedMillis(1795341600.1236), 1795341600123);
}

TEST(FormatRfc3339MillisTest, AMillisecondGivenAsTextPrintsAsItself) {
  // Whatever double a parsed time lands on, just below or above the millisecond, it prints back
  // as the text it came from.
  for (int ms = 0; ms < 1000; ++ms) {
    char text[40];
    std::snprintf(text, sizeof(text), "2026-11-22T10:00:07.%03dZ", ms);
    EpochSeconds t = 0;
    ASSERT_TRUE(ParseRfc3339(text, &t)) << text;
    EXPECT_EQ(FormatRfc3339Millis(t), text);
    ASSERT_TRUE(ParseTimeParam(std::to_string(1795341607000 + ms), &t));
    EXPECT_EQ(FormatRfc3339Millis(t), text);
    EXPECT_EQ(FormatRfc3339Millis(1795341607 + ms / 1000.0), text);
  }
}

TEST(FormatRfc3339MillisTest, NonFiniteIsEmpty) {
  EXPECT_EQ(FormatRfc3339Millis(std::numeric_limits<double>::infinity()), "");
  EXPECT_EQ(FormatRfc3339Millis(std::nan("")), "");
  EXPECT_EQ(FormatRfc3339Millis(1e300), "");
}

TEST(FormatRfc3339MillisTest, AppendsAndRoundTrips) {
  std::string out = "at ";
  AppendRfc3339Millis(1795341600.5, &out);
  EXPECT_EQ(out, "at 2026-11-22T10:00:00.500Z");
  // Every day of four years (a leap cycle) plus a sweep of times: format then parse back.
  for (int64_t day = -800; day < 800; ++day) {
    const double t = static_cast<double>(day) * 86400 + 12345.678;
    const std::string s = FormatRfc3339Millis(t);
    EpochSeconds back = 0;
    ASSERT_TRUE(ParseRfc3339(s, &back)) << s;
    EXPECT_NEAR(back, t, 1e-6) << s;
  }
}

}  // namespace
}  // namespace handoff
