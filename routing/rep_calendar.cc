#include "routing/rep_calendar.h"

#include <date/tz.h>

#include <chrono>
#include <cmath>

namespace handoff {

LocalMoment LocalMomentOf(const date::time_zone* tz, EpochSeconds t) {
  auto whole = static_cast<int64_t>(std::floor(t));
  int64_t offset = 0;
  if (tz != nullptr) {
    date::sys_seconds sys{std::chrono::seconds(whole)};
    offset = tz->get_info(sys).offset.count();
  }
  int64_t local = whole + offset;
  int64_t day = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
  int64_t second_of_day = local - day * 86400;
  // 1970-01-01 was a Thursday: Monday-based weekday 3.
  int64_t weekday = ((day + 3) % 7 + 7) % 7;
  LocalMoment m;
  m.day = day;
  m.minute_of_week = static_cast<int>(weekday * 1440 + second_of_day / 60);
  return m;
}

}  // namespace handoff
