// Router: routing decisions of SPEC 7 and the sales answers of SPEC 9, on the engine thread.
//
// The router owns the routing state that is not part of a lead: each rep's availability, open
// and today counts and smooth-round-robin weight, the team queues and the `unrouted` queue, the
// account owners and the SLA deadlines. Each lead's current assignment lives on the lead
// (Lead::owner), so open counts, the seq -> lead map and SLA deadlines are rebuilt from the
// leads at start; the rest is written to the store's meta records: the reps' counters as one
// record at Flush (a few hundred bytes), and every queued lead, escalated lead's former holders
// and account owner as a record of its own when it changes, so a queue of a hundred thousand
// leads costs a write per lead that enters or leaves it, not a rewrite of the queue per commit.
//
// Queues: a lead no rep can take waits in its team's queue (FIFO) and is routed as soon as a rep
// can take it (checked when a rep comes back online, a lead is closed, rules are reloaded, and
// about once a second for new days and working hours). An escalated lead also waits in its team's
// queue, but it is not handed straight back to the reps that just let it lapse: it waits until a
// rep of the team *becomes* eligible after the escalation (back online, a lead of the team closed,
// the rep's new day, its working hours beginning, a reload), and then goes preferably to a rep
// that has not held it; a rep freed because a lead was reassigned or escalated away from it
// takes it only if it never held it (else two unanswered leads would chase each other round the
// same reps at every lapse), and then goes preferably to a rep
// that has not held it; the reps that held it and its moves stay with it, so its next lapse
// escalates it again unless a rep that never held it is eligible and moves are left. A queued
// lead whose account owner becomes eligible goes to the owner.
// Leads no team takes wait in the `unrouted` queue until the rules change (a reload, or a restart
// on changed rules); `unrouted` is published when a lead enters that queue, not again while it
// stays there.
//
// Every decision is published as an outbox record through the RouterHost, which the engine
// implements; the router never calls back into the engine's stage logic.
// Not thread-safe: engine thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/incremental_map.h"
#include "base/metrics.h"
#include "handoff/clock.h"
#include "handoff/status.h"
#include "outbox/outbox_record.h"
#include "routing/sales_action.h"
#include "scoring/lead.h"
#include "scoring/scorer.h"

namespace handoff {

// What Router::Act did. A `recycled` close sends the lead back to stage "new": the router does
// not move stages itself, so the caller (the engine, which owns stages and their records) does it
// and then reports the change back through OnStageChange like any other.
struct SalesActOutcome {
  SalesActionResult result;
  Lead* recycled_lead = nullptr;  // set when the lead must go back to stage "new"
};

// What the router needs from the engine.
class RouterHost {
 public:
  virtual ~RouterHost() = default;
  virtual Lead* FindLead(std::string_view id) = 0;
  // The lead changed: write it with the next commit.
  virtual void LeadChanged(Lead* lead) = 0;
  // Appends `record` to the outbox with the lead's scores read at `scores_at`, its traits and its
  // stage; fills record->seq and returns it.
  virtual uint64_t Publish(OutboxRecord* record, Lead* lead, EpochSeconds scores_at) = 0;
  // Durable small records (the meta column family), written with the next commit.
  virtual void PutMeta(std::string_view key, std::string_view value) = 0;
  virtual void DeleteMeta(std::string_view key) = 0;
};

// How Router::Restore reads the persisted state: the store's meta records, or a snapshot's.
struct RouterMetaReader {
  // One value; NotFound when absent.
  std::function<Status(std::string_view key, std::string* value)> get;
  // fn(key, value) for every value whose key starts with `prefix`, in key order.
  std::function<Status(std::string_view prefix,
                       const std::function<void(std::string_view key, std::string_view value)>& fn)>
      scan;
};

// A RouterMetaReader over `source`'s meta records: a Store or a StoreSnapshot (anything with
// GetMeta and ScanMeta), borrowed for as long as the reader is used.
template <typename MetaSource>
RouterMetaReader MetaReaderOf(const MetaSource* source) {
  RouterMetaReader reader;
  reader.get = [source](std::string_view key, std::string* value) {
    return source->GetMeta(key, value);
  };
  reader.scan = [source](std::string_view prefix,
                         const std::function<void(std::string_view, std::string_view)>& fn) {
    return source->ScanMeta(prefix, fn);
  };
  return reader;
}

// One rep as GET /v1/reps shows it.
struct RepView {
  std::string id;
  std::string team;
  bool configured = true;  // false: removed from the rules, still holding open leads
  bool online = true;
  bool in_hours = true;
  int open = 0;
  int today = 0;
  int weight = 1;
  int64_t current_weight = 0;
  bool eligible = false;  // ignoring skills
  std::string why_not;    // offline, outside_hours, max_open, max_per_day, removed
  size_t queued_in_team = 0;
};

class Router {
 public:
  Router(RouterHost* host, const Clock* clock, Metrics* metrics);

