// RoutingInput's bytes in the routing log. See routing_input.h.
#include "routing/routing_input.h"

#include <cmath>
#include <limits>

#include "storage/coding.h"
#include "storage/lead_codec.h"

namespace handoff {

namespace {

constexpr uint8_t kVersion = 1;
constexpr uint8_t kInputListVersion = 1;

using coding::GetByte;
using coding::GetDouble;
using coding::GetString;
using coding::GetStringView;
using coding::GetVarint;
using coding::PutDouble;
using coding::PutString;
using coding::PutVarint;

void PutLead(const LeadState& lead, std::string* out) {
  std::string bytes;
  EncodeLeadState(lead, &bytes);
  PutString(bytes, out);
}

bool GetLead(std::string_view* in, LeadState* lead) {
  std::string_view bytes;
  return GetStringView(in, &bytes) && DecodeLeadState(bytes, lead).ok();
}

// The fields are uint32_t: a larger varint is not one Encode made, and truncating it would
// name another partition.
bool GetVarint32(std::string_view* in, uint32_t* v) {
  uint64_t wide = 0;
  if (!GetVarint(in, &wide) || wide > std::numeric_limits<uint32_t>::max()) {
    return false;
  }
  *v = static_cast<uint32_t>(wide);
  return true;
}

// 0 or 1 only, so that a byte Encode never writes is refused rather than read as true.
bool GetBool(std::string_view* in, bool* b) {
  uint8_t byte = 0;
  if (!GetByte(in, &byte) || byte > 1) {
    return false;
  }
  *b = byte == 1;
  return true;
}

void PutSalesAction(const SalesAction& action, std::string* out) {
  out->push_back(static_cast<char>(action.kind));
  PutVarint(action.seq, out);
  PutString(action.reason, out);
  PutString(action.outcome, out);
  out->push_back(static_cast<char>(action.amount.has_value() ? 1 : 0));
  if (action.amount.has_value()) {
    PutDouble(*action.amount, out);
  }
  PutString(action.as_rep, out);
}

bool GetSalesAction(std::string_view* in, SalesAction* action) {
  uint8_t kind = 0;
  bool has_amount = false;
  if (!GetByte(in, &kind) || kind > static_cast<uint8_t>(SalesActionKind::kClose) ||
      !GetVarint(in, &action->seq) || !GetString(in, &action->reason) ||
      !GetString(in, &action->outcome) || !GetBool(in, &has_amount)) {
    return false;
  }
  action->kind = static_cast<SalesActionKind>(kind);
  if (has_amount) {
    double amount = 0;
    // Rejected when not finite or negative: ParseSalesAction never lets such an amount through,
    // so only bad bytes carry one, and the router would pass it on to the sales records.
    if (!GetDouble(in, &amount) || !std::isfinite(amount) || amount < 0) {
      return false;
    }
    action->amount = amount;
  }
  return GetString(in, &action->as_rep);
}

// A stage change's or merge's causing event's receive time comes last, only when there is one
// (an input logged before it was added ends before it; 0 is never written).
void PutReceivedAt(EpochSeconds received_at, std::string* out) {
  if (received_at != 0) {
    PutDouble(received_at, out);
  }
}

bool GetReceivedAt(std::string_view* in, EpochSeconds* received_at) {
  return in->empty() || (GetDouble(in, received_at) && *received_at != 0);
}

}  // namespace

void RoutingInput::Encode(std::string* out) const {
  out->push_back(static_cast<char>(kVersion));
  out->push_back(static_cast<char>(kind));
  PutDouble(at, out);
  PutVarint(place.partition, out);
  PutVarint(place.order, out);
  PutVarint(place.index, out);
  switch (kind) {
    case RoutingInputKind::kStage:
      PutLead(lead, out);
      PutString(from_stage, out);
      PutString(to_stage, out);
      PutString(trigger, out);
      PutDouble(scores_at, out);
      PutReceivedAt(received_at, out);
      break;
    case RoutingInputKind::kMerge:
      PutLead(lead, out);
      PutLead(older, out);
      PutString(trigger, out);
      PutDouble(scores_at, out);
      // The merge's stage change, when it made one (an input logged before they were added
      // ends here).
      if (!from_stage.empty() || !to_stage.empty() || received_at != 0) {
        PutString(from_stage, out);
        PutString(to_stage, out);
      }
      PutReceivedAt(received_at, out);
      break;
    case RoutingInputKind::kForget:
      PutLead(lead, out);
      break;
    case RoutingInputKind::kSalesAction:
      PutSalesAction(action, out);
      PutString(asked_by, out);
      PutVarint(request, out);
      break;
    case RoutingInputKind::kRepAvailability:
      PutString(asked_by, out);
      PutVarint(request, out);
      PutString(rep, out);
      out->push_back(static_cast<char>(online ? 1 : 0));
      break;
    case RoutingInputKind::kAccountOwner:
      PutString(asked_by, out);
      PutVarint(request, out);
      PutString(domain, out);
      PutString(rep, out);
      break;
    case RoutingInputKind::kRules:
      PutString(rules_sha256, out);
      PutVarint(rules_revision, out);
      PutString(rules_yaml, out);
      break;
    case RoutingInputKind::kTick:
      break;
  }
}

bool RoutingInput::Decode(std::string_view in) {
  *this = RoutingInput();
  uint8_t version = 0;
  uint8_t kind_byte = 0;
  if (!GetByte(&in, &version) || version != kVersion || !GetByte(&in, &kind_byte) ||
      !GetDouble(&in, &at) || !GetVarint32(&in, &place.partition) ||
      !GetVarint(&in, &place.order) || !GetVarint32(&in, &place.index)) {
    return false;
  }
  // Checked before the cast: an enum holding a value it does not name would fall through every
  // case below.
  if (kind_byte < static_cast<uint8_t>(RoutingInputKind::kStage) ||
      kind_byte > static_cast<uint8_t>(RoutingInputKind::kTick)) {
    return false;
  }
  kind = static_cast<RoutingInputKind>(kind_byte);
  bool ok = false;
  switch (kind) {
    case RoutingInputKind::kStage:
      ok = GetLead(&in, &lead) && GetString(&in, &from_stage) && GetString(&in, &to_stage) &&
           GetString(&in, &trigger) && GetDouble(&in, &scores_at);
      ok = ok && GetReceivedAt(&in, &received_at);
      break;
    case RoutingInputKind::kMerge:
      ok = GetLead(&in, &lead) && GetLead(&in, &older) && GetString(&in, &trigger) &&
           GetDouble(&in, &scores_at);
      if (ok && !in.empty()) {
        ok = GetString(&in, &from_stage) && GetString(&in, &to_stage);
      }
      ok = ok && GetReceivedAt(&in, &received_at);
      break;
    case RoutingInputKind::kForget:
      ok = GetLead(&in, &lead);
      break;
    case RoutingInputKind::kSalesAction:
      ok = GetSalesAction(&in, &action) && GetString(&in, &asked_by) && GetVarint(&in, &request);
      break;
    case RoutingInputKind::kRepAvailability:
      ok = GetString(&in, &asked_by) && GetVarint(&in, &request) && GetString(&in, &rep) &&
           GetBool(&in, &online);
      break;
    case RoutingInputKind::kAccountOwner:
      ok = GetString(&in, &asked_by) && GetVarint(&in, &request) && GetString(&in, &domain) &&
           GetString(&in, &rep);
      break;
    case RoutingInputKind::kRules:
      ok = GetString(&in, &rules_sha256) && GetVarint(&in, &rules_revision) &&
           GetString(&in, &rules_yaml);
      break;
    case RoutingInputKind::kTick:
      ok = true;
      break;
  }
  // Times the router's clock moves to must be numbers (a NaN would stop it for good).
  return ok && in.empty() && std::isfinite(at) && std::isfinite(scores_at) &&
         std::isfinite(received_at);
}

void EncodeRoutingInputs(const std::vector<RoutingInput>& inputs, std::string* out) {
  out->clear();
  out->push_back(static_cast<char>(kInputListVersion));
  PutVarint(inputs.size(), out);
  std::string bytes;
  for (const RoutingInput& input : inputs) {
    bytes.clear();
    input.Encode(&bytes);
    PutString(bytes, out);
  }
}

bool DecodeRoutingInputs(std::string_view in, std::vector<RoutingInput>* inputs) {
  inputs->clear();
  uint8_t version = 0;
  uint64_t n = 0;
  if (!GetByte(&in, &version) || version != kInputListVersion || !GetVarint(&in, &n) ||
      n > in.size()) {
    return false;
  }
  inputs->resize(n);
  for (RoutingInput& input : *inputs) {
    std::string_view bytes;
    if (!GetStringView(&in, &bytes) || !input.Decode(bytes)) {
      return false;
    }
  }
  return in.empty();
}

}  // namespace handoff
