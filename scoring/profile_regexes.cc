#include "scoring/profile_regexes.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>

namespace handoff {

struct ProfileRegexes::TraitSet {
  std::vector<std::string> keys;         // the trait's path below traits
  std::vector<int> rules;                // the set's pattern i is rules[i]'s
  std::vector<const re2::RE2*> regexes;  // each rule's own, for the fallback
  std::unique_ptr<re2::RE2::Set> set;
};

ProfileRegexes::ProfileRegexes(const RuleSet& rules) {
  // Candidates by trait path, in rule order.
  std::vector<std::unique_ptr<TraitSet>> by_path;
  for (int r : rules.profile_rules) {
    std::optional<TraitRegexTest> test = rules.rules[r].when.trait_regex();
    if (!test.has_value()) {
      continue;
    }
    auto it = std::find_if(by_path.begin(), by_path.end(),
                           [&](const auto& s) { return s->keys == test->keys; });
    if (it == by_path.end()) {
      by_path.push_back(std::make_unique<TraitSet>());
      it = by_path.end() - 1;
      (*it)->keys = test->keys;
    }
    (*it)->rules.push_back(r);
    (*it)->regexes.push_back(test->regex);
  }
  covered_.assign(rules.rules.size(), 0);
  for (auto& trait : by_path) {
    if (trait->rules.size() < kMinRules) {
      continue;
    }
    // Every pattern was compiled with the same options (rules/expression_parser.cc), so the set
    // takes the first one's.
    auto set =
        std::make_unique<re2::RE2::Set>(trait->regexes.front()->options(), re2::RE2::UNANCHORED);
    bool added = true;
    for (const re2::RE2* regex : trait->regexes) {
      added = added && set->Add(regex->pattern(), nullptr) >= 0;
    }
    if (!added || !set->Compile()) {
      continue;  // tested one by one, as before
    }
    trait->set = std::move(set);
    for (int r : trait->rules) {
      covered_[r] = 1;
    }
    sets_.push_back(std::move(trait));
  }
}

ProfileRegexes::~ProfileRegexes() = default;

void ProfileRegexes::Holds(const Value& traits, std::vector<char>* held) const {
  thread_local std::vector<int> matched;
  for (const auto& trait : sets_) {
    // As the expression reads the path (rules/expression.cc ReadPath).
    const Value* value = traits.FindPath(trait->keys);
    for (int r : trait->rules) {
      (*held)[r] = 0;
    }
    if (value == nullptr || !value->is_string()) {
      continue;  // `matches` holds only for a string
    }
    const std::string& text = value->as_string();
    matched.clear();
    re2::RE2::Set::ErrorInfo error{};
    if (text.size() <= kMaxSetText && trait->set->Match(text, &matched, &error)) {
      for (int i : matched) {
        (*held)[trait->rules[i]] = 1;
      }
    } else if (text.size() > kMaxSetText || error.kind != re2::RE2::Set::kNoError) {
      for (size_t i = 0; i < trait->rules.size(); ++i) {
        (*held)[trait->rules[i]] = re2::RE2::PartialMatch(text, *trait->regexes[i]) ? 1 : 0;
      }
    }
  }
}

}  // namespace handoff
