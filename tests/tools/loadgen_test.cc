// `handoff loadgen` (tools/loadgen.cc): the event stream, percentiles, and the report.
#include "tools/loadgen.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include "base/json_parser.h"
#include "ingest/event_parser.h"
#include "tests/testutil.h"
#include "tools/net.h"
#include "tools/tail.h"

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

// The lead number of a loadgen lead id "lg-RUN-N".
uint64_t LeadNumber(const std::string& text) {
  const size_t at = text.find("\"userId\":\"") + 10;
  const std::string lead = text.substr(at, text.find('"', at) - at);
  return std::stoull(lead.substr(lead.rfind('-') + 1));
}

std::string What(const std::string& text) {
  Value v;
  JsonParser parser;
  EXPECT_OK(parser.Parse(std::string_view(text).substr(0, text.size() - 1), &v));
  std::string what = v.Find("type")->as_string();
  if (const Value* ev = v.Find("event"); ev != nullptr) {
    what += ":" + ev->as_string();
  }
  return what;
}

TEST(LoadgenStreamTest, OneEventInKQualifiesAFreshLead) {
  // One connection, 20 noise leads, one event in 5 qualifies, 4 noise events per lead.
  LoadgenStream s("r", 0, 1, 20, 5, 4, 2);
  std::map<uint64_t, std::vector<std::string>> qualifying;
  uint64_t triggers = 0;
  const std::vector<Line> lines = Take(&s, 100);  // 20 cycles of 5
  for (size_t n = 0; n < lines.size(); ++n) {
    const Line& l = lines[n];
    const uint64_t lead = LeadNumber(l.text);
    const std::string what = What(l.text);
    EXPECT_EQ(l.emitted.qualifying, lead >= 20) << l.text;
    if (l.emitted.qualifying) {
      qualifying[lead].push_back(what);
    } else {
      EXPECT_TRUE(what.starts_with("page") || what == "track:Email Link Clicked" ||
                  what == "track:Feature Viewed")
          << l.text;
    }
    EXPECT_EQ(l.emitted.trigger, what == "track:Trial Started") << l.text;
    if (l.emitted.trigger) {
      ++triggers;
      EXPECT_EQ(n % 5, 3u);             // the third step sits at 2K/3 of its cycle
      EXPECT_EQ(lead, 20 + n / 5 - 2);  // the lead that began two cycles earlier
    }
  }
  EXPECT_EQ(triggers, 18u);  // every cycle but the first two
  ASSERT_EQ(qualifying.size(), 20u);
  for (const auto& [lead, events] : qualifying) {
    if (lead < 20 + 18) {
      EXPECT_EQ(events, (std::vector<std::string>{"identify", "track:Demo Requested",
                                                  "track:Trial Started"}))
          << lead;
    }
  }
}

TEST(LoadgenStreamTest, EveryThirdEventQualifiesWithQualifyEveryThree) {
  LoadgenStream s("r", 0, 1, 10, 3, 1, 64);
  const std::vector<Line> lines = Take(&s, 300);
  for (size_t n = 6; n < lines.size(); ++n) {  // after two cycles of start-up
    EXPECT_TRUE(lines[n].emitted.qualifying) << n;
    EXPECT_EQ(lines[n].emitted.trigger, n % 3 == 2) << n;
  }
}

TEST(LoadgenStreamTest, NoQualifyingEventsWithQualifyEveryZero) {
  LoadgenStream s("r", 0, 1, 10, 0, 5, 4);
  std::set<uint64_t> leads;
  for (const Line& l : Take(&s, 100)) {
    EXPECT_FALSE(l.emitted.qualifying) << l.text;
    leads.insert(LeadNumber(l.text));
  }
  EXPECT_EQ(leads.size(), 10u);
}

TEST(LoadgenStreamTest, ConnectionsSplitTheLeads) {
  LoadgenStream c0("r", 0, 3, 10, 0, 4, 64);
  LoadgenStream c2("r", 2, 3, 10, 3, 4, 64);
  EXPECT_EQ(c0.lead_count(), 4u);  // 0 3 6 9
  EXPECT_EQ(c2.lead_count(), 3u);  // 2 5 8
  std::set<uint64_t> noise;
  std::set<uint64_t> qualifying;
  for (const Line& l : Take(&c2, 30)) {
    (l.emitted.qualifying ? qualifying : noise).insert(LeadNumber(l.text));
    EXPECT_THAT(l.message_id, ::testing::StartsWith("r-2-"));
  }
  EXPECT_EQ(noise, (std::set<uint64_t>{2, 5, 8}));  // the start-up cycles' three noise events
  // Qualifying leads come after the noise leads, in this connection's stride.
  EXPECT_EQ(qualifying, (std::set<uint64_t>{12, 15, 18, 21, 24, 27, 30, 33, 36, 39}));
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
  r.write_interval_ms = 0.5;
  r.sent = 2000;
  r.send_seconds = 2;
  r.acked = 2000;
  r.ack_seconds = 2.5;
  r.expected_routed = 10;
  r.routed = 10;
  r.latency_ms = ComputeLatency({1, 2, 3});
  const std::string text = FormatLoadgenReport(r, false);
  EXPECT_THAT(text, HasSubstr("for 2.0 s, a write every 0.50 ms per connection"));
  EXPECT_THAT(text, HasSubstr("sent      2000 events in 2.00 s (1000 events/s)"));
  EXPECT_THAT(text, HasSubstr("achieved 800 events/s"));
  EXPECT_THAT(text, HasSubstr("routed    10 of 10 qualified leads"));
  EXPECT_THAT(text, HasSubstr("p50 2.00  p90 3.00  p99 3.00  max 3.00  (n=3)"));
  Value v;
  JsonParser parser;
  ASSERT_OK(parser.Parse(FormatLoadgenReport(r, true), &v));
  EXPECT_EQ(v.Find("achieved_rate")->as_number(), 800);
  EXPECT_EQ(v.Find("routed")->as_number(), 10);
  EXPECT_EQ(v.Find("write_interval_ms")->as_number(), 0.5);
  EXPECT_EQ(v.Find("latency_ms")->Find("p90")->as_number(), 3);
}

TEST(LoadgenCommandTest, UsageErrors) {
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(LoadgenCommand({}, out, err), 2);
  EXPECT_EQ(LoadgenCommand({"--rate", "0", "--duration", "1"}, out, err), 2);
  EXPECT_EQ(LoadgenCommand({"--rate", "10", "--duration", "1", "--qualify-every", "2"}, out, err),
            2);
  EXPECT_EQ(
      LoadgenCommand({"--rate", "10", "--duration", "1", "--leads", "1", "--connections", "2"}, out,
                     err),
      2);
  EXPECT_EQ(
      LoadgenCommand({"--rate", "10", "--duration", "1", "--write-interval-ms", "0"}, out, err), 2);
  std::ostringstream help;
  EXPECT_EQ(LoadgenCommand({"--help"}, help, err), 0);
  EXPECT_THAT(help.str(), HasSubstr("--qualify-every"));
  EXPECT_THAT(help.str(), HasSubstr("--write-interval-ms"));
}

}  // namespace
}  // namespace handoff
