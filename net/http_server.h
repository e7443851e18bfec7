// HttpServer: the HTTP/1.1 transport of handoffd (Segment-compatible ingest and the admin API share
// one port). It reads requests, enforces limits and timeouts, inflates gzip bodies and writes
// responses; what a request means is the handler's business.
//
// Each connection serves one request at a time: the next request (also a pipelined one) is read
// only after the response to the current one is written. The handler may answer later, from any
// thread (ingest answers only after a durable commit); the connection waits without blocking
// the io_context. Keep-alive follows HTTP: on by default in HTTP/1.1, off in HTTP/1.0 unless asked
// for, off after "Connection: close".
//
// Errors the server answers itself, each with a JSON body {"error": code, "message": text}:
//   400 bad_request         malformed request (then close), a target that is not a path, or a
//                           corrupt gzip body
//   413 payload_too_large   body over body_limit, as sent or once inflated        (then close)
//   415 unsupported_media_type  a Content-Encoding other than gzip / identity
//   431 header_too_large    request line + headers over header_limit              (then close)
//   500 internal            the handler threw, answered a bad status, or dropped `respond`
//   503 too_many_connections  max_connections connections are already open (then close;
//                           Retry-After: 1)
//   503 busy                the request's body does not fit in max_inflight_body_bytes (then
//                           close; Retry-After: 1)
// A malformed request closes the connection, since its framing is lost.
//
// Thread safety: Listen() once, before or while the io_context runs. Stop(), port() and
// connection_count() may be called from any thread. The io_context may be run by several threads;
// every connection works on its own strand.
#pragma once

// clang-format off
#include <utility>  // before any Asio header: Boost 1.74 Asio misses it under g++ 12
#include <boost/asio/io_context.hpp>
// clang-format on

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "handoff/status.h"

namespace handoff {

struct HttpServerOptions {
  // Largest request body, in bytes, both as sent and after gzip inflation. Over it: 413 and close.
  // Default: 500 KiB (Segment's limit).
  size_t body_limit = 500 * 1024;
  // Largest request line plus headers, in bytes. Over it: 431 and close. Default: 16 KiB.
  size_t header_limit = 16 * 1024;
  // A request (headers and body) must arrive within this, counted from its first byte (from the
  // accept for a connection's first request). A slower client is disconnected without an answer.
  std::chrono::milliseconds read_timeout{10000};
  // A keep-alive connection with no request under way is closed after this. Default: 60 s.
  std::chrono::milliseconds idle_timeout{60000};
  // Writing one response must finish within this, or the connection is closed. Default: 30 s.
  // For a streamed response (HttpResponse::stream) each write of the stream's bytes must.
  std::chrono::milliseconds write_timeout{30000};
  // Open connections beyond this are answered 503 and closed at once. Default: 1024.
  size_t max_connections = 1024;
  // Bytes of request bodies under way at once, across every connection: each request with a
  // body holds its Content-Length (body_limit when chunked) from its headers until it is answered
  // (its body, or the events its handler made of it, are in memory until then). A request that
  // does not fit is answered 503 and closed. Default: 128 MiB.
  size_t max_inflight_body_bytes = 128 << 20;
  // Headers added to every answer the server makes itself, before any handler sees the request
  // (413, 431, 400 for a malformed request or a corrupt gzip body, 415, the 503s above). The
  // daemon puts the CORS header there: browser trackers post to this port too. Default: none.
  std::vector<std::pair<std::string, std::string>> refusal_headers;
};

struct HttpRequest {
  std::string method;  // as sent, e.g. "GET", "POST"
  // The path as sent, still percent-encoded, without the query: "/v1/leads/u%2F1". It is not
  // decoded here because decoding first would turn an encoded '/' inside an id into a separator;
  // SplitPath() (net/http_util.h) splits, then decodes each segment.
  std::string path;
  std::string query;  // the raw query string without '?', "" when none; see QueryParams::Parse
  // The body; already inflated when it came with "Content-Encoding: gzip". The headers still
  // show the Content-Encoding and Content-Length as sent.
  std::string body;
  // Every header in arrival order, names as sent.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string remote_address;  // the peer, "127.0.0.1:53122"; for logs
  int version = 11;            // 10 for HTTP/1.0, 11 for HTTP/1.1

