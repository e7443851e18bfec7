#include "routing/rep_calendar.h"

#include <date/tz.h>
#include <gtest/gtest.h>

#include <chrono>

#include "rules/working_hours.h"

namespace handoff {
namespace {

EpochSeconds Utc(int y, unsigned mo, unsigned d, int h, int mi, int s = 0) {
  using namespace std::chrono;
  date::sys_seconds t =
      date::sys_days{date::year{y} / mo / d} + hours{h} + minutes{mi} + seconds{s};
  return static_cast<EpochSeconds>(t.time_since_epoch().count());
}

// Local days since 1970-01-01 of a calendar date.
int64_t Day(int y, unsigned mo, unsigned d) {
  return date::sys_days{date::year{y} / mo / d}.time_since_epoch().count();
}

constexpr int kMon = 0, kTue = 1, kThu = 3, kSun = 6;

TEST(LocalMomentTest, UtcWhenNoZone) {
  LocalMoment m = LocalMomentOf(nullptr, 0);
  EXPECT_EQ(m.day, 0);
  EXPECT_EQ(m.minute_of_week, MinuteOfWeek(kThu, 0, 0));  // 1970-01-01 was a Thursday
  m = LocalMomentOf(nullptr, Utc(2026, 1, 12, 0, 0));     // a Monday
  EXPECT_EQ(m.day, Day(2026, 1, 12));
  EXPECT_EQ(m.minute_of_week, 0);
  m = LocalMomentOf(nullptr, Utc(2026, 1, 18, 23, 59, 59));  // Sunday, last minute of the week
  EXPECT_EQ(m.minute_of_week, MinuteOfWeek(kSun, 23, 59));
  EXPECT_EQ(m.minute_of_week, kMinutesPerWeek - 1);
  // Fractions of a second round down.
  m = LocalMomentOf(nullptr, Utc(2026, 1, 12, 8, 59, 59) + 0.999);
  EXPECT_EQ(m.minute_of_week, MinuteOfWeek(kMon, 8, 59));
}

TEST(LocalMomentTest, BeforeTheEpoch) {
  LocalMoment m = LocalMomentOf(nullptr, -1);  // 1969-12-31 23:59:59, a Wednesday
  EXPECT_EQ(m.day, -1);
  EXPECT_EQ(m.minute_of_week, MinuteOfWeek(2, 23, 59));
  m = LocalMomentOf(nullptr, -86400.5);  // 1969-12-30 23:59:59.5, a Tuesday
  EXPECT_EQ(m.day, -2);
  EXPECT_EQ(m.minute_of_week, MinuteOfWeek(kTue, 23, 59));
  m = LocalMomentOf(nullptr, Utc(1969, 12, 29, 0, 0));  // Monday
  EXPECT_EQ(m.day, -3);
  EXPECT_EQ(m.minute_of_week, 0);
}

TEST(LocalMomentTest, UtcZoneIsUtc) {
  const date::time_zone* utc = date::locate_zone("UTC");
  for (EpochSeconds t : {0.0, -1.0, Utc(2026, 3, 8, 7, 0), Utc(2026, 7, 13, 13, 0)}) {
    LocalMoment a = LocalMomentOf(utc, t);
    LocalMoment b = LocalMomentOf(nullptr, t);
    EXPECT_EQ(a.day, b.day) << t;
    EXPECT_EQ(a.minute_of_week, b.minute_of_week) << t;
  }
}

TEST(LocalMomentTest, NewYorkAcrossDaylightSavingTime) {
  const date::time_zone* ny = date::locate_zone("America/New_York");
  // EST: UTC-5.
  LocalMoment m = LocalMomentOf(ny, Utc(2026, 1, 12, 14, 0));
  EXPECT_EQ(m.day, Day(2026, 1, 12));
  EXPECT_EQ(m.minute_of_week, MinuteOfWeek(kMon, 9, 0));
  // Monday 03:00 UTC is still Sunday 22:00 in New York.
  m = LocalMomentOf(ny, Utc(2026, 1, 12, 3, 0));
  EXPECT_EQ(m.day, Day(2026, 1, 11));
  EXPECT_EQ(m.minute_of_week, MinuteOfWeek(kSun, 22, 0));
  // EDT: UTC-4.
  m = LocalMomentOf(ny, Utc(2026, 7, 13, 13, 0));
  EXPECT_EQ(m.day, Day(2026, 7, 13));
  EXPECT_EQ(m.minute_of_week, MinuteOfWeek(kMon, 9, 0));
  // Spring forward, Sunday 2026-03-08: 01:59:59 EST is followed by 03:00:00 EDT.
  m = LocalMomentOf(ny, Utc(2026, 3, 8, 6, 59, 59));
  EXPECT_EQ(m.minute_of_week, MinuteOfWeek(kSun, 1, 59));
  m = LocalMomentOf(ny, Utc(2026, 3, 8, 7, 0, 0));
  EXPECT_EQ(m.minute_of_week, MinuteOfWeek(kSun, 3, 0));
  EXPECT_EQ(m.day, Day(2026, 3, 8));
  // Fall back, Sunday 2026-11-01: 01:59:59 EDT is followed by 01:00:00 EST, the same day.
  m = LocalMomentOf(ny, Utc(2026, 11, 1, 5, 59, 59));
  EXPECT_EQ(m.minute_of_week, MinuteOfWeek(kSun, 1, 59));
  m = LocalMomentOf(ny, Utc(2026, 11, 1, 6, 0, 0));
  EXPECT_EQ(m.minute_of_week, MinuteOfWeek(kSun, 1, 0));
  EXPECT_EQ(m.day, Day(2026, 11, 1));
  // Local midnight is 05:00 UTC in winter.
  EXPECT_EQ(LocalMomentOf(ny, Utc(2026, 1, 13, 4, 59, 59)).day, Day(2026, 1, 12));
  EXPECT_EQ(LocalMomentOf(ny, Utc(2026, 1, 13, 5, 0, 0)).day, Day(2026, 1, 13));
}

TEST(LocalMomentTest, EastOfUtcRollsOverEarlier) {
  const date::time_zone* tokyo = date::locate_zone("Asia/Tokyo");  // UTC+9, no DST
  LocalMoment m = LocalMomentOf(tokyo, Utc(2026, 1, 17, 15, 0));   // Sunday 00:00 local
  EXPECT_EQ(m.day, Day(2026, 1, 18));
  EXPECT_EQ(m.minute_of_week, MinuteOfWeek(kSun, 0, 0));
  m = LocalMomentOf(tokyo, Utc(2026, 1, 18, 14, 59));  // Sunday 23:59 local
  EXPECT_EQ(m.minute_of_week, kMinutesPerWeek - 1);
  m = LocalMomentOf(tokyo, Utc(2026, 1, 18, 15, 0));  // Monday 00:00 local
  EXPECT_EQ(m.minute_of_week, 0);
  EXPECT_EQ(m.day, Day(2026, 1, 19));
  // Half-hour offsets work too (India, UTC+5:30).
  const date::time_zone* kolkata = date::locate_zone("Asia/Kolkata");
  m = LocalMomentOf(kolkata, Utc(2026, 1, 12, 3, 30));
  EXPECT_EQ(m.minute_of_week, MinuteOfWeek(kMon, 9, 0));
}

}  // namespace
}  // namespace handoff
