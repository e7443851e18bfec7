#include "backtest/backtest.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <unordered_map>

#include "backtest/routing_preview.h"
#include "base/string_map.h"
#include "base/timestamp.h"
#include "handoff/value.h"
#include "history/history_log.h"
#include "history/history_scan.h"
#include "outbox/outbox_record.h"
#include "scoring/lead.h"
#include "scoring/refold.h"
#include "scoring/score_json.h"
#include "scoring/scorer.h"
#include "storage/lead_codec.h"

namespace handoff {
namespace {

constexpr int kHistogramBuckets = 20;

// Progress shares of the phases (the history replay is most of the work): links up to
// kLinksDone, then the passes up to kCompareDone; within a pass, the replay takes the first
// kReplayShareOfPass and the comparison the rest.
constexpr double kLinksDone = 0.02;
constexpr double kCompareDone = 0.98;
constexpr double kReplayShareOfPass = 0.85;

// One lead's replay under the candidate.
struct Replay {
  Lead lead;
  // Apply seq of the event that last took it up to the candidate's routing stage from below
  // (0: it is not there now): the order the preview routes in.
  uint64_t reached_routing = 0;
};

bool Cancelled(const BacktestControl& control) {
  return control.cancel != nullptr && control.cancel->load(std::memory_order_relaxed);
}

void Report(const BacktestControl& control, double fraction) {
  if (control.progress) {
    control.progress(fraction);
  }
}

int StageIndexByName(const RuleSet& rules, std::string_view name) {
  for (size_t i = 0; i < rules.stages.size(); ++i) {
    if (rules.stages[i].name == name) {
      return static_cast<int>(i);
    }
  }
  return 0;
}

// Counts per stage name: the rule set's stages first (zeros included), then any other name.
class StageCounts {
 public:
  explicit StageCounts(const RuleSet& rules) {
    for (const StageDef& s : rules.stages) {
      Slot(s.name);
    }
  }
  void Add(const std::string& stage) { ++counts_[Slot(stage)].second; }
  std::vector<std::pair<std::string, uint64_t>> Take() { return std::move(counts_); }

 private:
  size_t Slot(const std::string& stage) {
    auto [it, added] = index_.try_emplace(stage, counts_.size());
    if (added) {
      counts_.emplace_back(stage, 0);
    }
    return it->second;
  }
  StringMap<size_t> index_;
  std::vector<std::pair<std::string, uint64_t>> counts_;
};

// Every rule's total part, the candidate's rules first, in file order.
class RuleTotals {
 public:
  RuleTotals(const RuleSet& live, const RuleSet& candidate, BacktestReport* report)
      : report_(report) {
    for (const RuleDef& r : candidate.rules) {
      Slot(r.id, candidate.scores[r.score].name);
    }
    for (const RuleDef& r : live.rules) {
      Slot(r.id, live.scores[r.score].name);
    }
  }
  void AddNow(const std::vector<std::vector<ScorePart>>& parts) {
    for (const auto& score : parts) {
      for (const ScorePart& p : score) {
        if (auto it = index_.find(p.rule_id); it != index_.end()) {
          report_->rules[it->second].now += p.points;
        }
      }
    }
  }
  void AddCandidate(const std::vector<std::vector<ScorePart>>& parts) {
    for (const auto& score : parts) {
      for (const ScorePart& p : score) {
        if (auto it = index_.find(p.rule_id); it != index_.end()) {
          report_->rules[it->second].candidate += p.points;
        }
      }
    }
  }

