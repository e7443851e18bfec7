// The outbox as Server-Sent Events (GET /v1/stream): the HTTP twin of the TCP subscriber stream
// (SPEC 9), for the web UI and any browser or SSE client.
//
//   GET /v1/stream?from=SEQ&rep=R&team=T&kinds=routed,reassigned
//
// Every matching record with seq > from (or > the Last-Event-ID header, which wins: a browser's
// reconnect sends it), in seq order, then new ones as they are committed; no from and no
// Last-Event-ID: only records after the head. Each record is one event,
//   id: SEQ\ndata: <record JSON, exactly as stored>\n\n
// a gap (records past the outbox retention) is
//   id: N-1\ndata: {"error":"gap","oldest":N}\n\n
// (the TCP protocol's line; its id makes a reconnect resume at N), and after heartbeat of silence
// a comment ": heartbeat HEAD\n\n" goes out.
//
// Flow control is the subscriber server's: no queue of records per client. A stream keeps a
// cursor and reads the outbox (OutboxReader) one chunk at a time, only when the connection has
// written the previous one (HttpBodyStream's pull); caught up, it waits for NotifyOutboxHead. A
// client that never reads holds one chunk and is closed by the HTTP server's write timeout;
// nobody else waits for it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "handoff/status.h"
#include "net/http_server.h"
#include "outbox/outbox.h"
#include "outbox/record_filter.h"

namespace handoff {

struct EventStreamOptions {
  // Records read from the outbox per step. Default: 256.
  size_t read_chunk_records = 256;
  // A chunk stops early once its events pass this many bytes. Default: 128 KiB.
  size_t max_chunk_bytes = 128 * 1024;
  // Silence after which a heartbeat comment goes out. Default: 10 s.
  std::chrono::milliseconds heartbeat{10000};
};

// What a GET /v1/stream asks for.
struct EventStreamRequest {
  RecordFilter filter;
  // Records with seq > from; nullopt: only records after the head when the stream starts.
  std::optional<uint64_t> from;
};

// Reads the query (from, rep, team, kinds: a comma-separated list of kind names) and the
// Last-Event-ID header. InvalidArgument, with a message for people, on an unknown parameter or
// kind, or a from / Last-Event-ID that is not a non-negative integer.
Result<EventStreamRequest> ParseEventStreamRequest(std::string_view query,
                                                   std::string_view last_event_id);

class OutboxEventStream;

// Wakes the streams waiting for records. NotifyOutboxHead may be called from any thread (the
// outbox listener, on the engine thread); the streams register and leave on the io thread.
class EventStreams {
 public:
  EventStreams(const OutboxReader* outbox, EventStreamOptions options);
  EventStreams(const EventStreams&) = delete;
  EventStreams& operator=(const EventStreams&) = delete;

  // A stream for `request`, to hand to the HTTP server in a response.
  std::shared_ptr<HttpBodyStream> Open(const EventStreamRequest& request);
  // Records through `head` are committed: waiting streams ask for them. Cheap when none waits.
  void NotifyOutboxHead(uint64_t head);
  // Streams open now.
  size_t open_streams() const;

  const EventStreamOptions& options() const { return options_; }

 private:
  friend class OutboxEventStream;
  // Shared with the streams, which may outlive this object (a connection closing late).
  struct Registry {
    mutable std::mutex mu;
    std::vector<OutboxEventStream*> streams;  // guarded by mu
  };

  const OutboxReader* const outbox_;
  const EventStreamOptions options_;
  const std::shared_ptr<Registry> registry_;
};

// One client's stream; see the file comment. Exposed for tests, which pull it without sockets.
class OutboxEventStream : public HttpBodyStream {
 public:
  OutboxEventStream(const OutboxReader* outbox, const EventStreamOptions& options,
                    std::shared_ptr<EventStreams::Registry> registry, RecordFilter filter,
                    uint64_t cursor);
  ~OutboxEventStream() override;

  void Start(std::function<void()> wake) override;
  Pull Next(bool idle, std::string* out) override;
  void Closed() override;

  // Any thread: wakes the connection if it waits for records.
  void Wake();

 private:
  void Leave();

  const OutboxReader* const outbox_;
  const EventStreamOptions options_;
  std::shared_ptr<EventStreams::Registry> registry_;  // null once left
  const RecordFilter filter_;
  uint64_t cursor_;  // the next seq to read
  std::function<void()> wake_;
  std::atomic<bool> waiting_{false};
  std::vector<std::pair<uint64_t, std::string>> records_;
};

}  // namespace handoff
