// RecordFilter: which outbox records a stream reader (TCP subscriber, GET /v1/stream) wants,
// decided on the stored record's header.
#include "outbox/record_filter.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <utility>

namespace handoff {
namespace {

RecordFilter Filter(std::initializer_list<OutboxKind> kinds, std::string rep, std::string team) {
  RecordFilter f;
  for (OutboxKind k : kinds) {
    f.kinds |= 1u << static_cast<unsigned>(k);
  }
  f.rep = std::move(rep);
  f.team = std::move(team);
  return f;
}

// The header of a record of `kind`; from_rep is in the record's JSON only, never in its header,
// so it cannot take part in filtering.
RecordHeader Rec(std::string_view kind, std::string_view rep = "",
                 [[maybe_unused]] std::string_view from_rep = "", std::string_view team = "") {
  RecordHeader header;
  header.kind = *OutboxKindFromName(kind);
  header.rep = rep;
  header.team = team;
  return header;
}

TEST(FilterMatchesTest, EmptyFilterMatchesEverything) {
  RecordFilter f;
  EXPECT_TRUE(f.MatchesEverything());
  EXPECT_TRUE(FilterMatches(f, Rec("stage")));
}

TEST(FilterMatchesTest, Kinds) {
  RecordFilter f = Filter({OutboxKind::kRouted, OutboxKind::kEscalated}, "", "");
  EXPECT_TRUE(FilterMatches(f, Rec("routed")));
  EXPECT_TRUE(FilterMatches(f, Rec("escalated")));
  EXPECT_FALSE(FilterMatches(f, Rec("stage")));
}

TEST(FilterMatchesTest, RepMatchesTheRecordsRepFieldOnly) {
  RecordFilter f = Filter({}, "alice", "");
  EXPECT_TRUE(FilterMatches(f, Rec("routed", "alice")));
  EXPECT_FALSE(FilterMatches(f, Rec("routed", "bob")));
  // The new holder of a reassigned lead matches; the rep who lost it (from_rep) does not.
  EXPECT_FALSE(FilterMatches(f, Rec("reassigned", "bob", "alice")));
  EXPECT_TRUE(FilterMatches(f, Rec("reassigned", "alice", "bob")));
  EXPECT_FALSE(FilterMatches(f, Rec("reassigned", "bob", "carol")));
  // A record without a rep (stage, unrouted) never matches a rep filter.
  EXPECT_FALSE(FilterMatches(f, Rec("stage")));
}

TEST(FilterMatchesTest, TeamAndEveryFilterTogether) {
  RecordFilter f = Filter({OutboxKind::kRouted}, "alice", "enterprise");
  EXPECT_TRUE(FilterMatches(f, Rec("routed", "alice", "", "enterprise")));
  EXPECT_FALSE(FilterMatches(f, Rec("routed", "alice", "", "smb")));
  EXPECT_FALSE(FilterMatches(f, Rec("routed", "alice")));
  EXPECT_FALSE(FilterMatches(f, Rec("accepted", "alice", "", "enterprise")));
  RecordFilter team_only = Filter({}, "", "enterprise");
  EXPECT_FALSE(FilterMatches(team_only, Rec("stage")));
}

}  // namespace
}  // namespace handoff
