#include "scoring/candidate_rules.h"

#include <algorithm>

namespace handoff {

EventGuard CandidateRules::GroupGuard(const Expression& when) {
  EventGuard guard = when.guard();
  if (guard.name.has_value()) {
    guard.type.reset();  // indexed by name only: the type still has to be tested
  }
  return guard;
}

CandidateRules::CandidateRules(const RuleSet& rules) {
  for (int r : rules.event_rules) {
    const Expression& when = rules.rules[r].when;
    const EventGuard guard = GroupGuard(when);
    Group* group = &unguarded_;
    if (guard.name.has_value()) {
      group = &by_name_[*guard.name];
    } else if (guard.type.has_value()) {
      group = &by_type_[static_cast<size_t>(*guard.type)];
    }
    Add(group, r, when);
  }
}

void CandidateRules::Add(Group* group, int rule_index, const Expression& when) {
  std::optional<EventDiscriminator> d = when.discriminator();
  if (!d.has_value()) {
    group->plain.push_back(rule_index);
    return;
  }
  auto field = std::find_if(group->fields.begin(), group->fields.end(), [&](const FieldIndex& f) {
    return f.context == d->context && f.keys == d->keys;
  });
  if (field == group->fields.end()) {
    field = group->fields.insert(group->fields.end(), FieldIndex{});
    field->context = d->context;
    field->keys = d->keys;
  }
  if (d->prefix) {
    const std::string& text = d->literal.as_string();
    field->prefixes[text].push_back(rule_index);
    auto at =
        std::lower_bound(field->prefix_lengths.begin(), field->prefix_lengths.end(), text.size());
    if (at == field->prefix_lengths.end() || *at != text.size()) {
      field->prefix_lengths.insert(at, text.size());
    }
  } else if (d->literal.is_array()) {
    for (const Value& element : d->literal.as_array()) {
      AddEqual(&*field, element, rule_index);
    }
  } else {
    AddEqual(&*field, d->literal, rule_index);
  }
  ++discriminated_;
}

void CandidateRules::AddEqual(FieldIndex* field, const Value& literal, int rule_index) {
  std::vector<int>* rules = nullptr;
  if (literal.is_string()) {
    rules = &field->equal_strings[literal.as_string()];
  } else {
    rules = &field->equal_numbers[literal.as_number() == 0 ? 0.0 : literal.as_number()];
  }
  // Once a value, even when an `in` list names it twice (or as 0 and -0).
  if (rules->empty() || rules->back() != rule_index) {
    rules->push_back(rule_index);
  }
}

const Value* CandidateRules::ReadField(const FieldIndex& field, const Event& event) {
  // As the expression reads the path (rules/expression.cc ReadPath).
  return (field.context ? event.context : event.properties).FindPath(field.keys);
}

}  // namespace handoff
