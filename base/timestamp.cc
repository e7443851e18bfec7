#include "base/timestamp.h"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace handoff {
namespace {

namespace chr = std::chrono;

// A number above this is epoch milliseconds (SPEC section 2). 1e11 seconds is the year 5138;
// 1e11 milliseconds is March 1973, so the two ranges do not overlap for real trackers.
constexpr double kMillisThreshold = 1e11;
// Beyond this many seconds, milliseconds no longer fit an int64 (about 285 million years).
constexpr double kMaxFormattableSeconds = 9e15;

// std::chrono::year holds -32767..32767, which RFC 3339's four digits fit but a formatted epoch
// may not. The Gregorian calendar repeats every 400 years, so a day outside that range is moved
// into it by whole cycles and the cycles are added back to the year.
constexpr chr::sys_days kFirstChronoDay = chr::year::min() / chr::January / 1;
constexpr chr::sys_days kLastChronoDay = chr::year::max() / chr::December / 31;
constexpr chr::days kDaysPer400Years = chr::sys_days{chr::year{400} / chr::January / 1} -
                                       chr::sys_days{chr::year{0} / chr::January / 1};
static_assert(kDaysPer400Years.count() == 146097);

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
  // ok() rejects month 0 or 13, day 0, and a day past the month's end (Feb 29 of a common year).
  const chr::year_month_day date{chr::year{year}, chr::month{static_cast<unsigned>(month)},
                                 chr::day{static_cast<unsigned>(day)}};
  if (!date.ok() || hour > 23 || minute > 59 || second > 59) {
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

  chr::seconds offset{0};
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
    offset = sign * (chr::hours{offset_hours} + chr::minutes{offset_minutes});
  } else {
    return false;
  }
  if (pos != text.size()) {
    return false;
  }

  // Local time minus its offset is UTC.
  const chr::sys_seconds whole =
      chr::sys_days{date} + chr::hours{hour} + chr::minutes{minute} + chr::seconds{second} - offset;
  *out = static_cast<double>(whole.time_since_epoch().count()) + fraction;
  return true;
}

bool EpochFromNumber(double number, EpochSeconds* out) {
  if (!std::isfinite(number)) {
    return false;
  }
  const EpochSeconds t = number > kMillisThreshold ? number / 1000 : number;
  if (std::fabs(t) > kMaxFormattableSeconds) {
    return false;  // a time no record could print, nor a cap window number hold
  }
  *out = t;
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

int64_t PrintedMillis(EpochSeconds t) {
  return static_cast<int64_t>(std::floor(t * 1000.0 + kPrintedTimeTolerance * 1000.0));
}

void AppendRfc3339Millis(EpochSeconds t, std::string* out) {
  if (!std::isfinite(t) || std::fabs(t) > kMaxFormattableSeconds) {
    return;
  }
  const chr::sys_time<chr::milliseconds> instant{chr::milliseconds{PrintedMillis(t)}};
  chr::sys_days day = chr::floor<chr::days>(instant);
  const chr::hh_mm_ss<chr::milliseconds> time{instant - day};
  int64_t cycles = 0;
  if (day < kFirstChronoDay || day > kLastChronoDay) {
    cycles = day.time_since_epoch() / kDaysPer400Years;
    day -= cycles * kDaysPer400Years;
  }
  const chr::year_month_day date{day};
  const int64_t year = static_cast<int>(date.year()) + cycles * 400;
  if (year < 0 || year > 9999) {
    // Rare: let printf size the year.
    char buf[64];
    const int n = std::snprintf(buf, sizeof(buf), year < 0 ? "-%04lld" : "%04lld",
                                static_cast<long long>(year < 0 ? -year : year));
    out->append(buf, static_cast<size_t>(n));
  } else {
    AppendDigits(year, 4, out);
  }
  out->push_back('-');
  AppendDigits(static_cast<unsigned>(date.month()), 2, out);
  out->push_back('-');
  AppendDigits(static_cast<unsigned>(date.day()), 2, out);
  out->push_back('T');
  AppendDigits(time.hours().count(), 2, out);
  out->push_back(':');
  AppendDigits(time.minutes().count(), 2, out);
  out->push_back(':');
  AppendDigits(time.seconds().count(), 2, out);
  out->push_back('.');
  AppendDigits(time.subseconds().count(), 3, out);
  out->push_back('Z');
}

std::string FormatRfc3339Millis(EpochSeconds t) {
  std::string out;
  AppendRfc3339Millis(t, &out);
  return out;
}

}  // namespace handoff
