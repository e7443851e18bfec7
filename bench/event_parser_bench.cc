// Event parser throughput: parse + validate typical events with one reused parser and Event,
// as an ingest thread does. Each benchmark checks the parse result once before timing.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/timestamp.h"
#include "ingest/event_parser.h"

namespace handoff {
namespace {

// A typical ~300-byte track event from a browser tracker.
constexpr std::string_view kTrackEvent =
    R"({"type":"track","event":"Pricing Page Viewed","userId":"user-48213",)"
    R"("anonymousId":"7f3c9a2e-51d4-4b8e-9a61-0c2f7d9e4b13","messageId":"msg-2026-11-22-000183",)"
    R"("timestamp":"2026-11-22T10:00:00.123Z","properties":{"plan":"enterprise","seats":25,)"
    R"("annual":true,"referrer":"https://www.example.com/blog"},"context":{"ip":"203.0.113.7",)"
    R"("page":{"path":"/pricing"},"userAgent":"Mozilla/5.0"}})";

// The same event as a Segment library sends it, with the fields Handoff ignores.
constexpr std::string_view kSegmentEvent =
    R"({"type":"track","event":"Item Purchased","userId":"019mr8mf4r",)"
    R"("properties":{"revenue":39.95,"shippingMethod":"2-day","items":[{"sku":"a-1","qty":2},)"
    R"({"sku":"b-7","qty":1}]},"integrations":{},"messageId":"node-next-1700000000000-6f2a1c",)"
    R"("timestamp":"2026-11-22T10:00:00.123Z",)"
    R"("context":{"library":{"name":"@segment/analytics-node","version":"1.1.0"}},)"
    R"("_metadata":{"nodeVersion":"18.0.0","jsRuntime":"node"},)"
    R"("sentAt":"2026-11-22T10:00:01.000Z"})";

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "benchmark self-check failed: %s\n", what);
    std::abort();
  }
}

void RunParse(benchmark::State& state, std::string_view json) {
  EventParser parser;
  Event event;
  ParseError err;
  Check(parser.Parse(json, &event, &err), err.message.c_str());
  Check(event.type == EventType::kTrack && !event.name.empty() && event.has_timestamp &&
            event.properties.is_object() && event.context.is_object(),
        "parsed fields");
  for (auto _ : state) {
    const bool ok = parser.Parse(json, &event, &err);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(event);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(json.size()));
  state.counters["event_bytes"] = static_cast<double>(json.size());
}

void BM_ParseTrackEvent(benchmark::State& state) { RunParse(state, kTrackEvent); }
BENCHMARK(BM_ParseTrackEvent);

void BM_ParseSegmentEvent(benchmark::State& state) { RunParse(state, kSegmentEvent); }
BENCHMARK(BM_ParseSegmentEvent);

// The rejection path: an event missing its name (error message built each time).
void BM_RejectEvent(benchmark::State& state) {
  const std::string_view json =
      R"({"type":"track","userId":"user-48213","messageId":"m-1","properties":{"plan":"pro"}})";
  EventParser parser;
  Event event;
  ParseError err;
  Check(!parser.Parse(json, &event, &err) && err.code == EventError::kMissingField, "rejects");
  for (auto _ : state) {
    const bool ok = parser.Parse(json, &event, &err);
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(json.size()));
}
BENCHMARK(BM_RejectEvent);

void BM_ParseRfc3339(benchmark::State& state) {
  EpochSeconds t = 0;
  Check(ParseRfc3339("2026-11-22T10:00:00.123+02:00", &t), "rfc3339");
  for (auto _ : state) {
    const bool ok = ParseRfc3339("2026-11-22T10:00:00.123+02:00", &t);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(t);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseRfc3339);

void BM_FormatRfc3339Millis(benchmark::State& state) {
  std::string out;
  Check(FormatRfc3339Millis(1795341600.123) == "2026-11-22T10:00:00.123Z", "format");
  for (auto _ : state) {
    out.clear();
    AppendRfc3339Millis(1795341600.123, &out);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FormatRfc3339Millis);

}  // namespace
}  // namespace handoff
