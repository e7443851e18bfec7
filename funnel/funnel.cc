#include "funnel/funnel.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/timestamp.h"
#include "storage/coding.h"
#include "storage/store_format.h"

namespace handoff {
namespace {

constexpr char kHourPrefix = 'h';
constexpr char kFactPrefix = 'f';
constexpr char kLeadPrefix = 'l';
constexpr char kFactFloorKey[] = "mfact_floor";
constexpr double kHour = 3600;

int64_t HourOf(EpochSeconds at) { return static_cast<int64_t>(std::floor(at / kHour)); }

// Where a record's `at` falls for windows and hours: the time it prints as lies in the same hour
// and the same side of a bound (base/timestamp.h, kPrintedTimeTolerance).
EpochSeconds WindowTime(EpochSeconds at) { return at + kPrintedTimeTolerance; }

// Milliseconds since the epoch, clamped to what a key can order (times before 1970 sort first).
uint64_t MillisOf(EpochSeconds at) {
  const double ms = std::floor(at * 1000);
  if (!(ms > 0)) {
    return 0;
  }
  return ms >= 1.8e19 ? std::numeric_limits<uint64_t>::max() : static_cast<uint64_t>(ms);
}

std::string HourStoreKey(int64_t hour, std::string_view team) {
  std::string key(1, kHourPrefix);
  store_format::AppendSeqKey(static_cast<uint64_t>(hour), &key);
  key.append(team);
  return key;
}

std::string FactKey(uint64_t ms, uint64_t seq) {
  std::string key(1, kFactPrefix);
  store_format::AppendSeqKey(ms, &key);
  store_format::AppendSeqKey(seq, &key);
  return key;
}

std::string LeadKey(std::string_view lead) {
  std::string key(1, kLeadPrefix);
  key.append(lead);
  return key;
}

}  // namespace

Status Funnel::Load() {
  hours_.clear();
  leads_.clear();
  all_time_ = FunnelTotals();
  Status bad;
  Status st = store_->ScanFunnel(
      std::string(1, kHourPrefix), std::string(1, kHourPrefix + 1),
      [&](std::string_view key, std::string_view value) {
        uint64_t hour = 0;
        FunnelTotals totals;
        if (key.size() < 1 + store_format::kSeqKeySize ||
            !store_format::DecodeSeqKey(key.substr(1, store_format::kSeqKeySize), &hour) ||
            !totals.Decode(value)) {
          bad = Status::Corruption("funnel: bad hour totals in the store");
          return false;
        }
        all_time_.Merge(totals);
        hours_.emplace(HourKey(static_cast<int64_t>(hour),
                               std::string(key.substr(1 + store_format::kSeqKeySize))),
                       std::move(totals));
        return true;
      });
  if (!st.ok()) {
    return st;
  }
  if (!bad.ok()) {
    return bad;
  }
  st = store_->ScanFunnel(
      std::string(1, kLeadPrefix), std::string(1, kLeadPrefix + 1),
      [&](std::string_view key, std::string_view value) {
        LeadMarks marks;
        uint64_t count = 0;
        if (!coding::GetDouble(&value, &marks.qualified_at) || !coding::GetVarint(&value, &count) ||
            count > value.size()) {
          bad = Status::Corruption("funnel: bad lead marks in the store");
          return false;
        }
        marks.rules.resize(count);
        for (FunnelRule& r : marks.rules) {
          if (!coding::GetString(&value, &r.rule) || !coding::GetString(&value, &r.score)) {
            bad = Status::Corruption("funnel: bad lead marks in the store");
            return false;
          }
        }
        // The routed flag follows the rules; marks stored before it had one are routed when
        // they kept rules (a routing that kept none was not stored).
        marks.routed = value.empty() ? !marks.rules.empty() : value[0] == 1;
        if (!value.empty()) {
          value.remove_prefix(1);
          // Marks stored before they kept the routed time have none (0).
          if (!value.empty() && !coding::GetDouble(&value, &marks.routed_at)) {
            bad = Status::Corruption("funnel: bad lead marks in the store");
            return false;
          }
        }
        leads_[std::string(key.substr(1))] = std::move(marks);
        return true;
      });
  if (!st.ok()) {
    return st;
  }
  if (!bad.ok()) {
    return bad;
  }
  std::string floor;
  st = store_->ScanFunnel(kFactFloorKey, "", [&](std::string_view key, std::string_view value) {
    if (key == kFactFloorKey) {
      floor.assign(value);
    }
    return false;
  });
  if (!st.ok()) {
    return st;
  }
  if (!floor.empty()) {
    std::string_view in = floor;
    if (!coding::GetDouble(&in, &fact_floor_)) {
      return Status::Corruption("funnel: bad fact floor in the store");
    }
  }
  ++version_;
  return Status::Ok();
}

void Funnel::MarkLead(const std::string& lead) { dirty_leads_.insert(lead); }

void Funnel::Observe(const OutboxRecord& record, const FunnelContext& context) {
  FunnelFact fact;
  fact.seq = record.seq;
  fact.at = record.at;
  fact.kind = record.kind;
  fact.team = std::string(record.team.empty() ? context.owner_team : record.team);
  fact.rep = std::string(record.rep);
  const std::string lead(record.lead);
  switch (record.kind) {
    case OutboxKind::kStage:
      fact.from = std::string(record.from);
      fact.to = std::string(record.to);
      if (context.reaches_routing_stage) {
        leads_[lead].qualified_at = context.received_at > 0 ? context.received_at : record.at;
        MarkLead(lead);
      }
      break;
    case OutboxKind::kRouted: {
      LeadMarks& marks = leads_[lead];
      if (marks.qualified_at > 0) {
        fact.latency_ms = std::max(0.0, record.at - marks.qualified_at) * 1000;
        marks.qualified_at = 0;
      }
      marks.rules = context.rules_now != nullptr ? *context.rules_now : std::vector<FunnelRule>();
      marks.routed = true;
      marks.routed_at = record.at;
      MarkLead(lead);
      break;
    }
    case OutboxKind::kAccepted: {
      const LeadMarks* marks = leads_.Find(lead);
      if (marks != nullptr && marks->routed && marks->routed_at > 0) {
        fact.latency_ms = std::max(0.0, record.at - marks->routed_at) * 1000;
      } else if (context.routed_at.has_value()) {
        // Routed before the marks kept the time: from when its rep got it, the best left.
        fact.latency_ms = std::max(0.0, record.at - *context.routed_at) * 1000;
      }
      break;
    }
    case OutboxKind::kClosed: {
      fact.outcome = std::string(record.outcome);
      fact.amount = record.amount;
      LeadMarks* marks = leads_.Find(lead);
      if (fact.outcome == "won" || fact.outcome == "lost") {
        if (marks != nullptr && marks->routed) {
          fact.rules = marks->rules;  // the rules at routing, none if none had awarded points
        } else if (context.rules_now != nullptr) {
          // Routed before the funnel kept marks: the rules at the close are the best left.
          fact.rules = *context.rules_now;
        }
      }
      if (marks != nullptr) {
        marks->rules.clear();
        marks->routed = false;
        marks->routed_at = 0;
        MarkLead(lead);
      }
      break;
    }
    default:
      break;
  }
  // Stored at the flush, a block an hour (funnel/fact_block.h); a commit's facts are nearly
  // always of one hour, so this finds its block at once.
  const int64_t hour = HourOf(WindowTime(fact.at));
  auto block = std::find_if(pending_facts_.begin(), pending_facts_.begin() + pending_hours_,
                            [&](const PendingFacts& p) { return p.hour == hour; });
  if (block == pending_facts_.begin() + pending_hours_) {
    if (pending_hours_ == pending_facts_.size()) {
      pending_facts_.emplace_back();
    }
    block = pending_facts_.begin() + pending_hours_++;
    block->hour = hour;
  }
  block->facts.Add(fact, MillisOf(WindowTime(fact.at)));
  HourKey key(hour, fact.team);
  hours_[key].Add(fact);
  dirty_hours_.insert(std::move(key));
  all_time_.Add(fact);
  ++version_;
}

void Funnel::Forget(const std::string& lead, CommitBatch* batch) {
  if (leads_.Erase(lead) > 0) {
    dirty_leads_.erase(lead);
    batch->DeleteFunnel(LeadKey(lead));
  }
}

void Funnel::MoveMarks(const std::string& from, const std::string& into, CommitBatch* batch) {
  LeadMarks* found = leads_.Find(from);
  if (found == nullptr) {
    return;
  }
  LeadMarks marks = std::move(*found);
  Forget(from, batch);
  leads_[into] = std::move(marks);
  MarkLead(into);
}

void Funnel::Flush(CommitBatch* batch) {
  for (size_t i = 0; i < pending_hours_; ++i) {
    FactBlock& block = pending_facts_[i].facts;
    batch->PutFunnel(FactKey(block.min_window_ms(), block.first_seq()), block.bytes());
    block.Clear();
  }
  pending_hours_ = 0;
  for (const HourKey& key : dirty_hours_) {
    auto it = hours_.find(key);
    if (it == hours_.end()) {
      continue;
    }
    scratch_.clear();
    it->second.Encode(&scratch_);
    batch->PutFunnel(HourStoreKey(key.first, key.second), scratch_);
  }
  dirty_hours_.clear();
  for (const std::string& lead : dirty_leads_) {
    const LeadMarks* marks = leads_.Find(lead);
    if (marks == nullptr) {
      continue;
    }
    if (marks->empty()) {
      batch->DeleteFunnel(LeadKey(lead));
      leads_.Erase(lead);
      continue;
    }
    scratch_.clear();
    coding::PutDouble(marks->qualified_at, &scratch_);
    coding::PutVarint(marks->rules.size(), &scratch_);
    for (const FunnelRule& r : marks->rules) {
      coding::PutString(r.rule, &scratch_);
      coding::PutString(r.score, &scratch_);
    }
    scratch_.push_back(marks->routed ? 1 : 0);
    coding::PutDouble(marks->routed_at, &scratch_);
    batch->PutFunnel(LeadKey(lead), scratch_);
  }
  dirty_leads_.clear();
  if (fact_floor_dirty_) {
    scratch_.clear();
    coding::PutDouble(fact_floor_, &scratch_);
    batch->PutFunnel(kFactFloorKey, scratch_);
    fact_floor_dirty_ = false;
  }
}

void Funnel::Trim(EpochSeconds now, CommitBatch* batch) {
  const EpochSeconds fact_cutoff = now - options_.fact_retention;
  if (options_.fact_retention > 0 && fact_cutoff > fact_floor_) {
    batch->DeleteFunnelRange(std::string(1, kFactPrefix), FactKey(MillisOf(fact_cutoff), 0));
    fact_floor_ = fact_cutoff;
    fact_floor_dirty_ = true;
  }
  if (options_.hour_retention > 0) {
    const int64_t first_kept = HourOf(now - options_.hour_retention);
    while (!hours_.empty() && hours_.begin()->first.first < first_kept) {
      const HourKey& key = hours_.begin()->first;
      batch->DeleteFunnel(HourStoreKey(key.first, key.second));
      dirty_hours_.erase(key);
      hours_.erase(hours_.begin());
      ++version_;
    }
  }
}

Status Funnel::AddFacts(EpochSeconds begin, EpochSeconds end, const std::string& team,
                        FunnelTotals* out) const {
  Status bad;
  const uint64_t end_ms = MillisOf(end);
  // A block is keyed by its earliest fact and holds facts of one hour only: every block with a
  // fact of [begin, end) starts between the hour's start and `end`.
  const uint64_t hour_start_ms = MillisOf(static_cast<double>(HourOf(begin)) * kHour);
  std::vector<FunnelFact> facts;
  Status st = store_->ScanFunnel(
      FactKey(hour_start_ms, 0),
      FactKey(end_ms == std::numeric_limits<uint64_t>::max() ? end_ms : end_ms + 1, 0),
      [&](std::string_view, std::string_view value) {
        facts.clear();
        if (!DecodeStoredFacts(value, &facts)) {
          bad = Status::Corruption("funnel: bad fact in the store");
          return false;
        }
        for (const FunnelFact& fact : facts) {
          const EpochSeconds at = WindowTime(fact.at);
          if (at >= begin && at < end && (team.empty() || fact.team == team)) {
            out->Add(fact);
          }
        }
        return true;
      });
  return st.ok() ? bad : st;
}

Status Funnel::Query(const FunnelWindow& window, FunnelTotals* out) const {
  *out = FunnelTotals();
  const EpochSeconds since = window.since.value_or(-std::numeric_limits<double>::infinity());
  const EpochSeconds until = window.until.value_or(std::numeric_limits<double>::infinity());
  if (!(since < until)) {
    return Status::Ok();
  }
  std::set<int64_t> partial;
  auto it = hours_.begin();
  if (std::isfinite(since)) {
    it = hours_.lower_bound(HourKey(HourOf(since), ""));
  }
  for (; it != hours_.end(); ++it) {
    const auto& [hour, team] = it->first;
    const EpochSeconds start = static_cast<double>(hour) * kHour;
    const EpochSeconds end = start + kHour;
    if (start >= until) {
      break;
    }
    if (end <= since || (!window.team.empty() && team != window.team)) {
      continue;
    }
    if (start >= since && end <= until) {
      out->Merge(it->second);
    } else if (start >= fact_floor_) {
      partial.insert(hour);
    } else if (start >= since) {
      out->Merge(it->second);  // its facts are gone: the hour counts whole
    }
  }
  for (int64_t hour : partial) {
    const EpochSeconds start = static_cast<double>(hour) * kHour;
    Status st = AddFacts(std::max(since, start), std::min(until, start + kHour), window.team, out);
    if (!st.ok()) {
      return st;
    }
  }
  return Status::Ok();
}

size_t Funnel::hour_bytes() const {
  size_t bytes = 0;
  std::string scratch;
  for (const auto& [key, totals] : hours_) {
    scratch.clear();
    totals.Encode(&scratch);
    bytes += scratch.size() + key.second.size() + 9;
  }
  return bytes;
}

}  // namespace handoff
