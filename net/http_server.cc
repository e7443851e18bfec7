// clang-format off
#include <utility>  // before any Asio header (see http_server.h)
#include "net/http_server.h"
#include "base/ascii.h"
// clang-format on

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "handoff/value.h"
#include "net/http_util.h"

namespace handoff {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// How long and how much a closing connection keeps reading (and discarding) after its last
// response. Closing a socket with unread input makes the kernel send RST, which can destroy the
// response before the client reads it; a client that was still sending a too-large body would
// see "connection reset" instead of our 413.
constexpr std::chrono::milliseconds kMaxLinger{2000};
constexpr size_t kMaxLingerBytes = 1024 * 1024;
constexpr size_t kReadChunk = 8 * 1024;
// After an accept failure for lack of file descriptors or memory, wait this long before the next
// accept instead of spinning.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

// A stream's buffer that grew past this (one large chunk) is given back after its write.
constexpr size_t kKeepStreamBytes = 64 * 1024;

constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// Beast 1.74 hands out boost::string_view, which does not convert to std::string_view by itself.
std::string_view ToStd(beast::string_view s) { return {s.data(), s.size()}; }

bool HasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// A header name must be an RFC 7230 token; we only need to rule out what would break framing.
bool IsSafeHeaderName(std::string_view name) {
  return !name.empty() && name.find_first_of("\r\n: \t") == std::string_view::npos;
}

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == beast::error_code(http::error::bad_target).category();
}

// Accept failures that mean "out of a resource" rather than "this one connection failed".
bool IsResourceExhaustion(const beast::error_code& ec) {
  if (ec.category() != boost::system::system_category()) {
    return false;
  }
  const int v = ec.value();
  return v == EMFILE || v == ENFILE || v == ENOBUFS || v == ENOMEM;
}

std::string EndpointString(const tcp::endpoint& endpoint) {
  const asio::ip::address address = endpoint.address();
  const std::string port = std::to_string(endpoint.port());
  return address.is_v6() ? "[" + address.to_string() + "]:" + port
                         : address.to_string() + ":" + port;
}

// The limits a connection's parser enforces (413 and 431 come from these).
void LimitParser(const HttpServerOptions& options,
                 http::request_parser<http::string_body>* parser) {
  parser->header_limit(static_cast<std::uint32_t>(
      std::min<size_t>(options.header_limit, std::numeric_limits<std::uint32_t>::max())));
  parser->body_limit(static_cast<std::uint64_t>(options.body_limit));
}

// An answer of the server's own (made before any handler) with HttpServerOptions'
// refusal_headers.
HttpResponse WithRefusalHeaders(HttpResponse response, const HttpServerOptions& options) {
  for (const auto& header : options.refusal_headers) {
    response.headers.push_back(header);
  }
  return response;
}

// What the server answers when reading a request failed with `ec` (the connection closes after
// it); nullopt when it just closes (the client left, a timeout, a reset).
std::optional<HttpResponse> ReadErrorAnswer(const beast::error_code& ec,
                                            const HttpServerOptions& options) {
  if (ec == http::error::body_limit) {
    return JsonErrorResponse(
        413, "payload_too_large",
        "request body exceeds " + std::to_string(options.body_limit) + " bytes");
  }
  if (ec == http::error::header_limit) {
    return JsonErrorResponse(
        431, "header_too_large",
        "request headers exceed " + std::to_string(options.header_limit) + " bytes");
  }
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) {
    return std::nullopt;  // the client closed, between requests or in the middle of one
  }
  if (IsHttpParseError(ec)) {
    // The framing is lost: answer, then close.
    return JsonErrorResponse(400, "bad_request", "malformed request: " + ec.message());
  }
  return std::nullopt;  // read timeout (the stream already closed the socket), reset, shutdown
}

// An answer the server gives itself instead of calling the handler.
struct Refusal {
  HttpResponse response;
  bool close = false;  // the connection closes after it
};

