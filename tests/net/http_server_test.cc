// Drives HttpServer over real loopback sockets. The client is a plain blocking POSIX socket with a
// receive guard of a few seconds, so a server bug fails a test instead of hanging it; no test
// asserts how fast anything happens.
// clang-format off
#include <utility>
#include "net/http_server.h"
// clang-format on

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "base/json_parser.h"
#include "net/http_util.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

// Long enough that a correct server never hits it, short enough that a broken one fails soon.
constexpr int kGuardSeconds = 10;

std::string GzipCompress(std::string_view data) {
  z_stream zs{};
  EXPECT_EQ(
      deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
      Z_OK);
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

struct ClientResponse {
  std::string version;  // "HTTP/1.1"
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

std::string Lower(std::string s) {
  for (char& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

// A blocking HTTP/1.x client on a raw socket, enough to send exact bytes and read responses that
// carry a Content-Length (the server always sends one).
class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{kGuardSeconds, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawClient() { close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one response; nullopt on EOF, error or the guard timeout. With `head`, expects no body.
  std::optional<ClientResponse> ReadResponse(bool head = false) {
    size_t header_end;
    while ((header_end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) {
        return std::nullopt;
      }
    }
    ClientResponse response;
    const std::string head_text = pending_.substr(0, header_end);
    pending_.erase(0, header_end + 4);
    size_t line_end = head_text.find("\r\n");
    const std::string status_line = head_text.substr(0, line_end);
    response.version = status_line.substr(0, status_line.find(' '));
    response.status = std::atoi(status_line.substr(status_line.find(' ') + 1).c_str());
    while (line_end != std::string::npos) {
      const size_t start = line_end + 2;
      line_end = head_text.find("\r\n", start);
      const std::string line = head_text.substr(start, line_end - start);
      const size_t colon = line.find(':');
      if (colon == std::string::npos) {
        continue;
      }
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      response.headers[Lower(line.substr(0, colon))] = value;
    }
    if (response.status == 100) {
      return response;
    }
    const size_t length = head ? 0
                               : std::stoul(response.Header("content-length").empty()
                                                ? "0"
                                                : response.Header("content-length"));
    while (pending_.size() < length) {
      if (!Fill()) {
        return std::nullopt;
      }
    }
    response.body = pending_.substr(0, length);
    pending_.erase(0, length);
    return response;
  }

  // Sends one request and reads its response.
  std::optional<ClientResponse> RoundTrip(std::string_view request) {
    if (!Send(request)) {
      return std::nullopt;
    }
    return ReadResponse();
  }

  // Everything the server sends until it closes the connection (or the guard timeout), after
  // what ReadResponse already took.
  std::string ReadUntilClose() {
    while (Fill()) {
    }
    return std::exchange(pending_, {});
  }

  // Reads until `text` has arrived (true), or EOF, an error or the guard (false).
  bool ReadUntil(std::string_view text) {
    while (pending_.find(text) == std::string::npos) {
      if (!Fill()) {
        return false;
      }
    }
    return true;
  }

  // Asks the kernel for a small receive buffer, so a client that does not read fills it soon.
  void ShrinkReceiveBuffer() {
    int bytes = 4096;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
  }

  // True when the server closes the connection (EOF or reset) before the guard timeout. Any data
  // still arriving is discarded.
  bool WaitForClose() {
    char buf[4096];
    while (true) {
      const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n == 0) {
        return true;
      }
      if (n < 0) {
        return errno == ECONNRESET;  // EAGAIN: the guard expired with the connection still open
      }
    }
  }

 private:
  bool Fill() {
    char buf[4096];
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) {
      return false;
    }
    pending_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;
};

std::string Get(std::string_view target, std::string_view extra_headers = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: localhost\r\n" +
         std::string(extra_headers) + "\r\n";
}

std::string Post(std::string_view target, std::string_view body,
                 std::string_view extra_headers = "") {
  return "POST " + std::string(target) +
         " HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         std::string(extra_headers) + "\r\n" + std::string(body);
}

// Answers with what it saw: "METHOD path?query|body", and echoes X-Echo as a header.
void EchoHandler(HttpRequest&& req, HttpRespond respond) {
  HttpResponse response;
  response.content_type = "text/plain";
  response.body = req.method + " " + req.path + "?" + req.query + "|" + req.body;
  if (req.HasHeader("x-echo")) {
    response.headers.emplace_back("X-Echo", std::string(req.Header("X-ECHO")));
  }
  respond(std::move(response));
}

// Responses a test answers by hand, from its own thread.
class PendingResponses {
 public:
  void Add(HttpRequest req, HttpRespond respond) {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.emplace_back(std::move(req), std::move(respond));
    cv_.notify_all();
  }
  // Waits (up to the guard) for a request to arrive and takes it.
  std::optional<std::pair<HttpRequest, HttpRespond>> Take() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(kGuardSeconds),
                      [this] { return !pending_.empty(); })) {
      return std::nullopt;
    }
    auto item = std::move(pending_.front());
    pending_.pop_front();
    return item;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<HttpRequest, HttpRespond>> pending_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options, HttpHandler handler) {
    server_ = std::make_unique<HttpServer>(io_, options, std::move(handler));
    ASSERT_OK(server_->Listen("127.0.0.1", 0));
    ASSERT_NE(server_->port(), 0);
    // Two threads, so the per-connection strands are exercised.
    for (int i = 0; i < 2; ++i) {
      threads_.emplace_back([this] { io_.run(); });
    }
  }

  void StopAndJoin() {
    if (server_) {
      server_->Stop();
    }
    work_.reset();
    for (auto& t : threads_) {
      t.join();
    }
    threads_.clear();
  }

  void TearDown() override { StopAndJoin(); }

  uint16_t port() const { return server_->port(); }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  std::vector<std::thread> threads_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, GetRoundTrip) {
  StartServer({}, EchoHandler);
  RawClient client(port());
  ASSERT_TRUE(client.connected());
  auto response = client.RoundTrip(Get("/v1/leads/u%2F1?at=123&x=y", "X-Echo: hi\r\n"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->version, "HTTP/1.1");
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "GET /v1/leads/u%2F1?at=123&x=y|");
  EXPECT_EQ(response->Header("content-type"), "text/plain");
  EXPECT_EQ(response->Header("x-echo"), "hi");
  EXPECT_NE(Lower(response->Header("connection")), "close");
}

TEST_F(HttpServerTest, PostRoundTripAndRequestFields) {
  std::atomic<bool> checked{false};
  StartServer({}, [&](HttpRequest&& req, HttpRespond respond) {
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.path, "/v1/track");
    EXPECT_EQ(req.query, "");
    EXPECT_EQ(req.version, 11);
    EXPECT_EQ(req.Header("content-type"), "application/json");
    EXPECT_EQ(req.Header("Authorization"), "Basic a2V5Og==");
    EXPECT_EQ(req.Header("missing"), "");
    EXPECT_EQ(req.remote_address.rfind("127.0.0.1:", 0), 0u) << req.remote_address;
    checked = true;
    HttpResponse response;
    response.body = "{\"success\":true,\"echo\":" + req.body + "}";
    respond(std::move(response));
  });
  RawClient client(port());
  auto response = client.RoundTrip(Post("/v1/track", R"({"type":"track"})",
                                        "Content-Type: application/json\r\n"
                                        "Authorization: Basic a2V5Og==\r\n"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("content-type"), "application/json");
  EXPECT_EQ(response->body, R"({"success":true,"echo":{"type":"track"}})");
  EXPECT_TRUE(checked);
}

TEST_F(HttpServerTest, AsyncResponseFromAnotherThreadDoesNotBlockOthers) {
  PendingResponses pending;
  StartServer({}, [&](HttpRequest&& req, HttpRespond respond) {
    if (req.path == "/slow") {
      pending.Add(std::move(req), std::move(respond));  // answered later by the test thread
      return;
    }
    EchoHandler(std::move(req), std::move(respond));
  });
  RawClient slow(port());
  ASSERT_TRUE(slow.Send(Post("/slow", "payload")));
  auto taken = pending.Take();
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->first.body, "payload");

  // While /slow waits for its answer, other connections are served.
  RawClient fast(port());
  auto fast_response = fast.RoundTrip(Get("/fast"));
  ASSERT_TRUE(fast_response.has_value());
  EXPECT_EQ(fast_response->body, "GET /fast?|");

  std::thread answerer([respond = std::move(taken->second)] {
    HttpResponse response;
    response.status = 202;
    response.body = "{\"late\":true}";
    respond(response);
    respond(HttpResponse{});  // a second call is ignored
  });
  answerer.join();
  auto slow_response = slow.ReadResponse();
  ASSERT_TRUE(slow_response.has_value());
  EXPECT_EQ(slow_response->status, 202);
  EXPECT_EQ(slow_response->body, "{\"late\":true}");

  // The connection is still usable, and the ignored second answer did not leak into it.
  auto next = slow.RoundTrip(Get("/fast?again"));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(next->body, "GET /fast?again|");
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  StartServer({}, EchoHandler);
  RawClient client(port());
  for (int i = 0; i < 5; ++i) {
    const std::string body = "n=" + std::to_string(i);
    auto response = client.RoundTrip(Post("/v1/batch", body));
    ASSERT_TRUE(response.has_value()) << i;
    EXPECT_EQ(response->body, "POST /v1/batch?|" + body);
  }
  EXPECT_EQ(server_->connection_count(), 1u);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer({}, EchoHandler);
  RawClient client(port());
  ASSERT_TRUE(client.Send(Get("/a") + Post("/b", "body-b") + Get("/c")));
  for (const std::string expected : {"GET /a?|", "POST /b?|body-b", "GET /c?|"}) {
    auto response = client.ReadResponse();
    ASSERT_TRUE(response.has_value()) << expected;
    EXPECT_EQ(response->body, expected);
  }
}

