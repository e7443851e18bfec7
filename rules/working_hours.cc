#include "rules/working_hours.h"

#include <algorithm>
#include <array>

#include "base/ascii.h"

namespace handoff {
namespace {

constexpr int kMinutesPerDay = 24 * 60;
constexpr std::string_view kExample = "e.g. \"Mon-Fri 09:00-17:00\"";

struct DayName {
  std::string_view short_name;
  std::string_view long_name;
};
constexpr std::array<DayName, 7> kDays = {{{"mon", "monday"},
                                           {"tue", "tuesday"},
                                           {"wed", "wednesday"},
                                           {"thu", "thursday"},
                                           {"fri", "friday"},
                                           {"sat", "saturday"},
                                           {"sun", "sunday"}}};

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSpace(char c) { return c == ' ' || c == '\t'; }

int DayIndex(std::string_view word) {
  const std::string lower = AsciiLowerCopy(word);
  for (size_t i = 0; i < kDays.size(); ++i) {
    if (lower == kDays[i].short_name || lower == kDays[i].long_name) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

// A cursor over the text that records the first error.
class HoursParser {
 public:
  HoursParser(std::string_view text, HoursError* error) : text_(text), error_(error) {}

  bool Parse(WorkingHours* hours) {
    std::vector<std::pair<int, int>> intervals;
    SkipSpaces();
    if (AtEnd()) {
      return Fail(
          0, std::string("empty hours: expected days and a time range, ") + std::string(kExample));
    }
    while (true) {
      int first_day = 0;
      int last_day = 0;
      int start = 0;
      int end = 0;
      if (!ParseDays(&first_day, &last_day) || !ParseTimeRange(&start, &end)) {
        return false;
      }
      const int length = end > start ? end - start : end + kMinutesPerDay - start;
      for (int d = first_day;; d = (d + 1) % 7) {
        const int s = d * kMinutesPerDay + start;
        const int e = s + length;
        if (e <= kMinutesPerWeek) {
          intervals.emplace_back(s, e);
        } else {  // Sunday overnight runs into Monday.
          intervals.emplace_back(s, kMinutesPerWeek);
          intervals.emplace_back(0, e - kMinutesPerWeek);
        }
        if (d == last_day) {
          break;
        }
      }
      SkipSpaces();
      if (AtEnd()) {
        break;
      }
      if (text_[pos_] != ',') {
        return Fail(pos_, "expected ',' between hour ranges, found \"" + std::string(Token(pos_)) +
                              "\" (" + std::string(kExample) + ")");
      }
      ++pos_;
      SkipSpaces();
      if (AtEnd()) {
        return Fail(pos_, "expected days and a time range after ','");
      }
    }
    std::sort(intervals.begin(), intervals.end());
    hours->intervals.clear();
    for (const auto& iv : intervals) {
      if (!hours->intervals.empty() && iv.first <= hours->intervals.back().second) {
        hours->intervals.back().second = std::max(hours->intervals.back().second, iv.second);
      } else {
        hours->intervals.push_back(iv);
      }
    }
    hours->always = false;
    hours->text = std::string(text_);
    return true;
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  void SkipSpaces() {
    while (!AtEnd() && IsSpace(text_[pos_])) {
      ++pos_;
    }
  }
  // The word at `at`, for messages: up to the next space or comma.
  std::string_view Token(size_t at) const {
    size_t end = at;
    while (end < text_.size() && !IsSpace(text_[end]) && text_[end] != ',') {
      ++end;
    }
    return text_.substr(at, std::max<size_t>(end - at, 1));
  }
  bool Fail(size_t at, std::string message) {
    error_->offset = std::min(at, text_.size());
    error_->message = "hours: " + std::move(message);
    return false;
  }

  bool ParseDay(int* day) {
    const size_t begin = pos_;
    while (!AtEnd() && IsAlpha(text_[pos_])) {
      ++pos_;
    }
    if (pos_ == begin) {
      return Fail(begin, "expected a day (Mon, Tue, Wed, Thu, Fri, Sat or Sun), found \"" +
                             std::string(Token(begin)) + "\" (" + std::string(kExample) + ")");
    }
    *day = DayIndex(text_.substr(begin, pos_ - begin));
    if (*day < 0) {
      return Fail(begin, "unknown day \"" + std::string(text_.substr(begin, pos_ - begin)) +
                             "\": expected Mon, Tue, Wed, Thu, Fri, Sat or Sun");
    }
    return true;
  }

  bool ParseDays(int* first, int* last) {
    if (!ParseDay(first)) {
      return false;
    }
    *last = *first;
    if (!AtEnd() && text_[pos_] == '-') {
      ++pos_;
      if (!ParseDay(last)) {
        return false;
      }
    }
    if (AtEnd() || !IsSpace(text_[pos_])) {
      return Fail(pos_, "expected a space and a time range like 09:00-17:00 after the days");
    }
    SkipSpaces();
    return true;
  }

  // H:MM or HH:MM; 24:00 only when `allow_24`.
  bool ParseTime(bool allow_24, int* minutes) {
    const size_t begin = pos_;
    size_t i = pos_;
    int hour = 0;
    int minute = 0;
    size_t hour_digits = 0;
    while (i < text_.size() && IsDigit(text_[i]) && hour_digits < 3) {
      hour = hour * 10 + (text_[i] - '0');
      ++i;
      ++hour_digits;
    }
    bool ok = hour_digits >= 1 && hour_digits <= 2 && i < text_.size() && text_[i] == ':';
    if (ok) {
      ++i;
      if (i + 2 <= text_.size() && IsDigit(text_[i]) && IsDigit(text_[i + 1]) &&
          (i + 2 == text_.size() || !IsDigit(text_[i + 2]))) {
        minute = (text_[i] - '0') * 10 + (text_[i + 1] - '0');
        i += 2;
      } else {
        ok = false;
      }
    }
    if (!ok) {
      return Fail(begin, "expected a time HH:MM, found \"" + std::string(Token(begin)) + "\"");
    }
    const bool is_24 = hour == 24 && minute == 0;
    if (minute > 59 || hour > 24 || (hour == 24 && !is_24) || (is_24 && !allow_24)) {
      return Fail(begin, "invalid time \"" + std::string(text_.substr(begin, i - begin)) +
                             "\": expected 00:00 to 23:59" + (allow_24 ? " or 24:00" : ""));
    }
    pos_ = i;
    *minutes = hour * 60 + minute;
    return true;
  }

  bool ParseTimeRange(int* start, int* end) {
    const size_t begin = pos_;
    if (!ParseTime(false, start)) {
      return false;
    }
    if (AtEnd() || text_[pos_] != '-') {
      return Fail(pos_, "expected '-' and an end time after the start time (like 09:00-17:00)");
    }
    ++pos_;
    if (!ParseTime(true, end)) {
      return false;
    }
    if (*start == *end) {
      return Fail(begin, "empty time range \"" + std::string(text_.substr(begin, pos_ - begin)) +
                             "\": the end must differ from the start (use 00:00-24:00 for a "
                             "whole day)");
    }
    return true;
  }

  std::string_view text_;
  HoursError* error_;
  size_t pos_ = 0;
};

}  // namespace

bool ParseWorkingHours(std::string_view text, WorkingHours* hours, HoursError* error) {
  HoursParser parser(text, error);
  return parser.Parse(hours);
}

bool WorkingHours::Contains(int minute_of_week) const {
  if (always) {
    return true;
  }
  for (const auto& [start, end] : intervals) {
    if (minute_of_week >= start && minute_of_week < end) {
      return true;
    }
  }
  return false;
}

}  // namespace handoff
