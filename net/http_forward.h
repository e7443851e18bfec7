// HttpForwarder: asks another node's HTTP API and hands back its answer (cluster mode: a read of a
// lead whose partition another node holds, docs/cluster.md).
//
// One request per connection (HTTP/1.1 with Connection: close), on the io_context's thread,
// bounded by a deadline for the whole exchange. Not thread-safe: call Forward on the io thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "handoff/status.h"
#include "net/http_server.h"

namespace handoff {

struct HttpForwardOptions {
  // Connect, send and read the whole answer within this. Default: 2 s.
  std::chrono::milliseconds timeout{2000};
  // Largest answer body taken. Default: 16 MiB.
  size_t max_body_bytes = 16 << 20;
};

// What to send: `target` is the path with its query ("/v1/leads/u1?at=...").
struct ForwardRequest {
  std::string method = "GET";
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

class HttpForwarder {
 public:
  // `io` is borrowed.
  explicit HttpForwarder(boost::asio::io_context& io, HttpForwardOptions options = {});

  // Sends `request` to `address` ("host:port"). `done` runs once, on the io thread: the answer as
  // an HttpResponse (status, Content-Type and body), or Unavailable when the node could not be
  // reached or did not answer in time.
  void Forward(const std::string& address, ForwardRequest request,
               std::function<void(Result<HttpResponse>)> done);

  // The io_context the answers run on.
  boost::asio::io_context& io() { return io_; }

 private:
  boost::asio::io_context& io_;
  HttpForwardOptions options_;
};

}  // namespace handoff
