#include "rules/duration.h"

#include <cstdint>

namespace handoff {
namespace {

constexpr std::string_view kExpected =
    "expected a positive whole number followed by a unit s, m, h, d or w (e.g. 90s, 10m, 14d)";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool ParseDuration(std::string_view text, double* seconds, std::string* error) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  if (text.empty()) {
    *error = "empty duration: " + std::string(kExpected);
    return false;
  }
  if (text[0] == '-') {
    *error = "duration " + quoted + " is negative: " + std::string(kExpected);
    return false;
  }
  size_t i = 0;
  uint64_t n = 0;
  while (i < text.size() && IsDigit(text[i])) {
    n = n * 10 + static_cast<uint64_t>(text[i] - '0');
    if (n > (uint64_t{1} << 40)) {
      *error = "duration " + quoted + " is too large";
      return false;
    }
    ++i;
  }
  if (i == 0) {
    *error = "invalid duration " + quoted + ": " + std::string(kExpected);
    return false;
  }
  if (i < text.size() && (text[i] == '.' || text[i] == ',')) {
    *error = "duration " + quoted + " is not a whole number: " + std::string(kExpected) +
             "; use a smaller unit instead of a fraction";
    return false;
  }
  if (i == text.size()) {
    *error = "duration " + quoted + " has no unit: " + std::string(kExpected);
    return false;
  }
  std::string_view unit = text.substr(i);
  double scale = 0;
  if (unit == "s") {
    scale = 1;
  } else if (unit == "m") {
    scale = 60;
  } else if (unit == "h") {
    scale = 3600;
  } else if (unit == "d") {
    scale = 86400;
  } else if (unit == "w") {
    scale = 7 * 86400;
  } else {
    *error = "invalid duration " + quoted + ": unknown unit \"" + std::string(unit) + "\"; " +
             std::string(kExpected);
    return false;
  }
  if (n == 0) {
    *error = "duration " + quoted + " is zero: " + std::string(kExpected);
    return false;
  }
  *seconds = static_cast<double>(n) * scale;
  return true;
}

}  // namespace handoff
