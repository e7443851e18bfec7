// Router: the routing state that survives restarts (meta records) and its rebuild at start.
#include <algorithm>

#include "base/json_parser.h"
#include "routing/router.h"
#include "routing/router_internal.h"
#include "storage/coding.h"

namespace handoff {

using router_internal::kUnrouted;
using router_internal::kUnroutedKey;

namespace {

constexpr std::string_view kMetaReps = "router.reps";
// One record per queued lead: the prefix, then its order as 16 hex digits (so the keys sort in
// queue order); the value is the queue's key and the lead id, each length-prefixed.
constexpr std::string_view kQueuePrefix = "router.queue.";
// One record per escalated lead waiting in a team's queue: the prefix, then the lead id; the
// value is a zero byte, its team's wake and release generations when it was escalated (varints),
// then the reps that held it, each length-prefixed. (Before the generations were kept the value
// was the reps alone; a rep id is never empty, so such a value never starts with a zero byte.)
constexpr std::string_view kParkedPrefix = "router.parked.";
// The teams' wake and release generations: per team, its id (length-prefixed) and two varints.
constexpr std::string_view kMetaGenerations = "router.generations";
// Present (value "1") while a start on changed rules has not yet rerouted the unrouted queue.
constexpr std::string_view kMetaReroutePending = "router.reroute_pending";
// One record per account owner: the prefix, then the domain; the value is the rep.
constexpr std::string_view kAccountPrefix = "router.account.";
// Earlier versions' one-record forms, read at Restore and replaced at the next Flush.
constexpr std::string_view kOldMetaQueues = "router.queues";
constexpr std::string_view kOldMetaAccounts = "router.accounts";
constexpr std::string_view kOldMetaEscalated = "router.escalated";  // lead id -> reps that held it

std::string QueueRecordKey(uint64_t order) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string key(kQueuePrefix);
  for (int shift = 60; shift >= 0; shift -= 4) {
    key.push_back(kHex[(order >> shift) & 0xf]);
  }
  return key;
}

bool ParseQueueRecordKey(std::string_view key, uint64_t* order) {
  key.remove_prefix(kQueuePrefix.size());
  if (key.size() != 16) {
    return false;
  }
  uint64_t v = 0;
  for (char c : key) {
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) {
      return false;
    }
    v = v << 4 | static_cast<uint64_t>(digit);
  }
  *order = v;
  return true;
}

std::string QueueRecordValue(std::string_view queue, std::string_view lead_id) {
  std::string value;
  coding::PutString(queue, &value);
  coding::PutString(lead_id, &value);
  return value;
}

std::string ParkedRecordValue(uint64_t wake_generation, uint64_t release_generation,
                              const std::vector<std::string>& held_by) {
  std::string value(1, '\0');
  coding::PutVarint(wake_generation, &value);
  coding::PutVarint(release_generation, &value);
  for (const std::string& rep : held_by) {
    coding::PutString(rep, &value);
  }
  return value;
}

bool DecodeStrings(std::string_view in, std::vector<std::string_view>* out) {
  out->clear();
  while (!in.empty()) {
    std::string_view s;
    if (!coding::GetStringView(&in, &s)) {
      return false;
    }
    out->push_back(s);
  }
  return true;
}

// Reads a parked record's value, either form; false when it does not decode.
bool ParseParkedRecordValue(std::string_view in, uint64_t* wake_generation,
                            uint64_t* release_generation, std::vector<std::string>* held_by) {
  *wake_generation = 0;
  *release_generation = 0;
  if (!in.empty() && in[0] == '\0') {
    in.remove_prefix(1);
    if (!coding::GetVarint(&in, wake_generation) || !coding::GetVarint(&in, release_generation)) {
      return false;
    }
  }
  std::vector<std::string_view> reps;
  if (!DecodeStrings(in, &reps)) {
    return false;
  }
  held_by->assign(reps.begin(), reps.end());
  return true;
}

