// A sales tool's answer to a routed lead (SPEC 9), and the SalesDesk that takes it.
//
// {"accept":SEQ}, {"reject":SEQ,"reason":..}, {"close":SEQ,"outcome":"won"|"lost"|"recycled"},
// optionally with "amount":N (the deal value) on a close.
// SEQ is the seq of the lead's current routed/reassigned record.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace handoff {

enum class SalesActionKind : uint8_t { kAccept, kReject, kClose };

struct SalesAction {
  SalesActionKind kind = SalesActionKind::kAccept;
  uint64_t seq = 0;
  std::string reason;   // reject
  std::string outcome;  // close: won, lost or recycled
  // close: the deal value (SPEC 9, `amount`), a finite non-negative number; absent when not given.
  std::optional<double> amount;
  // The rep the sales tool acts for (its subscription's `rep` filter); empty: any rep.
  std::string as_rep;
};

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