TEST_F(HttpServerTest, ConnectionCloseClosesAfterResponse) {
  StartServer({}, EchoHandler);
  RawClient client(port());
  auto response = client.RoundTrip(Get("/x", "Connection: close\r\n"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(Lower(response->Header("connection")), "close");
  EXPECT_TRUE(client.WaitForClose());
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAliveAsked) {
  StartServer({}, EchoHandler);
  {
    RawClient client(port());
    auto response = client.RoundTrip("GET /old HTTP/1.0\r\n\r\n");
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->version, "HTTP/1.0");
    EXPECT_EQ(response->body, "GET /old?|");
    EXPECT_TRUE(client.WaitForClose());
  }
  {
    RawClient client(port());
    for (int i = 0; i < 2; ++i) {
      auto response = client.RoundTrip("GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
      ASSERT_TRUE(response.has_value()) << i;
      EXPECT_EQ(Lower(response->Header("connection")), "keep-alive");
    }
  }
}

TEST_F(HttpServerTest, HandlerCanAskToClose) {
  StartServer({}, [](HttpRequest&&, HttpRespond respond) {
    HttpResponse response;
    response.headers.emplace_back("Connection", "close");
    response.headers.emplace_back("Content-Length", "999");      // ignored: the server's own
    response.headers.emplace_back("X-Bad", "a\r\nInjected: 1");  // dropped
    respond(std::move(response));
  });
  RawClient client(port());
  auto response = client.RoundTrip(Get("/"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->Header("content-length"), "0");
  EXPECT_EQ(response->Header("injected"), "");
  EXPECT_EQ(response->Header("x-bad"), "");
  EXPECT_TRUE(client.WaitForClose());
}

TEST_F(HttpServerTest, BodyOverLimitIs413ThenClose) {
  HttpServerOptions options;
  options.body_limit = 1000;
  std::atomic<int> calls{0};
  StartServer(options, [&](HttpRequest&& req, HttpRespond respond) {
    ++calls;
    EchoHandler(std::move(req), std::move(respond));
  });
  {
    RawClient client(port());
    auto ok = client.RoundTrip(Post("/v1/batch", std::string(1000, 'x')));  // exactly the limit
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok->status, 200);
  }
  {
    RawClient client(port());
    auto response = client.RoundTrip(Post("/v1/batch", std::string(5000, 'x')));
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 413);
    EXPECT_EQ(response->Header("content-type"), "application/json");
    EXPECT_NE(response->body.find("\"error\":\"payload_too_large\""), std::string::npos);
    EXPECT_TRUE(client.WaitForClose());
  }
  {
    // Chunked, so the size is only known while reading.
    RawClient client(port());
    std::string request =
        "POST /v1/batch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 3; ++i) {
      request += "200\r\n" + std::string(0x200, 'y') + "\r\n";
    }
    request += "0\r\n\r\n";
    auto response = client.RoundTrip(request);
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 413);
    EXPECT_TRUE(client.WaitForClose());
  }
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(HttpServerTest, BodiesPastTheInflightBudgetAre503) {
  HttpServerOptions options;
  options.body_limit = 1000;
  options.max_inflight_body_bytes = 1500;
  std::atomic<int> calls{0};
  StartServer(options, [&](HttpRequest&& req, HttpRespond respond) {
    ++calls;
    EchoHandler(std::move(req), std::move(respond));
  });
  const std::string head =
      "POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n";
  // The first body under way holds 1000 of the 1500 bytes (the 100 Continue comes after that).
  RawClient first(port());
  ASSERT_TRUE(first.Send(head));
  auto interim = first.ReadResponse();
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->status, 100);
  // A second does not fit: 503, closed, its handler never called.
  RawClient second(port());
  auto busy = second.RoundTrip(head + std::string(1000, 'b'));
  ASSERT_TRUE(busy.has_value());
  EXPECT_EQ(busy->status, 503);
  EXPECT_NE(busy->body.find(R"("error":"busy")"), std::string::npos) << busy->body;
  EXPECT_EQ(busy->Header("retry-after"), "1");
  EXPECT_TRUE(second.WaitForClose());
  // Requests without a body need no room.
  RawClient getter(port());
  auto got = getter.RoundTrip(Get("/"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status, 200);
  // The first finishes: its room is given back, and the next body fits.
  ASSERT_TRUE(first.Send(std::string(1000, 'a')));
  auto done = first.ReadResponse();
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status, 200);
  RawClient third(port());
  auto fits = third.RoundTrip(Post("/v1/batch", std::string(1000, 'c')));
  ASSERT_TRUE(fits.has_value());
  EXPECT_EQ(fits->status, 200);
  // A client that goes away mid-body gives its room back too.
  {
    RawClient leaver(port());
    ASSERT_TRUE(leaver.Send(head));
    auto leaver_interim = leaver.ReadResponse();
    ASSERT_TRUE(leaver_interim.has_value());
    EXPECT_EQ(leaver_interim->status, 100);
  }
  std::optional<ClientResponse> after_leaver;
  for (int i = 0; i < 200; ++i) {  // the server sees the close a moment later
    RawClient next(port());
    after_leaver = next.RoundTrip(Post("/v1/batch", std::string(1000, 'd')));
    if (after_leaver.has_value() && after_leaver->status == 200) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(after_leaver.has_value());
  EXPECT_EQ(after_leaver->status, 200);
  EXPECT_EQ(calls.load(), 4);  // first, the GET, third, the one after the leaver
}