// Turns a complete request as Beast read it into *request (path and query, headers, the body
// inflated), or the answer that refuses it. request->remote_address is left as it is.
std::optional<Refusal> BuildRequest(http::request<http::string_body>& message,
                                    const HttpServerOptions& options, HttpRequest* request) {
  request->method = std::string(ToStd(message.method_string()));
  request->version = static_cast<int>(message.version());
  std::string_view target = ToStd(message.target());
  // Absolute form ("http://host/path?q"), which proxies send: keep only path and query.
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() >= scheme.size() &&
        EqualsIgnoreCase(target.substr(0, scheme.size()), scheme)) {
      const size_t path_start = target.find_first_of("/?", scheme.size());
      target =
          path_start == std::string_view::npos ? std::string_view("/") : target.substr(path_start);
      break;
    }
  }
  const size_t question = target.find('?');
  request->path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) {
    request->query = std::string(target.substr(question + 1));
  }
  if (request->path.empty()) {
    request->path = "/";
  }
  if (request->path.front() != '/' && request->path != "*") {
    return Refusal{JsonErrorResponse(400, "bad_request", "request target must be a path"),
                   /*close=*/false};
  }
  request->headers.reserve(16);
  for (const auto& field : message) {
    request->headers.emplace_back(std::string(ToStd(field.name_string())),
                                  std::string(ToStd(field.value())));
  }

  const std::string_view encoding = TrimSpaces(ToStd(message[http::field::content_encoding]));
  if (encoding.empty() || EqualsIgnoreCase(encoding, "identity")) {
    request->body = std::move(message.body());
  } else if (EqualsIgnoreCase(encoding, "gzip") || EqualsIgnoreCase(encoding, "x-gzip")) {
    switch (Gunzip(message.body(), options.body_limit, &request->body)) {
      case GunzipResult::kOk:
        break;
      case GunzipResult::kTooLarge:
        return Refusal{JsonErrorResponse(413, "payload_too_large",
                                         "inflated request body exceeds " +
                                             std::to_string(options.body_limit) + " bytes"),
                       /*close=*/true};
      case GunzipResult::kCorrupt:
        // The message itself was well framed, so the connection stays usable.
        return Refusal{JsonErrorResponse(400, "bad_request", "corrupt gzip body"),
                       /*close=*/false};
    }
  } else {
    return Refusal{JsonErrorResponse(415, "unsupported_media_type",
                                     "unsupported Content-Encoding: " + std::string(encoding)),
                   /*close=*/false};
  }
  return std::nullopt;
}

class Session;

// What the server and its connections share. Connections keep it alive, so a connection that
// outlives the HttpServer object (finishing a write, waiting for its handler) stays valid.
struct ServerState {
  ServerState(HttpServerOptions opts, HttpHandler h)
      : options(std::move(opts)), handler(std::move(h)) {}

  const HttpServerOptions options;
  const HttpHandler handler;
  std::atomic<bool> stopped{false};   // written under mu, read anywhere
  std::atomic<size_t> rejecting{0};   // connections being answered 503
  std::atomic<size_t> body_bytes{0};  // reserved by requests not yet answered
  std::mutex mu;
  std::unordered_map<const Session*, std::weak_ptr<Session>> sessions;  // guarded by mu
};

