// IngestServer: trackers' NDJSON over TCP (SPEC 3).
//
// Each connection frames lines, parses and validates them on the network thread, replies at once
// with an error line for each rejected line, and submits the valid events of each read to the
// engine as one batch. When the engine reports a batch durable, the connection sends a cumulative
// {"ack":N}: the first N lines are processed and durable. Acks coalesce (only the newest number
// waits to be written).
//
// Nothing grows without bound: a connection stops reading while too many of its input bytes wait
// for the engine (backpressure to the sender), and all stop while the total of every
// connection's bytes in flight is at max_total_inflight_bytes; readable connections then take
// turns in the order they became readable, so a flood delays a quiet tracker by one read per
// flooding connection, never starves it. Replies never stop it: once the error lines a
// client has not read pass max_reply_bytes, later ones are counted, and one
// {"error":"replies_dropped",...} line stands for them when the socket takes more; acks coalesce
// into one number. Other connections go on. Runs on one io_context thread; not thread-safe beyond
// that (the engine's completions are posted back to it).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <deque>
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/metrics.h"
#include "handoff/clock.h"
#include "handoff/status.h"
#include "ingest/event_parser.h"
#include "ingest/ingest_sink.h"

namespace handoff {

struct IngestServerOptions {
  // Longest line, without its newline. Default: 64 KiB.
  size_t max_line_bytes = 64 * 1024;
  // Input bytes a connection may have in flight in the engine before reading pauses.
  size_t max_inflight_bytes = 8 << 20;
  // Input bytes every connection together may have in flight before reading pauses for all.
  size_t max_total_inflight_bytes = 16 << 20;
  // Error-reply bytes a connection may have unwritten; past it, error lines are counted into one
  // replies_dropped summary line instead of queued.
  size_t max_reply_bytes = 1 << 20;
  // Bytes asked of the socket per read, into one buffer the server's connections share. A read is
  // one engine task, acknowledged as a whole: 64 KiB (~290 tracker events) keeps the wait between
  // two acks short when events are dear (a 1,000-rule file), at no cost in events/s.
  size_t read_chunk_bytes = 64 << 10;
  // Open connections; one more is refused with a too_many_connections line (net/tcp_listener.h).
  size_t max_connections = 1024;
  // While the sink waits for work (IngestSink::Waiting), every this many parsed events of a read
  // go to it at once as a batch of their own, so a burst's first events are applied and written
  // while the rest are parsed. 0: a read is always one batch (the daemon's choice when every
  // commit is fsynced: a part would cost the rest of its read a second fsync).
  size_t early_submit_events = 24;
};

class IngestConnection;

class IngestServer {
 public:
  // `sink`, `metrics` and `clock` are borrowed.
  IngestServer(boost::asio::io_context& io, IngestServerOptions options, IngestSink* sink,
               Metrics* metrics, const Clock* clock);
  ~IngestServer();

  Status Listen(const std::string& host, unsigned short port);
  unsigned short port() const;
  // Closes the listener and every connection.
  void Stop();

 private:
  friend class IngestConnection;
  void Accept();
  // False while every connection's input in flight is at max_total_inflight_bytes, or while
  // other connections wait for their turn to read.
  bool MayReadNow() const;
  // Gives waiting connections their turns, first come first served, while the total has room.
  void ReadWaiting();

  boost::asio::io_context& io_;
  const IngestServerOptions options_;
  IngestSink* const sink_;
  Metrics* const metrics_;
  const Clock* const clock_;
  boost::asio::ip::tcp::acceptor acceptor_;
  EventParser parser_;  // one per thread: every connection's handlers run on io_'s thread
  // Applied batches' events, handed back by the sink for the next reads to parse into.
  std::shared_ptr<SpentEvents> spent_ = std::make_shared<SpentEvents>();
  // Every read lands here and is framed before the next read starts, so an idle connection holds
  // no read buffer of its own.
  std::vector<char> read_buffer_;
  std::unordered_set<std::shared_ptr<IngestConnection>> connections_;
  size_t inflight_bytes_ = 0;  // every connection's input in flight in the engine
  // Readable connections waiting for room under max_total_inflight_bytes, in the order they
  // became readable; each is here at most once.
  std::deque<std::shared_ptr<IngestConnection>> waiting_;
};

}  // namespace handoff