  // Restores the persisted state at start; call before AdoptLead. Reads the one-record forms of
  // earlier versions too (the queues, escalations and account owners as one JSON value each) and
  // rewrites them as records of their own at the next Flush. Corruption when a value does not
  // decode.
  Status Restore(const RouterMetaReader& meta);
  // Rebuilds the lead-derived state from one stored lead at start.
  void AdoptLead(Lead* lead);
  // Installs new rules (at start and on every reload): removed reps keep their open leads and get
  // no new ones; on a reload, queues of removed teams and the unrouted queue are routed afresh
  // (at start they wait in the unrouted queue, see StartedOnNewRules). With no routing in the new
  // rules, queued leads move to the unrouted queue and wait for rules that route them.
  void SetRules(const Scorer* scorer);
  // The rules installed at start differ from those the stored state was routed under (a start on
  // changed rule bytes counts as a new load, as a reload does): the unrouted queue is routed
  // afresh on the first drain, once the leads are adopted (stored as pending until then), and
  // escalated leads may be offered again. Call after the first SetRules; not calling it (a start on
  // the same rules) leaves the unrouted queue waiting for a reload (SPEC 7).
  void StartedOnNewRules();

  // A lead's stage changed (by an event or the re-check). Routes it when it reaches the routing
  // stage from below with no open owner; takes it out of its queue when it falls below.
  void OnStageChange(Lead* lead, StageChange change, std::string_view trigger,
                     EpochSeconds scores_at);

  // `older` is being merged into `merged` (SPEC 8), after merged's stage was rebuilt and before
  // the engine deletes `older`: the older lead leaves any queue; its open owner carries over to
  // `merged` when merged has none (no new routing), else gets a `closed` record with outcome
  // "merged" (`lead` the older id, `into` the merged id). The linking event caused that record:
  // it carries the event's messageId as `trigger` and the older lead's scores read at the event's
  // time, as every record an event causes does.
  void Merge(Lead* older, Lead* merged, std::string_view trigger, EpochSeconds scores_at);

  // The lead is being erased: it leaves any queue and its open owner's count; no record.
  void Forget(Lead* lead);

  // A sales tool's answer to the lead's current routing record. Errors: unknown_seq (no lead's
  // current routing record has that seq: never routed, or reassigned / escalated / routed again
  // since), not_holder (as_rep is not the holder), already_closed, already_accepted (accept
  // only), invalid_outcome (close only).
  SalesActOutcome Act(const SalesAction& action);

  // SLA deadlines, queue draining (a rep back in hours, a new day). Call often (every loop pass).
  void Tick();
  // The earliest SLA deadline waiting (infinity: none), so that a loop that sleeps between
  // passes wakes for it: a lapse is reassigned on time, not at the next pass.
  EpochSeconds NextDeadline() const {
    return sla_.empty() ? std::numeric_limits<EpochSeconds>::infinity() : sla_.begin()->first;
  }

  // Admin API.
  // NotFound when `rep` is not in the rules in force; changes nothing.
  Status CheckRep(std::string_view rep) const;
  // NotFound when `rep` is not in the rules in force.
  Status SetOnline(std::string_view rep, bool online);
  std::vector<RepView> Reps();
  // NotFound when `rep` is not in the rules in force. The domain is stored lowercased; a free-mail
  // domain is stored but never used (IsFreeMailDomain).
  Status SetAccountOwner(std::string_view domain, std::string_view rep);
  // Empty when the domain has no owner.
  std::string AccountOwner(std::string_view domain) const;

