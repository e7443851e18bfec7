#include "funnel/funnel_report.h"

#include <gtest/gtest.h>

#include <string>

#include "base/prometheus_text.h"

namespace handoff {
namespace {

FunnelTotals Sample() {
  FunnelTotals t;
  FunnelFact stage;
  stage.kind = OutboxKind::kStage;
  stage.from = "new";
  stage.to = "sql";
  t.Add(stage);
  FunnelFact routed;
  routed.kind = OutboxKind::kRouted;
  routed.rep = "alice";
  routed.team = "enterprise";
  routed.latency_ms = 0.5;
  t.Add(routed);
  FunnelFact won;
  won.kind = OutboxKind::kClosed;
  won.rep = "alice";
  won.team = "enterprise";
  won.outcome = "won";
  won.amount = 1000;
  won.rules = {{"pricing", "engagement"}};
  t.Add(won);
  FunnelFact lost = won;
  lost.outcome = "lost";
  lost.rules = {{"webinar", "engagement"}};
  t.Add(lost);
  return t;
}

TEST(FunnelReportTest, JsonHasEveryFieldOfSpec12) {
  FunnelWindow window;
  window.since = 1767225600;
  window.team = "enterprise";
  std::string json;
  AppendFunnelJson(window, {{"new", 5}, {"sql", 1}}, Sample(), &json);
  EXPECT_EQ(
      json,
      R"({"since":"2026-01-01T00:00:00.000Z","until":null,"team":"enterprise",)"
      R"("stages":{"new":5,"sql":1},"transitions":{"new>sql":1},"routed":1,"reassigned":0,)"
      R"("escalated":0,"accepted":0,"rejected":0,"unrouted":0,)"
      R"("closed":{"lost":1,"merged":0,"recycled":0,"won":1},"won_amount":1000,)"
      R"("speed_to_lead_ms":{"routed":{"p50":0.5,"p90":0.5,"p99":0.5,"count":1},)"
      R"("accepted":{"p50":null,"p90":null,"p99":null,"count":0}},)"
      R"("reps":[{"rep":"alice","team":"enterprise","routed":1,"accepted":0,"won":1,"lost":1,)"
      R"("won_amount":1000}],)"
      R"("rules":[{"rule":"pricing","score":"engagement","closed":1,"won":1,"win_rate":1,)"
      R"("lift":2,"won_amount":1000},)"
      R"({"rule":"webinar","score":"engagement","closed":1,"won":0,"win_rate":0,"lift":0,)"
      R"("won_amount":0}]})");
}

TEST(FunnelReportTest, NoLiftWhenNothingWasWon) {
  FunnelTotals t;
  FunnelFact lost;
  lost.kind = OutboxKind::kClosed;
  lost.outcome = "lost";
  lost.rules = {{"r", "s"}};
  t.Add(lost);
  std::string json;
  AppendFunnelJson({}, {}, t, &json);
  EXPECT_NE(json.find(R"({"rule":"r","score":"s","closed":1,"won":0,"win_rate":0,"won_amount":0})"),
            std::string::npos)
      << json;
}

TEST(FunnelReportTest, PrometheusLines) {
  std::string text;
  AppendFunnelPrometheus({{"new", 5}}, Sample(), &text);
  for (const char* line : {
           "handoff_funnel_stage_leads{stage=\"new\"} 5\n",
           "handoff_funnel_transitions_total{from=\"new\",to=\"sql\"} 1\n",
           "handoff_funnel_records_total{kind=\"routed\"} 1\n",
           "handoff_funnel_closed_total{outcome=\"won\"} 1\n",
           "handoff_funnel_won_amount_total 1000\n",
           "handoff_funnel_speed_to_lead_ms{phase=\"routed\",quantile=\"0.5\"} 0.5",
           "handoff_funnel_speed_to_lead_ms_count{phase=\"accepted\"} 0\n",
           "handoff_funnel_rep_total{rep=\"alice\",team=\"enterprise\",what=\"won\"} 1\n",
           "handoff_funnel_rule_closed_total{rule=\"pricing\",score=\"engagement\"} 1\n",
           "handoff_funnel_rule_win_rate{rule=\"pricing\",score=\"engagement\"} 1\n",
           "handoff_funnel_rule_lift{rule=\"pricing\",score=\"engagement\"} 2\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

}  // namespace
}  // namespace handoff