// One accepted connection. Every member function runs on the connection's strand (the executor
// of stream_); Close() and ResponseSlot only post to it.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<ServerState> state)
      : stream_(std::move(socket)), state_(std::move(state)) {
    beast::error_code ec;
    const tcp::endpoint peer = stream_.socket().remote_endpoint(ec);
    if (!ec) {
      remote_ = EndpointString(peer);
    }
  }

  ~Session() {
    ReleaseBody();
    Unregister();
    if (rejected_) {
      state_->rejecting.fetch_sub(1);
    }
  }

  // Adds this session to the server's registry unless the server stopped or is full.
  enum class Admission { kAdmitted, kFull, kStopped };
  Admission Register() {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->stopped.load()) {
      return Admission::kStopped;
    }
    if (state_->sessions.size() >= state_->options.max_connections) {
      return Admission::kFull;
    }
    state_->sessions.emplace(this, weak_from_this());
    return Admission::kAdmitted;
  }

  void Start() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::BeginFirstRequest, shared_from_this()));
  }

  // Answers 503 and closes; the session is not counted as a connection.
  void StartRejected() {
    rejected_ = true;
    state_->rejecting.fetch_add(1);
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      HttpResponse response = JsonErrorResponse(
          503, "too_many_connections",
          "the http listener has " + std::to_string(self->state_->options.max_connections) +
              " connections open (max_connections)");
      response.headers.emplace_back("Retry-After", "1");
      self->Refuse(std::move(response), /*force_close=*/true);
    });
  }

  // Thread-safe: closes the connection on its strand.
  void Close() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->CloseNow(); });
  }

  // Called (via a post to the strand) with the handler's answer to request number `seq`.
  void OnResponse(uint64_t seq, HttpResponse response) {
    if (closed_ || !awaiting_response_ || seq != request_seq_) {
      return;
    }
    awaiting_response_ = false;
    WriteResponse(std::move(response), /*force_close=*/false);
  }

  const std::shared_ptr<ServerState>& state() const { return state_; }
  beast::tcp_stream::executor_type executor() { return stream_.get_executor(); }

 private:
  void Unregister() {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->sessions.erase(this);
  }

  void CloseNow() {
    if (closed_) {
      return;
    }
    closed_ = true;
    ReleaseBody();
    if (stream_body_) {
      stream_timer_->cancel();
      stream_body_->Closed();
      stream_body_.reset();
    }
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    Unregister();
  }

  // A connection's first request must arrive within read_timeout of the accept.
  void BeginFirstRequest() {
    if (closed_) {
      return;
    }
    stream_.expires_after(state_->options.read_timeout);
    ReadHeader();
  }

  // Between requests: an idle keep-alive connection waits up to idle_timeout for the first byte
  // of the next request; from that byte on the request has read_timeout to arrive.
  void WaitForRequest() {
    if (buffer_.size() > 0) {  // pipelined: the next request has already begun
      stream_.expires_after(state_->options.read_timeout);
      ReadHeader();
      return;
    }
    stream_.expires_after(state_->options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            beast::bind_front_handler(&Session::OnIdleRead, shared_from_this()));
  }

  void OnIdleRead(beast::error_code ec, size_t bytes) {
    if (closed_) {
      return;
    }
    if (ec) {
      CloseNow();  // the client left, or stayed idle too long
      return;
    }
    buffer_.commit(bytes);
    stream_.expires_after(state_->options.read_timeout);
    ReadHeader();
  }

  void ReadHeader() {
    request_version_ = 11;
    head_request_ = false;
    parser_.emplace();
    LimitParser(state_->options, &*parser_);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, size_t /*bytes*/) {
    if (closed_) {
      return;
    }
    if (ec) {
      OnReadError(ec);
      return;
    }
    const auto& header = parser_->get();
    request_version_ = header.version();
    if (parser_->is_done()) {
      OnRequestRead();
      return;
    }
    if (!ReserveBody()) {
      HttpResponse response = JsonErrorResponse(
          503, "busy",
          "request bodies under way take " + std::to_string(state_->body_bytes.load()) +
              " bytes; this one does not fit in " +
              std::to_string(state_->options.max_inflight_body_bytes) +
              " (http.max_inflight_body_bytes)");
      response.headers.emplace_back("Retry-After", "1");
      Refuse(std::move(response), /*force_close=*/true);
      return;
    }
    // curl and others wait (up to a second) for this before sending a large body.
    if (header.version() >= 11 &&
        EqualsIgnoreCase(TrimSpaces(ToStd(header[http::field::expect])), "100-continue")) {
      asio::async_write(stream_, asio::buffer(kContinue, sizeof(kContinue) - 1),
                        beast::bind_front_handler(&Session::OnContinueWritten, shared_from_this()));
      return;
    }
    ReadBody();
  }

  void OnContinueWritten(beast::error_code ec, size_t /*bytes*/) {
    if (closed_) {
      return;
    }
    if (ec) {
      CloseNow();
      return;
    }
    ReadBody();
  }

  // Takes room for the body of the request whose headers just arrived: its Content-Length, or
  // body_limit when chunked. False when that would pass max_inflight_body_bytes.
  bool ReserveBody() {
    const auto length = parser_->content_length();  // boost::optional in Beast 1.74
    const size_t want = length ? static_cast<size_t>(*length) : state_->options.body_limit;
    size_t held = state_->body_bytes.load();
    do {
      if (held + want > state_->options.max_inflight_body_bytes) {
        return false;
      }
    } while (!state_->body_bytes.compare_exchange_weak(held, held + want));
    body_reserved_ = want;
    return true;
  }

  // Gives the room back: the request is answered, failed, or its connection closed.
  void ReleaseBody() {
    if (body_reserved_ != 0) {
      state_->body_bytes.fetch_sub(body_reserved_);
      body_reserved_ = 0;
    }
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnBody, shared_from_this()));
  }

  void OnBody(beast::error_code ec, size_t /*bytes*/) {
    if (closed_) {
      return;
    }
    if (ec) {
      OnReadError(ec);
      return;
    }
    OnRequestRead();
  }

  void OnReadError(const beast::error_code& ec) {
    ReleaseBody();
    if (std::optional<HttpResponse> answer = ReadErrorAnswer(ec, state_->options)) {
      Refuse(std::move(*answer), /*force_close=*/true);
      return;
    }
    CloseNow();
  }

  void OnRequestRead() {
    http::request<http::string_body> message = parser_->release();
    parser_.reset();
    keep_alive_ = message.keep_alive();
    head_request_ = message.method() == http::verb::head;
    request_version_ = message.version();

    HttpRequest request;
    request.remote_address = remote_;
    if (std::optional<Refusal> refusal = BuildRequest(message, state_->options, &request)) {
      Refuse(std::move(refusal->response), refusal->close);
      return;
    }
    CallHandler(std::move(request));
  }

  void CallHandler(HttpRequest request);

  // An answer of the server's own, made before any handler: with the refusal headers.
  void Refuse(HttpResponse response, bool force_close) {
    WriteResponse(WithRefusalHeaders(std::move(response), state_->options), force_close);
  }

  void WriteResponse(HttpResponse response, bool force_close) {
    // The request's body, or what its handler made of it (events waiting for the engine), is
    // done with once it is answered.
    ReleaseBody();
    if (response.status < 200 || response.status > 999) {
      response = JsonErrorResponse(500, "internal",
                                   "handler answered status " + std::to_string(response.status));
    }
    if (response.stream) {
      if (!head_request_ && response.status == 200) {
        StartStream(std::move(response));
        return;
      }
      response.stream->Closed();
      response.stream.reset();
    }
    bool close = force_close || !keep_alive_;
    response_ = {};
    response_.version(request_version_ == 10 ? 10 : 11);
    response_.result(static_cast<unsigned>(response.status));
    for (const auto& [name, value] : response.headers) {
      if (!IsSafeHeaderName(name) || HasLineBreak(value) ||
          EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding")) {
        continue;
      }
      if (EqualsIgnoreCase(name, "connection")) {
        close = close || EqualsIgnoreCase(TrimSpaces(value), "close");
        continue;
      }
      response_.insert(name, value);
    }
    if (!response.content_type.empty() && !HasLineBreak(response.content_type)) {
      response_.set(http::field::content_type, response.content_type);
    }
    // 204 and 304 carry no body and no Content-Length (prepare_payload would throw on a body).
    if (response.status != 204 && response.status != 304) {
      response_.body() = std::move(response.body);
      response_.prepare_payload();
    }
    response_.keep_alive(!close);
    close_after_write_ = close;

    stream_.expires_after(state_->options.write_timeout);
    serializer_.emplace(response_);
    if (head_request_) {
      http::async_write_header(stream_, *serializer_,
                               beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
    } else {
      http::async_write(stream_, *serializer_,
                        beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
    }
  }

  void OnWrite(beast::error_code ec, size_t /*bytes*/) {
    if (closed_) {
      return;
    }
    serializer_.reset();
    response_ = {};  // free the body now, not at the next response
    if (ec) {
      CloseNow();
      return;
    }
    if (close_after_write_) {
      LingeringClose();
      return;
    }
    WaitForRequest();
  }

  // ---- Streamed responses (HttpResponse::stream) ----
  //
  // The connection writes the headers, then loops: ask the stream for bytes, write them (each
  // write bounded by write_timeout), ask again. While the stream waits, nothing is pending but a
  // read that notices the client closing, and the heartbeat timer.
  void StartStream(HttpResponse response) {
    stream_body_ = std::move(response.stream);
    stream_heartbeat_ = response.stream_heartbeat;
    chunked_ = request_version_ != 10;
    std::string& head = stream_out_;
    head = request_version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    head += std::to_string(response.status);
    head += response.status == 200 ? " OK\r\n" : " \r\n";
    for (const auto& [name, value] : response.headers) {
      if (!IsSafeHeaderName(name) || HasLineBreak(value) ||
          EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding") ||
          EqualsIgnoreCase(name, "connection") || EqualsIgnoreCase(name, "cache-control")) {
        continue;
      }
      head += name + ": " + value + "\r\n";
    }
    if (!response.content_type.empty() && !HasLineBreak(response.content_type)) {
      head += "Content-Type: " + response.content_type + "\r\n";
    }
    head += "Cache-Control: no-cache\r\n";
    if (chunked_) {
      head += "Transfer-Encoding: chunked\r\n";
    }
    head += "Connection: close\r\n\r\n";
    stream_timer_.emplace(stream_.get_executor());
    stream_wake_posted_ = std::make_shared<std::atomic<bool>>(false);
    stream_body_->Start(
        [weak = weak_from_this(), executor = stream_.get_executor(), posted = stream_wake_posted_] {
          if (posted->exchange(true)) {
            return;
          }
          asio::post(executor, [weak, posted] {
            posted->store(false);
            if (auto self = weak.lock()) {
              self->StreamPump(/*idle=*/false);
            }
          });
        });
    WatchStreamClient();
    stream_last_write_ = std::chrono::steady_clock::now();
    if (stream_heartbeat_ > std::chrono::milliseconds::zero()) {
      ArmStreamHeartbeat(stream_last_write_ + stream_heartbeat_);
    }
    WriteStreamOut();
  }

  // Reads (and drops) what the client sends while it is streamed to; its end closes the
  // connection at once instead of at the next failed write. On the raw socket, so the write
  // timeout of stream_ does not apply to this read.
  void WatchStreamClient() {
    stream_.socket().async_read_some(
        asio::buffer(stream_discard_),
        [self = shared_from_this()](beast::error_code ec, size_t /*bytes*/) {
          if (self->closed_) {
            return;
          }
          if (ec) {
            self->CloseNow();
            return;
          }
          self->WatchStreamClient();
        });
  }

  // The timer is not moved on every write (that would cost a cancel per write): when it fires
  // early it waits again until heartbeat after the last write.
  void ArmStreamHeartbeat(std::chrono::steady_clock::time_point at) {
    stream_timer_->expires_at(at);
    stream_timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_ || self->stream_ended_) {
        return;
      }
      const auto now = std::chrono::steady_clock::now();
      const auto due = self->stream_last_write_ + self->stream_heartbeat_;
      if (now < due) {
        self->ArmStreamHeartbeat(due);
        return;
      }
      // A write under way means bytes are flowing or the client is stuck (the write timeout
      // decides); either way a heartbeat adds nothing.
      if (!self->stream_writing_) {
        self->StreamPump(/*idle=*/true);
      }
      self->ArmStreamHeartbeat(now + self->stream_heartbeat_);
    });
  }

  void StreamPump(bool idle) {
    if (closed_ || stream_writing_ || stream_ended_) {
      return;
    }
    stream_chunk_.clear();
    const HttpBodyStream::Pull pull = stream_body_->Next(idle, &stream_chunk_);
    if (pull == HttpBodyStream::Pull::kWait ||
        (pull == HttpBodyStream::Pull::kData && stream_chunk_.empty())) {
      return;
    }
    if (pull == HttpBodyStream::Pull::kEnd) {
      stream_ended_ = true;
      if (chunked_) {
        stream_out_ = "0\r\n\r\n";
      }
    } else if (chunked_) {
      char size[24];
      const int n = std::snprintf(size, sizeof(size), "%zx\r\n", stream_chunk_.size());
      stream_out_.assign(size, static_cast<size_t>(n));
      stream_out_ += stream_chunk_;
      stream_out_ += "\r\n";
    } else {
      stream_out_.swap(stream_chunk_);
    }
    if (stream_chunk_.capacity() > kKeepStreamBytes) {
      std::string().swap(stream_chunk_);
    }
    WriteStreamOut();
  }

  void WriteStreamOut() {
    if (stream_out_.empty()) {
      if (stream_ended_) {
        EndStream();
      }
      return;
    }
    stream_writing_ = true;
    stream_.expires_after(state_->options.write_timeout);
    asio::async_write(stream_, asio::buffer(stream_out_),
                      [self = shared_from_this()](beast::error_code ec, size_t /*bytes*/) {
                        self->OnStreamWritten(ec);
                      });
  }

  void OnStreamWritten(beast::error_code ec) {
    stream_writing_ = false;
    if (closed_) {
      return;
    }
    if (ec) {
      CloseNow();  // the client left, or did not take the bytes within write_timeout
      return;
    }
    stream_.expires_never();
    stream_last_write_ = std::chrono::steady_clock::now();
    stream_out_.clear();
    if (stream_out_.capacity() > kKeepStreamBytes) {
      std::string().swap(stream_out_);
    }
    if (stream_ended_) {
      EndStream();
      return;
    }
    StreamPump(/*idle=*/false);
  }

  // The body is complete: half-close, and let WatchStreamClient's read see the client close too
  // (so the last bytes are not lost to an RST), for at most kMaxLinger.
  void EndStream() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) {
      CloseNow();
      return;
    }
    stream_timer_->expires_after(kMaxLinger);
    stream_timer_->async_wait([self = shared_from_this()](beast::error_code wait_ec) {
      if (!wait_ec) {
        self->CloseNow();
      }
    });
  }

  // Half-closes, then reads and discards what the client still sends until it closes too (or
  // kMaxLinger / kMaxLingerBytes pass), so our last response is not lost to an RST.
  void LingeringClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) {
      CloseNow();
      return;
    }
    buffer_.consume(buffer_.size());
    lingered_bytes_ = 0;
    stream_.expires_after(std::min(state_->options.read_timeout, kMaxLinger));
    Drain();
  }

  void Drain() {
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            beast::bind_front_handler(&Session::OnDrain, shared_from_this()));
  }

  void OnDrain(beast::error_code ec, size_t bytes) {
    if (closed_) {
      return;
    }
    lingered_bytes_ += bytes;
    if (ec || lingered_bytes_ > kMaxLingerBytes) {
      CloseNow();
      return;
    }
    Drain();  // nothing committed: the bytes are discarded
  }

  beast::tcp_stream stream_;
  const std::shared_ptr<ServerState> state_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  std::optional<http::response_serializer<http::string_body>> serializer_;
  uint64_t request_seq_ = 0;  // numbers requests so a late answer cannot hit a later request
  unsigned request_version_ = 11;
  bool keep_alive_ = false;
  bool head_request_ = false;
  bool awaiting_response_ = false;
  bool close_after_write_ = false;
  bool closed_ = false;
  bool rejected_ = false;
  size_t body_reserved_ = 0;  // this request's share of ServerState::body_bytes
  size_t lingered_bytes_ = 0;

  // A streamed response (StartStream); stream_body_ is set from its start until the close.
  std::shared_ptr<HttpBodyStream> stream_body_;
  std::chrono::milliseconds stream_heartbeat_{0};
  std::optional<asio::steady_timer> stream_timer_;
  std::shared_ptr<std::atomic<bool>> stream_wake_posted_;  // a wake-up is posted, not yet run
  std::chrono::steady_clock::time_point stream_last_write_ = std::chrono::steady_clock::now();
  std::string stream_out_;    // the bytes being written (the head, or one framed chunk)
  std::string stream_chunk_;  // what the stream gave, before framing
  std::array<char, 512> stream_discard_{};
  bool chunked_ = false;
  bool stream_writing_ = false;
  bool stream_ended_ = false;
};

