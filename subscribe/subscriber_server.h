// SubscriberServer: sales tools' outbox stream over TCP NDJSON (SPEC 9, port 7401).
//
// A connection subscribes with one line, {"subscribe":{filters},"from":N}, and from then on
// receives every matching outbox record with seq > N in seq order (no "from": only records after
// the head at subscribe time), each line the record JSON exactly as stored; idle for
// heartbeat_interval, it receives {"heartbeat":HEAD}. When records it asked for have been trimmed
// it receives {"error":"gap","oldest":N} and goes on from N. On the same connection the tool may
// send {"accept":SEQ}, {"reject":SEQ,"reason":..}, {"close":SEQ,"outcome":..}; each is handed to
// the SalesDesk (acting as the subscription's rep filter; empty when none) and answered
// {"ok":SEQ} or {"error":CODE,"message":TEXT,"seq":SEQ}. Line syntax: subscribe/subscription.h.
//
// Protocol choices where the SPEC is silent:
//   - A bad subscribe line is answered {"error":"bad_request","message":..} and the connection
//     stays open, waiting for a valid one. A second subscribe on a subscribed connection is
//     bad_request (reconnect to change filters). Every error leaves the connection open.
//   - Commands may be sent before (or without) subscribing; they are answered the same way,
//     acting for any rep. Replies are written in the order the commands were sent.
//   - End of stream from the client ends the connection once every command sent before it is
//     answered (records are no longer sent): a tool that goes away is dropped, and counted out
//     of the subscribers gauge, at once rather than at the next failed write.
//   - "from" beyond the head is taken literally: records start at from+1 whenever they exist.
//   - When every record from the cursor through the head has been trimmed, the gap's "oldest" is
//     head+1 (the next record to exist).
//
// Flow control: no per-subscriber queue of records. Each connection keeps a cursor (the next seq
// to read) and reads the outbox in chunks only once its socket has written the previous chunk;
// caught up, it waits for NotifyOutboxHead. So a stuck subscriber holds one chunk in memory and
// costs nothing else; ingest and other subscribers go on. Replies are bounded too: reading a
// connection's commands pauses while too many reply bytes wait unwritten or too many commands
// wait for the engine.
//
// Threading: runs on one io_context thread, like IngestServer; NotifyOutboxHead may be called
// from any thread (the outbox listener). The server must outlive both: stop the engine (or clear
// its use of NotifyOutboxHead) before destroying the server, and do not run the io_context after
// destroying it.
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74 needs it under g++ 12
// clang-format on

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "base/metrics.h"
#include "handoff/status.h"
#include "outbox/outbox.h"
#include "routing/sales_action.h"
#include "subscribe/subscription.h"

namespace handoff {

struct SubscriberServerOptions {
  // Idle time after which a subscriber is sent {"heartbeat":HEAD}. Default: 10 s.
  std::chrono::steady_clock::duration heartbeat_interval = std::chrono::seconds(10);
  // Records read from the store per step of one subscriber. Default: 256.
  size_t read_chunk_records = 256;
  // Bytes of records one write may hold; a chunk stops early past it. Default: 128 KiB.
  size_t max_chunk_bytes = 128 * 1024;
  // Longest client line, without its newline; longer ones are bad_request. Default: 64 KiB.
  size_t max_line_bytes = 64 * 1024;
  // Unwritten reply bytes of one connection before reading its commands pauses. Default: 256 KiB.
  size_t max_reply_bytes = 256 * 1024;
  // Commands of one connection waiting for the engine before reading pauses. Default: 1024.
  size_t max_inflight_actions = 1024;
  // Bytes asked of the socket per read. Default: 16 KiB.
  size_t read_buffer_bytes = 16 * 1024;
  // Open connections; one more is refused with a too_many_connections line (net/tcp_listener.h).
  // Default: 1024.
  size_t max_connections = 1024;
};

class SubscriberConnection;

class SubscriberServer {
 public:
  // `desk`, `outbox` and `metrics` are borrowed and must outlive the server. `desk` may be null
  // (commands are then answered {"error":"unavailable",..}).
  SubscriberServer(boost::asio::io_context& io, SubscriberServerOptions options, SalesDesk* desk,
                   const OutboxReader* outbox, Metrics* metrics);
  ~SubscriberServer();
  SubscriberServer(const SubscriberServer&) = delete;
  SubscriberServer& operator=(const SubscriberServer&) = delete;

  Status Listen(const std::string& host, unsigned short port);
  unsigned short port() const;
  // Closes the listener and every connection. io thread (or before the io_context runs).
  void Stop();

  // Records through `head` are committed: wakes subscribers waiting for them. Any thread; cheap
  // (notifications coalesce into one wake-up of the io thread). For Outbox::SetListener.
  void NotifyOutboxHead(uint64_t head);

  // The newest committed seq known: the larger of the outbox's head and the notified head.
  uint64_t head() const;

 private:
  friend class SubscriberConnection;
  void Accept();
  void WakeAll();

  boost::asio::io_context& io_;
  const SubscriberServerOptions options_;
  SalesDesk* const desk_;
  const OutboxReader* const outbox_;
  Metrics* const metrics_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::unordered_set<std::shared_ptr<SubscriberConnection>> connections_;
  bool stopped_ = false;

  std::atomic<uint64_t> notified_head_{0};
  std::atomic<bool> wake_posted_{false};

  // Shared by every connection: all their handlers run on io_'s one thread.
  ClientLineParser line_parser_;
  std::vector<std::pair<uint64_t, std::string>> read_scratch_;
  std::vector<std::shared_ptr<SubscriberConnection>> wake_scratch_;
};

}  // namespace handoff
