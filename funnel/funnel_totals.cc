#include "funnel/funnel_totals.h"

#include <cstring>

#include "storage/coding.h"

namespace handoff {
namespace {

constexpr uint8_t kFactVersion = 1;
constexpr uint8_t kTotalsVersion = 1;

void PutOptionalDouble(const std::optional<double>& v, std::string* out) {
  out->push_back(v.has_value() ? 1 : 0);
  if (v.has_value()) {
    coding::PutDouble(*v, out);
  }
}

bool GetOptionalDouble(std::string_view* in, std::optional<double>* v) {
  uint8_t present = 0;
  if (!coding::GetByte(in, &present) || present > 1) {
    return false;
  }
  v->reset();
  if (present == 1) {
    double d = 0;
    if (!coding::GetDouble(in, &d)) {
      return false;
    }
    *v = d;
  }
  return true;
}

void PutCounts(const std::map<std::string, uint64_t>& counts, std::string* out) {
  coding::PutVarint(counts.size(), out);
  for (const auto& [name, n] : counts) {
    coding::PutString(name, out);
    coding::PutVarint(n, out);
  }
}

bool GetCounts(std::string_view* in, std::map<std::string, uint64_t>* counts) {
  uint64_t size = 0;
  if (!coding::GetVarint(in, &size) || size > in->size()) {
    return false;
  }
  for (uint64_t i = 0; i < size; ++i) {
    std::string name;
    uint64_t n = 0;
    if (!coding::GetString(in, &name) || !coding::GetVarint(in, &n)) {
      return false;
    }
    (*counts)[std::move(name)] += n;
  }
  return true;
}

}  // namespace

void FunnelFact::Encode(std::string* out) const {
  out->push_back(static_cast<char>(kFactVersion));
  coding::PutVarint(seq, out);
  coding::PutDouble(at, out);
  out->push_back(static_cast<char>(kind));
  coding::PutString(team, out);
  coding::PutString(rep, out);
  coding::PutString(from, out);
  coding::PutString(to, out);
  coding::PutString(outcome, out);
  PutOptionalDouble(amount, out);
  PutOptionalDouble(latency_ms, out);
  coding::PutVarint(rules.size(), out);
  for (const FunnelRule& r : rules) {
    coding::PutString(r.rule, out);
    coding::PutString(r.score, out);
  }
}

bool FunnelFact::Decode(std::string_view in) {
  FunnelFact f;
  uint8_t version = 0;
  uint8_t kind_byte = 0;
  uint64_t rule_count = 0;
  if (!coding::GetByte(&in, &version) || version != kFactVersion ||
      !coding::GetVarint(&in, &f.seq) || !coding::GetDouble(&in, &f.at) ||
      !coding::GetByte(&in, &kind_byte) || kind_byte >= kOutboxKindCount ||
      !coding::GetString(&in, &f.team) || !coding::GetString(&in, &f.rep) ||
      !coding::GetString(&in, &f.from) || !coding::GetString(&in, &f.to) ||
      !coding::GetString(&in, &f.outcome) || !GetOptionalDouble(&in, &f.amount) ||
      !GetOptionalDouble(&in, &f.latency_ms) || !coding::GetVarint(&in, &rule_count) ||
      rule_count > in.size()) {
    return false;
  }
  f.kind = static_cast<OutboxKind>(kind_byte);
  f.rules.resize(rule_count);
  for (FunnelRule& r : f.rules) {
    if (!coding::GetString(&in, &r.rule) || !coding::GetString(&in, &r.score)) {
      return false;
    }
  }
  if (!in.empty()) {
    return false;
  }
  *this = std::move(f);
  return true;
}

uint64_t FunnelTotals::Closed(std::string_view outcome) const {
  auto it = closed.find(std::string(outcome));
  return it == closed.end() ? 0 : it->second;
}

void FunnelTotals::Add(const FunnelFact& fact) {
  FunnelRepTotals* rep = nullptr;
  if (!fact.rep.empty()) {
    rep = &reps[fact.rep];
    if (!fact.team.empty() && fact.at >= rep->team_at) {
      rep->team = fact.team;
      rep->team_at = fact.at;
    }
  }
  switch (fact.kind) {
    case OutboxKind::kStage:
      ++transitions[fact.from + ">" + fact.to];
      break;
    case OutboxKind::kRouted:
      ++routed;
      if (rep != nullptr) {
        ++rep->routed;
      }
      if (fact.latency_ms.has_value()) {
        to_routed.Add(*fact.latency_ms);
      }
      break;
    case OutboxKind::kReassigned:
      ++reassigned;
      break;
    case OutboxKind::kEscalated:
      ++escalated;
      break;
    case OutboxKind::kUnrouted:
      ++unrouted;
      break;
    case OutboxKind::kAccepted:
      ++accepted;
      if (rep != nullptr) {
        ++rep->accepted;
      }
      if (fact.latency_ms.has_value()) {
        to_accepted.Add(*fact.latency_ms);
      }
      break;
    case OutboxKind::kRejected:
      ++rejected;
      break;
    case OutboxKind::kClosed: {
      ++closed[fact.outcome];
      const bool won = fact.outcome == "won";
      const bool lost = fact.outcome == "lost";
      const double amount = won ? fact.amount.value_or(0) : 0;
      won_amount += amount;
      if (rep != nullptr) {
        rep->won += won ? 1 : 0;
        rep->lost += lost ? 1 : 0;
        rep->won_amount += amount;
      }
      if (won || lost) {
        for (const FunnelRule& r : fact.rules) {
          FunnelRuleTotals& t = rules[r];
          ++t.closed;
          t.won += won ? 1 : 0;
          t.won_amount += amount;
        }
      }
      break;
    }
  }
}

void FunnelTotals::Merge(const FunnelTotals& other) {
  for (const auto& [name, n] : other.transitions) {
    transitions[name] += n;
  }
  routed += other.routed;
  reassigned += other.reassigned;
  escalated += other.escalated;
  accepted += other.accepted;
  rejected += other.rejected;
  unrouted += other.unrouted;
  for (const auto& [outcome, n] : other.closed) {
    closed[outcome] += n;
  }
  won_amount += other.won_amount;
  to_routed.Merge(other.to_routed);
  to_accepted.Merge(other.to_accepted);
  for (const auto& [id, r] : other.reps) {
    FunnelRepTotals& mine = reps[id];
    if (!r.team.empty() && r.team_at >= mine.team_at) {
      mine.team = r.team;
      mine.team_at = r.team_at;
    }
    mine.routed += r.routed;
    mine.accepted += r.accepted;
    mine.won += r.won;
    mine.lost += r.lost;
    mine.won_amount += r.won_amount;
  }
  for (const auto& [rule, r] : other.rules) {
    FunnelRuleTotals& mine = rules[rule];
    mine.closed += r.closed;
    mine.won += r.won;
    mine.won_amount += r.won_amount;
  }
}

void FunnelTotals::Encode(std::string* out) const {
  out->push_back(static_cast<char>(kTotalsVersion));
  PutCounts(transitions, out);
  for (uint64_t n : {routed, reassigned, escalated, accepted, rejected, unrouted}) {
    coding::PutVarint(n, out);
  }
  PutCounts(closed, out);
  coding::PutDouble(won_amount, out);
  to_routed.Encode(out);
  to_accepted.Encode(out);
  coding::PutVarint(reps.size(), out);
  for (const auto& [id, r] : reps) {
    coding::PutString(id, out);
    coding::PutString(r.team, out);
    coding::PutDouble(r.team_at, out);
    for (uint64_t n : {r.routed, r.accepted, r.won, r.lost}) {
      coding::PutVarint(n, out);
    }
    coding::PutDouble(r.won_amount, out);
  }
  coding::PutVarint(rules.size(), out);
  for (const auto& [rule, r] : rules) {
    coding::PutString(rule.rule, out);
    coding::PutString(rule.score, out);
    coding::PutVarint(r.closed, out);
    coding::PutVarint(r.won, out);
    coding::PutDouble(r.won_amount, out);
  }
}

bool FunnelTotals::Decode(std::string_view in) {
  FunnelTotals t;
  uint8_t version = 0;
  if (!coding::GetByte(&in, &version) || version != kTotalsVersion ||
      !GetCounts(&in, &t.transitions)) {
    return false;
  }
  for (uint64_t* n :
       {&t.routed, &t.reassigned, &t.escalated, &t.accepted, &t.rejected, &t.unrouted}) {
    if (!coding::GetVarint(&in, n)) {
      return false;
    }
  }
  uint64_t rep_count = 0;
  if (!GetCounts(&in, &t.closed) || !coding::GetDouble(&in, &t.won_amount) ||
      !t.to_routed.Decode(&in) || !t.to_accepted.Decode(&in) ||
      !coding::GetVarint(&in, &rep_count) || rep_count > in.size()) {
    return false;
  }
  for (uint64_t i = 0; i < rep_count; ++i) {
    std::string id;
    FunnelRepTotals r;
    if (!coding::GetString(&in, &id) || !coding::GetString(&in, &r.team) ||
        !coding::GetDouble(&in, &r.team_at) || !coding::GetVarint(&in, &r.routed) ||
        !coding::GetVarint(&in, &r.accepted) || !coding::GetVarint(&in, &r.won) ||
        !coding::GetVarint(&in, &r.lost) || !coding::GetDouble(&in, &r.won_amount)) {
      return false;
    }
    t.reps[std::move(id)] = std::move(r);
  }
  uint64_t rule_count = 0;
  if (!coding::GetVarint(&in, &rule_count) || rule_count > in.size()) {
    return false;
  }
  for (uint64_t i = 0; i < rule_count; ++i) {
    FunnelRule rule;
    FunnelRuleTotals r;
    if (!coding::GetString(&in, &rule.rule) || !coding::GetString(&in, &rule.score) ||
        !coding::GetVarint(&in, &r.closed) || !coding::GetVarint(&in, &r.won) ||
        !coding::GetDouble(&in, &r.won_amount)) {
      return false;
    }
    t.rules[std::move(rule)] = r;
  }
  if (!in.empty()) {
    return false;
  }
  *this = std::move(t);
  return true;
}

}  // namespace handoff
