#include "storage/lead_codec.h"

#include <algorithm>
#include <cstring>
#include <string_view>
#include <vector>

#include "base/json_parser.h"
#include "storage/coding.h"

namespace handoff {

using coding::GetByte;
using coding::GetDouble;
using coding::GetString;
using coding::GetVarint;

namespace {

// Format version 1:
//   u8 version, str id, str stage, value traits, f64 first_seen, f64 last_seen, varint events,
//   varint n_awards, n x {str rule_id, f64 value, f64 latest, u8 awarded,
//                         varint n_windows, n x {zigzag window, f64 used}},
//   u8 has_owner [, str rep, str team, varint seq, u8 accepted, f64 routed_at,
//                   varint reassignments, varint n, n x str held_by,
//                   u8 closed, str outcome]
//   version 2 adds: varint n_chains, n x {str lead, varint head} (the history chains).
//   version 3 adds: n_awards x f64 half_life (each award's, in award order).
//   version 4 adds: n_awards x f64 cap_per (each award's, in award order).
// Versions 1 to 3 still decode (no chains; half-lives and caps' windows not known: -1).
constexpr uint8_t kVersion = 4;
// Bounds the decoder's recursion on corrupt bytes; it must admit every Value the daemon can hold.
// Values come from JSON documents at most kMaxJsonDepth deep, and a lead's traits sit below the
// event that carried them (a group's under traits.company), so kMaxJsonDepth always suffices;
// twice that leaves room for a trait placed deeper one day, at no real cost in stack.
constexpr int kMaxValueDepth = 2 * kMaxJsonDepth;

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

// Whether an object holds a key twice. Encoded objects come from Values, whose keys are unique
// (handoff/value.h), so a repeat is corruption; let through, it would break the traits: Find and
// Set see only the first copy, and the JSON of the lead would carry the key twice.
bool HasDuplicateKeys(const Value::Object& members) {
  constexpr size_t kSmall = 16;  // up to this many: compare every pair, no allocation
  if (members.size() <= kSmall) {
    for (size_t i = 0; i < members.size(); ++i) {
      for (size_t j = i + 1; j < members.size(); ++j) {
        if (members[i].first == members[j].first) {
          return true;
        }
      }
    }
    return false;
  }
  std::vector<std::string_view> keys;
  keys.reserve(members.size());
  for (const auto& member : members) {
    keys.push_back(member.first);
  }
  std::sort(keys.begin(), keys.end());
  return std::adjacent_find(keys.begin(), keys.end()) != keys.end();
}

}  // namespace

void EncodeValue(const Value& v, coding::Writer* out) {
  out->PutByte(static_cast<uint8_t>(v.type()));
  switch (v.type()) {
    case Value::Type::kNull:
      break;
    case Value::Type::kBool:
      out->PutByte(v.as_bool() ? 1 : 0);
      break;
    case Value::Type::kNumber:
      out->PutDouble(v.as_number());
      break;
    case Value::Type::kString:
      out->PutString(v.as_string());
      break;
    case Value::Type::kArray:
      out->PutVarint(v.as_array().size());
      for (const Value& e : v.as_array()) {
        EncodeValue(e, out);
      }
      break;
    case Value::Type::kObject:
      out->PutVarint(v.as_object().size());
      for (const auto& [key, member] : v.as_object()) {
        out->PutString(key);
        EncodeValue(member, out);
      }
      break;
  }
}

void EncodeValue(const Value& v, std::string* out) {
  coding::Writer writer(out);
  EncodeValue(v, &writer);
}

bool DecodeValue(std::string_view* in, Value* v, int depth) {
  uint8_t tag = 0;
  if (depth > kMaxValueDepth || !GetByte(in, &tag)) {
    return false;
  }
  switch (static_cast<Value::Type>(tag)) {
    case Value::Type::kNull:
      *v = Value::Null();
      return true;
    case Value::Type::kBool: {
      uint8_t b = 0;
      if (!GetByte(in, &b)) {
        return false;
      }
      *v = Value::Bool(b != 0);
      return true;
    }
    case Value::Type::kNumber: {
      double d = 0;
      if (!GetDouble(in, &d)) {
        return false;
      }
      *v = Value::Number(d);
      return true;
    }
    case Value::Type::kString: {
      std::string s;
      if (!GetString(in, &s)) {
        return false;
      }
      *v = Value::String(std::move(s));
      return true;
    }
    case Value::Type::kArray: {
      uint64_t n = 0;
      if (!GetVarint(in, &n) || n > in->size()) {
        return false;
      }
      Value::Array arr(n);
      for (Value& e : arr) {
        if (!DecodeValue(in, &e, depth + 1)) {
          return false;
        }
      }
      *v = Value::MakeArray(std::move(arr));
      return true;
    }
    case Value::Type::kObject: {
      uint64_t n = 0;
      if (!GetVarint(in, &n) || n > in->size()) {
        return false;
      }
      Value::Object obj(n);
      for (auto& [key, member] : obj) {
        if (!GetString(in, &key) || !DecodeValue(in, &member, depth + 1)) {
          return false;
        }
      }
      if (HasDuplicateKeys(obj)) {
        return false;
      }
      *v = Value::MakeObject(std::move(obj));
      return true;
    }
  }
  return false;
}

void EncodeLeadState(const LeadState& lead, std::string* out) {
  coding::Writer w(out);
  w.PutByte(kVersion);
  w.PutString(lead.id);
  w.PutString(lead.stage);
  EncodeValue(lead.traits, &w);
  w.PutDouble(lead.first_seen);
  w.PutDouble(lead.last_seen);
  w.PutVarint(lead.events);
  w.PutVarint(lead.awards.size());
  for (const RuleAward& a : lead.awards) {
    w.PutString(a.rule_id);
    w.PutDouble(a.value);
    w.PutDouble(a.latest);
    w.PutByte(a.awarded ? 1 : 0);
    w.PutVarint(a.windows.size());
    for (const CapWindow& cw : a.windows) {
      w.PutVarint(ZigZag(cw.window));
      w.PutDouble(cw.used);
    }
  }
  w.PutByte(lead.owner.has_value() ? 1 : 0);
  if (lead.owner.has_value()) {
    const LeadOwner& o = *lead.owner;
    w.PutString(o.rep);
    w.PutString(o.team);
    w.PutVarint(o.seq);
    w.PutByte(o.accepted ? 1 : 0);
    w.PutDouble(o.routed_at);
    w.PutVarint(o.reassignments);
    w.PutVarint(o.held_by.size());
    for (const std::string& rep : o.held_by) {
      w.PutString(rep);
    }
    w.PutByte(o.closed ? 1 : 0);
    w.PutString(o.outcome);
  }
  w.PutVarint(lead.history.size());
  for (const HistoryChain& chain : lead.history) {
    w.PutString(chain.lead);
    w.PutVarint(chain.head);
  }
  for (const RuleAward& a : lead.awards) {
    w.PutDouble(a.half_life);
  }
  for (const RuleAward& a : lead.awards) {
    w.PutDouble(a.cap_per);
  }
}

Status DecodeLeadState(std::string_view in, LeadState* lead) {
  auto corrupt = [](const char* what) {
    return Status::Corruption(std::string("lead state: ") + what);
  };
  uint8_t version = 0;
  if (!GetByte(&in, &version)) {
    return corrupt("empty");
  }
  if (version < 1 || version > kVersion) {
    return corrupt("unknown format version");
  }
  *lead = LeadState();
  uint64_t n = 0;
  if (!GetString(&in, &lead->id) || !GetString(&in, &lead->stage) ||
      !DecodeValue(&in, &lead->traits) || !GetDouble(&in, &lead->first_seen) ||
      !GetDouble(&in, &lead->last_seen) || !GetVarint(&in, &lead->events) || !GetVarint(&in, &n) ||
      n > in.size()) {
    return corrupt("truncated header");
  }
  lead->awards.resize(n);
  for (RuleAward& a : lead->awards) {
    uint8_t awarded = 0;
    uint64_t windows = 0;
    if (!GetString(&in, &a.rule_id) || !GetDouble(&in, &a.value) || !GetDouble(&in, &a.latest) ||
        !GetByte(&in, &awarded) || !GetVarint(&in, &windows) || windows > in.size()) {
      return corrupt("truncated award");
    }
    a.awarded = awarded != 0;
    a.windows.resize(windows);
    for (CapWindow& w : a.windows) {
      uint64_t zz = 0;
      if (!GetVarint(&in, &zz) || !GetDouble(&in, &w.used)) {
        return corrupt("truncated cap window");
      }
      w.window = UnZigZag(zz);
    }
  }
  uint8_t has_owner = 0;
  if (!GetByte(&in, &has_owner)) {
    return corrupt("truncated owner");
  }
  if (has_owner != 0) {
    LeadOwner o;
    uint8_t accepted = 0;
    uint64_t reassignments = 0;
    uint64_t held = 0;
    if (!GetString(&in, &o.rep) || !GetString(&in, &o.team) || !GetVarint(&in, &o.seq) ||
        !GetByte(&in, &accepted) || !GetDouble(&in, &o.routed_at) ||
        !GetVarint(&in, &reassignments) || !GetVarint(&in, &held) || held > in.size()) {
      return corrupt("truncated owner");
    }
    o.accepted = accepted != 0;
    o.reassignments = static_cast<uint32_t>(reassignments);
    o.held_by.resize(held);
    for (std::string& rep : o.held_by) {
      if (!GetString(&in, &rep)) {
        return corrupt("truncated owner");
      }
    }
    uint8_t closed = 0;
    if (!GetByte(&in, &closed) || !GetString(&in, &o.outcome)) {
      return corrupt("truncated owner");
    }
    o.closed = closed != 0;
    lead->owner = std::move(o);
  }
  if (version >= 2) {
    uint64_t chains = 0;
    if (!GetVarint(&in, &chains) || chains > in.size()) {
      return corrupt("truncated history chains");
    }
    lead->history.resize(chains);
    for (HistoryChain& chain : lead->history) {
      if (!GetString(&in, &chain.lead) || !GetVarint(&in, &chain.head)) {
        return corrupt("truncated history chains");
      }
    }
  }
  if (version >= 3) {
    for (RuleAward& a : lead->awards) {
      if (!GetDouble(&in, &a.half_life)) {
        return corrupt("truncated half-lives");
      }
    }
  }
  if (version >= 4) {
    for (RuleAward& a : lead->awards) {
      if (!GetDouble(&in, &a.cap_per)) {
        return corrupt("truncated caps' windows");
      }
    }
  }
  if (!in.empty()) {
    return corrupt("trailing bytes");
  }
  return Status::Ok();
}

}  // namespace handoff
