#include "scoring/scorer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <random>

#include "storage/lead_codec.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

constexpr double kDay = 86400;
constexpr double kT0 = 1795305600;  // 2026-11-22T00:00:00Z

// Builds RuleSets by hand so the scorer is tested apart from the YAML loader.
class RuleSetBuilder {
 public:
  RuleSetBuilder() { rs_.stages.push_back(StageDef{.name = "new"}); }
  RuleSetBuilder& Score(const std::string& name, ScoreKind kind, double half_life = 0) {
    rs_.scores.push_back(ScoreDef{name, kind, half_life});
    names_.push_back(name);
    return *this;
  }
  RuleSetBuilder& Rule(const std::string& id, const std::string& score, const std::string& when,
                       double points, std::optional<CapDef> cap = std::nullopt, bool once = false) {
    RuleDef rule;
    rule.id = id;
    rule.score = rs_.FindScore(score);
    EXPECT_GE(rule.score, 0) << score;
    ExpressionScope scope = rs_.scores[rule.score].kind == ScoreKind::kEvent
                                ? ExpressionScope::kEventRule
                                : ExpressionScope::kProfileRule;
    rule.when = Compile(when, scope);
    rule.points = points;
    rule.cap = cap;
    rule.once = once;
    rs_.rules.push_back(std::move(rule));
    return *this;
  }
  RuleSetBuilder& Stage(const std::string& name, const std::string& enter,
                        const std::string& exit = "") {
    StageDef stage;
    stage.name = name;
    stage.enter = Compile(enter, ExpressionScope::kLead);
    if (!exit.empty()) {
      stage.exit = Compile(exit, ExpressionScope::kLead);
      stage.has_exit = true;
    }
    rs_.stages.push_back(std::move(stage));
    return *this;
  }
  std::shared_ptr<const RuleSet> Build() {
    rs_.Finalize();
    return std::make_shared<const RuleSet>(rs_);
  }

 private:
  Expression Compile(const std::string& text, ExpressionScope scope) {
    std::vector<ExpressionError> errors;
    Expression e = Expression::Compile(text, scope, names_, &errors);
    EXPECT_TRUE(errors.empty()) << text << ": " << (errors.empty() ? "" : errors[0].message);
    return e;
  }
  RuleSet rs_;
  std::vector<std::string> names_;
};

Event Track(const std::string& name, EpochSeconds t, const std::string& user = "u1") {
  Event e;
  e.type = EventType::kTrack;
  e.user_id = user;
  e.name = name;
  e.has_name = true;
  e.timestamp = t;
  e.has_timestamp = true;
  return e;
}

Event Identify(Value traits, EpochSeconds t, const std::string& user = "u1") {
  Event e;
  e.type = EventType::kIdentify;
  e.user_id = user;
  e.traits = std::move(traits);
  e.timestamp = t;
  e.has_timestamp = true;
  return e;
}

Value Obj(std::initializer_list<std::pair<const char*, Value>> members) {
  Value v = Value::MakeObject();
  for (const auto& [k, m] : members) {
    v.Set(k, m);
  }
  return v;
}

Lead NewLead(const std::string& id = "u1") {
  Lead lead;
  lead.id = id;
  return lead;
}

double Read(const Scorer& scorer, Lead* lead, const std::string& score, EpochSeconds at) {
  std::vector<double> scores;
  scorer.ReadScores(lead, at, &scores);
  return scores[scorer.rules().FindScore(score)];
}

TEST(ScorerTest, DecayMatchesHandComputedValues) {
  Scorer scorer(RuleSetBuilder()
                    .Score("engagement", ScoreKind::kEvent, 10 * kDay)
                    .Rule("visit", "engagement", "event == \"Visit\"", 10)
                    .Build());
  Lead lead = NewLead();
  scorer.Apply(Track("Visit", kT0), &lead);
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "engagement", kT0), 10);
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "engagement", kT0 + 10 * kDay), 5);
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "engagement", kT0 + 20 * kDay), 2.5);
  scorer.Apply(Track("Visit", kT0 + 10 * kDay), &lead);
  // 10 * 2^-2 + 10 * 2^-1
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "engagement", kT0 + 20 * kDay), 7.5);
  // Reading before the latest award reads at R = latest award.
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "engagement", kT0), 15);
}

