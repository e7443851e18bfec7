// A sales tool's answer to a routed lead (SPEC 9), and the SalesDesk that takes it.
//
// {"accept":SEQ}, {"reject":SEQ,"reason":..}, {"close":SEQ,"outcome":"won"|"lost"|"recycled"},
// optionally with "amount":N (the deal value) on a close.
// SEQ is the seq of the lead's current routed/reassigned record. The same JSON objects arrive as
// subscriber lines (subscribe/) and as POST /v1/actions bodies (api/); ParseSalesAction is the one
// reader of them both.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "handoff/value.h"

namespace handoff {

enum class SalesActionKind : uint8_t { kAccept, kReject, kClose };

struct SalesAction {
  SalesActionKind kind = SalesActionKind::kAccept;
  uint64_t seq = 0;
  std::string reason;   // reject
  std::string outcome;  // close: won, lost or recycled
  // close: the deal value (SPEC 9, `amount`), a finite non-negative number; absent when not given.
  std::optional<double> amount;
  // The rep the sales tool acts for (POST /v1/actions?rep=); empty: whichever rep holds the lead.
  std::string as_rep;
};

// Why a command object is not a valid sales action.
struct SalesActionError {
  std::string code;  // bad_request, invalid_outcome or invalid_amount
  std::string message;
  uint64_t seq = 0;  // the command's seq when it was read before the error; else 0
};

// Reads one sales command from a JSON object: exactly one of "accept", "reject", "close", whose
// value is the seq, a positive integer (else bad_request, seq 0); "reason" (reject) must be a
// string when present and not null (else bad_request); "outcome" (close) must be won, lost or
// recycled (else invalid_outcome, naming the seq); "amount" (close), when present and not null,
// a finite non-negative number (else invalid_amount, naming the seq). Unknown keys are ignored (a
// tool may attach its own metadata). True with *out filled (as_rep left empty for the caller), or
// false with *err filled. Not an object, or no command key or more than one: bad_request.
bool ParseSalesAction(const Value& object, SalesAction* out, SalesActionError* err);

// The answer: ok, or an error code (unknown_seq, not_holder, already_closed, already_accepted,
// invalid_outcome, invalid_amount) with a message for people.
struct SalesActionResult {
  bool ok = false;
  std::string error;
  std::string message;
};

// Takes sales answers (the engine implements it; the subscriber server calls it).
class SalesDesk {
 public:
  virtual ~SalesDesk() = default;
  // Applies `action`; `done` runs, on the desk's own thread, after the commit that holds its
  // effects. Thread-safe.
  virtual void SubmitSalesAction(SalesAction action,
                                 std::function<void(const SalesActionResult&)> done) = 0;
};

}  // namespace handoff
