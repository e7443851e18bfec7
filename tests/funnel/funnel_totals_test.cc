#include "funnel/funnel_totals.h"

#include <gtest/gtest.h>

#include <string>

namespace handoff {
namespace {

FunnelFact Fact(OutboxKind kind, std::string rep = "", std::string team = "") {
  FunnelFact f;
  f.seq = 1;
  f.at = 1767225600;
  f.kind = kind;
  f.rep = std::move(rep);
  f.team = std::move(team);
  return f;
}

FunnelFact Closed(std::string outcome, std::string rep, std::optional<double> amount,
                  std::vector<FunnelRule> rules) {
  FunnelFact f = Fact(OutboxKind::kClosed, std::move(rep), "t");
  f.outcome = std::move(outcome);
  f.amount = amount;
  f.rules = std::move(rules);
  return f;
}

TEST(FunnelTotalsTest, EachKindCountsWhereSpec12SaysSo) {
  FunnelTotals t;
  FunnelFact stage = Fact(OutboxKind::kStage);
  stage.from = "new";
  stage.to = "mql";
  t.Add(stage);
  t.Add(stage);
  FunnelFact routed = Fact(OutboxKind::kRouted, "alice", "enterprise");
  routed.latency_ms = 0.4;
  t.Add(routed);
  FunnelFact accepted = Fact(OutboxKind::kAccepted, "alice", "enterprise");
  accepted.latency_ms = 60000;
  t.Add(accepted);
  t.Add(Fact(OutboxKind::kReassigned, "bob", "enterprise"));
  t.Add(Fact(OutboxKind::kEscalated));
  t.Add(Fact(OutboxKind::kRejected, "alice", "enterprise"));
  t.Add(Fact(OutboxKind::kUnrouted));
  t.Add(Closed("won", "alice", 1000, {{"pricing", "engagement"}, {"size", "fit"}}));
  t.Add(Closed("lost", "alice", 500, {{"pricing", "engagement"}}));
  t.Add(Closed("recycled", "alice", std::nullopt, {}));
  t.Add(Closed("merged", "alice", std::nullopt, {}));

  EXPECT_EQ(t.transitions.at("new>mql"), 2u);
  EXPECT_EQ(t.routed, 1u);
  EXPECT_EQ(t.accepted, 1u);
  EXPECT_EQ(t.reassigned, 1u);
  EXPECT_EQ(t.escalated, 1u);
  EXPECT_EQ(t.rejected, 1u);
  EXPECT_EQ(t.unrouted, 1u);
  EXPECT_EQ(t.Closed("won"), 1u);
  EXPECT_EQ(t.Closed("lost"), 1u);
  EXPECT_EQ(t.Closed("recycled"), 1u);
  EXPECT_EQ(t.Closed("merged"), 1u);
  EXPECT_EQ(t.won_amount, 1000);  // a lost deal's amount is not won
  EXPECT_EQ(t.to_routed.count(), 1u);
  EXPECT_EQ(t.to_accepted.count(), 1u);
  const FunnelRepTotals& alice = t.reps.at("alice");
  EXPECT_EQ(alice.team, "t");
  EXPECT_EQ(alice.routed, 1u);
  EXPECT_EQ(alice.accepted, 1u);
  EXPECT_EQ(alice.won, 1u);
  EXPECT_EQ(alice.lost, 1u);
  EXPECT_EQ(alice.won_amount, 1000);
  EXPECT_EQ(t.reps.at("bob").routed, 0u);  // a reassignment is not a routing
  const FunnelRuleTotals& pricing = t.rules.at({"pricing", "engagement"});
  EXPECT_EQ(pricing.closed, 2u);
  EXPECT_EQ(pricing.won, 1u);
  EXPECT_EQ(pricing.won_amount, 1000);
  EXPECT_EQ(t.rules.at({"size", "fit"}).closed, 1u);
  EXPECT_EQ(t.rules.size(), 2u);  // recycled and merged closes feed no rule
}

TEST(FunnelTotalsTest, MergeEqualsAddingEveryFact) {
  std::vector<FunnelFact> facts;
  FunnelFact stage = Fact(OutboxKind::kStage);
  stage.from = "new";
  stage.to = "sql";
  facts.push_back(stage);
  FunnelFact routed = Fact(OutboxKind::kRouted, "carol", "smb");
  routed.latency_ms = 2;
  facts.push_back(routed);
  facts.push_back(Closed("won", "carol", 10, {{"r", "s"}}));
  facts.push_back(Closed("lost", "dan", std::nullopt, {{"r", "s"}, {"q", "s"}}));
  FunnelTotals all;
  FunnelTotals first;
  FunnelTotals second;
  for (size_t i = 0; i < facts.size(); ++i) {
    facts[i].at += static_cast<double>(i);  // a rep's team is its latest record's
    all.Add(facts[i]);
    (i % 2 == 0 ? first : second).Add(facts[i]);
  }
  first.Merge(second);
  EXPECT_EQ(first, all);
}

TEST(FunnelTotalsTest, EncodeDecodeRoundTrips) {
  FunnelTotals t;
  FunnelFact routed = Fact(OutboxKind::kRouted, "alice", "enterprise");
  routed.latency_ms = 0.7;
  t.Add(routed);
  t.Add(Closed("won", "alice", 12000.5, {{"pricing", "engagement"}}));
  std::string bytes;
  t.Encode(&bytes);
  FunnelTotals back;
  ASSERT_TRUE(back.Decode(bytes));
  EXPECT_EQ(back, t);
  for (size_t n = 0; n < bytes.size(); ++n) {
    FunnelTotals partial;
    EXPECT_FALSE(partial.Decode(std::string_view(bytes.data(), n))) << n;
  }
  EXPECT_FALSE(back.Decode(bytes + "x"));
  EXPECT_EQ(back, t);  // unchanged by a failed decode
}

TEST(FunnelFactTest, EncodeDecodeRoundTrips) {
  FunnelFact f = Closed("won", "alice", 5, {{"a", "b"}});
  f.seq = 42;
  f.latency_ms = 3;
  std::string bytes;
  f.Encode(&bytes);
  FunnelFact back;
  ASSERT_TRUE(back.Decode(bytes));
  EXPECT_EQ(back.seq, 42u);
  EXPECT_EQ(back.outcome, "won");
  EXPECT_EQ(back.amount, 5.0);
  EXPECT_EQ(back.latency_ms, 3.0);
  ASSERT_EQ(back.rules.size(), 1u);
  EXPECT_EQ(back.rules[0].rule, "a");
  for (size_t n = 0; n < bytes.size(); ++n) {
    FunnelFact partial;
    EXPECT_FALSE(partial.Decode(std::string_view(bytes.data(), n))) << n;
  }
}

}  // namespace
}  // namespace handoff
