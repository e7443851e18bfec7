// Shared plumbing of the daemon's line-oriented TCP servers (ingest, subscribe): binding an
// acceptor and accepting connections until it is closed.
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74 needs it under g++ 12
#include <boost/asio/ip/tcp.hpp>
// clang-format on

#include <atomic>
#include <chrono>
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
struct AcceptLoopOptions {
  std::chrono::milliseconds initial_backoff{10};
  std::chrono::milliseconds max_backoff{1000};
  // For tests. on_backoff: called with each wait as it starts. attempts: when set, counts every
  // accept started; must outlive the loop.
  std::function<void(std::chrono::milliseconds wait)> on_backoff;
  std::atomic<uint64_t>* attempts = nullptr;
};

// Accepts connections until the acceptor is closed, handing each socket (TCP_NODELAY set) to
// `on_socket` on the acceptor's executor (through a strand). Errors other than the ones above
// re-arm the accept at once. `acceptor` must outlive the loop; closing it ends the loop, also
// during a back-off wait (the wait is cut short, nothing stays pending).
void AcceptLoop(boost::asio::ip::tcp::acceptor* acceptor,
                std::function<void(boost::asio::ip::tcp::socket)> on_socket,
                AcceptLoopOptions options = {});

}  // namespace handoff
