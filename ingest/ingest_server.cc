#include "ingest/ingest_server.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <utility>

#include "base/log.h"
#include "ingest/event_errors.h"
#include "net/line_framer.h"
#include "net/tcp_listener.h"

namespace handoff {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

bool IsBlank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') {
      return false;
    }
  }
  return true;
}

}  // namespace

class IngestConnection : public std::enable_shared_from_this<IngestConnection> {
 public:
  IngestConnection(IngestServer* server, tcp::socket socket)
      : server_(server), socket_(std::move(socket)), framer_(server->options_.max_line_bytes) {}

  void Start() {
    boost::system::error_code ignored;
    socket_.non_blocking(true, ignored);  // reads happen once the socket is readable
    MaybeRead();
  }

  // Its turn in IngestServer::waiting_ came: reads what the socket holds.
  void TakeTurn() {
    waiting_for_total_ = false;
    ReadNow();
  }

  void Close() {
    if (closed_) {
      return;
    }
    closed_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    server_->connections_.erase(shared_from_this());
  }

 private:
  struct InFlight {
    uint64_t first_line;
    uint64_t last_line;
    size_t bytes;
  };

  // Replies never pause reading (a sender may never read, SPEC 3); only the engine's backlog
  // does, this connection's own or every connection's together (then it waits for its turn).
  bool ShouldRead() const {
    return !closed_ && !reading_ && !read_done_ && !waiting_for_total_ &&
           inflight_bytes_ < server_->options_.max_inflight_bytes;
  }

  // Queues the error line for `line_no`, or counts it when the client has not read enough of its
  // replies. Once one is counted, every later one is counted too until the summary line goes
  // out, so the summary stands for one run of lines and replies stay in line order.
  void Reject(const ParseError& err, uint64_t line_no) {
    if (dropped_count_ == 0 &&
        replies_.size() + writing_.size() < server_->options_.max_reply_bytes) {
      AppendEventErrorLine(err, line_no, &replies_);
      return;
    }
    if (dropped_count_ == 0) {
      dropped_first_line_ = line_no;
    }
    ++dropped_count_;
    dropped_last_line_ = line_no;
    server_->metrics_->RepliesDropped(1);
  }

  // Waits until the socket is readable. Idle connections wait here and hold no turn.
  void MaybeRead() {
    if (!ShouldRead()) {
      return;
    }
    reading_ = true;
    socket_.async_wait(
        tcp::socket::wait_read,
        [self = shared_from_this()](const boost::system::error_code& ec) { self->OnReadable(ec); });
  }

  // The socket has bytes (or an end): read them now, or, when every connection's input in flight
  // is at max_total_inflight_bytes or others already wait for room, take a turn at the back of
  // the server's line. Turns go in the order connections became readable, so a flood of busy
  // connections delays a quiet one by at most one read each, never indefinitely.
  void OnReadable(const boost::system::error_code& ec) {
    reading_ = false;
    if (ec || closed_) {
      OnRead(ec, 0);  // a closed connection stops there
      return;
    }
    if (!server_->MayReadNow()) {
      waiting_for_total_ = true;
      server_->waiting_.push_back(shared_from_this());
      return;
    }
    ReadNow();
  }

  void ReadNow() {
    if (closed_) {
      return;
    }
    boost::system::error_code ec;
    const size_t n = socket_.read_some(asio::buffer(server_->read_buffer_), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      MaybeRead();
      return;
    }
    OnRead(ec, n);
  }

  void OnRead(const boost::system::error_code& ec, size_t n) {
    reading_ = false;
    if (closed_) {
      return;
    }
    if (ec == asio::error::eof) {
      read_done_ = true;
      Consume(std::string_view(), /*finish=*/true);
      AfterProgress();
      return;
    }
    if (ec) {
      Close();
      return;
    }
    Consume(std::string_view(server_->read_buffer_.data(), n), /*finish=*/false);
    AfterProgress();
    MaybeRead();
  }