TEST_F(HttpServerTest, GzipBodyIsInflated) {
  StartServer({}, EchoHandler);
  const std::string json = R"({"batch":[{"type":"track","event":"Demo Requested","userId":"u1"}]})";
  RawClient client(port());
  auto response =
      client.RoundTrip(Post("/v1/batch", GzipCompress(json), "Content-Encoding: gzip\r\n"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "POST /v1/batch?|" + json);
}

TEST_F(HttpServerTest, GzipOverLimitIs413AndCorruptGzipIs400) {
  HttpServerOptions options;
  options.body_limit = 10 * 1024;
  StartServer(options, EchoHandler);
  {
    RawClient client(port());
    const std::string compressed = GzipCompress(std::string(1 << 20, 'a'));
    ASSERT_LT(compressed.size(), options.body_limit);
    auto response = client.RoundTrip(Post("/v1/batch", compressed, "Content-Encoding: gzip\r\n"));
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 413);
    EXPECT_TRUE(client.WaitForClose());
  }
  {
    RawClient client(port());
    auto response =
        client.RoundTrip(Post("/v1/batch", "definitely not gzip", "Content-Encoding: gzip\r\n"));
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 400);
    EXPECT_NE(response->body.find("gzip"), std::string::npos);
    // The request was well framed, so the connection goes on.
    auto next = client.RoundTrip(Get("/after"));
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->status, 200);
  }
  {
    RawClient client(port());
    auto response = client.RoundTrip(Post("/v1/batch", "x", "Content-Encoding: br\r\n"));
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 415);
  }
}

