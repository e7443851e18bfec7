// RecordFilter: which outbox records a reader wants, decided on the stored record's header alone
// (no JSON parsed). One filter for every reader of the stream: TCP subscribers (SPEC 9,
// subscribe/) and the HTTP event stream (GET /v1/stream, api/).
#pragma once

#include <cstdint>
#include <string>

#include "outbox/stored_record.h"

namespace handoff {

struct RecordFilter {
  // One bit per OutboxKind (1 << kind); 0: every kind.
  uint32_t kinds = 0;
  // Records whose "rep" equals this (exactly the record field; from_rep does not count); empty:
  // any record.
  std::string rep;
  // Records whose "team" equals this; empty: any record.
  std::string team;

  // True when every record matches (no field needs to be read).
  bool MatchesEverything() const { return kinds == 0 && rep.empty() && team.empty(); }
};

// Whether a record with `header` passes every filter of `filter`. A record lacking a field a
// filter names does not match it (a rep-filtered reader sees no stage records).
bool FilterMatches(const RecordFilter& filter, const RecordHeader& header);

}  // namespace handoff