Status Undecodable(std::string_view key) {
  return Status::Corruption("router state: record " + std::string(key) + " does not decode");
}

}  // namespace

Status Router::Restore(const RouterMetaReader& meta) {
  JsonParser parser;
  // An earlier version's JSON object; *found false (and an empty object) when absent.
  auto load = [&](std::string_view key, Value* out, bool* found) -> Status {
    *out = Value::MakeObject();
    *found = false;
    std::string text;
    Status st = meta.get(key, &text);
    if (st.IsNotFound()) {
      return Status::Ok();
    }
    if (!st.ok()) {
      return st;
    }
    Status parsed = parser.Parse(text, out);
    if (!parsed.ok() || !out->is_object()) {
      return Status::Corruption(std::string(key) + " does not parse");
    }
    *found = true;
    return Status::Ok();
  };
  Value reps;
  bool found = false;
  if (Status st = load(kMetaReps, &reps, &found); !st.ok()) {
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
    if (const Value* team = v.Find("team"); team != nullptr && team->is_string()) {
      s.team = team->as_string();  // the rules in force set it again, unless they removed the rep
    }
    s.current_weight = static_cast<int64_t>(number(v, "current_weight"));
    s.day = static_cast<int64_t>(number(v, "day"));
    s.today = static_cast<int>(number(v, "today"));
    // Absent (stored by an earlier version, or never seen): the first drain only looks.
    if (const Value* seen = v.Find("seen_in_hours"); seen != nullptr && seen->is_number()) {
      s.seen_in_hours = seen->as_number() != 0 ? 1 : 0;
    }
    if (const Value* seen = v.Find("seen_day"); seen != nullptr && seen->is_number()) {
      s.seen_day = static_cast<int64_t>(seen->as_number());
    }
    s.seen_at = number(v, "seen_at");
  }
  check_downtime_ = true;

  // fn(key, value) for each record under `prefix`; fn returns false when the value does not
  // decode (Corruption naming the first such key).
  auto scan = [&](std::string_view prefix, auto&& fn) -> Status {
    Status bad;
    Status st = meta.scan(prefix, [&](std::string_view key, std::string_view value) {
      if (bad.ok() && !fn(key, value)) {
        bad = Undecodable(key);
      }
    });
    return st.ok() ? bad : st;
  };
  // An earlier version's one-record form, to be rewritten as records at the next Flush.
  Value old;
  auto load_old = [&](std::string_view key) -> Status {
    Status st = load(key, &old, &found);
    write_all_records_ |= found;
    return st;
  };

  // Queue entries, in order. A lead listed twice (never written so) keeps its later place, and
  // the earlier record is deleted at the next Flush.
  auto place = [&](const std::string& queue, uint64_t order, std::string_view lead_id) {
    auto [slot, fresh] = queued_in_.try_emplace(std::string(lead_id));
    if (!fresh) {
      auto q = queues_.find(slot->second.queue);
      q->second.erase(slot->second.order);
      if (q->second.empty()) {
        queues_.erase(q);
      }
      stale_records_.push_back(QueueRecordKey(slot->second.order));
    }
    slot->second = QueueSlot{queue, order};
    queues_[queue][order] = std::string(lead_id);
    next_order_ = std::max(next_order_, order + 1);
  };
  // An earlier version's queues, when stored, are the truth: that version ran last (this one,
  // then an earlier one, then this one again) and ignored the records, which are stale.
  Status st = load_old(kOldMetaQueues);
  if (!st.ok()) {
    return st;
  }
  const bool earlier_version_ran_last = found;
  std::vector<std::string_view> parts;
  st = scan(kQueuePrefix, [&](std::string_view key, std::string_view value) {
    uint64_t order = 0;
    const bool key_ok = ParseQueueRecordKey(key, &order);
    if (earlier_version_ran_last) {
      stale_records_.emplace_back(key);
      next_order_ = std::max(next_order_, key_ok ? order + 1 : next_order_);
      return true;
    }
    if (!key_ok || !DecodeStrings(value, &parts) || parts.size() != 2 || parts[1].empty()) {
      return false;
    }
    place(std::string(parts[0]), order, parts[1]);
    return true;
  });
  if (!st.ok()) {
    return st;
  }
  for (const auto& [key, v] : old.as_object()) {
    std::string queue_key = key == kUnrouted ? std::string(kUnroutedKey) : key;
    if (!v.is_array()) {
      continue;
    }
    for (const Value& id : v.as_array()) {
      if (id.is_string() && !id.as_string().empty()) {
        place(queue_key, next_order_, id.as_string());
      }
    }
  }

  // A reroute a start on changed rules had not done yet.
  std::string pending;
  if (st = meta.get(kMetaReroutePending, &pending); st.ok()) {
    reroute_unrouted_ = true;
  } else if (!st.IsNotFound()) {
    return st;
  }

  // The teams' generations, then each escalated lead's: one woken before the restart stays woken
  // (a record of a version that kept no generations reads as escalated at generation 0: it waits
  // for a wake after the restart). One in the unrouted queue (its team removed) keeps the reps
  // that held it for when a team takes it. False when the lead does not wait in a queue (the
  // record is stale).
  std::string generations;
  if (st = meta.get(kMetaGenerations, &generations); st.ok()) {
    std::string_view in = generations;
    while (!in.empty()) {
      std::string_view team;
      TeamGenerations counts;
      if (!coding::GetStringView(&in, &team) || !coding::GetVarint(&in, &counts.wake) ||
          !coding::GetVarint(&in, &counts.release)) {
        return Undecodable(kMetaGenerations);
      }
      generations_[std::string(team)] = counts;
    }
  } else if (!st.IsNotFound()) {
    return st;
  }
  auto park = [&](std::string_view lead_id, Parked parked) {
    auto q = queued_in_.find(std::string(lead_id));
    if (q == queued_in_.end()) {
      return false;
    }
    parked_[std::string(lead_id)] = std::move(parked);
    return true;
  };
  st = scan(kParkedPrefix, [&](std::string_view key, std::string_view value) {
    if (earlier_version_ran_last) {
      stale_records_.emplace_back(key);
      return true;
    }
    Parked parked;
    if (!ParseParkedRecordValue(value, &parked.at_escalation.wake, &parked.at_escalation.release,
                                &parked.held_by)) {
      return false;
    }
    if (!park(key.substr(kParkedPrefix.size()), std::move(parked))) {
      stale_records_.emplace_back(key);
    }
    return true;
  });
  if (!st.ok()) {
    return st;
  }
  if (st = load_old(kOldMetaEscalated); !st.ok()) {
    return st;
  }
  for (const auto& [id, v] : old.as_object()) {
    if (!v.is_array()) {
      continue;
    }
    std::vector<std::string> held_by;
    for (const Value& rep : v.as_array()) {
      if (rep.is_string()) {
        held_by.push_back(rep.as_string());
      }
    }
    park(id, Parked{{}, std::move(held_by)});
  }

  st = scan(kAccountPrefix, [&](std::string_view key, std::string_view value) {
    accounts_[std::string(key.substr(kAccountPrefix.size()))] = std::string(value);
    return true;
  });
  if (!st.ok()) {
    return st;
  }
  if (st = load_old(kOldMetaAccounts); !st.ok()) {
    return st;
  }
  for (const auto& [domain, v] : old.as_object()) {
    if (v.is_string()) {
      accounts_[domain] = v.as_string();
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
  RepState& rep = StateOf(o.rep);
  rep.open++;
  if (rep.team.empty()) {
    rep.team = o.team;  // a rep the rules no longer name, stored before reps kept their team
  }
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
      v.Set("team", Value::String(s.team));
      v.Set("online", Value::Bool(s.online));
      v.Set("current_weight", Value::Number(static_cast<double>(s.current_weight)));
      v.Set("day", Value::Number(static_cast<double>(s.day == INT64_MIN ? 0 : s.day)));
      v.Set("today", Value::Number(s.today));
      if (s.seen_in_hours >= 0) {
        v.Set("seen_in_hours", Value::Number(s.seen_in_hours));
      }
      if (s.seen_day != INT64_MIN) {
        v.Set("seen_day", Value::Number(static_cast<double>(s.seen_day)));
        v.Set("seen_at", Value::Number(s.seen_at));
      }
      reps.Set(id, std::move(v));
    }
    host_->PutMeta(kMetaReps, reps.ToJson());
    reps_dirty_ = false;
  }
  if (reroute_dirty_) {
    if (reroute_unrouted_) {
      host_->PutMeta(kMetaReroutePending, "1");
    } else {
      host_->DeleteMeta(kMetaReroutePending);
    }
    reroute_dirty_ = false;
  }
  if (generations_dirty_) {
    std::string value;
    for (const auto& [team, counts] : generations_) {
      coding::PutString(team, &value);
      coding::PutVarint(counts.wake, &value);
      coding::PutVarint(counts.release, &value);
    }
    host_->PutMeta(kMetaGenerations, value);
    generations_dirty_ = false;
  }
  // Deletes first: a stale escalation's key may be written again just below.
  for (const std::string& key : stale_records_) {
    host_->DeleteMeta(key);
  }
  stale_records_.clear();
  if (write_all_records_) {
    WriteAllRecords();
    write_all_records_ = false;
  }
}