// The daemon's Segment ingest shares the port with the server's own refusals: those carry the
// refusal headers (the CORS header there), the handlers' answers only what the handler set.
TEST_F(HttpServerTest, TheServersOwnRefusalsCarryTheRefusalHeaders) {
  HttpServerOptions options;
  options.body_limit = 1000;
  options.refusal_headers = {{"Access-Control-Allow-Origin", "*"}};
  StartServer(options, EchoHandler);
  {
    RawClient client(port());
    auto response = client.RoundTrip(Post("/v1/batch", std::string(5000, 'x')));
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 413);
    EXPECT_EQ(response->Header("access-control-allow-origin"), "*");
  }
  {
    RawClient client(port());
    auto response = client.RoundTrip(Post("/v1/batch", "not gzip", "Content-Encoding: gzip\r\n"));
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 400);
    EXPECT_EQ(response->Header("access-control-allow-origin"), "*");
    auto next = client.RoundTrip(Get("/after"));
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->status, 200);
    EXPECT_EQ(next->Header("access-control-allow-origin"), "");
  }
}

TEST_F(HttpServerTest, HeaderTooLargeAndMalformedRequestsAreRejected) {
  HttpServerOptions options;
  options.header_limit = 1024;
  StartServer(options, EchoHandler);
  {
    RawClient client(port());
    auto response = client.RoundTrip(Get("/", "X-Big: " + std::string(4000, 'h') + "\r\n"));
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 431);
    EXPECT_TRUE(client.WaitForClose());
  }
  for (const std::string bad :
       {"GARBAGE\r\n\r\n", "GET / FOO/1.1\r\n\r\n", "GET /\x01 HTTP/1.1\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"}) {
    RawClient client(port());
    auto response = client.RoundTrip(bad);
    ASSERT_TRUE(response.has_value()) << bad;
    EXPECT_EQ(response->status, 400) << bad;
    EXPECT_NE(response->body.find("\"error\":\"bad_request\""), std::string::npos);
    EXPECT_TRUE(client.WaitForClose()) << bad;
  }
}

TEST_F(HttpServerTest, StalledClientIsClosedAfterReadTimeout) {
  HttpServerOptions options;
  options.read_timeout = std::chrono::milliseconds(200);
  std::atomic<int> calls{0};
  StartServer(options, [&](HttpRequest&& req, HttpRespond respond) {
    ++calls;
    EchoHandler(std::move(req), std::move(respond));
  });
  RawClient mid_header(port());
  ASSERT_TRUE(mid_header.Send("POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Le"));
  RawClient mid_body(port());
  ASSERT_TRUE(mid_body.Send(Post("/v1/track", std::string(100, 'b')).substr(0, 80)));
  RawClient silent(port());
  EXPECT_TRUE(mid_header.WaitForClose());
  EXPECT_TRUE(mid_body.WaitForClose());
  EXPECT_TRUE(silent.WaitForClose());
  EXPECT_EQ(calls.load(), 0);
}