// The one-shot channel from a handler back to its connection. Shared by every copy of the
// HttpRespond function; whoever calls first wins. It keeps the session alive while the handler
// works, and answers 500 if the handler lets every copy go without answering.
class ResponseSlot {
 public:
  ResponseSlot(std::shared_ptr<Session> session, uint64_t seq)
      : session_(std::move(session)), executor_(session_->executor()), seq_(seq) {}

  ~ResponseSlot() {
    // After Stop() the io_context may be shutting down: posting then could outlive it.
    if (!answered_.exchange(true) && !session_->state()->stopped.load()) {
      Post(JsonErrorResponse(500, "internal", "the request was dropped without an answer"));
    }
  }
  ResponseSlot(const ResponseSlot&) = delete;
  ResponseSlot& operator=(const ResponseSlot&) = delete;

  void Deliver(HttpResponse response) {
    if (answered_.exchange(true)) {
      return;
    }
    Post(std::move(response));
  }

 private:
  void Post(HttpResponse response) {
    asio::post(executor_,
               [session = session_, seq = seq_, response = std::move(response)]() mutable {
                 session->OnResponse(seq, std::move(response));
               });
  }

  const std::shared_ptr<Session> session_;
  const beast::tcp_stream::executor_type executor_;
  const uint64_t seq_;
  std::atomic<bool> answered_{false};
};

