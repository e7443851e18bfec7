#include "rules/working_hours.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace handoff {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr int kMon = 0, kTue = 1, kFri = 4, kSat = 5, kSun = 6;

WorkingHours Parse(std::string_view text) {
  WorkingHours hours;
  HoursError error;
  EXPECT_TRUE(ParseWorkingHours(text, &hours, &error)) << text << ": " << error.message;
  return hours;
}

HoursError Error(std::string_view text) {
  WorkingHours hours;
  HoursError error;
  EXPECT_FALSE(ParseWorkingHours(text, &hours, &error)) << text;
  return error;
}

TEST(WorkingHoursTest, WeekdayRange) {
  WorkingHours h = Parse("Mon-Fri 09:00-17:00");
  EXPECT_FALSE(h.always);
  EXPECT_EQ(h.text, "Mon-Fri 09:00-17:00");
  ASSERT_EQ(h.intervals.size(), 5u);
  EXPECT_THAT(h.intervals[0], Pair(MinuteOfWeek(kMon, 9, 0), MinuteOfWeek(kMon, 17, 0)));
  EXPECT_THAT(h.intervals[4], Pair(MinuteOfWeek(kFri, 9, 0), MinuteOfWeek(kFri, 17, 0)));
  EXPECT_TRUE(h.Contains(MinuteOfWeek(kMon, 9, 0)));
  EXPECT_FALSE(h.Contains(MinuteOfWeek(kMon, 8, 59)));
  EXPECT_TRUE(h.Contains(MinuteOfWeek(kTue, 9, 0)));
  EXPECT_TRUE(h.Contains(MinuteOfWeek(kTue, 16, 59)));
  EXPECT_FALSE(h.Contains(MinuteOfWeek(kTue, 17, 0)));  // half-open
  EXPECT_FALSE(h.Contains(MinuteOfWeek(kTue, 8, 59)));
  EXPECT_TRUE(h.Contains(MinuteOfWeek(kFri, 12, 0)));
  EXPECT_FALSE(h.Contains(MinuteOfWeek(kSat, 12, 0)));
}

TEST(WorkingHoursTest, SeveralItemsMergeAndSort) {
  WorkingHours h = Parse("Fri 13:00-17:00, mon 9:00-12:00,Friday 08:00-13:00");
  EXPECT_THAT(h.intervals, ElementsAre(Pair(MinuteOfWeek(kMon, 9, 0), MinuteOfWeek(kMon, 12, 0)),
                                       Pair(MinuteOfWeek(kFri, 8, 0), MinuteOfWeek(kFri, 17, 0))));
}

TEST(WorkingHoursTest, MidnightEndAndWholeDay) {
  EXPECT_THAT(Parse("Sat 18:00-24:00").intervals,
              ElementsAre(Pair(MinuteOfWeek(kSat, 18, 0), MinuteOfWeek(kSun, 0, 0))));
  EXPECT_THAT(Parse("Sun 00:00-24:00").intervals,
              ElementsAre(Pair(MinuteOfWeek(kSun, 0, 0), kMinutesPerWeek)));
}

TEST(WorkingHoursTest, OvernightRangesRunIntoTheNextDayAndWrapTheWeek) {
  WorkingHours h = Parse("Sat-Sun 22:00-06:00");
  EXPECT_THAT(h.intervals, ElementsAre(Pair(0, MinuteOfWeek(kMon, 6, 0)),
                                       Pair(MinuteOfWeek(kSat, 22, 0), MinuteOfWeek(kSun, 6, 0)),
                                       Pair(MinuteOfWeek(kSun, 22, 0), kMinutesPerWeek)));
  EXPECT_TRUE(h.Contains(MinuteOfWeek(kMon, 5, 59)));
  EXPECT_FALSE(h.Contains(MinuteOfWeek(kMon, 6, 0)));
  EXPECT_TRUE(h.Contains(MinuteOfWeek(kSun, 3, 0)));
  EXPECT_FALSE(h.Contains(MinuteOfWeek(kSun, 12, 0)));
}