TEST(ScorerTest, ALeadUnderAThousandRulesHoldsOnlyItsOwnAwardsAndSumsThemInRuleOrder) {
  RuleSetBuilder builder;
  builder.Score("a", ScoreKind::kEvent, kDay).Score("b", ScoreKind::kEvent, kDay);
  for (int i = 0; i < 1000; ++i) {
    builder.Rule("r" + std::to_string(i), i % 2 == 0 ? "a" : "b",
                 "event == \"e" + std::to_string(i) + "\"", 1 + i);
  }
  Scorer scorer(builder.Build());
  Lead lead = NewLead();
  // Awarded in the reverse of rule order: r998 (a), r7 (b), r2 (a).
  scorer.Apply(Track("e998", kT0), &lead);
  scorer.Apply(Track("e7", kT0), &lead);
  scorer.Apply(Track("e2", kT0 + kDay), &lead);
  ASSERT_EQ(lead.scoring_cache.award_slots.size(), 3u);  // not a table of 1,000 rules
  EXPECT_EQ(lead.scoring_cache.award_slots[0].first, 2);
  EXPECT_EQ(lead.scoring_cache.award_slots[1].first, 7);
  EXPECT_EQ(lead.scoring_cache.award_slots[2].first, 998);
  // a: 3 (r2, at kT0 + 1d) + 999 * 2^-1 (r998, a day older), summed in rule order.
  EXPECT_EQ(Read(scorer, &lead, "a", kT0 + kDay), 3.0 + 999.0 / 2);
  EXPECT_EQ(Read(scorer, &lead, "b", kT0), 8);
  // After a round trip through the codec (the cache rebuilt from the stored awards).
  std::string bytes;
  EncodeLeadState(lead, &bytes);
  Lead back;
  ASSERT_TRUE(DecodeLeadState(bytes, &back).ok());
  EXPECT_EQ(Read(scorer, &back, "a", kT0 + kDay), 3.0 + 999.0 / 2);
  EXPECT_EQ(back.scoring_cache.award_slots, lead.scoring_cache.award_slots);
}

TEST(ScorerTest, AnEventsAwardsAreListedInRuleOrderWhateverIndexFindsTheRules) {
  // The rules are found by event name, then type, then neither; the history lists them as the
  // breakdown does, in file order.
  Scorer scorer(RuleSetBuilder()
                    .Score("e", ScoreKind::kEvent, 10 * kDay)
                    .Rule("any-prop", "e", "properties.x == 1", 1)
                    .Rule("by-name", "e", "event == \"X\"", 2)
                    .Rule("by-type", "e", "type == \"track\"", 3)
                    .Rule("any-prop2", "e", "properties.x == 1", 4)
                    .Build());
  Lead lead = NewLead();
  Event event = Track("X", kT0);
  event.properties = Obj({{"x", Value::Number(1)}});
  std::vector<AwardedPoints> awarded;
  scorer.Apply(event, &lead, &awarded);
  ASSERT_EQ(awarded.size(), 4U);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(awarded[i].rule_index, i);
    EXPECT_EQ(awarded[i].points, i + 1);
  }
}

TEST(ScorerTest, NoHalfLifeMeansNoDecay) {
  Scorer scorer(
      RuleSetBuilder().Score("total", ScoreKind::kEvent).Rule("visit", "total", "true", 3).Build());
  Lead lead = NewLead();
  scorer.Apply(Track("Visit", kT0), &lead);
  scorer.Apply(Track("Visit", kT0 - 400 * kDay), &lead);
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "total", kT0 + 1000 * kDay), 6);
}

TEST(ScorerTest, OutOfOrderEventsDecayFromTheLatestAward) {
  Scorer scorer(
      RuleSetBuilder().Score("e", ScoreKind::kEvent, kDay).Rule("any", "e", "true", 8).Build());
  Lead lead = NewLead();
  scorer.Apply(Track("x", kT0 + 2 * kDay), &lead);
  scorer.Apply(Track("x", kT0), &lead);  // arrives late
  // R = max(T, latest award) = kT0 + 2d: 8 + 8 * 2^-2
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "e", kT0 + kDay), 10);
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "e", kT0 + 3 * kDay), 5);
}

