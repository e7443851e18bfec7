// `handoff loadgen` (tools/loadgen.cc): the event stream, percentiles, and the report.
#include "tools/loadgen.cc"  // NOLINT(build/include)

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include "base/json_parser.h"
#include "ingest/event_parser.h"
#include "tests/testutil.h"
#include "tools/net.cc"   // NOLINT(build/include)
#include "tools/tail.cc"  // NOLINT(build/include)

namespace handoff {
namespace {

using ::testing::HasSubstr;

struct Line {
  std::string text;
  std::string message_id;
  LoadgenStream::Emitted emitted;
};

std::vector<Line> Take(LoadgenStream* s, size_t n) {
  std::vector<Line> out;
  for (size_t i = 0; i < n; ++i) {
    Line l;
    l.emitted = s->Next(&l.text, &l.message_id);
    out.push_back(std::move(l));
  }
  return out;
}

TEST(LoadgenStreamTest, EveryLineIsAValidEventWithAUniqueMessageId) {
  LoadgenStream s("run1", 0, 1, 50, 5, 6, 8);
  EventParser parser;
  std::set<std::string> ids;
  for (const Line& l : Take(&s, 1000)) {
    ASSERT_EQ(l.text.back(), '\n');
    Event e;
    ParseError err;
    ASSERT_TRUE(parser.Parse(std::string_view(l.text).substr(0, l.text.size() - 1), &e, &err))
        << l.text << ": " << err.message;
    EXPECT_EQ(e.message_id, l.message_id);
    EXPECT_TRUE(ids.insert(l.message_id).second) << l.message_id;
  }
}

TEST(LoadgenStreamTest, QualifyingLeadsGetTheQualifyingSequenceFirst) {
  // One connection, 20 leads, every 4th qualifies, 5 events per lead, a window of 2.
  LoadgenStream s("r", 0, 1, 20, 4, 5, 2);
  std::map<std::string, std::vector<std::string>> by_lead;
  uint64_t triggers = 0;
  JsonParser parser;
  for (const Line& l : Take(&s, 100)) {  // exactly 20 leads x 5 events
    Value v;
    ASSERT_OK(parser.Parse(std::string_view(l.text).substr(0, l.text.size() - 1), &v));
    const std::string lead = v.Find("userId")->as_string();
    std::string what = v.Find("type")->as_string();
    if (const Value* ev = v.Find("event"); ev != nullptr) {
      what += ":" + ev->as_string();
    }
    by_lead[lead].push_back(what);
    triggers += l.emitted.trigger ? 1 : 0;
    EXPECT_EQ(l.emitted.trigger, what == "track:Trial Started");
  }
  ASSERT_EQ(by_lead.size(), 20u);
  EXPECT_EQ(triggers, 5u);  // leads 0, 4, 8, 12, 16
  for (const auto& [lead, events] : by_lead) {
    ASSERT_EQ(events.size(), 5u) << lead;
    const uint64_t n = std::stoull(lead.substr(lead.rfind('-') + 1));
    if (n % 4 == 0) {
      EXPECT_EQ(events[0], "identify");
      EXPECT_EQ(events[1], "page");
      EXPECT_EQ(events[2], "track:Demo Requested");
      EXPECT_EQ(events[3], "track:Trial Started");
    } else {
      EXPECT_NE(events[0], "identify");
    }
  }
  // After every lead had its turn, leads come back with noise only.
  for (const Line& l : Take(&s, 100)) {
    EXPECT_FALSE(l.emitted.qualifying) << l.text;
  }
}

TEST(LoadgenStreamTest, ConnectionsSplitTheLeads) {
  LoadgenStream c0("r", 0, 3, 10, 1, 4, 64);
  LoadgenStream c2("r", 2, 3, 10, 1, 4, 64);
  EXPECT_EQ(c0.lead_count(), 4u);  // 0 3 6 9
  EXPECT_EQ(c2.lead_count(), 3u);  // 2 5 8
  std::set<std::string> leads;
  for (const Line& l : Take(&c2, 12)) {
    size_t at = l.text.find("\"userId\":\"") + 10;
    leads.insert(l.text.substr(at, l.text.find('"', at) - at));
    EXPECT_THAT(l.message_id, ::testing::StartsWith("r-2-"));
  }
  EXPECT_EQ(leads, (std::set<std::string>{"lg-r-2", "lg-r-5", "lg-r-8"}));
}

TEST(PercentileTest, NearestRank) {
  std::vector<double> v;
  EXPECT_EQ(Percentile(v, 50), 0);
  for (int i = 1; i <= 100; ++i) {
    v.push_back(i);
  }
  EXPECT_EQ(Percentile(v, 50), 50);
  EXPECT_EQ(Percentile(v, 90), 90);
  EXPECT_EQ(Percentile(v, 99), 99);
  EXPECT_EQ(Percentile(v, 100), 100);
  EXPECT_EQ(Percentile(v, 0), 1);
  EXPECT_EQ(Percentile({7}, 99), 7);
  EXPECT_EQ(Percentile({1, 2, 3}, 50), 2);
  EXPECT_EQ(Percentile({1, 2, 3, 4}, 50), 2);
  LatencyStats s = ComputeLatency({5, 1, 4, 2, 3});
  EXPECT_EQ(s.count, 5u);
  EXPECT_EQ(s.p50, 3);
  EXPECT_EQ(s.p99, 5);
  EXPECT_EQ(s.max, 5);
}

TEST(LoadgenReportTest, TextAndJson) {
  LoadgenReport r;
  r.run_id = "abc";
  r.offered_rate = 1000;
  r.duration = 2;
  r.connections = 2;
  r.leads = 100;
  r.qualify_every = 10;
  r.sent = 2000;
  r.send_seconds = 2;
  r.acked = 2000;
  r.ack_seconds = 2.5;
  r.expected_routed = 10;
  r.routed = 10;
  r.latency_ms = ComputeLatency({1, 2, 3});
  const std::string text = FormatLoadgenReport(r, false);
  EXPECT_THAT(text, HasSubstr("sent      2000 events in 2.00 s (1000 events/s)"));
  EXPECT_THAT(text, HasSubstr("achieved 800 events/s"));
  EXPECT_THAT(text, HasSubstr("routed    10 of 10 qualified leads"));
  EXPECT_THAT(text, HasSubstr("p50 2.00  p90 3.00  p99 3.00  max 3.00  (n=3)"));
  Value v;
  JsonParser parser;
  ASSERT_OK(parser.Parse(FormatLoadgenReport(r, true), &v));
  EXPECT_EQ(v.Find("achieved_rate")->as_number(), 800);
  EXPECT_EQ(v.Find("routed")->as_number(), 10);
  EXPECT_EQ(v.Find("latency_ms")->Find("p90")->as_number(), 3);
}

TEST(LoadgenCommandTest, UsageErrors) {
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(LoadgenCommand({}, out, err), 2);
  EXPECT_EQ(LoadgenCommand({"--rate", "0", "--duration", "1"}, out, err), 2);
  EXPECT_EQ(
      LoadgenCommand({"--rate", "10", "--duration", "1", "--leads", "1", "--connections", "2"}, out,
                     err),
      2);
  std::ostringstream help;
  EXPECT_EQ(LoadgenCommand({"--help"}, help, err), 0);
  EXPECT_THAT(help.str(), HasSubstr("--qualify-every"));
}

}  // namespace
}  // namespace handoff
