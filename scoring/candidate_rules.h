// CandidateRules: a rule set's event rules indexed so that an event visits only the rules that
// could hold for it, not every rule of the file.
//
// Two levels, both read off each rule's `when` at load (rules/expression.h):
// - the group: by event name (EventGuard::name), else by type (EventGuard::type), else one group
//   of the unguarded rules;
// - within a group, by one event field (EventDiscriminator): rules that need
//   `properties.plan == "pro"` (or `in ["pro", "team"]`) sit under that value (each of them),
//   rules that need `properties.path starts_with "/docs"` under that prefix; an event looks its
//   field's value up once per distinct path and once per distinct prefix length.
// A 1,000-rule file written as families of rules told apart by a property (one per page, plan or
// feature) then costs an event a few lookups instead of hundreds of expression evaluations.
//
// The index only ever narrows to a superset of the rules that can hold: the scorer still tests each
// candidate's whole condition (less its guard). Candidates come in no particular order; the
// scorer sorts what they award. Immutable after construction; safe to read from many threads.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/string_map.h"
#include "handoff/event.h"
#include "rules/rule_set.h"

namespace handoff {

class CandidateRules {
 public:
  // Indexes `rules.event_rules`.
  explicit CandidateRules(const RuleSet& rules);

  // The guard a rule is grouped by: its event name when it has one (its type then still has to
  // be tested), else its type, else none. What the scorer may assume of a candidate
  // (Expression::AssumingGuard).
  static EventGuard GroupGuard(const Expression& when);

  // Calls fn(rule_index) once for every event rule that could hold for `event`.
  template <typename Fn>
  void ForEach(const Event& event, Fn&& fn) const;

  // How many rules sit under a discriminator (for tests).
  size_t discriminated() const { return discriminated_; }

 private:
  // The rules of one group that need one event field to have some value.
  struct FieldIndex {
    bool context = false;  // context.KEYS, else properties.KEYS
    std::vector<std::string> keys;
    StringMap<std::vector<int>> equal_strings;                   // `== "text"`
    std::unordered_map<double, std::vector<int>> equal_numbers;  // `== number`; -0 as 0
    StringMap<std::vector<int>> prefixes;                        // `starts_with "text"`
    std::vector<size_t> prefix_lengths;  // the distinct lengths of `prefixes`, ascending
  };
  struct Group {
    std::vector<int> plain;  // no discriminator: always candidates
    std::vector<FieldIndex> fields;
  };

  void Add(Group* group, int rule_index, const Expression& when);
  // Files `rule_index` under a string or number `literal` it needs the field to equal.
  static void AddEqual(FieldIndex* field, const Value& literal, int rule_index);
  template <typename Fn>
  static void ForEachInGroup(const Group& group, const Event& event, Fn& fn);
  static const Value* ReadField(const FieldIndex& field, const Event& event);

  StringMap<Group> by_name_;
  std::array<Group, 6> by_type_;
  Group unguarded_;
  size_t discriminated_ = 0;
};

template <typename Fn>
void CandidateRules::ForEachInGroup(const Group& group, const Event& event, Fn& fn) {
  auto visit = [&fn](const std::vector<int>& rules) {
    for (int r : rules) {
      fn(r);
    }
  };
  visit(group.plain);
  for (const FieldIndex& field : group.fields) {
    const Value* value = ReadField(field, event);
    if (value == nullptr) {
      continue;  // a missing field equals no string or number and starts with nothing
    }
    if (value->is_string()) {
      const std::string_view text = value->as_string();
      if (auto it = field.equal_strings.find(text); it != field.equal_strings.end()) {
        visit(it->second);
      }
      for (size_t length : field.prefix_lengths) {
        if (length > text.size()) {
          break;
        }
        if (auto it = field.prefixes.find(text.substr(0, length)); it != field.prefixes.end()) {
          visit(it->second);
        }
      }
    } else if (value->is_number()) {
      const double number = value->as_number() == 0 ? 0.0 : value->as_number();
      if (auto it = field.equal_numbers.find(number); it != field.equal_numbers.end()) {
        visit(it->second);
      }
    }
  }
}

template <typename Fn>
void CandidateRules::ForEach(const Event& event, Fn&& fn) const {
  ForEachInGroup(unguarded_, event, fn);
  ForEachInGroup(by_type_[static_cast<size_t>(event.type)], event, fn);
  // `event` reads the track name, or the page/screen name; other types have none.
  const bool has_name =
      event.type == EventType::kTrack ||
      ((event.type == EventType::kPage || event.type == EventType::kScreen) && event.has_name);
  if (has_name && !by_name_.empty()) {
    if (auto it = by_name_.find(std::string_view(event.name)); it != by_name_.end()) {
      ForEachInGroup(it->second, event, fn);
    }
  }
}

}  // namespace handoff