TEST(ScorerTest, ArrivalOrderDoesNotChangeDecayedScores) {
  std::mt19937_64 rng(20261122);
  for (int trial = 0; trial < 200; ++trial) {
    std::uniform_int_distribution<int> n_rules(1, 4);
    RuleSetBuilder builder;
    builder.Score("e", ScoreKind::kEvent, (1 + rng() % 30) * kDay).Score("flat", ScoreKind::kEvent);
    const int rules = n_rules(rng);
    for (int r = 0; r < rules; ++r) {
      double points = static_cast<double>(static_cast<int>(rng() % 101) - 30);
      builder.Rule("r" + std::to_string(r), r % 2 == 0 ? "e" : "flat",
                   "event == \"e" + std::to_string(r) + "\"", points);
    }
    Scorer scorer(builder.Build());
    std::vector<Event> events;
    const int n = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      events.push_back(Track("e" + std::to_string(rng() % rules),
                             kT0 + static_cast<double>(rng() % (90 * 86400))));
    }
    Lead in_order = NewLead();
    for (const Event& e : events) {
      scorer.Apply(e, &in_order);
    }
    std::shuffle(events.begin(), events.end(), rng);
    Lead shuffled = NewLead();
    for (const Event& e : events) {
      scorer.Apply(e, &shuffled);
    }
    for (double at : {kT0, kT0 + 45 * kDay, kT0 + 200 * kDay}) {
      for (const char* score : {"e", "flat"}) {
        double a = Read(scorer, &in_order, score, at);
        double b = Read(scorer, &shuffled, score, at);
        EXPECT_NEAR(a, b, 1e-9 * std::max(1.0, std::fabs(a))) << "trial " << trial;
      }
    }
  }
}

TEST(ScorerTest, CapCutsAwardsWithinAWindowAndResetsInTheNext) {
  Scorer scorer(RuleSetBuilder()
                    .Score("e", ScoreKind::kEvent)
                    .Rule("pricing", "e", "true", 20, CapDef{30, kDay})
                    .Build());
  Lead lead = NewLead();
  scorer.Apply(Track("x", kT0 + 10), &lead);
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "e", kT0 + kDay), 20);
  scorer.Apply(Track("x", kT0 + 20), &lead);  // cut to 10
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "e", kT0 + kDay), 30);
  scorer.Apply(Track("x", kT0 + 30), &lead);  // cut to 0
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "e", kT0 + kDay), 30);
  scorer.Apply(Track("x", kT0 + kDay + 5), &lead);  // next window
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "e", kT0 + 2 * kDay), 50);
  scorer.Apply(Track("x", kT0 + 50), &lead);  // late event, first window still full
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "e", kT0 + 2 * kDay), 50);
}

TEST(ScorerTest, CapCountsAbsolutePointsOfNegativeRules) {
  Scorer scorer(RuleSetBuilder()
                    .Score("e", ScoreKind::kEvent)
                    .Rule("bounce", "e", "true", -25, CapDef{40, kDay})
                    .Build());
  Lead lead = NewLead();
  scorer.Apply(Track("x", kT0), &lead);
  scorer.Apply(Track("x", kT0 + 1), &lead);
  scorer.Apply(Track("x", kT0 + 2), &lead);
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "e", kT0 + 3), -40);
}

TEST(ScorerTest, AnAwardCutToZeroDoesNotMoveTheDecayReference) {
  Scorer scorer(RuleSetBuilder()
                    .Score("e", ScoreKind::kEvent, kDay)
                    .Rule("capped", "e", "event == \"a\"", 10, CapDef{10, 7 * kDay})
                    .Build());
  Lead lead = NewLead();
  scorer.Apply(Track("a", kT0), &lead);
  scorer.Apply(Track("a", kT0 + kDay), &lead);  // cut to 0: no award
  // Had the cut award moved R to kT0 + 1d, this would read 5.
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "e", kT0), 10);
}

// A rule written with 0 points is no award either (README): R stays, `once` is not used up.
TEST(ScorerTest, ARuleOfZeroPointsAwardsNothing) {
  Scorer scorer(RuleSetBuilder()
                    .Score("e", ScoreKind::kEvent, kDay)
                    .Rule("ten", "e", "event == \"a\"", 10)
                    .Rule("nothing", "e", "event == \"b\"", 0, std::nullopt, true)
                    .Build());
  Lead lead = NewLead();
  scorer.Apply(Track("a", kT0), &lead);
  std::vector<AwardedPoints> awarded;
  scorer.Apply(Track("b", kT0 + kDay), &lead, &awarded);
  EXPECT_TRUE(awarded.empty());
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "e", kT0), 10);  // 5 had R moved to kT0 + 1d
}

TEST(ScorerTest, OnceAwardsAtMostOnce) {
  Scorer scorer(RuleSetBuilder()
                    .Score("e", ScoreKind::kEvent)
                    .Rule("demo", "e", "event == \"Demo Requested\"", 50, std::nullopt, true)
                    .Build());
  Lead lead = NewLead();
  scorer.Apply(Track("Demo Requested", kT0), &lead);
  scorer.Apply(Track("Demo Requested", kT0 + 1), &lead);
  scorer.Apply(Track("Demo Requested", kT0 - 1), &lead);
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "e", kT0 + 2), 50);
}

