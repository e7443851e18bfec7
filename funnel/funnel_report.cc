#include "funnel/funnel_report.h"

#include <cmath>
#include <optional>

#include "base/prometheus_text.h"
#include "base/timestamp.h"
#include "handoff/value.h"

namespace handoff {
namespace {

struct Quantile {
  const char* name;  // in the JSON answer
  double q;
  const char* label;  // Prometheus' quantile label
};
constexpr Quantile kQuantiles[] = {{"p50", 0.5, "0.5"}, {"p90", 0.9, "0.9"}, {"p99", 0.99, "0.99"}};
// Closes by outcome always list these, zero or not.
constexpr const char* kOutcomes[] = {"won", "lost", "recycled", "merged"};

// A percentile read from the histogram, to the 3 significant digits its 1% buckets can vouch for.
double Rounded(double v) {
  if (v <= 0) {
    return v;
  }
  const double scale = std::pow(10.0, 2 - std::floor(std::log10(v)));
  return std::round(v * scale) / scale;
}

void Key(std::string_view name, std::string* out) {
  AppendJsonString(name, out);
  out->push_back(':');
}

void Count(std::string_view name, double n, std::string* out) {
  out->push_back(',');
  Key(name, out);
  AppendJsonNumber(n, out);
}

void Time(const std::optional<EpochSeconds>& t, std::string* out) {
  if (!t.has_value()) {
    out->append("null");
    return;
  }
  out->push_back('"');
  AppendRfc3339Millis(*t, out);
  out->push_back('"');
}

void Percentiles(const LatencyHistogram& h, std::string* out) {
  out->push_back('{');
  for (const Quantile& quantile : kQuantiles) {
    Key(quantile.name, out);
    if (std::optional<double> v = h.Quantile(quantile.q); v.has_value()) {
      AppendJsonNumber(Rounded(*v), out);
    } else {
      out->append("null");
    }
    out->push_back(',');
  }
  Key("count", out);
  AppendJsonNumber(static_cast<double>(h.count()), out);
  out->push_back('}');
}

std::map<std::string, uint64_t> ClosedWithEveryOutcome(const FunnelTotals& totals) {
  std::map<std::string, uint64_t> closed = totals.closed;
  for (const char* outcome : kOutcomes) {
    closed.emplace(outcome, 0);
  }
  return closed;
}

// won / (won + lost) of every closed lead; nullopt when none was won or lost.
std::optional<double> OverallWinRate(const FunnelTotals& totals) {
  const uint64_t won = totals.Closed("won");
  const uint64_t decided = won + totals.Closed("lost");
  if (decided == 0) {
    return std::nullopt;
  }
  return static_cast<double>(won) / static_cast<double>(decided);
}

std::string Labels(std::initializer_list<std::pair<const char*, std::string_view>> labels) {
  std::string out;
  for (const auto& [name, value] : labels) {
    if (!out.empty()) {
      out.push_back(',');
    }
    out.append(name).append("=\"").append(PromLabelValue(value)).push_back('"');
  }
  return out;
}

}  // namespace

void AppendFunnelJson(const FunnelWindow& window, const FunnelStageCounts& stages,
                      const FunnelTotals& totals, std::string* out) {
  out->append("{\"since\":");
  Time(window.since, out);
  out->append(",\"until\":");
  Time(window.until, out);
  out->append(",\"team\":");
  if (window.team.empty()) {
    out->append("null");
  } else {
    AppendJsonString(window.team, out);
  }
  out->append(",\"stages\":{");
  for (size_t i = 0; i < stages.size(); ++i) {
    if (i > 0) {
      out->push_back(',');
    }
    Key(stages[i].first, out);
    AppendJsonNumber(static_cast<double>(stages[i].second), out);
  }
  out->append("},\"transitions\":{");
  bool first = true;
  for (const auto& [name, n] : totals.transitions) {
    if (!first) {
      out->push_back(',');
    }
    first = false;
    Key(name, out);
    AppendJsonNumber(static_cast<double>(n), out);
  }
  out->push_back('}');
  Count("routed", static_cast<double>(totals.routed), out);
  Count("reassigned", static_cast<double>(totals.reassigned), out);
  Count("escalated", static_cast<double>(totals.escalated), out);
  Count("accepted", static_cast<double>(totals.accepted), out);
  Count("rejected", static_cast<double>(totals.rejected), out);
  Count("unrouted", static_cast<double>(totals.unrouted), out);
  out->append(",\"closed\":{");
  first = true;
  for (const auto& [outcome, n] : ClosedWithEveryOutcome(totals)) {
    if (!first) {
      out->push_back(',');
    }
    first = false;
    Key(outcome, out);
    AppendJsonNumber(static_cast<double>(n), out);
  }
  out->push_back('}');
  Count("won_amount", totals.won_amount, out);
  out->append(",\"speed_to_lead_ms\":{\"routed\":");
  Percentiles(totals.to_routed, out);
  out->append(",\"accepted\":");
  Percentiles(totals.to_accepted, out);
  out->append("},\"reps\":[");
  first = true;
  for (const auto& [rep, r] : totals.reps) {
    if (!first) {
      out->push_back(',');
    }
    first = false;
    out->append("{\"rep\":");
    AppendJsonString(rep, out);
    out->append(",\"team\":");
    if (r.team.empty()) {
      out->append("null");
    } else {
      AppendJsonString(r.team, out);
    }
    Count("routed", static_cast<double>(r.routed), out);
    Count("accepted", static_cast<double>(r.accepted), out);
    Count("won", static_cast<double>(r.won), out);
    Count("lost", static_cast<double>(r.lost), out);
    Count("won_amount", r.won_amount, out);
    out->push_back('}');
  }
  out->append("],\"rules\":[");
  const std::optional<double> overall = OverallWinRate(totals);
  first = true;
  for (const auto& [rule, r] : totals.rules) {
    if (!first) {
      out->push_back(',');
    }
    first = false;
    out->append("{\"rule\":");
    AppendJsonString(rule.rule, out);
    out->append(",\"score\":");
    AppendJsonString(rule.score, out);
    Count("closed", static_cast<double>(r.closed), out);
    Count("won", static_cast<double>(r.won), out);
    const double win_rate = static_cast<double>(r.won) / static_cast<double>(r.closed);
    Count("win_rate", win_rate, out);
    if (overall.has_value() && *overall > 0) {
      Count("lift", win_rate / *overall, out);
    }
    Count("won_amount", r.won_amount, out);
    out->push_back('}');
  }
  out->append("]}");
}

void AppendFunnelPrometheus(const FunnelStageCounts& stages, const FunnelTotals& totals,
                            std::string* out) {
  AppendPromHeader("handoff_funnel_stage_leads", "gauge", "Leads in each stage now.", out);
  for (const auto& [stage, n] : stages) {
    AppendPromLine("handoff_funnel_stage_leads", Labels({{"stage", stage}}), static_cast<double>(n),
                   out);
  }
  AppendPromHeader("handoff_funnel_transitions_total", "counter", "Stage records, by from and to.",
                   out);
  for (const auto& [name, n] : totals.transitions) {
    const size_t gt = name.find('>');
    AppendPromLine("handoff_funnel_transitions_total",
                   Labels({{"from", std::string_view(name).substr(0, gt)},
                           {"to", std::string_view(name).substr(gt + 1)}}),
                   static_cast<double>(n), out);
  }
  AppendPromHeader("handoff_funnel_records_total", "counter", "Routing and sales records, by kind.",
                   out);
  for (const auto& [kind, n] : {std::pair<const char*, uint64_t>{"routed", totals.routed},
                                {"reassigned", totals.reassigned},
                                {"escalated", totals.escalated},
                                {"accepted", totals.accepted},
                                {"rejected", totals.rejected},
                                {"unrouted", totals.unrouted}}) {
    AppendPromLine("handoff_funnel_records_total", Labels({{"kind", kind}}), static_cast<double>(n),
                   out);
  }
  AppendPromHeader("handoff_funnel_closed_total", "counter", "Closed leads, by outcome.", out);
  for (const auto& [outcome, n] : ClosedWithEveryOutcome(totals)) {
    AppendPromLine("handoff_funnel_closed_total", Labels({{"outcome", outcome}}),
                   static_cast<double>(n), out);
  }
  AppendPromHeader("handoff_funnel_won_amount_total", "counter",
                   "Deal value of the leads closed won.", out);
  AppendPromLine("handoff_funnel_won_amount_total", "", totals.won_amount, out);
  AppendPromHeader("handoff_funnel_speed_to_lead_ms", "summary",
                   "Milliseconds from the qualifying event to routed (phase routed) and from "
                   "routed to accepted (phase accepted).",
                   out);
  for (const auto& [phase, h] :
       {std::pair<const char*, const LatencyHistogram*>{"routed", &totals.to_routed},
        {"accepted", &totals.to_accepted}}) {
    for (const Quantile& quantile : kQuantiles) {
      if (std::optional<double> v = h->Quantile(quantile.q); v.has_value()) {
        AppendPromLine("handoff_funnel_speed_to_lead_ms",
                       Labels({{"phase", phase}, {"quantile", quantile.label}}), Rounded(*v), out);
      }
    }
    AppendPromLine("handoff_funnel_speed_to_lead_ms_count", Labels({{"phase", phase}}),
                   static_cast<double>(h->count()), out);
  }
  AppendPromHeader("handoff_funnel_rep_total", "counter",
                   "Per rep: routed, accepted, won and lost leads.", out);
  for (const auto& [rep, r] : totals.reps) {
    for (const auto& [what, n] : {std::pair<const char*, uint64_t>{"routed", r.routed},
                                  {"accepted", r.accepted},
                                  {"won", r.won},
                                  {"lost", r.lost}}) {
      AppendPromLine("handoff_funnel_rep_total",
                     Labels({{"rep", rep}, {"team", r.team}, {"what", what}}),
                     static_cast<double>(n), out);
    }
  }
  AppendPromHeader("handoff_funnel_rep_won_amount_total", "counter",
                   "Per rep: deal value of the leads closed won.", out);
  for (const auto& [rep, r] : totals.reps) {
    AppendPromLine("handoff_funnel_rep_won_amount_total", Labels({{"rep", rep}, {"team", r.team}}),
                   r.won_amount, out);
  }
  const std::optional<double> overall = OverallWinRate(totals);
  AppendPromHeader("handoff_funnel_rule_closed_total", "counter",
                   "Per rule: leads it had scored when routed, closed won or lost.", out);
  for (const auto& [rule, r] : totals.rules) {
    AppendPromLine("handoff_funnel_rule_closed_total",
                   Labels({{"rule", rule.rule}, {"score", rule.score}}),
                   static_cast<double>(r.closed), out);
  }
  AppendPromHeader("handoff_funnel_rule_won_total", "counter",
                   "Per rule: leads it had scored when routed, closed won.", out);
  for (const auto& [rule, r] : totals.rules) {
    AppendPromLine("handoff_funnel_rule_won_total",
                   Labels({{"rule", rule.rule}, {"score", rule.score}}), static_cast<double>(r.won),
                   out);
  }
  AppendPromHeader("handoff_funnel_rule_won_amount_total", "counter",
                   "Per rule: deal value of the leads it had scored, closed won.", out);
  for (const auto& [rule, r] : totals.rules) {
    AppendPromLine("handoff_funnel_rule_won_amount_total",
                   Labels({{"rule", rule.rule}, {"score", rule.score}}), r.won_amount, out);
  }
  AppendPromHeader("handoff_funnel_rule_win_rate", "gauge",
                   "Per rule: won / closed among the leads it had scored when routed.", out);
  for (const auto& [rule, r] : totals.rules) {
    if (r.closed > 0) {
      AppendPromLine("handoff_funnel_rule_win_rate",
                     Labels({{"rule", rule.rule}, {"score", rule.score}}),
                     static_cast<double>(r.won) / static_cast<double>(r.closed), out);
    }
  }
  AppendPromHeader("handoff_funnel_rule_lift", "gauge",
                   "Per rule: its win rate over the win rate of every closed lead.", out);
  if (overall.has_value() && *overall > 0) {
    for (const auto& [rule, r] : totals.rules) {
      const double win_rate = static_cast<double>(r.won) / static_cast<double>(r.closed);
      AppendPromLine("handoff_funnel_rule_lift",
                     Labels({{"rule", rule.rule}, {"score", rule.score}}), win_rate / *overall,
                     out);
    }
  }
}

}  // namespace handoff