TEST(WorkingHoursTest, DayRangesWrapThroughTheWeekend) {
  WorkingHours h = Parse("Fri-Mon 10:00-11:00");
  EXPECT_EQ(h.intervals.size(), 4u);
  EXPECT_TRUE(h.Contains(MinuteOfWeek(kSun, 10, 30)));
  EXPECT_FALSE(h.Contains(MinuteOfWeek(kTue, 10, 30)));
}

TEST(WorkingHoursTest, SundayOvernightRunsIntoMonday) {
  WorkingHours h = Parse("Sun 22:00-06:00");
  EXPECT_TRUE(h.Contains(MinuteOfWeek(kSun, 22, 0)));
  EXPECT_TRUE(h.Contains(MinuteOfWeek(kSun, 23, 59)));
  EXPECT_TRUE(h.Contains(MinuteOfWeek(kMon, 0, 0)));
  EXPECT_TRUE(h.Contains(MinuteOfWeek(kMon, 5, 59)));
  EXPECT_FALSE(h.Contains(MinuteOfWeek(kMon, 6, 0)));
  EXPECT_FALSE(h.Contains(MinuteOfWeek(kSun, 21, 59)));
}

TEST(WorkingHoursTest, DefaultIsAlways) {
  WorkingHours h;
  EXPECT_TRUE(h.always);
  EXPECT_TRUE(h.Contains(0));
  EXPECT_TRUE(h.Contains(MinuteOfWeek(kSun, 3, 0)));
  EXPECT_TRUE(h.Contains(kMinutesPerWeek - 1));
}

TEST(WorkingHoursTest, ErrorsPointAtTheOffendingToken) {
  HoursError e = Error("Mnday 09:00-17:00");
  EXPECT_EQ(e.offset, 0u);
  EXPECT_EQ(e.message,
            "hours: unknown day \"Mnday\": expected Mon, Tue, Wed, Thu, Fri, Sat or Sun");

  e = Error("Mon-Fri 09:00-25:00");
  EXPECT_EQ(e.offset, 14u);
  EXPECT_THAT(e.message, HasSubstr("invalid time \"25:00\""));

  e = Error("Mon-Fri 24:00-23:00");
  EXPECT_EQ(e.offset, 8u);
  EXPECT_EQ(e.message, "hours: invalid time \"24:00\": expected 00:00 to 23:59");

  e = Error("Mon-Fri 09:60-17:00");
  EXPECT_EQ(e.offset, 8u);

  e = Error("Mon-Fri 9am-5pm");
  EXPECT_EQ(e.offset, 8u);
  EXPECT_THAT(e.message, HasSubstr("expected a time HH:MM, found \"9am-5pm\""));

  e = Error("Mon-Fri");
  EXPECT_EQ(e.offset, 7u);
  EXPECT_THAT(e.message, HasSubstr("expected a space and a time range"));

  e = Error("Mon 09:00");
  EXPECT_EQ(e.offset, 9u);
  EXPECT_THAT(e.message, HasSubstr("expected '-' and an end time"));

  e = Error("Mon 09:00-17:00 Tue 09:00-17:00");
  EXPECT_EQ(e.offset, 16u);
  EXPECT_THAT(e.message, HasSubstr("expected ','"));

  e = Error("Mon 09:00-17:00,");
  EXPECT_EQ(e.offset, 16u);

  e = Error("Mon 09:00-09:00");
  EXPECT_EQ(e.offset, 4u);
  EXPECT_THAT(e.message, HasSubstr("empty time range"));

  e = Error("   ");
  EXPECT_THAT(e.message, HasSubstr("empty hours"));

  e = Error("09:00-17:00");
  EXPECT_EQ(e.offset, 0u);
  EXPECT_THAT(e.message, HasSubstr("expected a day"));

  e = Error("Mon-Xyz 09:00-17:00");
  EXPECT_EQ(e.offset, 4u);
}

}  // namespace
}  // namespace handoff