TEST(ScorerTest, EventRulesSeeScoresBeforeTheEventAndTraitsAfterIt) {
  Scorer scorer(RuleSetBuilder()
                    .Score("e", ScoreKind::kEvent)
                    .Rule("base", "e", "true", 10)
                    .Rule("bonus", "e", "score.e >= 10", 100)
                    .Rule("vip", "e", "traits.vip == true", 1000)
                    .Build());
  Lead lead = NewLead();
  scorer.Apply(Track("x", kT0), &lead);
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "e", kT0), 10);  // bonus saw 0
  scorer.Apply(Track("x", kT0 + 1), &lead);
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "e", kT0 + 1), 120);
  scorer.Apply(Identify(Obj({{"vip", Value::Bool(true)}}), kT0 + 2), &lead);
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "e", kT0 + 2), 1230);
}

TEST(ScorerTest, ProfileScoresFollowCurrentTraits) {
  Scorer scorer(RuleSetBuilder()
                    .Score("fit", ScoreKind::kProfile)
                    .Rule("senior", "fit", "traits.title matches \"(?i)\\\\bvp\\\\b\"", 20)
                    .Rule("big", "fit", "traits.company.employees >= 1000", 30)
                    .Build());
  Lead lead = NewLead();
  scorer.Apply(Identify(Obj({{"title", Value::String("VP Sales")}}), kT0), &lead);
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "fit", kT0), 20);
  Event group;
  group.type = EventType::kGroup;
  group.user_id = "u1";
  group.group_id = "acme";
  group.traits = Obj({{"employees", Value::Number(5000)}});
  group.timestamp = kT0 + 1;
  scorer.Apply(group, &lead);
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "fit", kT0), 50);
  EXPECT_EQ(lead.traits.Find("company")->Find("id")->as_string(), "acme");
  scorer.Apply(Identify(Obj({{"title", Value::Null()}}), kT0 + 2), &lead);
  EXPECT_EQ(lead.traits.Find("title"), nullptr);
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "fit", kT0), 30);
}

// ReadScores sums every score in one pass over the awards; Breakdown one score at a time. Both
// must give the same double, with rules of several scores interleaved in the file.
TEST(ScorerTest, ReadScoresEqualsBreakdownBitForBit) {
  std::mt19937_64 rng(20261205);
  for (int trial = 0; trial < 200; ++trial) {
    RuleSetBuilder builder;
    builder.Score("a", ScoreKind::kEvent, (1 + rng() % 30) * kDay)
        .Score("fit", ScoreKind::kProfile)
        .Score("b", ScoreKind::kEvent, 0.5 * kDay)
        .Score("flat", ScoreKind::kEvent);
    const int rules = 1 + static_cast<int>(rng() % 8);
    const char* event_scores[] = {"a", "b", "flat"};
    for (int r = 0; r < rules; ++r) {
      const double points = static_cast<double>(static_cast<int>(rng() % 101) - 30) / 7;
      builder.Rule("r" + std::to_string(r), event_scores[rng() % 3],
                   "event == \"e" + std::to_string(r % 3) + "\"", points);
    }
    builder.Rule("title", "fit", "exists(traits.title)", 15);
    Scorer scorer(builder.Build());
    Lead lead = NewLead();
    const int n = 1 + static_cast<int>(rng() % 30);
    for (int i = 0; i < n; ++i) {
      scorer.Apply(
          Track("e" + std::to_string(rng() % 3), kT0 + static_cast<double>(rng() % (20 * 86400))),
          &lead);
    }
    scorer.Apply(Identify(Obj({{"title", Value::String("CTO")}}), kT0), &lead);
    for (double at : {kT0 - kDay, kT0 + 10 * kDay, kT0 + 45 * kDay}) {
      std::vector<std::vector<ScorePart>> parts;
      std::vector<double> broken_down;
      scorer.Breakdown(&lead, at, &parts, &broken_down);
      std::vector<double> read;
      scorer.ReadScores(&lead, at, &read);
      ASSERT_EQ(read.size(), broken_down.size());
      for (size_t s = 0; s < read.size(); ++s) {
        EXPECT_EQ(std::bit_cast<uint64_t>(read[s]), std::bit_cast<uint64_t>(broken_down[s]))
            << "trial " << trial << " score " << s << ": " << read[s] << " vs " << broken_down[s];
      }
    }
  }
}

