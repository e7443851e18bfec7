// Rules whose stage a lead leaves by time alone, for the tests of the wall-clock re-check.
#pragma once

#include <string_view>

namespace handoff::testing {

// 50 points of heat that halve every second: a lead that asked for a demo enters `mql` and
// leaves it within seconds without any event; one that signed up (lifetime points) stays.
inline constexpr std::string_view kDecayRules =
    "scores:\n"
    "  heat: {kind: event, half_life: 1s}\n"
    "  lifetime: {kind: event}\n"
    "rules:\n"
    "  - id: demo\n"
    "    score: heat\n"
    "    when: event == \"Demo Requested\"\n"
    "    points: 50\n"
    "  - id: ever\n"
    "    score: lifetime\n"
    "    when: event == \"Signed Up\"\n"
    "    points: 50\n"
    "stages:\n"
    "  - name: mql\n"
    "    enter: score.heat >= 40 || score.lifetime >= 40\n"
    "    exit: score.heat < 20 && score.lifetime < 20\n";

}  // namespace handoff::testing
