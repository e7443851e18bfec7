// Blocking network clients and option plumbing shared by the `handoff` subcommands that talk to
// a running daemon (send, lead, tail, accept/reject/close, loadgen).
//
// Plain POSIX sockets, blocking: each subcommand is one short-lived client, so a thread per
// direction is simpler than an event loop. TcpConnection may be written by one thread while
// another reads it (two syscalls on one descriptor, which the kernel allows); everything else
// about one object belongs to one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "base/host_port.h"
#include "handoff/status.h"
#include "handoff/value.h"

namespace CLI {
class App;
}  // namespace CLI

namespace handoff {

// The daemon's default listeners (SPEC 1).
inline constexpr uint16_t kDefaultIngestPort = 7400;
inline constexpr uint16_t kDefaultSubscribePort = 7401;
inline constexpr uint16_t kDefaultHttpPort = 7402;
inline constexpr const char* kDefaultHost = "127.0.0.1";

class TcpConnection {
 public:
  TcpConnection() = default;
  ~TcpConnection();
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  // Resolves and connects (blocking). IoError naming the address on failure.
  Status Connect(const HostPort& address);
  bool connected() const { return fd_ >= 0; }

  // Writes every byte (blocking while the peer's window is full). IoError when the connection
  // fails or the peer has closed it; never raises SIGPIPE.
  Status WriteAll(std::string_view bytes);

  // Reads the next line, without its '\n' (a trailing '\r' is dropped too). Unavailable at EOF
  // (a final line without a newline is returned first), IoError on a socket error, and
  // FailedPrecondition when `deadline` passes first (bytes read so far stay buffered).
  Status ReadLine(std::string* line,
                  std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);

  // Reads until the peer closes, appending to *out.
  Status ReadToEof(std::string* out);
  // Reads exactly `n` more bytes, appending them to *out. Unavailable at an early EOF.
  Status ReadExactly(size_t n, std::string* out);

  // True when a complete line is already buffered (the next ReadLine will not block), so a
  // printer can flush its output only when it would otherwise wait.
  bool HasBufferedLine() const { return buffer_.find('\n', buffer_pos_) != std::string::npos; }

  // Half-close: the peer sees EOF.
  void ShutdownWrite();
  // Shuts both directions down without closing the descriptor, so a read or write blocked in
  // another thread returns. Safe to call from any thread while the object lives.
  void Abort();
  void Close();

 private:
  // Reads more bytes into buffer_; 0 at EOF. Waits at most until `deadline`.
  Status Fill(std::optional<std::chrono::steady_clock::time_point> deadline, size_t* got);

  int fd_ = -1;
  std::string buffer_;
  size_t buffer_pos_ = 0;  // bytes of buffer_ already returned
};

struct HttpReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

// One HTTP/1.1 request on a fresh connection ("Connection: close"). `bearer_token`, when not
// empty, is sent as "Authorization: Bearer TOKEN". Reads a Content-Length, chunked or
// read-to-EOF body. IoError when the exchange fails, InvalidArgument when the answer is not HTTP.
Status HttpCall(const HostPort& address, std::string_view method, std::string_view target,
                std::string_view bearer_token, std::string_view body, HttpReply* reply);

// Percent-encodes everything but RFC 3986's unreserved characters (A-Z a-z 0-9 - . _ ~), so the
// result is safe as one path segment or one query value.
std::string PercentEncode(std::string_view text);

// Parses one JSON line with the project's parser (one parser per thread, reused).
Status ParseJsonLine(std::string_view text, Value* out);
// The unsigned integer at `key` of an object, when it is a non-negative whole number.
std::optional<uint64_t> JsonUint(const Value& object, std::string_view key);
// The string at `key` of an object, or "" when absent or not a string.
std::string JsonText(const Value& object, std::string_view key);

// ---------------------------------------------------------------------------------------------
// Command-line plumbing (CLI11).

// Parses `args` (the words after the subcommand's name) into `app`, whose name is the command
// as typed ("handoff send"). Returns nullopt when the command should run; otherwise the exit
// code: 0 after printing --help to `out`, 2 after printing a usage error to `err`.
std::optional<int> ParseCommandLine(CLI::App& app, const std::vector<std::string>& args,
                                    std::ostream& out, std::ostream& err);

// Adds --host (default 127.0.0.1) to `app`.
void AddHostOption(CLI::App& app, std::string* host);
// Adds an address option named `names` (CLI11 names, e.g. "-p,--port,--ingest") taking PORT or
// HOST:PORT, defaulting to `default_port`.
void AddAddressOption(CLI::App& app, const std::string& names, std::string* value,
                      uint16_t default_port, const std::string& what);
// Adds --token (the admin Bearer token; also read from $HANDOFF_TOKEN).
void AddTokenOption(CLI::App& app, std::string* token);

// Parses an address option, "PORT", "HOST:PORT" or "[V6ADDR]:PORT" with a port in 1..65535 (a
// bare port takes `host`), printing "handoff CMD: ..." to `err` on failure.
std::optional<HostPort> ResolveAddressOption(std::string_view command, const std::string& value,
                                             const std::string& host, std::ostream& err);

}  // namespace handoff
