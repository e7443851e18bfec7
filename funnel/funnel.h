// Funnel: the funnel and feedback figures (SPEC 12), kept as the engine writes records.
//
// The engine hands every outbox record to Observe as it writes it, with what the record alone
// does not say (FunnelContext). Observe turns it into a FunnelFact, adds it to the totals of its
// hour and team; the engine's seal writes the facts (Flush) into the same CommitBatch as their
// records, so the figures are exactly as durable as the records: after a crash both are there or
// neither.
//
// Storage (the store's funnel column family; keys below, values FunnelTotals / FunnelFact):
//   "h" + hour (8 bytes big-endian, hours since the epoch) + team   the hour's totals
//   "f" + at in ms (8 bytes big-endian) + seq (8 bytes big-endian)   a FactBlock: one commit's
//                                   facts of one hour, keyed by the earliest and the first's seq
//   "l" + lead id                                                    the lead's open marks
//   "m" + "fact_floor"                                               facts are kept from here on
// Hour totals are all held in memory (loaded at start) and written again whenever they change;
// facts stay only in the store, kept for `fact_retention` and read back only for the partial
// hours at the two ends of a window. A window [since, until) is the totals of the hours wholly
// inside it plus the facts of the two partial hours: exact to the millisecond. Where the facts of
// a partial hour are trimmed already, that hour counts whole if it starts inside the window.
//
// Thread safety: engine thread only (Load before the engine starts).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/incremental_map.h"
#include "funnel/fact_block.h"
#include "funnel/funnel_totals.h"
#include "handoff/clock.h"
#include "handoff/status.h"
#include "outbox/outbox_record.h"
#include "storage/commit_batch.h"
#include "storage/store.h"

namespace handoff {

struct FunnelOptions {
  // Seconds facts are kept (they make windows exact at their partial hours). Default: 7 days,
  // the outbox's retention.
  double fact_retention = 7 * 86400;
  // Seconds hour totals are kept; older windows count nothing. Default: 400 days.
  double hour_retention = 400 * 86400;
};

// What the engine knows about a record that the record does not carry.
struct FunnelContext {
  // The team of the lead's open owner, for records without a team of their own.
  std::string_view owner_team;
  // Stage records: the lead rose from below the routing stage to it or above.
  bool reaches_routing_stage = false;
  // Stage records that reach the routing stage: the receive time of the event that caused it
  // (the record's time when a timer or a call caused it).
  EpochSeconds received_at = 0;
  // Accepted records: when the lead was routed to the accepting rep.
  std::optional<EpochSeconds> routed_at;
  // Routed and closed records: the rules that award the lead points now.
  const std::vector<FunnelRule>* rules_now = nullptr;
};

// A window of records and a team; empty bounds are open.
struct FunnelWindow {
  // Records whose `at`, as printed, lies in [since, until) (base/timestamp.h: a record is inside
  // `since=<its at>` and outside `until=<its at>`).
  std::optional<EpochSeconds> since;
  std::optional<EpochSeconds> until;
  std::string team;  // "" for every team
};

class Funnel {
 public:
  // `store` is borrowed and must outlive the funnel.
  Funnel(FunnelOptions options, const Store* store) : options_(options), store_(store) {}

  // Reads the hour totals and the lead marks back. Corruption on bytes this code did not write.
  Status Load();

  // Adds the record (its seq and time set) to the figures; its fact goes into the batch of the
  // next Flush, which the engine calls as it seals the batch that holds the record.
  void Observe(const OutboxRecord& record, const FunnelContext& context);
  // The lead is gone (merged into another, or erased): its marks too.
  void Forget(const std::string& lead, CommitBatch* batch);
  // `from` merged into `into`, whose owner is now `from`'s (SPEC 8's carry-over): `into` takes
  // `from`'s marks, so its close counts the rules `from` had when it was routed (SPEC 12).
  void MoveMarks(const std::string& from, const std::string& into, CommitBatch* batch);
  // Writes what changed since the last flush (facts, hour totals, lead marks) into `batch`.
  void Flush(CommitBatch* batch);
  // Drops facts past fact_retention and hour totals past hour_retention (into `batch`).
  void Trim(EpochSeconds now, CommitBatch* batch);

  // The figures of the records in `window`. Reads the store for the partial hours.
  Status Query(const FunnelWindow& window, FunnelTotals* out) const;
  // Every record's figures, all time (what /metrics shows).
  const FunnelTotals& all_time() const { return all_time_; }
  // Bumped by every change; for callers that cache a rendering.
  uint64_t version() const { return version_; }
  // Bytes of hour totals held in memory (encoded size), for the docs' sizing and tests.
  size_t hour_bytes() const;

 private:
  struct LeadMarks {
    EpochSeconds qualified_at = 0;  // 0: not waiting to be routed
    // Routed (under this funnel) and not closed since: `rules` are then the rules at routing,
    // possibly none, and a close counts exactly those.
    bool routed = false;
    std::vector<FunnelRule> rules;  // the rules at routing, until closed
    // When its latest `routed` record was written, until closed (0: none kept): where
    // `speed_to_lead_ms.accepted` starts (SPEC 12: "from `routed` to `accepted`"), also when a
    // reassignment gave it to the rep who accepted.
    EpochSeconds routed_at = 0;
    bool empty() const { return qualified_at == 0 && !routed; }
  };
  using HourKey = std::pair<int64_t, std::string>;  // hour since the epoch, team

  void MarkLead(const std::string& lead);
  Status AddFacts(EpochSeconds begin, EpochSeconds end, const std::string& team,
                  FunnelTotals* out) const;

  const FunnelOptions options_;
  const Store* const store_;
  std::map<HourKey, FunnelTotals> hours_;
  std::set<HourKey> dirty_hours_;
  // One per routed lead until closed: a map that never rehashes them all in one call.
  StringIncrementalMap<LeadMarks> leads_;
  std::set<std::string> dirty_leads_;
  FunnelTotals all_time_;
  EpochSeconds fact_floor_ = 0;  // facts before this are trimmed
  bool fact_floor_dirty_ = false;
  uint64_t version_ = 0;
  std::string scratch_;
  // The facts observed since the last flush, a block an hour; the first pending_hours_ are in
  // use, the rest keep their buffers for the next commit.
  struct PendingFacts {
    int64_t hour = 0;
    FactBlock facts;
  };
  std::vector<PendingFacts> pending_facts_;
  size_t pending_hours_ = 0;
};

}  // namespace handoff