 private:
  void Slot(const std::string& rule, const std::string& score) {
    if (index_.try_emplace(rule, report_->rules.size()).second) {
      report_->rules.push_back({rule, score, 0, 0});
    }
  }
  BacktestReport* const report_;
  StringMap<size_t> index_;
};

// Score values of every compared lead, per candidate score, both sides, for the histograms.
struct ScoreSamples {
  std::string score;
  int live_index = -1;  // the live score of the same name; -1 when live has none
  std::vector<double> now;
  std::vector<double> candidate;
};

void BuildHistograms(std::vector<ScoreSamples>& samples, BacktestReport* report) {
  for (ScoreSamples& s : samples) {
    double top = 0;
    for (double v : s.now) {
      top = std::max(top, v);
    }
    for (double v : s.candidate) {
      top = std::max(top, v);
    }
    // A round bucket width: 1, 2 or 5 times a power of ten, covering [0, top] in the buckets.
    double width = 1;
    if (top > 0) {
      const double raw = top / kHistogramBuckets;
      const double power = std::pow(10.0, std::floor(std::log10(raw)));
      width = raw <= power       ? power
              : raw <= 2 * power ? 2 * power
              : raw <= 5 * power ? 5 * power
                                 : 10 * power;
    }
    BacktestReport::Histogram h;
    h.score = s.score;
    h.bucket_width = width;
    h.now.assign(s.live_index >= 0 ? kHistogramBuckets : 0, 0);
    h.candidate.assign(kHistogramBuckets, 0);
    auto bucket = [&](double v) {
      if (!(v > 0)) {
        return 0;
      }
      return std::min(kHistogramBuckets - 1, static_cast<int>(v / width));
    };
    for (double v : s.now) {
      ++h.now[bucket(v)];
    }
    for (double v : s.candidate) {
      ++h.candidate[bucket(v)];
    }
    report->histograms.push_back(std::move(h));
  }
}

void AppendExample(const RuleSet& live, const RuleSet& candidate, const Lead& now_lead,
                   const Lead& replayed, const std::vector<double>& scores_now,
                   const std::vector<double>& scores_candidate,
                   const std::vector<std::vector<ScorePart>>& parts, std::string* out) {
  out->append("{\"lead\":");
  AppendJsonString(replayed.id, out);
  out->append(",\"from\":");
  AppendJsonString(now_lead.stage, out);
  out->append(",\"to\":");
  AppendJsonString(replayed.stage, out);
  out->append(",\"scores\":{\"now\":");
  AppendScoresJson(live.scores, scores_now.data(), out);
  out->append(",\"candidate\":");
  AppendScoresJson(candidate.scores, scores_candidate.data(), out);
  out->append("},\"breakdown\":{\"candidate\":");
  AppendBreakdownJson(candidate.scores, parts, out);
  out->append("}}");
}

}  // namespace

Status RunBacktest(const StoreSnapshot& snapshot, const BacktestRequest& request,
                   const BacktestControl& control, BacktestReport* report) {
  *report = BacktestReport();
  report->at = request.at;
  report->since = request.since;
  const Scorer live(request.live);
  const Scorer candidate(request.candidate);
  const RuleSet& live_rules = *request.live;
  const RuleSet& candidate_rules = *request.candidate;
  const RoutingDef& routing = candidate_rules.routing;
  const int routing_stage = routing.enabled ? routing.stage_index : -1;

  // 1. Which lead every linked id belongs to now, and how many leads there are: more than
  // max_leads_in_memory are replayed in passes, each over the leads of one hash partition.
  StringMap<std::string> root_of;
  if (Status st = snapshot.ScanLinks([&](std::string_view id, std::string_view root) {
        root_of.emplace(std::string(id), std::string(root));
      });
      !st.ok()) {
    return st;
  }
  uint64_t stored_leads = 0;
  if (Status st = snapshot.ScanLeads([&](std::string_view, std::string_view) {
        ++stored_leads;
        return !Cancelled(control);
      });
      !st.ok()) {
    return st;
  }
  const uint64_t budget = std::max<uint64_t>(1, request.max_leads_in_memory);
  const uint64_t passes = std::max<uint64_t>(1, (stored_leads + budget - 1) / budget);
  report->passes = passes;
  Report(control, kLinksDone);
  auto root_of_id = [&](std::string_view id) -> std::string_view {
    auto link = root_of.find(id);
    return link == root_of.end() ? id : std::string_view(link->second);
  };

  std::unique_ptr<RoutingPreview> preview;
  if (routing_stage >= 0) {
    preview = std::make_unique<RoutingPreview>(&candidate, &snapshot, request.at);
  }
  StageCounts now_stages(live_rules);
  StageCounts candidate_stages(candidate_rules);
  RuleTotals totals(live_rules, candidate_rules, report);
  std::vector<ScoreSamples> samples;
  for (size_t s = 0; s < candidate_rules.scores.size(); ++s) {
    ScoreSamples sample;
    sample.score = candidate_rules.scores[s].name;
    for (size_t l = 0; l < live_rules.scores.size(); ++l) {
      if (live_rules.scores[l].name == sample.score) {
        sample.live_index = static_cast<int>(l);
      }
    }
    samples.push_back(std::move(sample));
  }
  // The leads the preview routes, kept past their pass.
  std::vector<std::pair<uint64_t, std::unique_ptr<Lead>>> to_route;
  std::vector<std::vector<ScorePart>> parts_now;
  std::vector<std::vector<ScorePart>> parts_candidate;
  std::vector<double> scores_now;
  std::vector<HistoryEntry> now_history;
  std::vector<double> scores_candidate;
  const double pass_share = 1.0 / static_cast<double>(passes);
  // The examples: the changed leads with the smallest ids, by id. A pass visits its leads in id
  // order, but passes split the leads by hash, so the first ones seen are not those overall.
  std::map<std::string, std::string, std::less<>> examples_by_id;

  for (uint64_t pass = 0; pass < passes; ++pass) {
    const double pass_start = kLinksDone + (kCompareDone - kLinksDone) * pass_share * pass;
    const double pass_span = (kCompareDone - kLinksDone) * pass_share;
    auto in_pass = [&](std::string_view root) {
      return passes == 1 || std::hash<std::string_view>{}(root) % passes == pass;
    };

    // 2. The history, in apply order, onto a fresh lead per root (of this pass).
    StringMap<Replay> replays;
    HistoryScan scan(&snapshot);
    bool cancelled = false;
    Status st = scan.ForEach(
        [&](const HistoryEntry& e) {
          if (cancelled) {
            return false;  // seen at the last block's progress check
          }
          if (request.since.has_value() && e.received_at + kPrintedTimeTolerance < *request.since) {
            return true;
          }
          const std::string_view root = root_of_id(e.lead);
          auto it = replays.find(root);
          if (it == replays.end()) {
            it = replays.emplace(std::string(root), Replay()).first;
            it->second.lead.id = it->first;
          }
          Replay& r = it->second;
          const StageChange change = candidate.Apply(e.event, &r.lead);
          if (routing_stage >= 0) {
            if (change.from < routing_stage && change.to >= routing_stage) {
              r.reached_routing = e.apply_seq;
            } else if (change.to < routing_stage) {
              r.reached_routing = 0;
            }
          }
          return true;
        },
        [&](double fraction) {
          cancelled = cancelled || Cancelled(control);
          Report(control, pass_start + pass_span * kReplayShareOfPass * fraction);
        },
        passes == 1 ? std::function<bool(std::string_view)>()
                    : [&](std::string_view id) { return in_pass(root_of_id(id)); });
    if (!st.ok()) {
      return st;
    }
    if (cancelled || Cancelled(control)) {
      return Status::Unavailable("backtest cancelled");
    }
    report->undecodable += scan.stats().undecodable;

    // 3. Each stored lead of the pass beside its replay (and, once, every open owner's lead
    // for the preview's counts).
    uint64_t visited = 0;
    const double total = std::max<double>(1, static_cast<double>(replays.size()));
    const bool adopt = preview != nullptr && pass == 0;
    st = snapshot.ScanLeads([&](std::string_view id, std::string_view encoded) {
      auto it = replays.find(id);
      const bool replayed = it != replays.end();
      if (!replayed && !adopt) {
        return true;
      }
      Lead now_lead;
      if (!DecodeLeadState(encoded, &now_lead).ok()) {
        return true;  // an unreadable lead (the daemon sets it apart too): left out
      }
      const bool open_owner = now_lead.owner.has_value() && !now_lead.owner->closed;
      if (adopt && open_owner) {
        preview->Adopt(&now_lead);
      }
      if (!replayed) {
        return true;
      }
      Replay& r = it->second;
      ++report->leads;
      report->events += r.lead.events;
      if (live.NeedsRefold(&now_lead)) {
        // Stored before a reload changed a half-life (or a cap's `per`) and not read by the
        // engine since: folded again from its history, as the engine answers it (SPEC 13: "now"
        // is the live score at `at`).
        if (Status h = HistoryLog::ReadAt(snapshot, now_lead.history, &now_history); !h.ok()) {
          now_history.clear();  // as the engine does: the new half-life from the latest award on
        }
        RefoldAwards(live, now_history, &now_lead);
      }
      live.Breakdown(&now_lead, request.at, &parts_now, &scores_now);
      candidate.Breakdown(&r.lead, request.at, &parts_candidate, &scores_candidate);
      totals.AddNow(parts_now);
      totals.AddCandidate(parts_candidate);
      now_stages.Add(now_lead.stage);
      candidate_stages.Add(r.lead.stage);
      for (size_t s = 0; s < samples.size(); ++s) {
        if (samples[s].live_index >= 0) {
          samples[s].now.push_back(scores_now[samples[s].live_index]);
        }
        samples[s].candidate.push_back(scores_candidate[s]);
      }
      if (now_lead.stage != r.lead.stage) {
        ++report->changes[now_lead.stage + ">" + r.lead.stage];
        const bool full = examples_by_id.size() >= request.max_examples;
        if (request.max_examples > 0 && (!full || id < examples_by_id.rbegin()->first)) {
          std::string example;
          AppendExample(live_rules, candidate_rules, now_lead, r.lead, scores_now, scores_candidate,
                        parts_candidate, &example);
          examples_by_id.emplace(std::string(id), std::move(example));
          if (full) {
            examples_by_id.erase(std::prev(examples_by_id.end()));
          }
        }
      }
      if (routing_stage >= 0 && r.reached_routing != 0 && !open_owner &&
          StageIndexByName(candidate_rules, now_lead.stage) < routing_stage) {
        to_route.emplace_back(r.reached_routing, std::make_unique<Lead>(std::move(r.lead)));
      }
      if (++visited % 4096 == 0) {
        if (Cancelled(control)) {
          return false;
        }
        Report(control, pass_start + pass_span * (kReplayShareOfPass +
                                                  (1 - kReplayShareOfPass) * (visited / total)));
      }
      return true;
    });
    if (!st.ok()) {
      return st;
    }
    if (Cancelled(control)) {
      return Status::Unavailable("backtest cancelled");
    }
  }
  for (auto& [id, example] : examples_by_id) {
    report->examples.push_back(std::move(example));
  }
  report->stages_now = now_stages.Take();
  report->stages_candidate = candidate_stages.Take();
  BuildHistograms(samples, report);

  // 4. The newly qualified leads through the preview router, in the order they qualified.
  if (preview != nullptr) {
    report->routing.stage = routing.stage;
    if (!preview->ok()) {
      return preview->status();
    }
    std::sort(to_route.begin(), to_route.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [seq, lead] : to_route) {
      (void)seq;
      preview->Route(lead.get(), 0, &report->routing);
    }
  }
  Report(control, 1.0);
  return Status::Ok();
}

std::string BacktestReportJson(const BacktestReport& report) {
  std::string out = "{\"at\":\"";
  AppendRfc3339Millis(report.at, &out);
  out += "\",\"since\":";
  if (report.since.has_value()) {
    out.push_back('"');
    AppendRfc3339Millis(*report.since, &out);
    out.push_back('"');
  } else {
    out += "null";
  }
  out += ",\"leads\":" + std::to_string(report.leads);
  out += ",\"events\":" + std::to_string(report.events);
  auto counts = [&](const std::vector<std::pair<std::string, uint64_t>>& stages) {
    out.push_back('{');
    for (size_t i = 0; i < stages.size(); ++i) {
      if (i > 0) {
        out.push_back(',');
      }
      AppendJsonString(stages[i].first, &out);
      out += ":" + std::to_string(stages[i].second);
    }
    out.push_back('}');
  };
  auto count_map = [&](const std::map<std::string, uint64_t>& m) {
    out.push_back('{');
    bool first = true;
    for (const auto& [k, v] : m) {
      if (!first) {
        out.push_back(',');
      }
      first = false;
      AppendJsonString(k, &out);
      out += ":" + std::to_string(v);
    }
    out.push_back('}');
  };
  out += ",\"stages\":{\"now\":";
  counts(report.stages_now);
  out += ",\"candidate\":";
  counts(report.stages_candidate);
  out += "},\"changes\":";
  count_map(report.changes);
  out += ",\"examples\":[";
  for (size_t i = 0; i < report.examples.size(); ++i) {
    if (i > 0) {
      out.push_back(',');
    }
    out += report.examples[i];
  }
  out += "],\"rules\":[";
  for (size_t i = 0; i < report.rules.size(); ++i) {
    const BacktestReport::RuleTotal& r = report.rules[i];
    if (i > 0) {
      out.push_back(',');
    }
    out += "{\"rule\":";
    AppendJsonString(r.rule, &out);
    out += ",\"score\":";
    AppendJsonString(r.score, &out);
    out += ",\"now\":";
    AppendJsonNumber(r.now, &out);
    out += ",\"candidate\":";
    AppendJsonNumber(r.candidate, &out);
    out.push_back('}');
  }
  out += "],\"routing\":{\"stage\":";
  if (report.routing.stage.empty()) {
    out += "null";
  } else {
    AppendJsonString(report.routing.stage, &out);
  }
  out += ",\"teams\":";
  count_map(report.routing.teams);
  out += ",\"reps\":";
  count_map(report.routing.reps);
  out += ",\"queued\":" + std::to_string(report.routing.queued);
  out += ",\"unrouted\":" + std::to_string(report.routing.unrouted);
  out += "},\"histograms\":[";
  for (size_t i = 0; i < report.histograms.size(); ++i) {
    const BacktestReport::Histogram& h = report.histograms[i];
    if (i > 0) {
      out.push_back(',');
    }
    out += "{\"score\":";
    AppendJsonString(h.score, &out);
    out += ",\"bucket_width\":";
    AppendJsonNumber(h.bucket_width, &out);
    auto buckets = [&](const char* name, const std::vector<uint64_t>& v) {
      out += ",\"";
      out += name;
      out += "\":[";
      for (size_t b = 0; b < v.size(); ++b) {
        if (b > 0) {
          out.push_back(',');
        }
        out += std::to_string(v[b]);
      }
      out.push_back(']');
    };
    if (!h.now.empty()) {
      buckets("now", h.now);
    }
    buckets("candidate", h.candidate);
    out.push_back('}');
  }
  out += "],\"undecodable\":" + std::to_string(report.undecodable);
  out += ",\"passes\":" + std::to_string(report.passes) + "}";
  return out;
}

}  // namespace handoff
