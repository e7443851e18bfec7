// A rep's local calendar: which local day it is and where in the week, in the rep's IANA time
// zone (a real tz database: DST moves with the rules, not a fixed offset). SPEC 7 eligibility.
#pragma once

#include <cstdint>

#include "handoff/clock.h"
#include "rules/rule_set.h"

namespace handoff {

struct LocalMoment {
  int64_t day = 0;         // local days since 1970-01-01
  int minute_of_week = 0;  // Monday 00:00 = 0
};

// The local moment of `t` in `tz` (null: UTC). Whether it is inside a rep's working hours is
// `hours.Contains(moment.minute_of_week)` (rules/working_hours.cc).
LocalMoment LocalMomentOf(const date::time_zone* tz, EpochSeconds t);

}  // namespace handoff
