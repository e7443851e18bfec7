// Shared plumbing of the daemon's line-oriented TCP servers (ingest, subscribe): binding an
// acceptor and accepting connections until it is closed.
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74 needs it under g++ 12
#include <boost/asio/ip/tcp.hpp>
// clang-format on

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

// Accepts connections until the acceptor is closed, handing each socket (TCP_NODELAY set) to
// `on_socket` on the acceptor's executor. `acceptor` must outlive the loop (close it to end it).
void AcceptLoop(boost::asio::ip::tcp::acceptor* acceptor,
                std::function<void(boost::asio::ip::tcp::socket)> on_socket);

}  // namespace handoff