void Router::WriteAllRecords() {
  for (const auto& [queue, leads] : queues_) {
    for (const auto& [order, lead_id] : leads) {
      host_->PutMeta(QueueRecordKey(order), QueueRecordValue(queue, lead_id));
    }
  }
  for (const auto& [lead_id, parked] : parked_) {
    WriteParkedRecord(lead_id, parked);
  }
  for (const auto& [domain, rep] : accounts_) {
    host_->PutMeta(std::string(kAccountPrefix) + domain, rep);
  }
  host_->DeleteMeta(kOldMetaQueues);
  host_->DeleteMeta(kOldMetaEscalated);
  host_->DeleteMeta(kOldMetaAccounts);
}

void Router::Enqueue(std::string_view lead_id, const std::string& queue) {
  Dequeue(lead_id);
  const uint64_t order = next_order_++;
  queues_[queue][order] = std::string(lead_id);
  queued_in_[std::string(lead_id)] = QueueSlot{queue, order};
  host_->PutMeta(QueueRecordKey(order), QueueRecordValue(queue, lead_id));
}

void Router::Dequeue(std::string_view lead_id) {
  auto it = queued_in_.find(std::string(lead_id));
  if (it == queued_in_.end()) {
    return;
  }
  auto q = queues_.find(it->second.queue);
  if (q != queues_.end()) {
    q->second.erase(it->second.order);
    if (q->second.empty()) {
      queues_.erase(q);
    }
  }
  host_->DeleteMeta(QueueRecordKey(it->second.order));
  queued_in_.erase(it);
  if (parked_.erase(std::string(lead_id)) > 0) {
    host_->DeleteMeta(std::string(kParkedPrefix).append(lead_id));
  }
}

void Router::WriteParkedRecord(const std::string& lead_id, const Parked& parked) {
  host_->PutMeta(
      std::string(kParkedPrefix) + lead_id,
      ParkedRecordValue(parked.at_escalation.wake, parked.at_escalation.release, parked.held_by));
}

void Router::Park(const std::string& lead_id, Parked parked) {
  WriteParkedRecord(lead_id, parked);
  parked_[lead_id] = std::move(parked);
}

void Router::SetAccount(std::string domain, std::string rep) {
  host_->PutMeta(std::string(kAccountPrefix) + domain, rep);
  accounts_[std::move(domain)] = std::move(rep);
}

}  // namespace handoff
