// clang-format off
#include <utility>  // before Asio: Boost 1.74 needs it under g++ 12
#include "subscribe/subscriber_server.h"

#include "net/tcp_listener.h"
// clang-format on

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <deque>

#include "base/log.h"
#include "net/line_framer.h"

namespace handoff {

namespace asio = boost::asio;
using asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

// A write buffer that grew past this (a chunk of large records) is given back after the write,
// so a hundred idle subscribers do not each sit on their largest chunk ever.
constexpr size_t kKeepBufferBytes = 64 * 1024;

bool IsBlank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') {
      return false;
    }
  }
  return true;
}

}  // namespace

class SubscriberConnection : public std::enable_shared_from_this<SubscriberConnection> {
 public:
  SubscriberConnection(SubscriberServer* server, tcp::socket socket)
      : server_(server),
        options_(server->options_),
        socket_(std::move(socket)),
        heartbeat_timer_(server->io_),
        framer_(server->options_.max_line_bytes),
        read_buffer_(server->options_.read_buffer_bytes) {}

  void Start() { MaybeRead(); }

  void Close() {
    if (closed_) {
      return;
    }
    closed_ = true;
    if (subscribed_) {
      server_->metrics_->AddSubscribers(-1);
    }
    heartbeat_timer_.cancel();
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    server_->connections_.erase(shared_from_this());
  }

  // The head moved: a caught-up subscriber fetches what is new.
  void Wake() {
    if (subscribed_) {
      Pump();
    }
  }

 private:
  // A reply slot, so replies go out in command order even when the engine answers later.
  struct Reply {
    bool ready = false;
    std::string text;
  };

  size_t UnwrittenReplyBytes() const { return pending_.size() + waiting_reply_bytes_; }

  bool ShouldRead() const {
    return !closed_ && !reading_ && !read_done_ && !failed_ &&
           UnwrittenReplyBytes() < options_.max_reply_bytes &&
           inflight_actions_ < options_.max_inflight_actions;
  }

