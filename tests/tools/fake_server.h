// A scripted loopback server for the `handoff` tool tests: listens on 127.0.0.1 port 0 and runs a
// handler on each accepted connection, one at a time, on its own thread. The handler plays the
// daemon's side of one protocol exchange, so a subcommand can be tested end to end without the
// daemon.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

namespace handoff::testing {

// The server's side of one connection: buffered line reads, blocking writes.
class FakeConnection {
 public:
  explicit FakeConnection(int fd) : fd_(fd) {}
  // Reads one line without its '\n'; false at EOF (or after `timeout_ms` of silence).
  bool ReadLine(std::string* line, int timeout_ms = 30000) {
    while (true) {
      size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        line->assign(buffer_, 0, nl);
        buffer_.erase(0, nl + 1);
        return true;
      }
      if (!Fill(timeout_ms)) {
        return false;
      }
    }
  }
  // Reads whatever arrives next (at least one byte); false at EOF.
  bool ReadSome(std::string* out) {
    if (buffer_.empty() && !Fill()) {
      return false;
    }
    out->append(buffer_);
    buffer_.clear();
    return true;
  }
  void Write(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        return;
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }

 private:
  bool Fill(int timeout_ms = 30000) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) {
      return false;
    }
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  std::string buffer_;
};

class FakeServer {
 public:
  using Handler = std::function<void(FakeConnection& conn)>;

  // Serves `connections` connections, one after the other, then stops accepting.
  explicit FakeServer(Handler handler, int connections = 1) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(listen_fd_, 16);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, connections] {
      for (int i = 0; i < connections; ++i) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 30000) <= 0) {
          return;
        }
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
          return;
        }
        FakeConnection conn(fd);
        handler_(conn);
        ::close(fd);
      }
    });
  }
  ~FakeServer() {
    thread_.join();
    ::close(listen_fd_);
  }
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  Handler handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace handoff::testing