TEST(ScorerTest, BreakdownAddsUpToTheScore) {
  Scorer scorer(RuleSetBuilder()
                    .Score("e", ScoreKind::kEvent, 3 * kDay)
                    .Score("fit", ScoreKind::kProfile)
                    .Rule("a", "e", "event == \"a\"", 7.3)
                    .Rule("b", "e", "event == \"b\"", -2.1)
                    .Rule("never", "e", "false", 99)
                    .Rule("title", "fit", "exists(traits.title)", 15)
                    .Build());
  Lead lead = NewLead();
  scorer.Apply(Track("a", kT0), &lead);
  scorer.Apply(Track("b", kT0 + 3600), &lead);
  scorer.Apply(Track("a", kT0 + 7200), &lead);
  scorer.Apply(Identify(Obj({{"title", Value::String("CTO")}}), kT0), &lead);
  std::vector<std::vector<ScorePart>> parts;
  std::vector<double> scores;
  scorer.Breakdown(&lead, kT0 + 5 * kDay, &parts, &scores);
  ASSERT_EQ(parts[0].size(), 2u);
  EXPECT_EQ(parts[0][0].rule_id, "a");
  EXPECT_EQ(parts[0][1].rule_id, "b");
  EXPECT_EQ(parts[0][0].points + parts[0][1].points, scores[0]);
  ASSERT_EQ(parts[1].size(), 1u);
  EXPECT_EQ(parts[1][0].points, 15);
  std::vector<double> read;
  scorer.ReadScores(&lead, kT0 + 5 * kDay, &read);
  EXPECT_EQ(read, scores);
}

TEST(ScorerTest, RemovingARuleRemovesItsContributionAndChangingPointsOnlyLaterAwards) {
  auto v1 = RuleSetBuilder()
                .Score("e", ScoreKind::kEvent)
                .Rule("a", "e", "event == \"a\"", 10)
                .Rule("b", "e", "event == \"b\"", 5)
                .Build();
  Lead lead = NewLead();
  Scorer(v1).Apply(Track("a", kT0), &lead);
  Scorer(v1).Apply(Track("b", kT0), &lead);
  auto v2 =
      RuleSetBuilder().Score("e", ScoreKind::kEvent).Rule("a", "e", "event == \"a\"", 100).Build();
  Scorer scorer2(v2);
  EXPECT_DOUBLE_EQ(Read(scorer2, &lead, "e", kT0), 10);
  scorer2.Apply(Track("a", kT0 + 1), &lead);
  EXPECT_DOUBLE_EQ(Read(scorer2, &lead, "e", kT0 + 1), 110);
  std::vector<std::vector<ScorePart>> parts;
  std::vector<double> scores;
  scorer2.Breakdown(&lead, kT0 + 1, &parts, &scores);
  ASSERT_EQ(parts[0].size(), 1u);  // b is not in force: no part
  EXPECT_EQ(parts[0][0].rule_id, "a");
  // b's state is kept, counting for nothing, so a reload that brings b back brings back its
  // award and its `once` memory, for every lead alike.
  EXPECT_EQ(lead.awards.size(), 2u);
  auto v3 = RuleSetBuilder()
                .Score("e", ScoreKind::kEvent)
                .Rule("a", "e", "event == \"a\"", 100)
                .Rule("b", "e", "event == \"b\"", 5, std::nullopt, /*once=*/true)
                .Build();
  Scorer scorer3(v3);
  EXPECT_DOUBLE_EQ(Read(scorer3, &lead, "e", kT0 + 1), 115);
  scorer3.Apply(Track("b", kT0 + 2), &lead);  // b awarded this lead already: once
  EXPECT_DOUBLE_EQ(Read(scorer3, &lead, "e", kT0 + 2), 115);
}

TEST(ScorerTest, PromotionJumpsToTheHighestStageWhoseEnterHolds) {
  Scorer scorer(RuleSetBuilder()
                    .Score("e", ScoreKind::kEvent)
                    .Rule("big", "e", "event == \"big\"", 100)
                    .Rule("drop", "e", "event == \"drop\"", -80)
                    .Stage("mql", "score.e >= 40", "score.e < 30")
                    .Stage("sql", "score.e >= 80", "score.e < 60")
                    .Build());
  Lead lead = NewLead();
  StageChange change = scorer.Apply(Track("big", kT0), &lead);
  EXPECT_EQ(change.from, 0);
  EXPECT_EQ(change.to, 2);
  EXPECT_EQ(lead.stage, "sql");
  // 100 - 80 = 20: sql's exit holds, then mql's exit holds too: cascade to new.
  change = scorer.Apply(Track("drop", kT0 + 1), &lead);
  EXPECT_EQ(change.from, 2);
  EXPECT_EQ(change.to, 0);
  EXPECT_EQ(lead.stage, "new");
}