void Session::CallHandler(HttpRequest request) {
  stream_.expires_never();  // the handler may take its time; the client waits
  awaiting_response_ = true;
  const uint64_t seq = ++request_seq_;
  auto slot = std::make_shared<ResponseSlot>(shared_from_this(), seq);
  HttpRespond respond = [slot](HttpResponse response) { slot->Deliver(std::move(response)); };
  try {
    state_->handler(std::move(request), std::move(respond));
  } catch (const std::exception& e) {
    slot->Deliver(JsonErrorResponse(500, "internal", std::string("handler failed: ") + e.what()));
  } catch (...) {
    slot->Deliver(JsonErrorResponse(500, "internal", "handler failed"));
  }
}

}  // namespace

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) {
      return value;
    }
  }
  return {};
}

bool HttpRequest::HasHeader(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [name](const auto& header) { return EqualsIgnoreCase(header.first, name); });
}

HttpResponse JsonErrorResponse(int status, std::string_view error, std::string_view message) {
  HttpResponse response;
  response.status = status;
  response.content_type = "application/json";
  // Messages may quote request bytes (a path, a header value), which need not be UTF-8:
  // JsonQuoted writes U+FFFD for what is not.
  response.body = "{\"error\":" + JsonQuoted(error) + ",\"message\":" + JsonQuoted(message) + "}";
  return response;
}

