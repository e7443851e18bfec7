#include "base/timestamp.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace handoff {
namespace {

constexpr int64_t kSecondsPerDay = 86400;
// A number above this is epoch milliseconds (SPEC section 2). 1e11 seconds is the year 5138;
// 1e11 milliseconds is March 1973, so the two ranges do not overlap for real trackers.
constexpr double kMillisThreshold = 1e11;
// Beyond this many seconds, milliseconds no longer fit an int64 (about 285 million years).
constexpr double kMaxFormattableSeconds = 9e15;

bool IsLeapYear(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int64_t y, int m) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date. Counts in 400-year eras (146097 days
// each) of years that start on March 1, so the leap day is the last day of its year and the
// day-of-year is a linear function of the month.
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t year_of_era = y - era * 400;                             // [0, 399]
  const int64_t month_from_march = m > 2 ? m - 3 : m + 9;                // [0, 11]
  const int64_t day_of_year = (153 * month_from_march + 2) / 5 + d - 1;  // [0, 365]
  const int64_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;  // [0, 146096]
  return era * 146097 + day_of_era - 719468;  // 719468: days from 0000-03-01 to 1970-01-01
}

// The inverse of DaysFromCivil.
void CivilFromDays(int64_t days, int64_t* y, int* m, int* d) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t day_of_era = days - era * 146097;
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t month_from_march = (5 * day_of_year + 2) / 153;
  *d = static_cast<int>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
  *m = static_cast<int>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
  *y = year_of_era + era * 400 + (*m <= 2 ? 1 : 0);
}

// Reads exactly `n` ASCII digits at text[*pos], advancing *pos.
bool ReadDigits(std::string_view text, size_t* pos, int n, int* out) {
  if (text.size() - *pos < static_cast<size_t>(n)) {
    return false;
  }
  int v = 0;
  for (int i = 0; i < n; ++i) {
    const char c = text[*pos + i];
    if (c < '0' || c > '9') {
      return false;
    }
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

bool Expect(std::string_view text, size_t* pos, char c) {
  if (*pos < text.size() && text[*pos] == c) {
    ++*pos;
    return true;
  }
  return false;
}

// Appends v (0 <= v < 10^width) zero-padded to `width` digits.
void AppendDigits(int64_t v, int width, std::string* out) {
  char buf[4];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  out->append(buf, static_cast<size_t>(width));
}

}  // namespace

bool IsJsonNumberText(std::string_view s) {
  size_t i = 0;
  auto digits = [&]() {
    const size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
    }
    return i > start;
  };
  if (i < s.size() && s[i] == '-') {
    ++i;
  }
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) {
      return false;
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      ++i;
    }
    if (!digits()) {
      return false;
    }
  }
  return i == s.size();
}

bool ParseRfc3339(std::string_view text, EpochSeconds* out) {
  size_t pos = 0;
  int year, month, day, hour, minute, second;
  if (!ReadDigits(text, &pos, 4, &year) || !Expect(text, &pos, '-') ||
      !ReadDigits(text, &pos, 2, &month) || !Expect(text, &pos, '-') ||
      !ReadDigits(text, &pos, 2, &day)) {
    return false;
  }
  if (!Expect(text, &pos, 'T') && !Expect(text, &pos, 't')) {
    return false;
  }
  if (!ReadDigits(text, &pos, 2, &hour) || !Expect(text, &pos, ':') ||
      !ReadDigits(text, &pos, 2, &minute) || !Expect(text, &pos, ':') ||
      !ReadDigits(text, &pos, 2, &second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 59) {
    return false;
  }

  double fraction = 0;
  if (Expect(text, &pos, '.')) {
    // Accumulate at most 15 digits exactly in an integer; later ones cannot change a double
    // holding an epoch, but must still be digits.
    int64_t numerator = 0;
    double denominator = 1;
    size_t ndigits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (ndigits < 15) {
        numerator = numerator * 10 + (text[pos] - '0');
        denominator *= 10;
      }
      ++ndigits;
      ++pos;
    }
    if (ndigits == 0) {
      return false;
    }
    fraction = static_cast<double>(numerator) / denominator;
  }

  int64_t offset_seconds = 0;
  if (Expect(text, &pos, 'Z') || Expect(text, &pos, 'z')) {
    // UTC.
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int offset_hours, offset_minutes;
    if (!ReadDigits(text, &pos, 2, &offset_hours) || !Expect(text, &pos, ':') ||
        !ReadDigits(text, &pos, 2, &offset_minutes) || offset_hours > 23 || offset_minutes > 59) {
      return false;
    }
    offset_seconds = sign * (offset_hours * 3600 + offset_minutes * 60);
  } else {
    return false;
  }
  if (pos != text.size()) {
    return false;
  }

  // Local time minus its offset is UTC.
  const int64_t whole = DaysFromCivil(year, month, day) * kSecondsPerDay + hour * 3600 +
                        minute * 60 + second - offset_seconds;
  *out = static_cast<double>(whole) + fraction;
  return true;
}

bool EpochFromNumber(double number, EpochSeconds* out) {
  if (!std::isfinite(number)) {
    return false;
  }
  *out = number > kMillisThreshold ? number / 1000 : number;
  return true;
}

bool ParseTimeParam(std::string_view text, EpochSeconds* out) {
  if (ParseRfc3339(text, out)) {
    return true;
  }
  if (!IsJsonNumberText(text)) {
    return false;
  }
  // strtod needs a terminator; numbers longer than the buffer are not times anyone sends.
  char buf[64];
  if (text.size() >= sizeof(buf)) {
    return false;
  }
  text.copy(buf, text.size());
  buf[text.size()] = '\0';
  return EpochFromNumber(std::strtod(buf, nullptr), out);
}

void AppendRfc3339Millis(EpochSeconds t, std::string* out) {
  if (!std::isfinite(t) || std::fabs(t) > kMaxFormattableSeconds) {
    return;
  }
  const int64_t total_ms = std::llround(t * 1000.0);
  int64_t days = total_ms / (kSecondsPerDay * 1000);
  int64_t ms_of_day = total_ms % (kSecondsPerDay * 1000);
  if (ms_of_day < 0) {
    ms_of_day += kSecondsPerDay * 1000;
    --days;
  }
  int64_t year;
  int month, day;
  CivilFromDays(days, &year, &month, &day);
  if (year < 0 || year > 9999) {
    // Rare: let printf size the year.
    char buf[64];
    const int n = std::snprintf(buf, sizeof(buf), year < 0 ? "-%04lld" : "%04lld",
                                static_cast<long long>(year < 0 ? -year : year));
    out->append(buf, static_cast<size_t>(n));
  } else {
    AppendDigits(year, 4, out);
  }
  const int64_t seconds_of_day = ms_of_day / 1000;
  out->push_back('-');
  AppendDigits(month, 2, out);
  out->push_back('-');
  AppendDigits(day, 2, out);
  out->push_back('T');
  AppendDigits(seconds_of_day / 3600, 2, out);
  out->push_back(':');
  AppendDigits(seconds_of_day / 60 % 60, 2, out);
  out->push_back(':');
  AppendDigits(seconds_of_day % 60, 2, out);
  out->push_back('.');
  AppendDigits(ms_of_day % 1000, 3, out);
  out->push_back('Z');
}

std::string FormatRfc3339Millis(EpochSeconds t) {
  std::string out;
  AppendRfc3339Millis(t, &out);
  return out;
}

}  // namespace handoff
