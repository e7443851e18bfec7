// ProfileRegexes: a rule set's profile rules whose whole condition is a regular expression on
// one trait (`traits.title matches "(?i)\\bvp\\b"`), matched with one RE2::Set per trait: one scan
// of the trait's text tells which of those rules hold.
//
// A file with hundreds of title or industry patterns would otherwise run each pattern over the
// same text whenever a lead's traits change (RE2 was 30 % of the engine thread under the bench's
// 1,021-rule file). Only traits read by at least kMinRules such rules get a set; every other rule
// is the caller's to test. The answer is the same as testing each rule's condition: the set's
// patterns are the rules' own, with the same options and the same unanchored search, and a set
// that cannot answer (its DFA out of memory) falls back to testing each of its rules.
//
// Immutable after construction; Holds() is safe to call from many threads at once.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "handoff/value.h"
#include "rules/rule_set.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace handoff {

class ProfileRegexes {
 public:
  // Sets for traits read by at least this many whole-condition regex rules.
  static constexpr size_t kMinRules = 4;
  // A longer trait is matched rule by rule: a set always scans the whole text with its DFA, and
  // unlike one RE2 never falls back to the NFA when that DFA's cache keeps filling, so a few
  // pathological patterns on a very long text ran slower as a set (a review measured 53 ms
  // against 11.7 ms on 20 KB).
  static constexpr size_t kMaxSetText = 4096;

  explicit ProfileRegexes(const RuleSet& rules);
  ~ProfileRegexes();
  ProfileRegexes(const ProfileRegexes&) = delete;
  ProfileRegexes& operator=(const ProfileRegexes&) = delete;

  bool empty() const { return sets_.empty(); }
  // True when rule `rule_index`'s condition is answered by Holds().
  bool Covers(int rule_index) const {
    return static_cast<size_t>(rule_index) < covered_.size() && covered_[rule_index] != 0;
  }
  // For every covered rule r, sets (*held)[r] to whether its condition holds for a lead with
  // `traits`. `held` must have a slot per rule of the set; other slots are left as they are.
  void Holds(const Value& traits, std::vector<char>* held) const;

 private:
  struct TraitSet;
  std::vector<std::unique_ptr<TraitSet>> sets_;
  std::vector<char> covered_;  // by rule index
};

}  // namespace handoff
