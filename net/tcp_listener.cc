#include "net/tcp_listener.h"

namespace handoff {

namespace asio = boost::asio;
using asio::ip::tcp;

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

void AcceptLoop(tcp::acceptor* acceptor, std::function<void(tcp::socket)> on_socket) {
  acceptor->async_accept([acceptor, on_socket = std::move(on_socket)](
                             const boost::system::error_code& ec, tcp::socket socket) mutable {
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) {
      return;
    }
    if (!ec) {
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      on_socket(std::move(socket));
    }
    AcceptLoop(acceptor, std::move(on_socket));
  });
}

}  // namespace handoff
