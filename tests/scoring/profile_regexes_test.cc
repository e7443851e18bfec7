#include "scoring/profile_regexes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "rules/rule_set.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

std::shared_ptr<const RuleSet> Rules(const std::vector<std::string>& whens) {
  return testing::RulesOfConditions("fit: {kind: profile}", whens);
}

TEST(ProfileRegexesTest, OnlyWholeConditionRegexesOnATraitReadByEnoughRulesAreCovered) {
  auto rules =
      Rules({R"(traits.title matches "(?i)\\bvp\\b")", R"(traits.title matches "(?i)head")",
             R"(traits.title matches "^CEO$")",
             R"(traits.title matches "manager" && traits.plan == "pro")",
             R"(traits.title matches "chief")", R"(traits.company.industry matches "soft")",
             R"(traits.company.industry matches "fin")"});
  ProfileRegexes sets(*rules);
  EXPECT_TRUE(sets.Covers(0));
  EXPECT_TRUE(sets.Covers(1));
  EXPECT_TRUE(sets.Covers(2));
  EXPECT_FALSE(sets.Covers(3));  // more than the regex
  EXPECT_TRUE(sets.Covers(4));
  EXPECT_FALSE(sets.Covers(5));  // two rules on that trait: tested one by one
  EXPECT_FALSE(sets.Covers(6));

  Value traits = Value::MakeObject();
  traits.Set("title", Value::String("VP and chief of staff"));
  std::vector<char> held(rules->rules.size(), 7);
  sets.Holds(traits, &held);
  EXPECT_EQ(held, (std::vector<char>{1, 0, 0, 7, 1, 7, 7}));
  traits.Set("title", Value::Number(1));  // `matches` holds only for a string
  sets.Holds(traits, &held);
  EXPECT_EQ(held, (std::vector<char>{0, 0, 0, 7, 0, 7, 7}));
  // A trait longer than kMaxSetText is matched rule by rule, with the same answers.
  traits.Set("title", Value::String(std::string(ProfileRegexes::kMaxSetText, 'x') + " head, VP"));
  sets.Holds(traits, &held);
  EXPECT_EQ(held, (std::vector<char>{1, 1, 0, 7, 0, 7, 7}));
}

// Patterns that compile one by one but not together within RE2's memory budget (the set's
// program outgrows it) get no set: each rule is then the scorer's to test, as before.
TEST(ProfileRegexesTest, PatternsTooLargeForOneSetAreLeftToEachRule) {
  std::vector<std::string> whens;
  for (int i = 0; i < 200; ++i) {
    whens.push_back("traits.title matches \"(?:" + std::string(1, static_cast<char>('a' + i % 26)) +
                    std::to_string(i) + "[a-z0-9 ]){100}\"");
  }
  whens.push_back(R"(traits.company matches "acme")");
  for (int i = 0; i < 4; ++i) {
    whens.push_back("traits.company matches \"co" + std::to_string(i) + "\"");
  }
  auto rules = Rules(whens);
  ASSERT_EQ(rules->rules.size(), 205u);
  ProfileRegexes sets(*rules);
  for (int r = 0; r < 200; ++r) {
    EXPECT_FALSE(sets.Covers(r)) << r;
  }
  for (int r = 200; r < 205; ++r) {
    EXPECT_TRUE(sets.Covers(r)) << r;  // the other trait's set is unaffected
  }
  Value traits = Value::MakeObject();
  traits.Set("title", Value::String("a0 b1 c2"));
  traits.Set("company", Value::String("acme co2"));
  std::vector<char> held(rules->rules.size(), 7);
  sets.Holds(traits, &held);
  EXPECT_EQ(std::count(held.begin(), held.begin() + 200, 7), 200);  // left as they were
  EXPECT_EQ(std::vector<char>(held.begin() + 200, held.end()), (std::vector<char>{1, 0, 0, 1, 0}));
}

// For random titles, each covered rule holds exactly when its own condition does.
TEST(ProfileRegexesTest, TheSetAnswersAsEachRulesOwnCondition) {
  const std::vector<std::string> words = {"vp",  "VP",  "head",  "chief",    "manager",
                                          "cto", "eng", "Sales", "director", "ops",
                                          "",    "é",   "team1", "team12"};
  std::vector<std::string> whens;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    whens.push_back("traits.title matches \"(?i)\\\\b" + w + "\\\\b\"");
    whens.push_back("traits.title matches \"^" + w + "\"");
    whens.push_back("traits.company.name matches \"" + w + "$\"");
  }
  auto rules = Rules(whens);
  ProfileRegexes sets(*rules);
  std::mt19937 rng(3);
  for (int i = 0; i < 3000; ++i) {
    std::string title;
    for (int k = static_cast<int>(rng() % 4); k > 0; --k) {
      title += words[rng() % words.size()] + (rng() % 2 == 0 ? " " : "-");
    }
    Value traits = Value::MakeObject();
    traits.Set("title", Value::String(title));
    Value company = Value::MakeObject();
    company.Set("name", Value::String(title));
    traits.Set("company", rng() % 4 == 0 ? Value::String(title) : company);
    std::vector<char> held(rules->rules.size(), 2);
    sets.Holds(traits, &held);
    EvalContext ctx;
    ctx.traits = &traits;
    for (size_t r = 0; r < rules->rules.size(); ++r) {
      ASSERT_TRUE(sets.Covers(static_cast<int>(r))) << r;
      EXPECT_EQ(held[r] != 0, rules->rules[r].when.Test(ctx))
          << rules->rules[r].when.source() << " on \"" << title << "\"";
    }
  }
}

}  // namespace
}  // namespace handoff
