#include "history/lead_hand_over.h"

#include "history/event_codec.h"
#include "storage/coding.h"
#include "storage/lead_codec.h"

namespace handoff {

namespace {

// 2 added `into` and `covered_seq`; 1 is still read.
constexpr uint8_t kVersion = 2;
constexpr uint8_t kVersionWithoutCover = 1;

using coding::GetByte;
using coding::GetDouble;
using coding::GetString;
using coding::GetStringView;
using coding::GetVarint;
using coding::PutDouble;
using coding::PutString;
using coding::PutVarint;

void PutEntries(const std::vector<HistoryEntry>& entries, std::string* out) {
  PutVarint(entries.size(), out);
  std::string bytes;
  for (const HistoryEntry& e : entries) {
    PutVarint(e.apply_seq, out);
    PutString(e.lead, out);
    PutDouble(e.received_at, out);
    bytes.clear();
    EncodeEvent(e.event, &bytes);
    PutString(bytes, out);
    PutVarint(e.awards.size(), out);
    for (const auto& [rule, points] : e.awards) {
      PutString(rule, out);
      PutDouble(points, out);
    }
  }
}

bool GetEntries(std::string_view* in, std::vector<HistoryEntry>* entries) {
  uint64_t n = 0;
  if (!GetVarint(in, &n) || n > in->size()) {
    return false;
  }
  entries->resize(n);
  for (HistoryEntry& e : *entries) {
    std::string_view bytes;
    uint64_t awards = 0;
    if (!GetVarint(in, &e.apply_seq) || !GetString(in, &e.lead) || !GetDouble(in, &e.received_at) ||
        !GetStringView(in, &bytes) || !DecodeEvent(&bytes, &e.event) || !bytes.empty() ||
        !GetVarint(in, &awards) || awards > in->size()) {
      return false;
    }
    e.awards.resize(awards);
    for (auto& [rule, points] : e.awards) {
      if (!GetString(in, &rule) || !GetDouble(in, &points)) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

void LeadHandOver::Encode(std::string* out) const {
  out->push_back(static_cast<char>(kVersion));
  PutString(root, out);
  PutVarint(ids.size(), out);
  for (const std::string& id : ids) {
    PutString(id, out);
  }
  std::string bytes;
  EncodeLeadState(state, &bytes);
  PutString(bytes, out);
  PutEntries(entries, out);
  PutEntries(later, out);
  PutString(into, out);
  PutVarint(covered_seq, out);
}

bool LeadHandOver::Decode(std::string_view in) {
  *this = LeadHandOver();
  uint8_t version = 0;
  uint64_t n = 0;
  if (!GetByte(&in, &version) || (version != kVersion && version != kVersionWithoutCover) ||
      !GetString(&in, &root) || !GetVarint(&in, &n) || n > in.size()) {
    return false;
  }
  ids.resize(n);
  for (std::string& id : ids) {
    if (!GetString(&in, &id)) {
      return false;
    }
  }
  std::string_view bytes;
  if (!GetStringView(&in, &bytes) || !DecodeLeadState(bytes, &state).ok()) {
    return false;
  }
  if (!GetEntries(&in, &entries) || !GetEntries(&in, &later)) {
    return false;
  }
  if (version != kVersionWithoutCover &&
      (!GetString(&in, &into) || !GetVarint(&in, &covered_seq))) {
    return false;
  }
  return in.empty();
}

}  // namespace handoff