// A profile rule that reads lead.stage counts from the stage the event moved the lead to, read
// right after that event, and no longer once the lead leaves it (the profile scores are made
// stale by a stage change only when some profile rule reads the stage).
TEST(ScorerTest, AProfileRuleOnTheStageFollowsEveryStageChange) {
  Scorer scorer(RuleSetBuilder()
                    .Score("e", ScoreKind::kEvent)
                    .Score("fit", ScoreKind::kProfile)
                    .Rule("big", "e", "event == \"big\"", 100)
                    .Rule("drop", "e", "event == \"drop\"", -80)
                    .Rule("in-mql", "fit", "lead.stage == \"mql\"", 5)
                    .Rule("titled", "fit", "exists(traits.title)", 7)
                    .Stage("mql", "score.e >= 40", "score.e < 30")
                    .Build());
  Lead lead = NewLead();
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "fit", kT0), 0);
  scorer.Apply(Track("big", kT0), &lead);
  ASSERT_EQ(lead.stage, "mql");
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "fit", kT0), 5);
  scorer.Apply(Track("drop", kT0 + 1), &lead);
  ASSERT_EQ(lead.stage, "new");
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "fit", kT0 + 1), 0);

  // Without a rule on the stage, stage changes leave the profile as the traits make it.
  Scorer traits_only(RuleSetBuilder()
                         .Score("e", ScoreKind::kEvent)
                         .Score("fit", ScoreKind::kProfile)
                         .Rule("big", "e", "event == \"big\"", 100)
                         .Rule("titled", "fit", "exists(traits.title)", 7)
                         .Stage("mql", "score.e >= 40")
                         .Build());
  Lead titled = NewLead();
  traits_only.Apply(Identify(Obj({{"title", Value::String("CTO")}}), kT0), &titled);
  traits_only.Apply(Track("big", kT0 + 1), &titled);
  ASSERT_EQ(titled.stage, "mql");
  EXPECT_DOUBLE_EQ(Read(traits_only, &titled, "fit", kT0 + 1), 7);
}

TEST(ScorerTest, DemotionStopsAtTheFirstStageWhoseExitDoesNotHold) {
  Scorer scorer(RuleSetBuilder()
                    .Score("e", ScoreKind::kEvent)
                    .Rule("big", "e", "event == \"big\"", 100)
                    .Rule("drop", "e", "event == \"drop\"", -50)
                    .Stage("mql", "score.e >= 40")  // default exit: !(enter)
                    .Stage("sql", "score.e >= 80", "score.e < 60")
                    .Build());
  Lead lead = NewLead();
  scorer.Apply(Track("big", kT0), &lead);
  StageChange change = scorer.Apply(Track("drop", kT0 + 1), &lead);
  EXPECT_EQ(change.to, 1);
  EXPECT_EQ(lead.stage, "mql");
  change = scorer.Apply(Track("nothing", kT0 + 2), &lead);
  EXPECT_FALSE(change.changed());
}

TEST(ScorerTest, WallClockRecheckDemotesDecayedLeads) {
  Scorer scorer(RuleSetBuilder()
                    .Score("e", ScoreKind::kEvent, kDay)
                    .Rule("big", "e", "true", 100)
                    .Stage("mql", "score.e >= 40", "score.e < 30")
                    .Stage("sql", "score.e >= 80", "score.e < 60")
                    .Build());
  Lead lead = NewLead();
  scorer.Apply(Track("x", kT0), &lead);
  EXPECT_EQ(lead.stage, "sql");
  EXPECT_FALSE(scorer.RecheckExit(&lead, kT0 + 0.5 * kDay).changed());  // 70.7
  StageChange change = scorer.RecheckExit(&lead, kT0 + kDay);           // 50
  EXPECT_EQ(change.to, 1);
  change = scorer.RecheckExit(&lead, kT0 + 2 * kDay);  // 25
  EXPECT_EQ(change.to, 0);
}

