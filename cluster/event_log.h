// The cluster's event log: one JetStream stream, HANDOFF_EVENTS, replicated on three servers,
// whose subjects `handoff.events.<partition>` partition events by lead identity.
//
// Everything here is stateless: the stream's layout, the partition of a lead id, and the bytes of
// one logged event. The layout is part of the cluster's on-disk format: the partition function
// and the payload never change meaning once written (a version byte leads each payload).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/metrics.h"
#include "cluster/nats_link.h"
#include "handoff/event.h"
#include "handoff/status.h"
#include "ingest/ingest_sink.h"

namespace handoff {

inline constexpr std::string_view kEventStream = "HANDOFF_EVENTS";
inline constexpr std::string_view kEventSubjectPrefix = "handoff.events.";

struct EventLogLayout {
  // Partitions, fixed when the stream is made (kept in its description).
  uint32_t partitions = 16;
  // Copies of every message (JetStream replicas). Default: 3.
  int replicas = 3;
  // How long events stay in the stream: a node that takes a partition over rebuilds it from the
  // stream, so this bounds how far back that can go. Default: 0, forever (limited by disk).
  double max_age_seconds = 0;
  // JetStream's own duplicate window on Nats-Msg-Id (publish retries). The engine's dedupe keeps
  // SPEC's 24 h window behind it. Default: 2 minutes.
  double duplicate_window_seconds = 120;
};

// The partition of a lead id: FNV-1a (64-bit) of its bytes, modulo `partitions`. Stable forever.
uint32_t PartitionOf(std::string_view lead_id, uint32_t partitions);
// "handoff.events.<partition>".
std::string PartitionSubject(uint32_t partition);
// The partition a message's subject names, or -1 for a subject not of the log.
int64_t PartitionOfSubject(std::string_view subject);

// The sequences a stream holds: [first_seq, last_seq], both 0 when it is empty.
struct EventStreamState {
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
};

// The copies a stream keeps, from its info: those its group holds (its leader and the replicas
// the leader names, online or not) when the info names a leader, never more than its
// configuration asks; else those asked; 0 when the info has no configuration. The two differ when
// a stream was asked for more copies than its servers could place and made anyway: nats-server
// 2.9.10, two servers, nodes making the stream at once, gave a stream asking for three copies with
// two, and a bucket of three copies then never opened ("no suitable peers").
int StreamCopies(const jsStreamInfo& info);

// Makes the stream when it does not exist (with one copy when the NATS server is not clustered);
// when it does, `layout->partitions` and `layout->replicas` become the stream's own (its copies:
// StreamCopies). `state`, when
// given, receives what the stream holds. Unavailable while JetStream has no leader (retry).
[[nodiscard]] Status EnsureEventStream(jsCtx* js, EventLogLayout* layout,
                                       EventStreamState* state = nullptr);

// The copies the stream keeps (JetStream replicas), which the cluster's buckets take too: a
// stream made on one NATS server without a cluster keeps one. NotFound until a node makes it.
[[nodiscard]] Status EventStreamReplicas(jsCtx* js, int* replicas);

// One message of the log: events of one partition, in the order they were sent, each with what
// the engine needs to apply it exactly as the ingesting node would have (its transport and
// receive time). Bytes: a version byte (2), the record count (uint32, host order: x86-64 and
// arm64 both little-endian), then one record per event: the transport (1 byte), the receive time
// (a double, 8 bytes), the event in the history log's codec. Version 1, the first cluster
// release, held one record and no count; it is still read.
// Clears `out` and starts a message.
void StartLogMessage(std::string* out);
void AppendLoggedEvent(const Event& event, const EventOrigin& origin, std::string* out);
// A partition's section of an ingest message (below): version 5, the same as version 2 but each
// record led by the event's index in the ingest message (a varint, below kMaxIngestEvents), which
// is its place in the log with the message's sequence (LogApplyOrder).
void StartPlacedLogMessage(std::string* out);
void AppendPlacedEvent(const Event& event, const EventOrigin& origin, uint32_t index,
                       std::string* out);
// Appends every event of a message (version 1, 2 or 5), and its origin, to `events` and
// `origins`, and, when `indexes` is given, each event's index in the message the log stored (a
// version 5 section's own; else its position). False on bad bytes (never crashes), and then it
// appends nothing: a message is applied whole or not at all.
[[nodiscard]] bool DecodeLogMessage(std::string_view in, std::vector<Event>* events,
                                    std::vector<EventOrigin>* origins,
                                    std::vector<uint32_t>* indexes = nullptr);

// The ingest subject: what a node's publisher logs (cluster/log_publisher.h). One message holds
// the events of one or more batches, of any partitions, in the order they arrived, as one section
// per partition (a version 5 message); a node has one such message in flight at a time, so the
// stream holds every node's events in the order they arrived, across partitions (docs/cluster.md,
// "Order"). Bytes: a version byte (6), then per section the partition (a varint) and the
// section's bytes (a varint length and the bytes), partitions ascending, each once.
inline constexpr std::string_view kIngestSubject = "handoff.events.ingest";
// Events an ingest message holds at most: their indexes fit LogApplyOrder's 12 bits.
inline constexpr uint32_t kMaxIngestEvents = 4096;
struct IngestSection {
  uint32_t partition = 0;
  std::string_view events;  // a version 5 message, a view into the ingest message's bytes
};
// `sections`: (partition, version 5 message), partitions ascending.
void EncodeIngestMessage(const std::vector<std::pair<uint32_t, std::string>>& sections,
                         std::string* out);
// False on anything EncodeIngestMessage did not make (the sections themselves are checked when
// they are decoded); `sections` is then empty.
[[nodiscard]] bool DecodeIngestMessage(std::string_view in, std::vector<IngestSection>* sections);

// A partition's clock (docs/cluster.md, "A partition's clock"): the node holding the partition's
// lease logs the time in it every stage-check interval, and whoever applies the partition
// re-checks its leads' stage exits at that time and place; `reevaluate`: runs every lead's stage
// machine instead (new rules applied with POST /v1/rules/apply). Bytes: a version byte (3), a
// flags byte (1: reevaluate), the time (a double, 8 bytes).
inline constexpr uint8_t kClockMessageVersion = 3;
void EncodeClockMessage(EpochSeconds at, bool reevaluate, std::string* out);
// False on anything EncodeClockMessage did not make (a non-finite time included).
[[nodiscard]] bool DecodeClockMessage(std::string_view in, EpochSeconds* at, bool* reevaluate);

// The cluster router closed `lead` as `recycled` (docs/cluster.md, "The router and the outbox"):
// its stage goes back to the first in its partition, at this place of the partition's log,
// once per `reset_id`. Bytes: a version byte (4), the time (a double), the reset id and the
// lead id (each a varint length and its bytes).
inline constexpr uint8_t kStageResetMessageVersion = 4;
void EncodeStageResetMessage(std::string_view lead, std::string_view reset_id, EpochSeconds at,
                             std::string* out);
// False on anything EncodeStageResetMessage did not make.
[[nodiscard]] bool DecodeStageResetMessage(std::string_view in, std::string* lead,
                                           std::string* reset_id, EpochSeconds* at);

}  // namespace handoff
