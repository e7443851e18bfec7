// Shared plumbing of the daemon's line-oriented TCP servers (ingest, subscribe): binding an
// acceptor and accepting connections until it is closed.
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74 needs it under g++ 12
#include <boost/asio/ip/tcp.hpp>
// clang-format on

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "handoff/status.h"

namespace handoff {

// Opens, binds (with SO_REUSEADDR) and listens. `what` names the listener in errors.
Status ListenTcp(boost::asio::ip::tcp::acceptor* acceptor, const std::string& host,
                 unsigned short port, std::string_view what);

// The bound port; 0 when not bound.
unsigned short BoundPort(const boost::asio::ip::tcp::acceptor& acceptor);

// How AcceptLoop waits when accepting fails for want of resources: out of file descriptors
// (EMFILE, ENFILE) or of kernel memory (ENOBUFS, ENOMEM). The pending connection stays in the
// backlog, so accepting again at once fails again at once, and the loop would spin the io thread
// until a descriptor frees up. Instead it waits initial_backoff, doubling the wait after each
// further failure up to max_backoff, and starts again from initial_backoff after an accept
// succeeds. One warning is logged when such an episode starts, one line when it ends.
//
// A connection limit: when `open_connections` is set and returns max_connections or more as a
// connection is accepted, the connection is refused instead of handed over: it gets one line,
// TooManyConnectionsLine(name, max_connections), and is closed (see RefuseConnection). A warning
// names the listener when refusing starts, and one line tells how many were refused when a
// connection is admitted again.
struct AcceptLoopOptions {
  std::chrono::milliseconds initial_backoff{10};
  std::chrono::milliseconds max_backoff{1000};
  // The listener's name in the refusal line and in logs ("ingest", "subscribe").
  std::string name = "tcp";
  size_t max_connections = SIZE_MAX;
  // Connections open now; unset: no limit.
  std::function<size_t()> open_connections;
  // For tests. on_backoff: called with each wait as it starts. attempts: when set, counts every
  // accept started; must outlive the loop.
  std::function<void(std::chrono::milliseconds wait)> on_backoff{};
  std::atomic<uint64_t>* attempts = nullptr;
};

// Accepts connections until the acceptor is closed, handing each socket (TCP_NODELAY set) to
// `on_socket` on the acceptor's executor (through a strand). Errors other than the ones above
// re-arm the accept at once. `acceptor` must outlive the loop; closing it ends the loop, also
// during a back-off wait (the wait is cut short, nothing stays pending).
void AcceptLoop(boost::asio::ip::tcp::acceptor* acceptor,
                std::function<void(boost::asio::ip::tcp::socket)> on_socket,
                AcceptLoopOptions options = {});

// The line a full listener writes to a connection it refuses, newline included:
// {"error":"too_many_connections","message":"the ingest listener has 1024 connections open
// (max_connections)"}
std::string TooManyConnectionsLine(std::string_view name, size_t max_connections);

// Refuses an accepted connection without blocking: writes `line` if the socket takes it at once
// (a new socket's send buffer is empty, so a short line always fits), then shuts it down and
// closes it. Bytes the client sent first are not read (the close then resets the connection;
// the line is already on its way).
void RefuseConnection(boost::asio::ip::tcp::socket socket, std::string_view line);

}  // namespace handoff
