// `handoff loadgen`: synthetic events at a target rate; reports throughput and event-to-routed
// latency (SPEC 11).
//
//   handoff loadgen --rate R --duration S [--leads N] [--connections C] [--qualify-every K]
//
// K is 0 (nothing qualifies) or at least 3: a lead needs three events to qualify.
//
// Events go over C ingest connections, each paced to R/C events/s in small bursts (every 2 ms at
// most). One event in K is the one that makes a lead qualify for routing under
// rules/examples/default.yaml: each connection's stream runs in cycles of K events, and cycle m
// carries the three qualifying events of fresh leads, one step each at positions 0, K/3 and 2K/3:
// identify of lead m (senior title + work email: fit 30), Demo Requested of lead m-1 (+50:
// engagement 50, stage mql) and Trial Started of lead m-2 (+40: engagement 90, stage sql, routed
// at once). So from the third cycle on, exactly one event per cycle is a trigger, and each
// qualifying lead's events are spread over three cycles. The other K-3 events of a cycle are
// noise (page views and clicks that score too little to qualify) for the N other leads, fed a
// few at a time (a window of up to 64 leads per connection, each getting ceil(noise/N) events),
// so new leads start throughout the run rather than all at once. Lead ids and messageIds carry a
// run id, so every run starts from fresh leads.
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
  static constexpr uint64_t kQualifyingSteps = 3;

  // This stream's noise goes to leads c, c+C, c+2C, ... below `leads` (c = `connection`, C =
  // `connections`), `events_per_lead` events each at a time, `window` leads interleaved; its
  // qualifying leads are `leads` + c, `leads` + c + C, ... `qualify_every` 0: nothing
  // qualifies; else one event in max(3, `qualify_every`) is a trigger.
  LoadgenStream(std::string run_id, uint64_t connection, uint64_t connections, uint64_t leads,
                uint64_t qualify_every, uint64_t events_per_lead, size_t window);

  struct Emitted {
    bool qualifying = false;  // one of a qualifying lead's steps
    bool trigger = false;     // the last qualifying step: a routed record is expected
  };
  // Appends the next event's NDJSON line (with its '\n') to *out and sets *message_id.
  Emitted Next(std::string* out, std::string* message_id);

  // Noise leads of this stream.
  uint64_t lead_count() const { return lead_count_; }

 private:
  struct Slot {
    uint64_t lead = 0;
    uint64_t step = 0;       // the lead's next event
    uint64_t remaining = 0;  // events left for this lead in this slot; 0: pick a new lead
  };
  void AppendQualifying(uint64_t lead, uint64_t step, const std::string& message_id,
                        std::string* out) const;
  void AppendNoise(const std::string& message_id, std::string* out);

  const std::string run_id_;
  const uint64_t connection_;
  const uint64_t connections_;
  const uint64_t leads_;
  const uint64_t qualify_every_;
  const uint64_t events_per_lead_;
  uint64_t lead_count_;
  std::vector<Slot> slots_;
  uint64_t next_lead_ = 0;  // leads handed to slots so far (wraps over lead_count_)
  uint64_t emitted_ = 0;
  uint64_t noise_emitted_ = 0;
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
  double write_interval_ms = 0;  // how often each connection wrote
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