  // Frames, validates and submits everything in `data`.
  void Consume(std::string_view data, bool finish) {
    IngestBatch batch;
    const EpochSeconds received_at = server_->clock_->Now();
    const auto received_mono = std::chrono::steady_clock::now();
    const auto start_batch = [&] {
      batch.events = server_->spent_->Take();  // parsed over in place; the rest freed below
      batch.spent = server_->spent_;
      batch.transport = Transport::kTcp;
      batch.received_at = received_at;  // every part of a read was received at once
      batch.received_mono = received_mono;
    };
    start_batch();
    uint64_t first_line = 0;
    size_t bytes = 0;
    Metrics* metrics = server_->metrics_;
    auto on_line = [&](uint64_t line_no, std::string_view line, bool too_long) {
      if (too_long) {
        metrics->EventsReceived(Transport::kTcp, 1);
        ParseError err;
        SetLineTooLong(server_->options_.max_line_bytes + 1, server_->options_.max_line_bytes,
                       &err);
        metrics->EventRejected(Transport::kTcp, static_cast<int>(err.code));
        Reject(err, line_no);
        return;
      }
      if (IsBlank(line)) {
        return;
      }
      metrics->EventsReceived(Transport::kTcp, 1);
      if (batch.events.size() == event_slot_) {
        batch.events.emplace_back();
      }
      Event& event = batch.events[event_slot_];
      if (!server_->parser_.Parse(line, &event, &parse_error_)) {
        metrics->EventRejected(Transport::kTcp, static_cast<int>(parse_error_.code));
        Reject(parse_error_, line_no);
        return;
      }
      if (event_slot_ == 0) {
        first_line = line_no;
      }
      ++event_slot_;
      bytes += line.size() + 1;
      // An idle engine gets the events parsed so far at once, and applies and commits them
      // while the rest of the read is parsed: a burst's first events are not held back for its
      // last. A busy engine would only queue the part, so the read stays one batch.
      const size_t early = server_->options_.early_submit_events;
      if (early > 0 && event_slot_ >= early && server_->sink_->Waiting()) {
        batch.events.resize(event_slot_);
        SubmitBatch(std::move(batch), first_line, line_no, bytes);
        batch = IngestBatch();
        start_batch();
        batch.events.reserve(early * 4);
        event_slot_ = 0;
        bytes = 0;
      }
    };
    event_slot_ = 0;
    // Room for the read's events at once: growing 64, 128, ... moved every parsed event each
    // step (~3 % of this thread with 256 KiB reads). Real events are 150-400 bytes.
    constexpr size_t kTypicalEventBytes = 192;
    batch.events.reserve(std::clamp<size_t>(data.size() / kTypicalEventBytes, 64, 4096));
    if (finish) {
      framer_.Finish(on_line);
    } else {
      framer_.Feed(data, on_line);
    }
    batch.events.resize(event_slot_);
    processed_lines_ = framer_.lines();
    if (batch.events.empty()) {
      return;
    }
    SubmitBatch(std::move(batch), first_line, processed_lines_, bytes);
  }

  // Hands `batch` (lines first_line..last_line, `bytes` of them) to the engine; OnDurable runs
  // once it is durable.
  void SubmitBatch(IngestBatch batch, uint64_t first_line, uint64_t last_line, size_t bytes) {
    inflight_.push_back(InFlight{first_line, last_line, bytes});
    inflight_bytes_ += bytes;
    server_->inflight_bytes_ += bytes;
    batch.done = [self = shared_from_this()](const Status& st) {
      // Engine thread: hop back to the connection's thread.
      asio::post(self->server_->io_, [self, st] { self->OnDurable(st); });
    };
    server_->sink_->Submit(std::move(batch));
  }

  void OnDurable(const Status& st) {
    InFlight done = inflight_.front();
    inflight_.pop_front();
    inflight_bytes_ -= done.bytes;
    server_->inflight_bytes_ -= done.bytes;
    server_->ReadWaiting();
    if (closed_) {
      return;
    }
    if (!st.ok()) {
      // Not durable: say so and drop the connection; the client resends what was not acked.
      AppendUnavailableLine(st.ToString(), &replies_);
      read_done_ = true;
      failed_ = true;
    }
    AfterProgress();
    MaybeRead();
  }