  // The team whose queue holds `lead_id`; empty when it waits in none (or in the unrouted queue).
  std::string QueuedIn(std::string_view lead_id) const;

  // Writes the reps' changed counters (and, once after restoring an earlier version's records,
  // every queue entry, escalation and account owner) to the host's meta records. Call before
  // each commit; queue, escalation and account changes are written as they happen.
  void Flush();

  // True when `domain` is a free-mail domain that never counts for account ownership.
  static bool IsFreeMailDomain(std::string_view domain);

 private:
  struct RepState {
    std::string team;
    int def_index = -1;  // index in its team's reps; -1 when removed from the rules
    int team_index = -1;
    bool online = true;
    int64_t current_weight = 0;
    int64_t day = INT64_MIN;  // local day `today` counts
    int today = 0;
    int open = 0;  // derived from the leads
    // What the last drain saw, to notice a rep becoming eligible by the clock (stored with the
    // rep, so also across a restart: working hours that began while the daemon was down wake).
    int seen_in_hours = -1;  // -1: not seen yet
    int64_t seen_day = INT64_MIN;
    EpochSeconds seen_at = 0;  // when those last changed (0: never, or stored before it was kept)
  };
  // A team's counts so far of wakes (Wake: a rep of it became eligible) and of leads its reps let
  // go of by a reassignment or an escalation (ReleaseOwner). An escalated lead keeps its team's
  // counts at its escalation; a count that moved since means it was woken. Stored
  // (router.generations, and in each escalated lead's record), so a restart keeps which
  // escalated leads have been woken.
  struct TeamGenerations {
    uint64_t wake = 0;
    uint64_t release = 0;
  };
  // An escalated lead in its team's queue.
  struct Parked {
    TeamGenerations at_escalation;     // its team's counts when it was escalated
    std::vector<std::string> held_by;  // reps that held it before the escalation
  };

  const RuleSet& rules() const { return scorer_->rules(); }
  bool RoutingEnabled() const;
  bool HasOpenOwner(const Lead& lead) const;
  EvalContext LeadContext(Lead* lead, std::vector<double>* scores, EpochSeconds at);
  // Eligibility ignoring skills; `why` gets the reason when not.
  bool RepAvailable(const RepDef& def, RepState& state, EpochSeconds now, std::string* why);
  int TodayCount(const RepDef& def, RepState& state, EpochSeconds now);
  bool SkillMatches(const RepDef& def, const EvalResult& skill) const;
  // The eligible rep of the team (not in `exclude`) to take `lead`, -1 when none; moves the
  // round-robin weights. The team's skill reads scores at `scores_at`.
  int PickRep(int team_index, Lead* lead, const std::vector<std::string>& exclude, EpochSeconds now,
              EpochSeconds scores_at);
  int FindTeam(Lead* lead, EpochSeconds now);
  // Routes `lead` afresh. `announce_unrouted`: publish `unrouted` when no team takes it (never
  // when it is already in the unrouted queue). `held_by`: the reps that held it before it was
  // escalated (empty for a lead never routed); it goes preferably to another, and they stay with
  // it, also while it waits.
  void Route(Lead* lead, std::string_view trigger, EpochSeconds scores_at,
             bool announce_unrouted = true, std::vector<std::string> held_by = {});
  // Gives the lead to its account owner when account_match is on and the owner (not in `skip`)
  // is eligible; false otherwise.
  bool TryAccountOwner(Lead* lead, const std::vector<std::string>& skip, std::string_view trigger,
                       EpochSeconds scores_at);
  void Assign(Lead* lead, int team_index, int rep_index, OutboxKind kind, std::string_view reason,
              std::string_view from_rep, std::string_view trigger, EpochSeconds scores_at);
  void Reassign(Lead* lead, std::string_view why);
  void Escalate(Lead* lead, std::string_view team, std::string_view from_rep, std::string_view why);
  void ReleaseOwner(Lead* lead);
  // Puts the lead at the back of `queue` (out of any other first); writes its record.
  void Enqueue(std::string_view lead_id, const std::string& queue);
  // Takes the lead out of its queue and forgets its escalation; deletes their records.
  void Dequeue(std::string_view lead_id);
  // Records that the queued `lead_id` was escalated (see Parked); writes its record.
  void Park(const std::string& lead_id, Parked parked);
  void WriteParkedRecord(const std::string& lead_id, const Parked& parked);
  // The owner of a domain's accounts; writes its record.
  void SetAccount(std::string domain, std::string rep);
  // Every queue entry, escalation and account owner as records of their own (after restoring an
  // earlier version's one-record forms).
  void WriteAllRecords();
  void Drain();
  // Routes the unrouted queue afresh under the rules in force.
  void RerouteUnrouted();
  // An escalated lead was routed again from its queue: the reps that held it before
  // (`held_by`, non-empty) and the moves it made stay with its new owner (SPEC 7).
  void KeepHeldBy(Lead* lead, std::vector<std::string> held_by);
  // A rep of `team` became eligible: escalated leads of its queue may be offered again.
  void Wake(std::string_view team);
  void WakeAll();  // Wake for every team of the rules in force
  // The reps that held `lead_id` before its escalation (empty when it is not parked).
  std::vector<std::string> HeldByWhileParked(const std::string& lead_id) const;
  // An escalated lead waiting unrouted (its team removed) keeps the reps that held it (none: no
  // record) until a team takes it.
  void ParkUnrouted(const std::string& lead_id, std::vector<std::string> held_by);
  // The parked lead's (team's) generations now, for Park.
  Parked ParkedNow(const std::string& team, std::vector<std::string> held_by);
  // Wakes the teams of reps whose working hours began or whose local day changed since last seen.
  void NoticeClockWakes(EpochSeconds now);
  RepState& StateOf(const std::string& rep_id);
  void MarkRepsDirty() { reps_dirty_ = true; }

