// Router: the routing state that survives restarts (meta records) and its rebuild at start.
#include "base/json_parser.h"
#include "routing/router.h"
#include "routing/router_internal.h"

namespace handoff {

using router_internal::kUnrouted;
using router_internal::kUnroutedKey;

namespace {

constexpr std::string_view kMetaReps = "router.reps";
constexpr std::string_view kMetaQueues = "router.queues";
constexpr std::string_view kMetaAccounts = "router.accounts";
constexpr std::string_view kMetaEscalated = "router.escalated";  // lead id -> reps that held it

}  // namespace

Status Router::Restore(
    const std::function<Status(std::string_view key, std::string* value)>& get_meta) {
  JsonParser parser;
  auto load = [&](std::string_view key, Value* out) -> Status {
    std::string text;
    Status st = get_meta(key, &text);
    if (st.IsNotFound()) {
      *out = Value::MakeObject();
      return Status::Ok();
    }
    if (!st.ok()) {
      return st;
    }
    Status parsed = parser.Parse(text, out);
    if (!parsed.ok() || !out->is_object()) {
      return Status::Corruption(std::string(key) + " does not parse");
    }
    return Status::Ok();
  };
  Value reps;
  Value queues;
  Value accounts;
  Value escalated;
  if (Status st = load(kMetaReps, &reps); !st.ok()) {
    return st;
  }
  if (Status st = load(kMetaQueues, &queues); !st.ok()) {
    return st;
  }
  if (Status st = load(kMetaAccounts, &accounts); !st.ok()) {
    return st;
  }
  if (Status st = load(kMetaEscalated, &escalated); !st.ok()) {
    return st;
  }
  auto number = [](const Value& obj, std::string_view key) -> double {
    const Value* v = obj.Find(key);
    return v != nullptr && v->is_number() ? v->as_number() : 0;
  };
  for (const auto& [id, v] : reps.as_object()) {
    RepState& s = reps_[id];
    const Value* online = v.Find("online");
    s.online = online == nullptr || !online->is_bool() || online->as_bool();
    s.current_weight = static_cast<int64_t>(number(v, "current_weight"));
    s.day = static_cast<int64_t>(number(v, "day"));
    s.today = static_cast<int>(number(v, "today"));
  }
  for (const auto& [key, v] : queues.as_object()) {
    std::string queue_key = key == kUnrouted ? std::string(kUnroutedKey) : key;
    if (!v.is_array()) {
      continue;
    }
    for (const Value& id : v.as_array()) {
      if (id.is_string()) {
        queues_[queue_key].push_back(id.as_string());
        queued_in_[id.as_string()] = queue_key;
      }
    }
  }
  for (const auto& [domain, v] : accounts.as_object()) {
    if (v.is_string()) {
      accounts_[domain] = v.as_string();
    }
  }
  // Escalated leads wait for a wake that happens after the restart (generation 0).
  for (const auto& [id, v] : escalated.as_object()) {
    auto q = queued_in_.find(id);
    if (q == queued_in_.end() || q->second == kUnroutedKey || !v.is_array()) {
      continue;
    }
    Parked& p = parked_[id];
    for (const Value& rep : v.as_array()) {
      if (rep.is_string()) {
        p.held_by.push_back(rep.as_string());
      }
    }
  }
  return Status::Ok();
}

void Router::AdoptLead(Lead* lead) {
  if (!lead->owner.has_value()) {
    return;
  }
  const LeadOwner& o = *lead->owner;
  by_seq_[o.seq] = lead->id;  // closed too: a second close gets already_closed
  if (o.closed) {
    return;
  }
  StateOf(o.rep).open++;
  if (!o.accepted && scorer_ != nullptr && rules().routing.sla.accept_within > 0) {
    sla_.emplace(o.routed_at + rules().routing.sla.accept_within, lead->id);
  }
}

Router::RepState& Router::StateOf(const std::string& rep_id) { return reps_[rep_id]; }

void Router::Flush() {
  if (reps_dirty_) {
    Value reps = Value::MakeObject();
    for (const auto& [id, s] : reps_) {
      Value v = Value::MakeObject();
      v.Set("online", Value::Bool(s.online));
      v.Set("current_weight", Value::Number(static_cast<double>(s.current_weight)));
      v.Set("day", Value::Number(static_cast<double>(s.day == INT64_MIN ? 0 : s.day)));
      v.Set("today", Value::Number(s.today));
      reps.Set(id, std::move(v));
    }
    host_->PutMeta(kMetaReps, reps.ToJson());
    reps_dirty_ = false;
  }
  if (queues_dirty_) {
    Value queues = Value::MakeObject();
    for (const auto& [key, ids] : queues_) {
      Value list = Value::MakeArray();
      for (const std::string& id : ids) {
        list.mutable_array().push_back(Value::String(id));
      }
      queues.Set(key == kUnroutedKey ? kUnrouted : std::string_view(key), std::move(list));
    }
    host_->PutMeta(kMetaQueues, queues.ToJson());
    Value escalated = Value::MakeObject();
    for (const auto& [id, p] : parked_) {
      Value held = Value::MakeArray();
      for (const std::string& rep : p.held_by) {
        held.mutable_array().push_back(Value::String(rep));
      }
      escalated.Set(id, std::move(held));
    }
    host_->PutMeta(kMetaEscalated, escalated.ToJson());
    queues_dirty_ = false;
  }
  if (accounts_dirty_) {
    Value accounts = Value::MakeObject();
    for (const auto& [domain, rep] : accounts_) {
      accounts.Set(domain, Value::String(rep));
    }
    host_->PutMeta(kMetaAccounts, accounts.ToJson());
    accounts_dirty_ = false;
  }
}

}  // namespace handoff