HttpParse ParseHttpRequest(std::string_view bytes, const HttpServerOptions& options) {
  HttpParse result;
  http::request_parser<http::string_body> parser;
  LimitParser(options, &parser);
  parser.eager(true);  // the header and then the body, as a connection's two reads do
  beast::error_code ec;
  while (!parser.is_done()) {
    const size_t used = parser.put(
        asio::buffer(bytes.data() + result.consumed, bytes.size() - result.consumed), ec);
    result.consumed += used;
    if (ec == http::error::need_more || (!ec && used == 0)) {
      result.outcome = HttpParse::Outcome::kNeedMore;
      return result;
    }
    if (ec) {
      std::optional<HttpResponse> answer = ReadErrorAnswer(ec, options);
      if (!answer.has_value()) {
        // Not reachable from a buffer (only a closed or failing socket ends a read this way);
        // answer as a malformed request would be, should Beast ever report one.
        answer = JsonErrorResponse(400, "bad_request", "malformed request: " + ec.message());
      }
      result.outcome = HttpParse::Outcome::kAnswered;
      result.response = WithRefusalHeaders(std::move(*answer), options);
      result.close = true;
      return result;
    }
  }
  http::request<http::string_body> message = parser.release();
  if (std::optional<Refusal> refusal = BuildRequest(message, options, &result.request)) {
    result.outcome = HttpParse::Outcome::kAnswered;
    result.response = WithRefusalHeaders(std::move(refusal->response), options);
    result.close = refusal->close;
    return result;
  }
  result.outcome = HttpParse::Outcome::kRequest;
  return result;
}

