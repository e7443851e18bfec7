// Backtest (SPEC 13): every lead's stored history replayed under a candidate rule file, beside
// the leads as they are now, without touching live state.
//
// One pass over a store snapshot, off the engine thread:
//   1. the identity links (which lead every id now belongs to);
//   2. the whole history log in apply order (history/history_scan.h), each entry applied by the
//      candidate's Scorer to a fresh in-memory Lead of its lead's current root, exactly as a
//      fresh daemon fed the same events in the same order would apply them (a merged lead gets
//      the events of every id merged into it in apply order: SPEC 8's merge, by construction);
//   3. the stored leads in id order: each one that got at least one replayed event is compared
//      with its replay (stage, scores and every rule's part read at `at`), and the leads that
//      would newly reach the candidate's routing stage are routed by a preview router
//      (backtest/routing_preview.h) in the order they would have reached it.
// Events applied under ids that no stored lead owns any more (erased leads' leftovers) are not
// counted. Memory: one Lead per replayed lead (about 1 KB), at most max_leads_in_memory of them
// at once (more leads take more passes over the history), plus a few bytes per id link and a
// copy of each lead the preview routes.
//
// Thread safety: RunBacktest uses only its arguments; run any number at once on other threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "handoff/clock.h"
#include "handoff/status.h"
#include "rules/rule_set.h"
#include "storage/store.h"

namespace handoff {

struct BacktestRequest {
  std::shared_ptr<const RuleSet> live;       // the rules in force ("now")
  std::shared_ptr<const RuleSet> candidate;  // the rules to try
  EpochSeconds at = 0;                       // scores are read at this time, both sides
  std::optional<EpochSeconds> since;         // replay only history received since then
  size_t max_examples = 20;                  // leads whose stage would change, shown in full
  // Leads replayed in memory at once (about 1 KB each): a store with more is replayed in
  // passes, each over one hash partition of the leads, reading the history once per pass.
  uint64_t max_leads_in_memory = 1'000'000;
};

// What a backtest found: the answer of POST /v1/rules/backtest (BacktestReportJson).
struct BacktestReport {
  EpochSeconds at = 0;
  std::optional<EpochSeconds> since;
  uint64_t leads = 0;   // leads with at least one replayed event
  uint64_t events = 0;  // events replayed onto them
  uint64_t undecodable = 0;
  uint64_t passes = 1;  // history passes it took (BacktestRequest::max_leads_in_memory)
  // Leads per stage, in each rule set's stage order (zeros included), then stages the live
  // leads are in that the rules no longer have.
  std::vector<std::pair<std::string, uint64_t>> stages_now;
  std::vector<std::pair<std::string, uint64_t>> stages_candidate;
  std::map<std::string, uint64_t> changes;  // "from>to" -> leads
  // One lead whose stage would change, as JSON (lead, from, to, scores now and candidate, the
  // candidate breakdown).
  std::vector<std::string> examples;
  struct RuleTotal {
    std::string rule;
    std::string score;
    double now = 0;
    double candidate = 0;
  };
  std::vector<RuleTotal> rules;  // candidate rules in file order, then rules only live has
  struct Routing {
    std::string stage;  // the candidate's routing stage ("" when it does not route)
    std::map<std::string, uint64_t> teams;  // leads routed or queued per team
    std::map<std::string, uint64_t> reps;   // leads routed per rep
    uint64_t queued = 0;                    // no eligible rep: waiting in the team's queue
    uint64_t unrouted = 0;                  // no team takes them
  } routing;
  // Score histograms (score name -> counts per bucket), for the dashboard.
  struct Histogram {
    std::string score;
    double bucket_width = 0;  // bucket i holds [i*w, (i+1)*w); the last holds the rest
    std::vector<uint64_t> now;
    std::vector<uint64_t> candidate;
  };
  std::vector<Histogram> histograms;
};

// Progress and cancellation, polled by the run.
struct BacktestControl {
  std::function<void(double fraction)> progress;  // 0..1, now and then; may be empty
  const std::atomic<bool>* cancel = nullptr;      // set: the run stops with Status::Unavailable
};

// Replays `snapshot`'s history under request.candidate (see above). IoError/Corruption from the
// store; Unavailable when cancelled. A lead whose stored state does not decode is left out.
Status RunBacktest(const StoreSnapshot& snapshot, const BacktestRequest& request,
                   const BacktestControl& control, BacktestReport* report);

// The JSON answer (SPEC 13), without the job fields.
std::string BacktestReportJson(const BacktestReport& report);

}  // namespace handoff
