#include "scoring/candidate_rules.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "rules/rule_set.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

std::shared_ptr<const RuleSet> Rules(const std::vector<std::string>& whens) {
  return testing::RulesOfConditions("e: {kind: event}", whens);
}

Event Page(const std::string& path) {
  Event e;
  e.type = EventType::kPage;
  e.user_id = "u1";
  e.properties = Value::MakeObject();
  e.properties.Set("path", Value::String(path));
  return e;
}

Event Track(const std::string& name, Value properties) {
  Event e;
  e.type = EventType::kTrack;
  e.user_id = "u1";
  e.name = name;
  e.has_name = true;
  e.properties = std::move(properties);
  return e;
}

std::set<int> Candidates(const CandidateRules& index, const Event& event) {
  std::set<int> seen;
  index.ForEach(event,
                [&](int r) { EXPECT_TRUE(seen.insert(r).second) << "rule " << r << " twice"; });
  return seen;
}

TEST(CandidateRulesTest, APrefixFamilyIsLookedUpByTheEventsPathNotTestedRuleByRule) {
  auto rules = Rules({R"(type == "page" && properties.path starts_with "/docs/1")",
                      R"(type == "page" && properties.path starts_with "/docs/12")",
                      R"(type == "page" && properties.path starts_with "/docs/2")",
                      R"(type == "page" && properties.path starts_with "")", R"(type == "page")"});
  CandidateRules index(*rules);
  EXPECT_EQ(index.discriminated(), 4U);
  EXPECT_EQ(Candidates(index, Page("/docs/123")), (std::set<int>{0, 1, 3, 4}));
  EXPECT_EQ(Candidates(index, Page("/docs/2")), (std::set<int>{2, 3, 4}));
  EXPECT_EQ(Candidates(index, Page("/pricing")), (std::set<int>{3, 4}));
  EXPECT_EQ(Candidates(index, Page("")), (std::set<int>{3, 4}));
}

TEST(CandidateRulesTest, EqualityIsOfTypeAndValueOnEitherSideAndAtAnyDepthOfAnd) {
  auto rules = Rules(
      {R"(event == "Webinar" && properties.value == 8)",
       R"(event == "Webinar" && (properties.plan == "pro" && score.e > 1 || true) && "pro" == properties.plan)",
       R"(event == "Webinar" && properties.value == 0)",
       R"(event == "Webinar" && properties.deal.size == "big")",
       R"(event == "Webinar" && context.page.url == "x")",
       R"(event == "Webinar" && (properties.plan == "pro" || properties.plan == "team"))"});
  CandidateRules index(*rules);
  EXPECT_EQ(index.discriminated(), 5U);  // not the `||`
  auto props = [](std::initializer_list<std::pair<const char*, Value>> members) {
    Value v = Value::MakeObject();
    for (const auto& [k, m] : members) {
      v.Set(k, m);
    }
    return v;
  };
  EXPECT_EQ(Candidates(index, Track("Webinar", props({{"value", Value::Number(8)}}))),
            (std::set<int>{0, 5}));
  // The string "8" is not the number 8; -0 is 0.
  EXPECT_EQ(Candidates(index, Track("Webinar", props({{"value", Value::String("8")}}))),
            (std::set<int>{5}));
  EXPECT_EQ(Candidates(index, Track("Webinar", props({{"value", Value::Number(-0.0)}}))),
            (std::set<int>{2, 5}));
  EXPECT_EQ(Candidates(index, Track("Webinar", props({{"plan", Value::String("pro")}}))),
            (std::set<int>{1, 5}));
  EXPECT_EQ(Candidates(index, Track("Webinar",
                                    props({{"deal", props({{"size", Value::String("big")}})}}))),
            (std::set<int>{3, 5}));
  // A path through a non-object reads nothing.
  EXPECT_EQ(Candidates(index, Track("Webinar", props({{"deal", Value::String("big")}}))),
            (std::set<int>{5}));
  Event with_context = Track("Webinar", props({}));
  with_context.context = props({{"page", props({{"url", Value::String("x")}})}});
  EXPECT_EQ(Candidates(index, with_context), (std::set<int>{4, 5}));
  EXPECT_EQ(Candidates(index, Track("Other", props({{"value", Value::Number(8)}}))),
            std::set<int>{});
}

