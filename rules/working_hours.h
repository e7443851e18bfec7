// Working hours of a rep (SPEC 7 `hours`), parsed into a weekly schedule (WorkingHours).
//
// Syntax: comma-separated items, each a day or a day range and a time range:
//
//   hours: "Mon-Fri 09:00-17:00"
//   hours: "Mon-Thu 08:30-12:00, Mon-Thu 13:00-17:30, Fri 08:30-13:00"
//   hours: "Sat-Sun 22:00-06:00"          # overnight: Saturday 22:00 to Sunday 06:00, and
//                                          # Sunday 22:00 to Monday 06:00
//
// - Days: Mon Tue Wed Thu Fri Sat Sun (any case; full names like Monday also work). A range
//   `Fri-Mon` wraps through the weekend.
// - Times: H:MM or HH:MM, 24-hour clock, 00:00 to 23:59; the end may be 24:00 (midnight at the end
//   of the day). Ranges are half-open: 09:00-17:00 includes 16:59 and not 17:00.
// - An end before the start is an overnight range that ends the next day; equal start and end is
//   an error. Items may overlap; they are merged.
// Times are the rep's local wall clock in its `timezone`.
#pragma once

#include <string>
#include <string_view>

#include "rules/rule_set.h"

namespace handoff {

inline constexpr int kMinutesPerWeek = 7 * 24 * 60;

struct HoursError {
  size_t offset = 0;  // 0-based byte offset into the text of the offending token
  std::string message;
};

// Parses `text`. On failure returns false and fills `*error` (the first error found).
bool ParseWorkingHours(std::string_view text, WorkingHours* hours, HoursError* error);

// Minute of the week, Monday 00:00 = 0, from a weekday (0 = Monday .. 6 = Sunday), hour, minute.
inline int MinuteOfWeek(int weekday_monday0, int hour, int minute) {
  return weekday_monday0 * 24 * 60 + hour * 60 + minute;
}

}  // namespace handoff
