#include "routing/rep_calendar.h"

#include <date/tz.h>

#include <chrono>
#include <cmath>

#include "rules/working_hours.h"

namespace handoff {

LocalMoment LocalMomentOf(const date::time_zone* tz, EpochSeconds t) {
  namespace chr = std::chrono;
  const chr::sys_seconds utc{chr::seconds(static_cast<int64_t>(std::floor(t)))};
  chr::seconds offset{0};
  if (tz != nullptr) {
    offset = tz->get_info(utc).offset;
  }
  // The local wall clock, counted as if it were UTC: its day and weekday are the local ones.
  const chr::sys_seconds local = utc + offset;
  const chr::sys_days day = chr::floor<chr::days>(local);
  const chr::hh_mm_ss time{local - day};
  LocalMoment m;
  m.day = day.time_since_epoch().count();
  m.minute_of_week = MinuteOfWeek(static_cast<int>(chr::weekday{day}.iso_encoding()) - 1,
                                  static_cast<int>(time.hours().count()),
                                  static_cast<int>(time.minutes().count()));
  return m;
}

}  // namespace handoff