  // The value of the first header named `name` (case-insensitive); "" when there is none.
  std::string_view Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
};

// A response body written over time: Server-Sent Events (GET /v1/stream). The connection pulls
// from it: Next() is asked for more only once the socket has taken every byte of the previous
// answer, so a client that does not read holds at most one answer's bytes in memory, and a write
// that does not finish within HttpServerOptions::write_timeout closes the connection. All calls
// come on the connection's own strand (so, in handoffd, the io thread), never concurrently.
class HttpBodyStream {
 public:
  enum class Pull {
    kData,  // bytes were appended to *out: the connection writes them, then asks again
    kWait,  // nothing to send now: the connection asks again after wake() (or the heartbeat)
    kEnd,   // the body is complete: the connection ends the response and closes
  };
  virtual ~HttpBodyStream() = default;
  // Called once, when the headers are about to be written. `wake` tells a waiting connection to
  // ask again: thread-safe, cheap (calls coalesce), harmless after the connection closed.
  virtual void Start(std::function<void()> wake) = 0;
  // The next bytes, appended to *out (empty on entry); the stream bounds how many. `idle` is true
  // when nothing was written for the response's stream_heartbeat: the stream should append a
  // heartbeat (keeping proxies and the client's idle timers from closing) and return kData.
  virtual Pull Next(bool idle, std::string* out) = 0;
  // The connection closed (the client left, a write timed out, the server stopped, or after
  // kEnd). Nothing is called after it.
  virtual void Closed() = 0;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";  // empty: no Content-Type header
  std::string body;
  // Extra headers. Content-Length and Transfer-Encoding are the server's and are ignored here;
  // a header with CR or LF in it is dropped. "Connection: close" closes the connection after
  // this response.
  std::vector<std::pair<std::string, std::string>> headers;
  // Set: `body` is ignored and the body comes from the stream. The headers go out without a
  // Content-Length (HTTP/1.1: Transfer-Encoding: chunked; HTTP/1.0: the end of the body is the
  // close), with Cache-Control: no-cache and Connection: close; the connection serves nothing
  // after this response. Its end of input (the client closed) closes the connection at once.
  std::shared_ptr<HttpBodyStream> stream;
  // With `stream`: Next(idle=true) is asked after this long without a write (0: never).
  // Default: 10 s.
  std::chrono::milliseconds stream_heartbeat{10000};
};

// A response {"error": error, "message": message} with the given status; the shape every error
// the server answers itself has, so handlers can use it for theirs. Text that is not UTF-8 (a
// message quoting a path or header as sent) is repaired, each bad byte becoming U+FFFD, so the
// body is always JSON.
HttpResponse JsonErrorResponse(int status, std::string_view error, std::string_view message);

// Sends the response to one request. Call it exactly once, from any thread, at any time; later
// calls are ignored. If every copy is destroyed uncalled, the client gets a 500. Calling it after
// the connection closed or the server stopped is harmless.
using HttpRespond = std::function<void(HttpResponse)>;

// Called on an io_context thread for each complete request. It must not block: long work goes
// elsewhere and answers through `respond`. An exception it throws becomes a 500.
using HttpHandler = std::function<void(HttpRequest&& req, HttpRespond respond)>;

// What a connection makes of the bytes it has read, without the socket: the same parser, limits
// and request building as HttpServer's connections, for tests and the fuzzer (fuzz/). Pure and
// thread-safe.
struct HttpParse {
  enum class Outcome {
    kRequest,   // a complete request in `request`, `consumed` bytes long
    kNeedMore,  // `bytes` are the beginning of a request: the connection keeps reading
    kAnswered,  // the server answers `response` itself, without calling the handler
  };
  Outcome outcome = Outcome::kNeedMore;
  HttpRequest request;    // kRequest; remote_address is empty
  HttpResponse response;  // kAnswered: 400, 413, 415 or 431
  bool close = false;     // kAnswered: the connection closes after the answer
  size_t consumed = 0;    // kRequest, kAnswered: the bytes read for this request
};

// Parses the request at the start of `bytes` (a keep-alive connection's next request begins at
// `consumed`).
HttpParse ParseHttpRequest(std::string_view bytes, const HttpServerOptions& options);

class HttpServer {
 public:
  // `io` must outlive the server. Nothing happens before Listen().
  HttpServer(boost::asio::io_context& io, HttpServerOptions options, HttpHandler handler);
  // Stop()s. Connections and handlers still running finish on the io_context on their own; they
  // hold no reference to this object.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (port 0: any free port, see port()) and starts accepting. `host` is an IP
  // address or a name that resolves to one (the first address is used). Returns IoError when the
  // address does not resolve or bind/listen fails, FailedPrecondition when called twice or after
  // Stop().
  Status Listen(const std::string& host, uint16_t port);

  // The bound port; 0 before a successful Listen().
  uint16_t port() const;

  // Open connections, including ones waiting for their handler.
  size_t connection_count() const;

  // Stops accepting and closes every connection, mid-request or not; responses still to come are
  // dropped. Idempotent. The closing runs on the io_context (Stop() does not wait for it), so the
  // io_context must keep running, or be destroyed, for the sockets to close.
  void Stop();

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace handoff
