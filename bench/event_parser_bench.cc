// Event parser throughput: parse + validate typical events with one reused parser and Event,
// as an ingest thread does (one NDJSON line at a time, or a whole /v1/batch body). Each
// benchmark checks the parse result once before timing.
#include <benchmark/benchmark.h>

#include <cmath>
#include <string>
#include <vector>

#include "base/timestamp.h"
#include "bench/bench_fixtures.h"
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

using bench::Verify;

void RunParse(benchmark::State& state, std::string_view json, std::string_view name,
              std::string_view user_id, std::string_view message_id) {
  EventParser parser;
  Event event;
  ParseError err;
  if (!Verify(state, parser.Parse(json, &event, &err), "event parses") ||
      !Verify(state,
              event.type == EventType::kTrack && event.name == name && event.user_id == user_id &&
                  event.message_id == message_id && event.has_timestamp &&
                  std::abs(event.timestamp - 1795341600.123) < 1e-6 &&
                  event.properties.is_object() && event.context.is_object(),
              "parsed fields")) {
    return;
  }
  for (auto _ : state) {
    const bool ok = parser.Parse(json, &event, &err);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(event);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(json.size()));
  state.counters["event_bytes"] = static_cast<double>(json.size());
}

void BM_ParseTrackEvent(benchmark::State& state) {
  RunParse(state, kTrackEvent, "Pricing Page Viewed", "user-48213", "msg-2026-11-22-000183");
}
BENCHMARK(BM_ParseTrackEvent);

void BM_ParseSegmentEvent(benchmark::State& state) {
  RunParse(state, kSegmentEvent, "Item Purchased", "019mr8mf4r", "node-next-1700000000000-6f2a1c");
}
BENCHMARK(BM_ParseSegmentEvent);

// The rejection path: an event missing its name (error message built each time).
void BM_RejectEvent(benchmark::State& state) {
  const std::string_view json =
      R"({"type":"track","userId":"user-48213","messageId":"m-1","properties":{"plan":"pro"}})";
  EventParser parser;
  Event event;
  ParseError err;
  if (!Verify(state,
              !parser.Parse(json, &event, &err) && err.code == EventError::kMissingField &&
                  err.message_id == "m-1",
              "rejects with missing_field")) {
    return;
  }
  for (auto _ : state) {
    const bool ok = parser.Parse(json, &event, &err);
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(json.size()));
}
BENCHMARK(BM_RejectEvent);

// A /v1/batch body of 100 events as analytics-node sends it (HTTP ingest): one ParseBatch call.
void BM_ParseBatch100(benchmark::State& state) {
  constexpr int kEvents = 100;
  std::string body = R"({"batch":[)";
  for (int i = 0; i < kEvents; ++i) {
    body += i == 0 ? "" : ",";
    body += R"({"type":"track","event":"Item Purchased","userId":"user-)" + std::to_string(i) +
            R"(","properties":{"revenue":39.95,"shippingMethod":"2-day"},"integrations":{},)"
            R"("messageId":"node-next-1700000000000-)" +
            std::to_string(i) +
            R"(","timestamp":"2026-11-22T10:00:00.123Z",)"
            R"("context":{"library":{"name":"@segment/analytics-node","version":"1.1.0"}},)"
            R"("_metadata":{"nodeVersion":"18.0.0","jsRuntime":"node"}})";
  }
  body += R"(],"sentAt":"2026-11-22T10:00:01.000Z","writeKey":"k"})";
  EventParser parser;
  std::vector<Event> events;
  std::vector<BatchError> errors;
  ParseError err;
  if (!Verify(state, parser.ParseBatch(body, &events, &errors, &err), "batch parses") ||
      !Verify(state,
              events.size() == kEvents && errors.empty() && events[99].user_id == "user-99" &&
                  events[99].message_id == "node-next-1700000000000-99" &&
                  events[99].name == "Item Purchased" && events[99].context.is_object(),
              "100 events, fields")) {
    return;
  }
  for (auto _ : state) {
    const bool ok = parser.ParseBatch(body, &events, &errors, &err);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(events.data());
  }
  state.SetItemsProcessed(state.iterations() * kEvents);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_ParseBatch100);

void BM_ParseRfc3339(benchmark::State& state) {
  EpochSeconds t = 0;
  if (!Verify(
          state,
          ParseRfc3339("2026-11-22T10:00:00.123+02:00", &t) && std::abs(t - 1795334400.123) < 1e-6,
          "2026-11-22T10:00:00.123+02:00 is 08:00:00.123Z")) {
    return;
  }
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
  AppendRfc3339Millis(1795341600.123, &out);
  if (!Verify(state, out == "2026-11-22T10:00:00.123Z", "formats")) {
    return;
  }
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