  RouterHost* const host_;
  const Clock* const clock_;
  Metrics* const metrics_;
  const Scorer* scorer_ = nullptr;

  std::map<std::string, RepState> reps_;
  // Where a queued lead waits: its queue's key and its place (orders only grow, so a queue's
  // map in order is first in, first out, also across restarts).
  struct QueueSlot {
    std::string queue;
    uint64_t order = 0;
  };
  // Queues by team id, each lead ids by order; the unrouted queue has the key kUnroutedKey (not
  // a valid team id).
  std::map<std::string, std::map<uint64_t, std::string>> queues_;
  std::unordered_map<std::string, QueueSlot> queued_in_;  // lead id -> where it waits
  uint64_t next_order_ = 1;
  std::map<std::string, std::string> accounts_;         // domain -> rep
  std::unordered_map<std::string, Parked> parked_;      // escalated lead id -> ...
  std::map<std::string, TeamGenerations> generations_;  // team id -> its counts so far
  // Seq of each lead's current routing record (open or closed) -> lead id. One per routed lead:
  // a map that never rehashes them all in one call.
  IncrementalMap<uint64_t, std::string> by_seq_;
  std::set<std::pair<EpochSeconds, std::string>> sla_;  // (deadline, lead id)
  std::vector<double> scores_scratch_;
  bool reps_dirty_ = false;
  bool generations_dirty_ = false;          // generations_ moved since Flush
  bool write_all_records_ = false;          // restored from an earlier version's one-record forms
  std::vector<std::string> stale_records_;  // found superseded at Restore: deleted at the Flush
  bool drain_needed_ = false;
  bool draining_ = false;  // inside Drain (which may route, so Route must not drain again)
  // At start on changed rules: route the unrouted queue on the first drain. Stored while it is
  // pending (router.reroute_pending), so a crash before that drain does not lose it: the next
  // start is on the same rules, which alone would leave the queue waiting.
  bool reroute_unrouted_ = false;
  bool reroute_dirty_ = false;  // reroute_unrouted_ changed since Flush
  void SetReroutePending(bool pending) {
    reroute_dirty_ |= reroute_unrouted_ != pending;
    reroute_unrouted_ = pending;
  }
  // At start: the first drain also looks for working hours that ended and began again while the
  // daemon was down (split hours), which the stored state alone does not show.
  bool check_downtime_ = false;
  EpochSeconds last_drain_ = 0;
};

}  // namespace handoff
