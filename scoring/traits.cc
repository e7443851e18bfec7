#include "scoring/traits.h"

namespace handoff {

bool MergeTraits(const Value& incoming, Value* target) {
  if (!incoming.is_object()) {
    return false;
  }
  if (!target->is_object()) {
    *target = Value::MakeObject();
  }
  bool changed = false;
  for (const auto& [key, value] : incoming.as_object()) {
    if (value.is_null()) {
      changed |= target->Erase(key);
      continue;
    }
    const Value* old = target->Find(key);
    if (old == nullptr || !(*old == value)) {
      target->Set(key, value);
      changed = true;
    }
  }
  return changed;
}

bool ApplyEventTraits(const Event& event, Value* traits) {
  if (!traits->is_object()) {
    *traits = Value::MakeObject();
  }
  switch (event.type) {
    case EventType::kIdentify:
      return MergeTraits(event.traits, traits);
    case EventType::kGroup: {
      Value* company = traits->FindMutable("company");
      if (company == nullptr || !company->is_object()) {
        traits->Set("company", Value::MakeObject());
        company = traits->FindMutable("company");
      }
      bool changed = MergeTraits(event.traits, company);
      const Value* id = company->Find("id");
      if (id == nullptr || !id->is_string() || id->as_string() != event.group_id) {
        company->Set("id", Value::String(event.group_id));
        changed = true;
      }
      return changed;
    }
    default:
      return false;
  }
}

}  // namespace handoff