// NextExitCheck is a time before which no re-check moves the lead, as close as a second to the
// first time one does.
TEST(ScorerTest, NextExitCheckIsWhenTheFirstThresholdIsPassed) {
  Scorer scorer(RuleSetBuilder()
                    .Score("e", ScoreKind::kEvent, kDay)
                    .Score("fit", ScoreKind::kProfile)
                    .Rule("big", "e", "event == \"Big\"", 100)
                    .Rule("small", "e", "event == \"Small\"", 10)
                    .Stage("mql", "score.e >= 40", "score.e < 30 && score.fit < 40")
                    .Stage("sql", "score.e >= 80", "score.e < 60 || score.fit < -5")
                    .Build());
  Lead lead = NewLead();
  EXPECT_EQ(scorer.NextExitCheck(&lead, kT0), std::numeric_limits<double>::infinity());
  scorer.Apply(Track("Big", kT0), &lead);
  ASSERT_EQ(lead.stage, "sql");
  // 100 * 2^(-t / 1d) passes 60 at t = log2(100 / 60) days.
  const double passes = kT0 + kDay * std::log2(100.0 / 60);
  const double next = scorer.NextExitCheck(&lead, kT0 + 10);
  EXPECT_LE(next, passes);
  EXPECT_GE(next, passes - 2);
  EXPECT_FALSE(scorer.RecheckExit(&lead, next).changed());
  // Asked later (or with an award in the future), the same time.
  EXPECT_NEAR(scorer.NextExitCheck(&lead, kT0 + 3600), next, 1e-3);
  EXPECT_EQ(scorer.RecheckExit(&lead, passes + 1).to, 1);
  // In mql at passes + 1 (60 points): 30 is passed a day after 60.
  const double mql_next = scorer.NextExitCheck(&lead, passes + 1);
  EXPECT_NEAR(mql_next, passes + kDay - 1, 1e-3);
  // A later award moves it: now read from the latest award.
  scorer.Apply(Track("Small", passes + 100), &lead);
  EXPECT_GT(scorer.NextExitCheck(&lead, passes + 100), mql_next);
  // The exit holds now: due now.
  EXPECT_EQ(scorer.NextExitCheck(&lead, kT0 + 10 * kDay), kT0 + 10 * kDay);
}

// A decaying score reaches zero only when it underflows; a comparison with zero changes then.
TEST(ScorerTest, NextExitCheckComesBeforeAScoreUnderflowsToZero) {
  Scorer scorer(RuleSetBuilder()
                    .Score("e", ScoreKind::kEvent, /*half_life=*/1)
                    .Rule("big", "e", "event == \"Big\"", 100)
                    .Stage("active", "score.e >= 40", "score.e <= 0")
                    .Build());
  Lead lead = NewLead();
  scorer.Apply(Track("Big", kT0), &lead);
  ASSERT_EQ(lead.stage, "active");
  const double next = scorer.NextExitCheck(&lead, kT0);
  ASSERT_LT(next, kT0 + 1100);
  EXPECT_FALSE(scorer.RecheckExit(&lead, next).changed());  // 100 * 2^-1016: not zero yet
  EXPECT_EQ(scorer.RecheckExit(&lead, kT0 + 1100).to, 0);   // 2^-1093 underflows to zero
}

TEST(ScorerTest, NextExitCheckIsNowWhenTheExitReadsScoresOtherwise) {
  Scorer scorer(RuleSetBuilder()
                    .Score("e", ScoreKind::kEvent, kDay)
                    .Score("f", ScoreKind::kEvent, 0)
                    .Rule("big", "e", "event == \"Big\"", 100)
                    .Rule("steady", "f", "event == \"Big\"", 50)
                    .Stage("mql", "score.e >= 40", "score.e + score.f < 30")
                    .Stage("sql", "score.f >= 50", "score.f < 20")
                    .Build());
  Lead lead = NewLead();
  scorer.Apply(Track("Big", kT0), &lead);
  ASSERT_EQ(lead.stage, "sql");
  // f does not decay: sql's exit never changes by itself.
  EXPECT_EQ(scorer.NextExitCheck(&lead, kT0), std::numeric_limits<double>::infinity());
  scorer.SetStage(&lead, 1);
  EXPECT_EQ(scorer.NextExitCheck(&lead, kT0 + 5), kT0 + 5);  // a sum: checked every interval
}