// The listening side. Owned by HttpServer and by its own pending accept, so a completion that
// arrives after ~HttpServer still finds it.
class HttpServer::Impl : public std::enable_shared_from_this<HttpServer::Impl> {
 public:
  Impl(asio::io_context& io, HttpServerOptions options, HttpHandler handler)
      : io_(io),
        state_(std::make_shared<ServerState>(std::move(options), std::move(handler))),
        acceptor_(asio::make_strand(io)),
        retry_timer_(acceptor_.get_executor()) {}

  Status Listen(const std::string& host, uint16_t port) {
    std::lock_guard<std::mutex> lock(listen_mu_);
    if (listening_) {
      return Status::FailedPrecondition("HttpServer::Listen called twice");
    }
    if (state_->stopped.load()) {
      return Status::FailedPrecondition("HttpServer::Listen after Stop");
    }
    beast::error_code ec;
    tcp::endpoint endpoint;
    const asio::ip::address address = asio::ip::make_address(host, ec);
    if (!ec) {
      endpoint = tcp::endpoint(address, port);
    } else {
      tcp::resolver resolver(io_);
      const auto results = resolver.resolve(host, std::to_string(port), ec);
      if (ec || results.empty()) {
        return Status::IoError("cannot resolve HTTP listen address '" + host +
                               "': " + (ec ? ec.message() : "no address"));
      }
      endpoint = results.begin()->endpoint();
    }
    const std::string where = EndpointString(endpoint);
    if (acceptor_.open(endpoint.protocol(), ec); ec) {
      return Status::IoError("HTTP listen " + where + ": open: " + ec.message());
    }
    // Lets a restarted daemon bind while old connections sit in TIME_WAIT.
    acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (acceptor_.bind(endpoint, ec); ec) {
      beast::error_code ignored;
      acceptor_.close(ignored);
      return Status::IoError("HTTP listen " + where + ": bind: " + ec.message());
    }
    if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
      beast::error_code ignored;
      acceptor_.close(ignored);
      return Status::IoError("HTTP listen " + where + ": listen: " + ec.message());
    }
    const tcp::endpoint bound = acceptor_.local_endpoint(ec);
    port_.store(ec ? port : bound.port());
    listening_ = true;
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] { self->DoAccept(); });
    return Status::Ok();
  }

  uint16_t port() const { return port_.load(); }

  size_t connection_count() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->sessions.size();
  }

  void Stop() {
    std::vector<std::shared_ptr<Session>> sessions;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      if (state_->stopped.load()) {
        return;
      }
      state_->stopped.store(true);
      sessions.reserve(state_->sessions.size());
      for (const auto& [key, weak] : state_->sessions) {
        if (auto session = weak.lock()) {
          sessions.push_back(std::move(session));
        }
      }
    }
    // The acceptor belongs to its strand; close it there.
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->acceptor_.close(ignored);
      self->retry_timer_.cancel();
    });
    for (const auto& session : sessions) {
      session->Close();
    }
  }

 private:
  void DoAccept() {
    if (state_->stopped.load() || !acceptor_.is_open()) {
      return;
    }
    // Each connection gets its own strand, so the io_context may run on several threads.
    acceptor_.async_accept(asio::make_strand(io_),
                           beast::bind_front_handler(&Impl::OnAccept, shared_from_this()));
  }

  void OnAccept(beast::error_code ec, tcp::socket socket) {
    if (state_->stopped.load()) {
      return;  // `socket` closes as it goes out of scope
    }
    if (ec) {
      if (ec == asio::error::operation_aborted) {
        return;
      }
      if (IsResourceExhaustion(ec)) {
        retry_timer_.expires_after(kAcceptRetryDelay);
        retry_timer_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
          if (!wait_ec) {
            self->DoAccept();
          }
        });
        return;
      }
      DoAccept();  // this one connection failed (e.g. reset before accept); keep going
      return;
    }
    auto session = std::make_shared<Session>(std::move(socket), state_);
    switch (session->Register()) {
      case Session::Admission::kAdmitted:
        session->Start();
        break;
      case Session::Admission::kFull:
        // Answering 503 costs a socket for a moment; past another max_connections of those,
        // just drop the connection.
        if (state_->rejecting.load() < state_->options.max_connections) {
          session->StartRejected();
        }
        break;
      case Session::Admission::kStopped:
        return;
    }
    DoAccept();
  }

  asio::io_context& io_;
  const std::shared_ptr<ServerState> state_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  std::atomic<uint16_t> port_{0};
  std::mutex listen_mu_;
  bool listening_ = false;  // guarded by listen_mu_
};

HttpServer::HttpServer(boost::asio::io_context& io, HttpServerOptions options, HttpHandler handler)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Listen(const std::string& host, uint16_t port) {
  return impl_->Listen(host, port);
}

uint16_t HttpServer::port() const { return impl_->port(); }

size_t HttpServer::connection_count() const { return impl_->connection_count(); }

void HttpServer::Stop() { impl_->Stop(); }

}  // namespace handoff