  // Queues the newest ack and writes what is pending.
  void AfterProgress() {
    if (!failed_) {
      uint64_t ackable = inflight_.empty() ? processed_lines_ : inflight_.front().first_line - 1;
      if (ackable > ack_queued_) {
        ack_queued_ = ackable;
      }
    }
    Flush();
  }

  void Flush() {
    if (closed_ || !writing_.empty()) {
      return;
    }
    writing_.swap(replies_);
    replies_.clear();
    if (dropped_count_ > 0) {
      // The socket took everything before: there is room for the summary, which follows the
      // lines queued before the first one it counts.
      AppendRepliesDroppedLine(dropped_count_, dropped_first_line_, dropped_last_line_, &writing_);
      dropped_count_ = 0;
    }
    if (ack_queued_ > ack_sent_) {
      writing_.append("{\"ack\":");
      writing_.append(std::to_string(ack_queued_));
      writing_.append("}\n");
      ack_sent_ = ack_queued_;
    }
    if (writing_.empty()) {
      if (read_done_ && inflight_.empty()) {
        Close();  // everything answered
      }
      return;
    }
    asio::async_write(socket_, asio::buffer(writing_),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        self->writing_.clear();
                        if (ec) {
                          self->Close();
                          return;
                        }
                        self->Flush();
                        self->MaybeRead();
                      });
  }

  IngestServer* server_;
  tcp::socket socket_;
  LineFramer framer_;
  ParseError parse_error_;
  size_t event_slot_ = 0;
  std::deque<InFlight> inflight_;
  size_t inflight_bytes_ = 0;
  uint64_t processed_lines_ = 0;
  uint64_t ack_queued_ = 0;
  uint64_t ack_sent_ = 0;
  std::string replies_;  // error lines not yet handed to the socket
  // Error lines counted instead of queued since the last summary line (see Reject).
  uint64_t dropped_count_ = 0;
  uint64_t dropped_first_line_ = 0;
  uint64_t dropped_last_line_ = 0;
  std::string writing_;             // bytes the socket is writing now
  bool reading_ = false;            // waiting for the socket to become readable
  bool waiting_for_total_ = false;  // in IngestServer::waiting_ for its turn
  bool read_done_ = false;
  bool failed_ = false;
  bool closed_ = false;
};

IngestServer::IngestServer(asio::io_context& io, IngestServerOptions options, IngestSink* sink,
                           Metrics* metrics, const Clock* clock)
    : io_(io),
      options_(options),
      sink_(sink),
      metrics_(metrics),
      clock_(clock),
      acceptor_(io),
      parser_(EventParser::Options{.max_bytes = options.max_line_bytes}),
      read_buffer_(options.read_chunk_bytes) {}

IngestServer::~IngestServer() { Stop(); }

Status IngestServer::Listen(const std::string& host, unsigned short port) {
  if (Status st = ListenTcp(&acceptor_, host, port, "ingest"); !st.ok()) {
    return st;
  }
  Accept();
  return Status::Ok();
}

unsigned short IngestServer::port() const { return BoundPort(acceptor_); }

void IngestServer::Accept() {
  AcceptLoop(
      &acceptor_,
      [this](tcp::socket socket) {
        auto conn = std::make_shared<IngestConnection>(this, std::move(socket));
        connections_.insert(conn);
        conn->Start();
      },
      AcceptLoopOptions{.name = "ingest",
                        .max_connections = options_.max_connections,
                        .open_connections = [this] { return connections_.size(); }});
}

bool IngestServer::MayReadNow() const {
  return waiting_.empty() && inflight_bytes_ < options_.max_total_inflight_bytes;
}

void IngestServer::ReadWaiting() {
  while (!waiting_.empty() && inflight_bytes_ < options_.max_total_inflight_bytes) {
    std::shared_ptr<IngestConnection> next = std::move(waiting_.front());
    waiting_.pop_front();
    next->TakeTurn();  // each read adds to inflight_bytes_ at once
  }
}

void IngestServer::Stop() {
  waiting_.clear();
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  auto conns = connections_;
  for (const auto& c : conns) {
    c->Close();
  }
}

}  // namespace handoff
