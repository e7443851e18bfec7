// Timestamps: RFC 3339 date-times and epoch numbers <-> EpochSeconds.
//
// No locale, no strptime, no time zone database: the civil-date arithmetic is <chrono>'s calendar
// (year_month_day, sys_days), so parsing is exact, allocation-free and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "handoff/clock.h"

namespace handoff {

// Parses an RFC 3339 date-time (section 5.6 of the RFC), exactly as SPEC section 2 allows it:
//   YYYY-MM-DD ("T" | "t") hh:mm:ss [ "." 1*DIGIT ] ( "Z" | "z" | ("+" | "-") hh:mm )
// Seconds are required; the fraction may have any number of digits (those past the 15th are
// ignored, far below a double's resolution at today's epoch). Rejected: a leap second (ss = 60),
// an impossible date (Feb 30, Feb 29 of a non-leap year, month 13, day 0), hour > 23,
// minute > 59, offset hours > 23 or minutes > 59, a space instead of "T", a missing offset,
// any trailing text. Years 0000..9999 are accepted (those before 1970 give negative seconds).
// On success stores the instant as UTC epoch seconds and returns true; on failure returns false
// and leaves *out untouched.
bool ParseRfc3339(std::string_view text, EpochSeconds* out);

// Applies the event rule for numeric timestamps (SPEC section 2): a finite number above 1e11 is
// epoch milliseconds and is divided by 1000; any other finite number, negative ones included, is
// epoch seconds as given (never clamped). False for NaN and infinities, and for a time beyond
// +-9e15 s (year 285,000,000), which no record could print.
bool EpochFromNumber(double number, EpochSeconds* out);

// Parses a time given as text, e.g. a query parameter (`?at=`): an RFC 3339 date-time as
// ParseRfc3339 accepts it, or a decimal number in JSON number syntax ("1700000000",
// "1700000000.5", "1.7e9", "1700000000123"), read through EpochFromNumber (so the millisecond
// rule applies here too). False for anything else, including surrounding spaces.
bool ParseTimeParam(std::string_view text, EpochSeconds* out);

// A time prints as the millisecond it falls in (truncated, as most languages' formatters do,
// so a printed time is never later than the time itself), read with a microsecond's tolerance:
// a double holds "10:00:00.123" of today's epoch as ...00.12299999, give or take a few tenths
// of a microsecond, and that must print as .123, not .122. Windows that clients set from printed
// times (`since`, `until`) compare `t + kPrintedTimeTolerance`, so a record is inside
// `since=<its printed time>` and outside `until=<its printed time>`.
inline constexpr EpochSeconds kPrintedTimeTolerance = 1e-6;

// The millisecond since the epoch that t prints as: floor(t * 1000) with the tolerance above.
// t must be finite.
int64_t PrintedMillis(EpochSeconds t);

// Formats t as UTC with exactly three fraction digits: "2026-11-22T14:03:07.123Z", the
// millisecond of PrintedMillis(t). Years outside 0000..9999 print with as many digits as they need
// (and a leading "-" before year 0); a non-finite t, or one beyond +-9e15 s, gives "".
std::string FormatRfc3339Millis(EpochSeconds t);
// The same, appended to *out (no allocation when *out has room).
void AppendRfc3339Millis(EpochSeconds t, std::string* out);

// True when `text` is exactly a number in JSON syntax (RFC 8259 section 6:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?). Shared with the event parser.
bool IsJsonNumberText(std::string_view text);

}  // namespace handoff