  void MaybeRead() {
    if (!ShouldRead()) {
      return;
    }
    reading_ = true;
    socket_.async_read_some(asio::buffer(read_buffer_),
                            [self = shared_from_this()](const boost::system::error_code& ec,
                                                        size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(const boost::system::error_code& ec, size_t n) {
    reading_ = false;
    if (closed_) {
      return;
    }
    auto on_line = [this](uint64_t, std::string_view line, bool too_long) {
      HandleLine(line, too_long);
    };
    if (ec == asio::error::eof) {
      read_done_ = true;
      framer_.Finish(on_line);
      Pump();
      return;
    }
    if (ec) {
      Close();
      return;
    }
    framer_.Feed(std::string_view(read_buffer_.data(), n), on_line);
    Pump();
    MaybeRead();
  }

  void HandleLine(std::string_view line, bool too_long) {
    if (too_long) {
      QueueReply([&](std::string* out) {
        AppendErrorReply("bad_request",
                         "line longer than " + std::to_string(options_.max_line_bytes) + " bytes",
                         0, out);
      });
      return;
    }
    if (IsBlank(line)) {
      return;
    }
    if (!server_->line_parser_.Parse(line, &line_, &line_error_)) {
      QueueReply([&](std::string* out) {
        AppendErrorReply(line_error_.code, line_error_.message, line_error_.seq, out);
      });
      return;
    }
    if (line_.command == ClientCommand::kSubscribe) {
      Subscribe(std::move(line_.subscribe));
    } else {
      SubmitAction(std::move(line_.action));
    }
  }

  void Subscribe(SubscribeRequest request) {
    if (subscribed_) {
      QueueReply([](std::string* out) {
        AppendErrorReply("bad_request", "already subscribed (reconnect to change the subscription)",
                         0, out);
      });
      return;
    }
    subscribed_ = true;
    server_->metrics_->AddSubscribers(1);
    filter_ = std::move(request.filter);
    cursor_ = request.from ? *request.from + 1 : server_->head() + 1;
    last_send_ = SteadyClock::now();
    ArmHeartbeat(last_send_ + options_.heartbeat_interval);
  }

  void SubmitAction(SalesAction action) {
    const uint64_t seq = action.seq;
    const uint64_t id = first_reply_id_ + replies_.size();
    replies_.emplace_back();
    ++inflight_actions_;
    SalesDesk* desk = server_->desk_;
    if (desk == nullptr) {
      SalesActionResult result;
      result.error = "unavailable";
      result.message = "no sales desk to apply the command";
      OnActionDone(id, seq, result);
      return;
    }
    // For whichever rep holds the lead: SPEC 9's `rep` is a filter on the stream, not who the
    // connection acts as (POST /v1/actions?rep= is the way to act as one rep).
    asio::io_context* io = &server_->io_;
    desk->SubmitSalesAction(std::move(action),
                            [self = shared_from_this(), io, id, seq](const SalesActionResult& r) {
                              // Engine thread: hop back to the connection's thread.
                              asio::post(*io, [self, id, seq, r] {
                                self->OnActionDone(id, seq, r);
                                self->Pump();
                                self->MaybeRead();
                              });
                            });
  }

  void OnActionDone(uint64_t id, uint64_t seq, const SalesActionResult& result) {
    --inflight_actions_;
    Reply& reply = replies_[id - first_reply_id_];
    reply.ready = true;
    if (result.ok) {
      AppendOkReply(seq, &reply.text);
    } else {
      AppendErrorReply(result.error, result.message, seq, &reply.text);
    }
    waiting_reply_bytes_ += reply.text.size();
    while (!replies_.empty() && replies_.front().ready) {
      pending_.append(replies_.front().text);
      waiting_reply_bytes_ -= replies_.front().text.size();
      replies_.pop_front();
      ++first_reply_id_;
    }
  }

  // Queues a reply written by `append`: straight to the writer, or behind replies the engine has
  // not given yet.
  template <typename AppendFn>
  void QueueReply(AppendFn&& append) {
    if (replies_.empty()) {
      append(&pending_);
      return;
    }
    Reply& reply = replies_.emplace_back();
    reply.ready = true;
    append(&reply.text);
    waiting_reply_bytes_ += reply.text.size();
  }

  // Starts the next write when the socket is free: pending replies first, else the next chunk of
  // records from the cursor.
  void Pump() {
    if (closed_ || writing_active_) {
      return;
    }
    // A subscriber that half-closes (sends its line, then EOF) still gets the stream: EOF only
    // means no more commands. A client that is really gone is found by the next failed write
    // (records or the heartbeat).
    if (pending_.empty() && subscribed_ && !failed_) {
      Fetch();
    }
    if (pending_.empty()) {
      if (failed_ || (read_done_ && replies_.empty() && !subscribed_)) {
        Close();  // everything answered
      }
      return;
    }
    writing_.swap(pending_);
    pending_.clear();
    writing_active_ = true;
    last_send_ = SteadyClock::now();
    asio::async_write(socket_, asio::buffer(writing_),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        self->OnWritten(ec);
                      });
  }

  void OnWritten(const boost::system::error_code& ec) {
    writing_active_ = false;
    writing_.clear();
    if (writing_.capacity() > kKeepBufferBytes) {
      std::string().swap(writing_);
    }
    if (closed_) {
      return;
    }
    if (ec) {
      Close();
      return;
    }
    Pump();
    MaybeRead();
  }

  // Appends to pending_ the records of the next chunk from the cursor that match the filter
  // (and a gap notice when records were trimmed). Called only with nothing pending, so at most
  // one chunk per connection is ever in memory.
  void Fetch() {
    if (fetch_posted_) {
      return;
    }
    const OutboxReader* outbox = server_->outbox_;
    const uint64_t head = server_->head();
    if (cursor_ > head) {
      return;  // caught up: Wake() comes when the head moves
    }
    // Stepping over trimmed records costs the store a walk over tombstones: jump straight to
    // the oldest record kept.
    const uint64_t oldest = outbox->oldest();
    if (oldest > cursor_) {
      AppendGap(oldest, &pending_);
      cursor_ = oldest;
    }
    auto& records = server_->read_scratch_;
    if (Status st = outbox->Read(cursor_, head, options_.read_chunk_records, &records); !st.ok()) {
      LogWarning("subscriber: cannot read the outbox: " + st.ToString());
      // The subscriber reconnects with `from` and loses nothing; stop here rather than skip.
      AppendErrorReply("unavailable", "cannot read the outbox: " + st.ToString(), 0, &pending_);
      failed_ = true;
      return;
    }
    if (records.empty()) {
      // Record `head` was committed, so everything from the cursor through it was trimmed after
      // OldestOutboxSeq was read.
      const uint64_t next = std::max(head + 1, outbox->oldest());
      AppendGap(next, &pending_);
      cursor_ = next;
      return;
    }
    if (records.front().first > cursor_) {
      AppendGap(records.front().first, &pending_);  // trimmed between the two reads
    }
    for (const auto& [seq, stored] : records) {
      RecordHeader header;
      std::string_view json;
      if (!DecodeStoredRecord(stored, &header, &json)) {
        // Cannot happen with records this build wrote; say so rather than send bytes no client
        // can read.
        LogError("subscriber: outbox record " + std::to_string(seq) + " does not decode");
      } else if (FilterMatches(filter_, header)) {
        pending_.append(json);
        pending_.push_back('\n');
      }
      cursor_ = seq + 1;
      if (pending_.size() >= options_.max_chunk_bytes) {
        break;  // large records: the rest is read again next time
      }
    }
    if (pending_.empty() && cursor_ <= server_->head()) {
      // A whole chunk matched nothing and more waits: go on after other handlers had a turn,
      // so one subscriber's long scan never holds the io thread.
      fetch_posted_ = true;
      asio::post(server_->io_, [self = shared_from_this()] {
        self->fetch_posted_ = false;
        self->Pump();
      });
    }
  }

  void ArmHeartbeat(SteadyClock::time_point at) {
    heartbeat_timer_.expires_at(at);
    heartbeat_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      self->OnHeartbeatTimer(ec);
    });
  }

