// Durations in rule files (SPEC 5): a positive integer and a unit, `s`, `m`, `h`, `d` or `w`
// (`90s`, `10m`, `14d`). No unit, a fraction, zero, a sign, spaces or an unknown unit are errors:
// a rule file says exactly what it means, so `1.5h` is written `90m`.
#pragma once

#include <string>
#include <string_view>

namespace handoff {

// Parses `text` into seconds. On failure returns false and sets `*error` to a message that says
// what is wrong and what is expected (it does not repeat the position; the caller adds it).
bool ParseDuration(std::string_view text, double* seconds, std::string* error);

}  // namespace handoff