TEST(ScorerTest, ReevaluateUnderNewRulesPromotesOrDemotesWithoutAnEvent) {
  auto v1 = RuleSetBuilder()
                .Score("e", ScoreKind::kEvent)
                .Rule("a", "e", "event == \"a\"", 30)
                .Stage("mql", "score.e >= 40")
                .Build();
  Lead lead = NewLead();
  Scorer(v1).Apply(Track("a", kT0), &lead);
  EXPECT_EQ(lead.stage, "new");
  // A lower threshold: the lead is mql at once, no event needed (`backtest --apply`).
  Scorer lower(RuleSetBuilder()
                   .Score("e", ScoreKind::kEvent)
                   .Rule("a", "e", "event == \"a\"", 30)
                   .Stage("mql", "score.e >= 20")
                   .Build());
  StageChange change = lower.Reevaluate(&lead, kT0 + 1);
  EXPECT_EQ(change.from, 0);
  EXPECT_EQ(change.to, 1);
  EXPECT_EQ(lead.stage, "mql");
  EXPECT_FALSE(lower.Reevaluate(&lead, kT0 + 2).changed());
  // A higher one: its default exit holds, the lead goes back down.
  Scorer higher(RuleSetBuilder()
                    .Score("e", ScoreKind::kEvent)
                    .Rule("a", "e", "event == \"a\"", 30)
                    .Stage("mql", "score.e >= 50")
                    .Build());
  change = higher.Reevaluate(&lead, kT0 + 3);
  EXPECT_EQ(change.to, 0);
  EXPECT_EQ(lead.stage, "new");
}

TEST(ScorerTest, RulesIndexedByEventNameAndTypeFireExactlyWhenTheirConditionHolds) {
  Scorer scorer(RuleSetBuilder()
                    .Score("e", ScoreKind::kEvent)
                    .Rule("name", "e", "event == \"Demo\"", 1)
                    .Rule("track-name", "e", "type == \"track\" && event == \"Demo\"", 10)
                    .Rule("page", "e", "\"page\" == type", 100)
                    .Rule("name-or", "e", "event == \"Demo\" || event == \"Other\"", 1000)
                    .Rule("never", "e", "type == \"Track\"", 10000)
                    .Build());
  Lead lead = NewLead();
  scorer.Apply(Track("Demo", kT0), &lead);
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "e", kT0), 1011);
  Event page;
  page.type = EventType::kPage;
  page.user_id = "u1";
  page.name = "Demo";
  page.has_name = true;
  page.timestamp = kT0;
  scorer.Apply(page, &lead);  // `event` reads a page's name too
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "e", kT0), 1011 + 1101);
  page.has_name = false;
  scorer.Apply(page, &lead);
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "e", kT0), 1011 + 1101 + 100);
  scorer.Apply(Track("Other", kT0), &lead);
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "e", kT0), 1011 + 1101 + 100 + 1000);
  // Names compare exactly: another case is another name, for the index and the rule alike.
  scorer.Apply(Track("demo", kT0), &lead);
  scorer.Apply(Track("DEMO", kT0), &lead);
  EXPECT_DOUBLE_EQ(Read(scorer, &lead, "e", kT0), 1011 + 1101 + 100 + 1000);
}

TEST(LeadStateTest, EncodingRoundTrips) {
  Lead lead;
  lead.id = "u-ü";
  lead.stage = "sql";
  lead.traits = Obj({{"email", Value::String("a@acme.com")},
                     {"n", Value::Number(1.5)},
                     {"tags", Value::MakeArray({Value::Bool(true), Value::Null()})},
                     {"company", Obj({{"id", Value::String("acme")}})}});
  lead.first_seen = kT0;
  lead.last_seen = kT0 + 0.125;
  lead.events = 42;
  RuleAward award;
  award.rule_id = "pricing";
  award.value = 12.5;
  award.latest = kT0;
  award.awarded = true;
  award.windows = {{-3, 1}, {20000, 30}};
  lead.awards.push_back(award);
  lead.awards.push_back(RuleAward{.rule_id = "never"});
  lead.owner = LeadOwner{"alice", "enterprise", 17, true, kT0, 1, {"bob", "alice"}, true, "won"};
  std::string bytes;
  EncodeLeadState(lead, &bytes);
  Lead back;
  ASSERT_OK(DecodeLeadState(bytes, &back));
  std::string again;
  EncodeLeadState(back, &again);
  EXPECT_EQ(bytes, again);
  EXPECT_EQ(back.traits, lead.traits);
  EXPECT_EQ(back.awards[1].latest, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(back.owner->held_by.size(), 2u);
  // Every truncation is Corruption, never a crash.
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeLeadState(std::string_view(bytes).substr(0, n), &back).ok()) << n;
  }
}

}  // namespace
}  // namespace handoff
