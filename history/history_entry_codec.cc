#include "history/history_entry_codec.h"

#include "history/event_codec.h"
#include "storage/coding.h"

namespace handoff::history_internal {

using coding::GetDouble;
using coding::GetStringView;
using coding::GetVarint;
using coding::PutDouble;
using coding::PutString;
using coding::PutVarint;

void AppendEntry(uint64_t apply_seq, std::string_view lead, EpochSeconds received_at, uint64_t prev,
                 std::string_view event, const LoggedAwards& awards, std::string* out) {
  PutVarint(apply_seq, out);
  PutString(lead, out);
  PutDouble(received_at, out);
  PutVarint(prev, out);
  PutString(event, out);
  PutVarint(awards.size(), out);
  for (const auto& [rule, points] : awards) {
    PutString(rule, out);
    PutDouble(points, out);
  }
}

bool ParseEntry(std::string_view* in, RawEntry* e) {
  const std::string_view start = *in;
  uint64_t n = 0;
  if (!GetVarint(in, &e->apply_seq) || !GetStringView(in, &e->lead) ||
      !GetDouble(in, &e->received_at) || !GetVarint(in, &e->prev) ||
      !GetStringView(in, &e->event)) {
    return false;
  }
  const std::string_view awards_start = *in;
  if (!GetVarint(in, &n) || n > in->size()) {
    return false;
  }
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view rule;
    double points = 0;
    if (!GetStringView(in, &rule) || !GetDouble(in, &points)) {
      return false;
    }
  }
  e->awards = awards_start.substr(0, awards_start.size() - in->size());
  e->bytes = start.substr(0, start.size() - in->size());
  return true;
}

bool DecodeEntry(const RawEntry& raw, HistoryEntry* out) {
  out->apply_seq = raw.apply_seq;
  out->lead.assign(raw.lead);
  out->received_at = raw.received_at;
  std::string_view event = raw.event;
  if (!DecodeEvent(&event, &out->event) || !event.empty()) {
    return false;
  }
  std::string_view awards = raw.awards;
  uint64_t n = 0;
  if (!GetVarint(&awards, &n)) {
    return false;
  }
  out->awards.clear();
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view rule;
    double points = 0;
    if (!GetStringView(&awards, &rule) || !GetDouble(&awards, &points)) {
      return false;
    }
    out->awards.emplace_back(std::string(rule), points);
  }
  return true;
}

}  // namespace handoff::history_internal
