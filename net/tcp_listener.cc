#include "net/tcp_listener.h"

#include <algorithm>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cerrno>
#include <memory>
#include <utility>

#include "base/log.h"

namespace handoff {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// Accepting failed for want of a resource that only frees up over time (see AcceptLoopOptions).
bool OutOfResources(const boost::system::error_code& ec) {
  if (ec.category() != boost::system::system_category()) {
    return false;
  }
  const int v = ec.value();
  return v == EMFILE || v == ENFILE || v == ENOBUFS || v == ENOMEM;
}

std::string Endpoint(const tcp::acceptor& acceptor) {
  boost::system::error_code ec;
  const tcp::endpoint endpoint = acceptor.local_endpoint(ec);
  if (ec) {
    return "?";
  }
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

// The loop's state, owned by its pending handlers: it lives as long as something is pending.
//
// During a back-off two operations are pending: the timer, and a wait on the acceptor that only
// ends when the acceptor is closed (a listening socket never reports an error condition). The
// first to finish cancels the other; `waiting_` tells the other's handler it is too late. Both
// run on one strand, so the io_context may run on several threads.
class AcceptLoopState : public std::enable_shared_from_this<AcceptLoopState> {
 public:
  AcceptLoopState(tcp::acceptor* acceptor, std::function<void(tcp::socket)> on_socket,
                  AcceptLoopOptions options)
      : acceptor_(acceptor),
        on_socket_(std::move(on_socket)),
        options_(std::move(options)),
        strand_(asio::make_strand(acceptor->get_executor())),
        timer_(strand_) {}

  void Accept() {
    if (options_.attempts != nullptr) {
      options_.attempts->fetch_add(1, std::memory_order_relaxed);
    }
    acceptor_->async_accept(asio::bind_executor(
        strand_,
        [self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
          self->OnAccept(ec, std::move(socket));
        }));
  }

 private:
  void OnAccept(const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_->is_open()) {
      return;
    }
    if (ec && OutOfResources(ec)) {
      BackOff(ec);
      return;
    }
    if (!ec && Full()) {
      Refuse(std::move(socket));
    } else if (!ec) {
      if (refused_ != 0) {
        LogInfo(options_.name + ": admitting connections again after refusing " +
                std::to_string(refused_) + " (max_connections " +
                std::to_string(options_.max_connections) + ")");
        refused_ = 0;
      }
      if (backoff_.count() != 0) {
        LogInfo("accept on " + Endpoint(*acceptor_) + ": accepting again after " +
                std::to_string(failures_) + " failed attempts");
        backoff_ = std::chrono::milliseconds(0);
        failures_ = 0;
      }
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      on_socket_(std::move(socket));
    }
    Accept();
  }

  bool Full() const {
    return options_.open_connections && options_.open_connections() >= options_.max_connections;
  }

  void Refuse(tcp::socket socket) {
    if (refused_++ == 0) {
      LogWarning(options_.name + ": " + std::to_string(options_.max_connections) +
                 " connections open (max_connections): refusing new ones with "
                 "too_many_connections until one closes");
    }
    if (refusal_line_.empty()) {
      refusal_line_ = TooManyConnectionsLine(options_.name, options_.max_connections);
    }
    RefuseConnection(std::move(socket), refusal_line_);
  }

  void BackOff(const boost::system::error_code& ec) {
    ++failures_;
    if (backoff_.count() == 0) {
      backoff_ = std::min(options_.initial_backoff, options_.max_backoff);
      LogWarning("accept on " + Endpoint(*acceptor_) + ": " + ec.message() +
                 "; retrying after a back-off of " + std::to_string(backoff_.count()) +
                 " ms, doubling up to " + std::to_string(options_.max_backoff.count()) +
                 " ms until a connection is accepted");
    } else {
      backoff_ = std::min(backoff_ * 2, options_.max_backoff);
    }
    if (options_.on_backoff) {
      options_.on_backoff(backoff_);
    }
    waiting_ = true;
    timer_.expires_after(backoff_);
    timer_.async_wait(asio::bind_executor(
        strand_, [self = shared_from_this()](const boost::system::error_code& wait_ec) {
          self->OnBackOffDone(wait_ec);
        }));
    acceptor_->async_wait(
        tcp::acceptor::wait_error,
        asio::bind_executor(strand_,
                            [self = shared_from_this()](const boost::system::error_code& wait_ec) {
                              self->OnAcceptorWaitDone(wait_ec);
                            }));
  }

  void OnBackOffDone(const boost::system::error_code& ec) {
    if (!waiting_) {
      return;  // the acceptor was closed first
    }
    waiting_ = false;
    if (ec == asio::error::operation_aborted) {
      return;
    }
    // Stop watching the acceptor (that wait's handler then finds waiting_ false), try again.
    boost::system::error_code ignored;
    acceptor_->cancel(ignored);
    if (!acceptor_->is_open()) {
      return;
    }
    Accept();
  }

  void OnAcceptorWaitDone(const boost::system::error_code& ec) {
    if (!waiting_) {
      return;  // the timer ran out first and cancelled this wait
    }
    if (ec == asio::error::operation_aborted) {
      // Closed (or cancelled) during the back-off: end the loop now, as a pending accept would.
      waiting_ = false;
      timer_.cancel();
    }
    // Otherwise the listening socket reported an error condition, which it should not: leave
    // the retry to the timer, which still runs.
  }

  tcp::acceptor* const acceptor_;
  const std::function<void(tcp::socket)> on_socket_;
  const AcceptLoopOptions options_;
  asio::strand<tcp::acceptor::executor_type> strand_;
  asio::steady_timer timer_;
  std::chrono::milliseconds backoff_{0};  // 0: not backing off
  uint64_t failures_ = 0;                 // accepts failed in this back-off episode
  uint64_t refused_ = 0;                  // connections refused since one was last admitted
  std::string refusal_line_;
  bool waiting_ = false;  // a back-off wait is pending
};

}  // namespace

Status ListenTcp(tcp::acceptor* acceptor, const std::string& host, unsigned short port,
                 std::string_view what) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) {
    return Status::InvalidArgument("bad " + std::string(what) + " address " + host + ": " +
                                   ec.message());
  }
  tcp::endpoint endpoint(address, port);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    acceptor->bind(endpoint, ec);
  }
  if (!ec) {
    acceptor->listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return Status::IoError(std::string(what) + " listen on " + host + ":" + std::to_string(port) +
                           ": " + ec.message());
  }
  return Status::Ok();
}

unsigned short BoundPort(const tcp::acceptor& acceptor) {
  boost::system::error_code ec;
  return acceptor.local_endpoint(ec).port();
}

std::string TooManyConnectionsLine(std::string_view name, size_t max_connections) {
  return R"({"error":"too_many_connections","message":"the )" + std::string(name) +
         " listener has " + std::to_string(max_connections) +
         " connections open (max_connections)\"}\n";
}

void RefuseConnection(tcp::socket socket, std::string_view line) {
  boost::system::error_code ignored;
  socket.non_blocking(true, ignored);
  socket.write_some(asio::buffer(line.data(), line.size()), ignored);
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

void AcceptLoop(tcp::acceptor* acceptor, std::function<void(tcp::socket)> on_socket,
                AcceptLoopOptions options) {
  std::make_shared<AcceptLoopState>(acceptor, std::move(on_socket), std::move(options))->Accept();
}

}  // namespace handoff