  // The timer is never cancelled on writes (that would cost a cancel per write); when it fires
  // early it re-arms for the idle deadline that the last write moved.
  void OnHeartbeatTimer(const boost::system::error_code& ec) {
    if (ec || closed_) {
      return;
    }
    const auto now = SteadyClock::now();
    const auto due = last_send_ + options_.heartbeat_interval;
    if (now < due) {
      ArmHeartbeat(due);
      return;
    }
    if (!writing_active_ && pending_.empty()) {
      AppendHeartbeat(server_->head(), &pending_);
      Pump();
    }
    // A write still in progress means data is flowing or the client is stuck; either way there
    // is nothing to add.
    ArmHeartbeat(now + options_.heartbeat_interval);
  }

  SubscriberServer* const server_;
  const SubscriberServerOptions& options_;
  tcp::socket socket_;
  asio::steady_timer heartbeat_timer_;
  LineFramer framer_;
  std::vector<char> read_buffer_;
  ClientLine line_;
  ClientLineError line_error_;

  bool subscribed_ = false;
  SubscriptionFilter filter_;
  uint64_t cursor_ = 0;  // the next seq to read
  bool fetch_posted_ = false;

  std::deque<Reply> replies_;  // from the oldest reply not yet handed to pending_
  uint64_t first_reply_id_ = 0;
  size_t waiting_reply_bytes_ = 0;  // bytes of ready replies in replies_
  size_t inflight_actions_ = 0;

  std::string pending_;  // bytes for the next write
  std::string writing_;  // bytes the socket is writing now
  bool writing_active_ = false;
  SteadyClock::time_point last_send_;

  bool reading_ = false;
  bool read_done_ = false;
  bool failed_ = false;  // close once what is pending is written
  bool closed_ = false;
};

SubscriberServer::SubscriberServer(asio::io_context& io, SubscriberServerOptions options,
                                   SalesDesk* desk, const OutboxReader* outbox, Metrics* metrics)
    : io_(io),
      options_(options),
      desk_(desk),
      outbox_(outbox),
      metrics_(metrics),
      acceptor_(io),
      line_parser_(options.max_line_bytes) {}

SubscriberServer::~SubscriberServer() { Stop(); }

Status SubscriberServer::Listen(const std::string& host, unsigned short port) {
  if (Status st = ListenTcp(&acceptor_, host, port, "subscribe"); !st.ok()) {
    return st;
  }
  Accept();
  return Status::Ok();
}

unsigned short SubscriberServer::port() const { return BoundPort(acceptor_); }

void SubscriberServer::Accept() {
  AcceptLoop(
      &acceptor_,
      [this](tcp::socket socket) {
        auto conn = std::make_shared<SubscriberConnection>(this, std::move(socket));
        connections_.insert(conn);
        conn->Start();
      },
      AcceptLoopOptions{.name = "subscribe",
                        .max_connections = options_.max_connections,
                        .open_connections = [this] { return connections_.size(); }});
}

void SubscriberServer::Stop() {
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  auto conns = connections_;
  for (const auto& c : conns) {
    c->Close();
  }
}

void SubscriberServer::NotifyOutboxHead(uint64_t head) {
  uint64_t seen = notified_head_.load(std::memory_order_relaxed);
  while (seen < head && !notified_head_.compare_exchange_weak(seen, head, std::memory_order_release,
                                                              std::memory_order_relaxed)) {
  }
  if (!wake_posted_.exchange(true, std::memory_order_acq_rel)) {
    asio::post(io_, [this] {
      wake_posted_.store(false, std::memory_order_release);
      WakeAll();
    });
  }
}

uint64_t SubscriberServer::head() const {
  const uint64_t notified = notified_head_.load(std::memory_order_acquire);
  return std::max(notified, outbox_->head());
}

void SubscriberServer::WakeAll() {
  if (stopped_) {
    return;
  }
  // A copy: a woken connection may close and leave connections_.
  wake_scratch_.assign(connections_.begin(), connections_.end());
  for (const auto& c : wake_scratch_) {
    c->Wake();
  }
  wake_scratch_.clear();
}

}  // namespace handoff
