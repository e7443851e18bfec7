// `handoff loadgen`: synthetic events at a target rate; reports throughput and event-to-routed
// latency (SPEC 11).
//
//   handoff loadgen --rate R --duration S [--leads N] [--connections C] [--qualify-every K]
//
// Events go over C ingest connections, each paced to R/C events/s in small bursts (every 2 ms at
// most). Leads are fed a few at a time (a window of up to 64 leads per connection, each getting
// ceil(R*S/N) events, at least 4), so new leads start throughout the run rather than all at once.
// Every K-th lead gets, as its first four events, a sequence that qualifies it for routing under
// rules/examples/default.yaml: identify (senior title + work email: fit 30), a pricing page (+10),
// Demo Requested (+50), Trial Started (+40): engagement 100, so it enters stage sql and is routed
// by its fourth event. Other events are page views and clicks that score too little to qualify.
// Lead ids and messageIds carry a run id, so every run starts from fresh leads.
//
// Meanwhile a subscriber with kinds ["routed"] matches each routed record's `trigger` (the
// messageId of the event that caused it) to the time that event was written to the socket:
// latency = record received - event sent, on one monotonic clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace handoff {

// The deterministic event stream of one connection.
class LoadgenStream {
 public:
  // Events of a qualifying lead that make it qualify (see above); the last one triggers routing.
  static constexpr uint64_t kQualifyingSteps = 4;

  // This stream owns leads c, c+C, c+2C, ... below `leads` (c = `connection`, C =
  // `connections`). `qualify_every` 0: no lead qualifies.
  LoadgenStream(std::string run_id, uint64_t connection, uint64_t connections, uint64_t leads,
                uint64_t qualify_every, uint64_t events_per_lead, size_t window);

  struct Emitted {
    bool qualifying = false;  // one of the qualifying steps: its send time is recorded
    bool trigger = false;     // the last qualifying step: a routed record is expected
  };
  // Appends the next event's NDJSON line (with its '\n') to *out and sets *message_id.
  Emitted Next(std::string* out, std::string* message_id);

  uint64_t lead_count() const { return lead_count_; }

 private:
  struct Slot {
    uint64_t lead = 0;
    uint64_t step = 0;       // the lead's next event
    uint64_t remaining = 0;  // events left for this lead in this slot; 0: pick a new lead
  };
  const std::string run_id_;
  const uint64_t connection_;
  const uint64_t connections_;
  const uint64_t qualify_every_;
  const uint64_t events_per_lead_;
  uint64_t lead_count_;
  std::vector<Slot> slots_;
  uint64_t next_lead_ = 0;  // leads handed to slots so far (wraps over lead_count_)
  uint64_t emitted_ = 0;
};

// The id of lead number `lead` of run `run_id`: "lg-RUN-LEAD".
std::string LoadgenLeadId(std::string_view run_id, uint64_t lead);

struct LatencyStats {
  size_t count = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double max = 0;
};

// Nearest-rank percentile (`p` in 0..100) of ascending `sorted`; 0 when empty.
double Percentile(const std::vector<double>& sorted, double p);
// Sorts `samples` and summarises them.
LatencyStats ComputeLatency(std::vector<double> samples);

struct LoadgenReport {
  std::string run_id;
  double offered_rate = 0;  // events/s asked for
  double duration = 0;      // s asked for
  uint64_t connections = 0;
  uint64_t leads = 0;
  uint64_t qualify_every = 0;
  uint64_t sent = 0;
  double send_seconds = 0;  // first write to last write
  uint64_t acked = 0;
  uint64_t rejected = 0;
  double ack_seconds = 0;        // first write to the last ack
  uint64_t expected_routed = 0;  // qualifying leads whose trigger event was sent
  uint64_t routed = 0;           // routed records of this run's leads
  uint64_t unmatched = 0;        // ... whose trigger was not a recorded qualifying event
  LatencyStats latency_ms;
};

// Human-readable lines, or (json) one JSON object.
std::string FormatLoadgenReport(const LoadgenReport& report, bool json);

// The subcommand: `args` are the words after "loadgen".
int LoadgenCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace handoff