TEST(CandidateRulesTest, AnInListFilesTheRuleUnderEachOfItsStringsAndNumbersOnce) {
  auto rules = Rules({R"(event == "Signup" && properties.plan in ["pro", "team", "pro", 0, -0])",
                      R"(event == "Signup" && properties.plan in ["pro", null])",
                      R"(event == "Signup" && properties.plan in [])"});
  CandidateRules index(*rules);
  EXPECT_EQ(index.discriminated(), 1U);  // a null could equal a missing field; [] is left as is
  auto plan = [](Value v) {
    Value props = Value::MakeObject();
    props.Set("plan", std::move(v));
    return Track("Signup", std::move(props));
  };
  EXPECT_EQ(Candidates(index, plan(Value::String("pro"))), (std::set<int>{0, 1, 2}));
  EXPECT_EQ(Candidates(index, plan(Value::String("team"))), (std::set<int>{0, 1, 2}));
  EXPECT_EQ(Candidates(index, plan(Value::Number(0))), (std::set<int>{0, 1, 2}));
  EXPECT_EQ(Candidates(index, plan(Value::String("free"))), (std::set<int>{1, 2}));
  EXPECT_EQ(Candidates(index, Track("Signup", Value::MakeObject())), (std::set<int>{1, 2}));
}

// Every rule whose condition holds for an event is among the event's candidates, over random
// rules and events drawn from a small alphabet (so that many hold).
TEST(CandidateRulesTest, EveryRuleThatHoldsIsACandidate) {
  std::mt19937 rng(7);
  auto pick = [&](std::initializer_list<const char*> options) {
    std::vector<const char*> v(options);
    return std::string(v[rng() % v.size()]);
  };
  std::vector<std::string> whens;
  for (int i = 0; i < 300; ++i) {
    std::string parts[3];
    for (std::string& part : parts) {
      part = pick({R"(type == "page")",
                   R"(type == "track")",
                   R"(event == "A")",
                   R"(event == "B")",
                   R"(properties.p in ["a", 1])",
                   R"(properties.p in ["ab", "ab", 0, -0])",
                   R"(properties.p in [null, "a"])",
                   R"(properties.p in [])",
                   R"(context.p in [true, "a"])",
                   R"(properties.q.r in [2, "abc"])",
                   R"(properties.p == "a")",
                   R"(properties.p == "ab")",
                   R"(properties.p == 1)",
                   R"(properties.p starts_with "a")",
                   R"(properties.p starts_with "ab")",
                   R"(properties.q.r == "a")",
                   R"(context.p == "a")",
                   R"("a" == properties.p)",
                   R"(properties.p != "a")",
                   R"(!(properties.p == "a"))",
                   R"(properties.p == "a" || properties.q.r == 2)",
                   "true"});
    }
    whens.push_back(parts[0] + " && (" + parts[1] + " && " + parts[2] + ")");
  }
  auto rules = Rules(whens);
  CandidateRules index(*rules);
  EXPECT_GT(index.discriminated(), 100U);
  auto value = [&]() {
    switch (rng() % 5) {
      case 0:
        return Value::String("a");
      case 1:
        return Value::String("ab");
      case 2:
        return Value::String("abc");
      case 3:
        return Value::Number(rng() % 3);
      default:
        return Value::Bool(true);
    }
  };
  int held = 0;
  for (int i = 0; i < 2000; ++i) {
    Event e;
    e.user_id = "u1";
    const int kind = static_cast<int>(rng() % 3);
    e.type = kind == 0 ? EventType::kPage : kind == 1 ? EventType::kTrack : EventType::kIdentify;
    e.has_name = e.type != EventType::kIdentify && rng() % 4 != 0;
    e.name = e.has_name ? pick({"A", "B", "C"}) : "";
    e.properties = Value::MakeObject();
    e.context = Value::MakeObject();
    if (rng() % 4 != 0) {
      e.properties.Set("p", value());
    }
    if (rng() % 2 == 0) {
      Value q = Value::MakeObject();
      q.Set("r", value());
      e.properties.Set("q", rng() % 5 == 0 ? value() : q);
    }
    if (rng() % 2 == 0) {
      e.context.Set("p", value());
    }
    const std::set<int> candidates = Candidates(index, e);
    EvalContext ctx;
    ctx.event = &e;
    Value traits = Value::MakeObject();
    ctx.traits = &traits;
    const double score = 0;
    ctx.scores = &score;
    for (size_t r = 0; r < rules->rules.size(); ++r) {
      if (rules->rules[r].when.Test(ctx)) {
        ++held;
        EXPECT_TRUE(candidates.contains(static_cast<int>(r)))
            << rules->rules[r].when.source() << " holds for event " << i;
      }
    }
  }
  EXPECT_GT(held, 1000);
}

}  // namespace
}  // namespace handoff