TEST_F(HttpServerTest, DripFeedingClientIsClosedToo) {
  // Sending a byte now and then does not extend the deadline: it covers the whole request.
  HttpServerOptions options;
  options.read_timeout = std::chrono::milliseconds(200);
  StartServer(options, EchoHandler);
  RawClient client(port());
  const std::string request = Get("/" + std::string(200, 'a'));
  bool closed = false;
  for (size_t i = 0; i < request.size() && !closed; ++i) {
    if (!client.Send(request.substr(i, 1))) {
      closed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(closed || client.WaitForClose());
}

TEST_F(HttpServerTest, StalledClientDoesNotBlockAnother) {
  StartServer({}, EchoHandler);  // default read_timeout: the stalled client stays for the test
  RawClient stalled(port());
  ASSERT_TRUE(stalled.Send("POST /v1/track HTTP/1.1\r\nContent-Length: 50\r\n\r\nhalf"));
  RawClient other(port());
  auto response = other.RoundTrip(Get("/healthz"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(server_->connection_count(), 2u);
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  HttpServerOptions options;
  options.idle_timeout = std::chrono::milliseconds(200);
  StartServer(options, EchoHandler);
  RawClient client(port());
  auto response = client.RoundTrip(Get("/"));
  ASSERT_TRUE(response.has_value());
  EXPECT_TRUE(client.WaitForClose());
}

TEST_F(HttpServerTest, StopClosesEverything) {
  PendingResponses pending;
  StartServer({}, [&](HttpRequest&& req, HttpRespond respond) {
    if (req.path == "/wait") {
      pending.Add(std::move(req), std::move(respond));
      return;
    }
    EchoHandler(std::move(req), std::move(respond));
  });
  RawClient idle(port());
  ASSERT_TRUE(idle.RoundTrip(Get("/")).has_value());
  RawClient waiting(port());
  ASSERT_TRUE(waiting.Send(Get("/wait")));
  auto taken = pending.Take();
  ASSERT_TRUE(taken.has_value());
  RawClient mid_request(port());
  ASSERT_TRUE(mid_request.Send("GET / HTT"));

  server_->Stop();
  EXPECT_TRUE(idle.WaitForClose());
  EXPECT_TRUE(waiting.WaitForClose());
  EXPECT_TRUE(mid_request.WaitForClose());
  taken->second(HttpResponse{});  // answering after Stop is harmless
  server_->Stop();                // and so is a second Stop

  StopAndJoin();  // every handler finished: io_context::run returned
  RawClient late(port());
  EXPECT_FALSE(late.connected());
}

TEST_F(HttpServerTest, HandlerFailuresBecome500) {
  StartServer({}, [](HttpRequest&& req, HttpRespond respond) {
    if (req.path == "/throw") {
      throw std::runtime_error("boom");
    }
    if (req.path == "/drop") {
      return;  // `respond` dies unanswered
    }
    HttpResponse response;
    response.status = 42;  // not a valid final status
    respond(std::move(response));
  });
  RawClient client(port());
  for (const std::string path : {"/throw", "/drop", "/bad-status"}) {
    auto response = client.RoundTrip(Get(path));
    ASSERT_TRUE(response.has_value()) << path;
    EXPECT_EQ(response->status, 500) << path;
    EXPECT_NE(response->body.find("\"error\":\"internal\""), std::string::npos);
  }
}

TEST_F(HttpServerTest, OverMaxConnectionsIs503) {
  HttpServerOptions options;
  options.max_connections = 1;
  StartServer(options, EchoHandler);
  RawClient first(port());
  ASSERT_TRUE(first.RoundTrip(Get("/")).has_value());  // surely accepted and counted
  RawClient second(port());
  auto rejected = second.RoundTrip(Get("/"));
  ASSERT_TRUE(rejected.has_value());
  EXPECT_EQ(rejected->status, 503);
  EXPECT_EQ(rejected->body,
            R"({"error":"too_many_connections","message":"the http listener has 1 connections )"
            R"x(open (max_connections)"})x");
  EXPECT_EQ(rejected->Header("retry-after"), "1");
  EXPECT_TRUE(second.WaitForClose());
  auto still_served = first.RoundTrip(Get("/again"));
  ASSERT_TRUE(still_served.has_value());
  EXPECT_EQ(still_served->status, 200);
}

TEST_F(HttpServerTest, ExpectContinueAndHead) {
  StartServer({}, EchoHandler);
  RawClient client(port());
  ASSERT_TRUE(client.Send(
      "POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = client.ReadResponse();
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(client.Send("hello"));
  auto response = client.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "POST /v1/batch?|hello");

  ASSERT_TRUE(client.Send("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto head = client.ReadResponse(/*head=*/true);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("content-length"), std::to_string(std::string("HEAD /healthz?|").size()));
  // No body bytes followed the HEAD answer: the next response parses cleanly.
  auto after = client.RoundTrip(Get("/next"));
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->body, "GET /next?|");
}

TEST_F(HttpServerTest, AbsoluteFormTargetAndBadPaths) {
  StartServer({}, EchoHandler);
  RawClient client(port());
  auto response = client.RoundTrip(Get("http://localhost:7402/v1/rules?x=1"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "GET /v1/rules?x=1|");

  response = client.RoundTrip("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "OPTIONS *?|");

  response = client.RoundTrip(Get("no-slash"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 400);
  response = client.RoundTrip(Get("/still-open"));  // the framing was fine: the connection lives
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
}

TEST_F(HttpServerTest, ListenErrors) {
  StartServer({}, EchoHandler);
  HttpServer second(io_, {}, EchoHandler);
  const Status busy = second.Listen("127.0.0.1", port());
  EXPECT_FALSE(busy.ok());
  EXPECT_EQ(busy.code(), Status::Code::kIoError);
  HttpServer third(io_, {}, EchoHandler);
  // 192.0.2.1 (TEST-NET-1) is on no local interface; no DNS lookup is involved.
  EXPECT_EQ(third.Listen("192.0.2.1", 0).code(), Status::Code::kIoError);
  EXPECT_EQ(server_->Listen("127.0.0.1", 0).code(), Status::Code::kFailedPrecondition);
}

TEST(JsonErrorResponseTest, EscapesBothFields) {
  const HttpResponse r = JsonErrorResponse(400, "bad\"code", "say \"hi\"\\\n\x01");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"error":"bad\"code","message":"say \"hi\"\\\n\u0001"})");
}

TEST(JsonErrorResponseTest, BytesThatAreNotUtf8AreReplaced) {
  // A decoded path quoted in a 404: the answer stays valid JSON (and valid UTF-8).
  const HttpResponse r = JsonErrorResponse(404, "not_found", "no lead \"x\xff\xc0y\"");
  EXPECT_EQ(r.body,
            "{\"error\":\"not_found\",\"message\":\"no lead \\\"x\xef\xbf\xbd\xef\xbf\xbdy\\\"\"}");
}

// ParseHttpRequest: the connections' parsing without a socket (the HTTP fuzz target's way in).
TEST(ParseHttpRequestTest, ReadsOneRequestAndSaysWhereTheNextBegins) {
  const std::string first =
      "POST http://example.com/v1/track?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}";
  const std::string bytes = first + "GET / HTTP/1.0\r\n\r\n";
  HttpParse p = ParseHttpRequest(bytes, HttpServerOptions{});
  ASSERT_EQ(p.outcome, HttpParse::Outcome::kRequest);
  EXPECT_EQ(p.consumed, first.size());
  EXPECT_EQ(p.request.method, "POST");
  EXPECT_EQ(p.request.path, "/v1/track");
  EXPECT_EQ(p.request.query, "x=1");
  EXPECT_EQ(p.request.body, "{}");
  EXPECT_EQ(p.request.Header("host"), "h");
  EXPECT_EQ(p.request.version, 11);

  p = ParseHttpRequest(std::string_view(bytes).substr(first.size()), HttpServerOptions{});
  ASSERT_EQ(p.outcome, HttpParse::Outcome::kRequest);
  EXPECT_EQ(p.request.version, 10);
  EXPECT_EQ(ParseHttpRequest(bytes.substr(0, 20), HttpServerOptions{}).outcome,
            HttpParse::Outcome::kNeedMore);
  EXPECT_EQ(ParseHttpRequest("", HttpServerOptions{}).outcome, HttpParse::Outcome::kNeedMore);
}

TEST(ParseHttpRequestTest, AnswersWhatTheServerAnswersItself) {
  HttpServerOptions small;
  small.body_limit = 8;
  small.header_limit = 64;
  auto answer = [&](const std::string& bytes) {
    HttpParse p = ParseHttpRequest(bytes, small);
    EXPECT_EQ(p.outcome, HttpParse::Outcome::kAnswered) << bytes;
    return std::make_pair(p.response.status, p.close);
  };
  EXPECT_EQ(answer("POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n123456789"),
            std::make_pair(413, true));
  EXPECT_EQ(answer("GET / HTTP/1.1\r\nX: " + std::string(100, 'a') + "\r\n\r\n"),
            std::make_pair(431, true));
  EXPECT_EQ(answer("GET / HTTP/9\r\n\r\n"), std::make_pair(400, true));
  EXPECT_EQ(answer("GET nopath HTTP/1.1\r\n\r\n"), std::make_pair(400, false));
  EXPECT_EQ(answer("POST / HTTP/1.1\r\nContent-Encoding: br\r\nContent-Length: 1\r\n\r\nx"),
            std::make_pair(415, false));
  EXPECT_EQ(answer("POST / HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: 1\r\n\r\nx"),
            std::make_pair(400, false));
  const std::string gz = GzipCompress(std::string(100, 'a'));
  EXPECT_EQ(answer("POST / HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: " +
                   std::to_string(gz.size()) + "\r\n\r\n" + gz),
            std::make_pair(413, true));
  const std::string fits = GzipCompress("abc");
  small.body_limit = 64;
  HttpParse p = ParseHttpRequest("POST / HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: " +
                                     std::to_string(fits.size()) + "\r\n\r\n" + fits,
                                 small);
  ASSERT_EQ(p.outcome, HttpParse::Outcome::kRequest);
  EXPECT_EQ(p.request.body, "abc");
}

// Found by fuzz/http_request_fuzzer.cc: the 415 answer quoted the Content-Encoding as sent, and a
// header value may hold any byte but CR and LF, so its JSON body was not UTF-8 (not JSON) for a
// value with bytes over 0x7f. JsonErrorResponse now repairs such text (U+FFFD a bad byte).
TEST(ParseHttpRequestTest, UnsupportedEncodingAnswerIsJsonWhateverTheHeaderHolds) {
  const std::string bytes =
      "POST /v1/track HTTP/1.1\r\nContent-Encoding:\xe0\x98\x85\x96\x8f\xf2\xf5\xbe"
      "br\r\nContent-Length: 0\r\n\r\n";
  HttpParse p = ParseHttpRequest(bytes, HttpServerOptions{});
  ASSERT_EQ(p.outcome, HttpParse::Outcome::kAnswered);
  EXPECT_EQ(p.response.status, 415);
  JsonParser json;
  Value body;
  ASSERT_TRUE(json.Parse(p.response.body, &body).ok()) << p.response.body;
  // E0 98 85 would be an overlong form: none of the eight bytes is UTF-8.
  std::string fffd8;
  for (int i = 0; i < 8; ++i) {
    fffd8 += "\xEF\xBF\xBD";
  }
  EXPECT_EQ(body.Find("message")->as_string(), "unsupported Content-Encoding: " + fffd8 + "br");
}

TEST(JsonErrorResponseTest, RepairsTextThatIsNotUtf8) {
  const std::string fffd = "\xEF\xBF\xBD";
  auto message = [](std::string_view text) {
    JsonParser json;
    Value body;
    EXPECT_TRUE(json.Parse(JsonErrorResponse(400, "x", text).body, &body).ok()) << text;
    return body.Find("message") != nullptr ? body.Find("message")->as_string() : "";
  };
  EXPECT_EQ(message("plain \xc3\xa9 \xf0\x9f\x98\x80"), "plain \xc3\xa9 \xf0\x9f\x98\x80");
  EXPECT_EQ(message("\xff"), fffd);
  EXPECT_EQ(message("a\xc3"), "a" + fffd);                            // cut short
  EXPECT_EQ(message("\xc0\xaf"), fffd + fffd);                        // overlong '/'
  EXPECT_EQ(message("\xed\xa0\x80"), fffd + fffd + fffd);             // a surrogate
  EXPECT_EQ(message("\xf4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // past U+10FFFF
}

// ---- Streamed responses (HttpResponse::stream) ----

// Polls `done` until it holds (true) or the guard passes (false).
bool WaitUntil(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kGuardSeconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// Numbered events "data: N<pad>\n\n": `limit` of them (0: endless), then the end. Paused, it
// waits until Resume(). Counts what the server pulled. Thread-safe.
class CountingStream : public HttpBodyStream {
 public:
  CountingStream(size_t limit, size_t pad, bool paused)
      : limit_(limit), pad_(pad), paused_(paused) {}

  void Start(std::function<void()> wake) override {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = std::move(wake);
  }
  Pull Next(bool idle, std::string* out) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle) {
      out->append(": idle\n\n");
      return Pull::kData;
    }
    if (paused_) {
      return Pull::kWait;
    }
    if (limit_ != 0 && sent_ == limit_) {
      return Pull::kEnd;
    }
    out->append("data: " + std::to_string(sent_++) + std::string(pad_, 'x') + "\n\n");
    pulled_bytes_ += out->size();
    return Pull::kData;
  }
  void Closed() override { closed_ = true; }

  void Resume() {
    std::function<void()> wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      paused_ = false;
      wake = wake_;
    }
    wake();
  }
  size_t pulled_bytes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return pulled_bytes_;
  }
  bool closed() const { return closed_.load(); }

 private:
  mutable std::mutex mu_;
  const size_t limit_;
  const size_t pad_;
  bool paused_;
  size_t sent_ = 0;
  size_t pulled_bytes_ = 0;
  std::function<void()> wake_;
  std::atomic<bool> closed_{false};
};

// Undoes chunked transfer coding; nullopt when `body` is not well-formed chunks ending with 0.
std::optional<std::string> Dechunk(std::string_view body) {
  std::string out;
  while (true) {
    const size_t line_end = body.find("\r\n");
    if (line_end == std::string_view::npos) {
      return std::nullopt;
    }
    const size_t size = std::stoul(std::string(body.substr(0, line_end)), nullptr, 16);
    body.remove_prefix(line_end + 2);
    if (size == 0) {
      return body == "\r\n" ? std::optional<std::string>(out) : std::nullopt;
    }
    if (body.size() < size + 2 || body.substr(size, 2) != "\r\n") {
      return std::nullopt;
    }
    out.append(body.substr(0, size));
    body.remove_prefix(size + 2);
  }
}

HttpHandler StreamHandler(std::shared_ptr<CountingStream> stream,
                          std::chrono::milliseconds heartbeat = std::chrono::seconds(10)) {
  return [stream, heartbeat](HttpRequest&& req, HttpRespond respond) {
    if (req.path != "/stream") {
      EchoHandler(std::move(req), std::move(respond));
      return;
    }
    HttpResponse response;
    response.content_type = "text/event-stream";
    response.headers.emplace_back("Content-Length", "5");  // the server's to decide: dropped
    response.stream = stream;
    response.stream_heartbeat = heartbeat;
    respond(std::move(response));
  };
}

TEST_F(HttpServerTest, StreamedResponseIsChunkedAndEndsWithTheStream) {
  auto stream = std::make_shared<CountingStream>(3, 0, false);
  StartServer({}, StreamHandler(stream));
  RawClient client(port());
  ASSERT_TRUE(client.Send(Get("/stream")));
  auto response = client.ReadResponse(/*head=*/true);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("content-type"), "text/event-stream");
  EXPECT_EQ(response->Header("transfer-encoding"), "chunked");
  EXPECT_EQ(response->Header("cache-control"), "no-cache");
  EXPECT_EQ(Lower(response->Header("connection")), "close");
  EXPECT_EQ(response->Header("content-length"), "");
  const std::optional<std::string> body = Dechunk(client.ReadUntilClose());
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(*body, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
  EXPECT_TRUE(WaitUntil([&] { return stream->closed(); }));
}

TEST_F(HttpServerTest, Http10StreamEndsWithTheClose) {
  auto stream = std::make_shared<CountingStream>(2, 0, false);
  StartServer({}, StreamHandler(stream));
  RawClient client(port());
  ASSERT_TRUE(client.Send("GET /stream HTTP/1.0\r\n\r\n"));
  auto response = client.ReadResponse(/*head=*/true);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->version, "HTTP/1.0");
  EXPECT_EQ(response->Header("transfer-encoding"), "");
  EXPECT_EQ(client.ReadUntilClose(), "data: 0\n\ndata: 1\n\n");
}

TEST_F(HttpServerTest, WaitingStreamGoesOnWhenWoken) {
  auto stream = std::make_shared<CountingStream>(1, 0, /*paused=*/true);
  StartServer({}, StreamHandler(stream));
  RawClient client(port());
  ASSERT_TRUE(client.Send(Get("/stream")));
  ASSERT_TRUE(client.ReadResponse(/*head=*/true).has_value());  // the headers come at once
  stream->Resume();                                             // from this thread
  const std::optional<std::string> body = Dechunk(client.ReadUntilClose());
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(*body, "data: 0\n\n");
}

TEST_F(HttpServerTest, IdleStreamIsAskedForAHeartbeat) {
  auto stream = std::make_shared<CountingStream>(1, 0, /*paused=*/true);
  StartServer({}, StreamHandler(stream, std::chrono::milliseconds(50)));
  RawClient client(port());
  ASSERT_TRUE(client.Send(Get("/stream")));
  ASSERT_TRUE(client.ReadResponse(/*head=*/true).has_value());
  EXPECT_TRUE(client.ReadUntil(": idle\n\n"));
}

TEST_F(HttpServerTest, StreamIsClosedWhenTheClientLeaves) {
  auto stream = std::make_shared<CountingStream>(1, 0, /*paused=*/true);
  StartServer({}, StreamHandler(stream));
  {
    RawClient client(port());
    ASSERT_TRUE(client.Send(Get("/stream")));
    ASSERT_TRUE(client.ReadResponse(/*head=*/true).has_value());
  }  // closed without a word, while the stream waits with nothing to write
  EXPECT_TRUE(WaitUntil([&] { return stream->closed(); }));
  EXPECT_TRUE(WaitUntil([&] { return server_->connection_count() == 0; }));
}

TEST_F(HttpServerTest, NeverReadingStreamClientHoldsOneChunkAndIsClosedByTheWriteTimeout) {
  HttpServerOptions options;
  options.write_timeout = std::chrono::milliseconds(300);
  auto stream = std::make_shared<CountingStream>(0, 64 * 1024, false);  // endless, 64 KiB each
  StartServer(options, StreamHandler(stream));
  RawClient stuck(port());
  stuck.ShrinkReceiveBuffer();
  ASSERT_TRUE(stuck.Send(Get("/stream")));
  // Meanwhile others are served.
  RawClient other(port());
  auto response = other.RoundTrip(Get("/healthz"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  // The stuck client's connection is closed by the write timeout...
  EXPECT_TRUE(WaitUntil([&] { return stream->closed(); }));
  // ...having been pulled only what the kernel's socket buffers took plus one chunk: an endless
  // stream pulled without waiting for the socket would have produced gigabytes by then.
  EXPECT_LT(stream->pulled_bytes(), size_t{32} << 20);
}

}  // namespace
}  // namespace handoff
