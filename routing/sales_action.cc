#include "routing/sales_action.h"

#include <array>
#include <cmath>
#include <utility>

namespace handoff {

namespace {

// Seqs travel as JSON numbers, which Value holds as doubles: every integer up to 2^53 is exact.
constexpr double kMaxExactInteger = 9007199254740992.0;

constexpr std::array<std::pair<std::string_view, SalesActionKind>, 3> kCommands = {{
    {"accept", SalesActionKind::kAccept},
    {"reject", SalesActionKind::kReject},
    {"close", SalesActionKind::kClose},
}};

// A positive integral number no larger than 2^53, as uint64.
bool AsSeq(const Value& v, uint64_t* out) {
  if (!v.is_number()) {
    return false;
  }
  const double d = v.as_number();
  if (!(d >= 1) || d > kMaxExactInteger || std::floor(d) != d) {
    return false;
  }
  *out = static_cast<uint64_t>(d);
  return true;
}

bool Fail(SalesActionError* err, std::string code, std::string message, uint64_t seq = 0) {
  err->code = std::move(code);
  err->message = std::move(message);
  err->seq = seq;
  return false;
}

}  // namespace

bool ParseSalesAction(const Value& object, SalesAction* out, SalesActionError* err) {
  if (!object.is_object()) {
    return Fail(err, "bad_request", "a sales command must be a JSON object");
  }
  std::string_view name;
  SalesActionKind kind = SalesActionKind::kAccept;
  for (const auto& [command, command_kind] : kCommands) {
    if (object.Find(command) != nullptr) {
      if (!name.empty()) {
        return Fail(err, "bad_request", "one command per object");
      }
      name = command;
      kind = command_kind;
    }
  }
  if (name.empty()) {
    return Fail(err, "bad_request", "expected accept, reject or close");
  }
  SalesAction action;
  action.kind = kind;
  if (!AsSeq(*object.Find(name), &action.seq)) {
    return Fail(err, "bad_request", std::string(name) + " needs an integer seq from 1 to 2^53");
  }
  const uint64_t seq = action.seq;
  if (kind == SalesActionKind::kReject) {
    const Value* reason = object.Find("reason");
    if (reason != nullptr && !reason->is_null()) {
      if (!reason->is_string()) {
        return Fail(err, "bad_request", "reason must be a string", seq);
      }
      action.reason = reason->as_string();
    }
  }
  if (kind == SalesActionKind::kClose) {
    const Value* outcome = object.Find("outcome");
    if (outcome == nullptr || !outcome->is_string() ||
        (outcome->as_string() != "won" && outcome->as_string() != "lost" &&
         outcome->as_string() != "recycled")) {
      return Fail(err, "invalid_outcome", "close needs an outcome of won, lost or recycled", seq);
    }
    action.outcome = outcome->as_string();
    const Value* amount = object.Find("amount");
    if (amount != nullptr && !amount->is_null()) {
      if (!amount->is_number() || !std::isfinite(amount->as_number()) || amount->as_number() < 0) {
        return Fail(err, "invalid_amount", "amount must be a non-negative number", seq);
      }
      action.amount = amount->as_number();
    }
  }
  *out = std::move(action);
  return true;
}

}  // namespace handoff
