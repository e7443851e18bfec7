#include "net/http_forward.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <memory>

namespace handoff {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// One exchange: resolve, connect, write, read; the stream's deadline covers all of it.
struct Exchange : std::enable_shared_from_this<Exchange> {
  Exchange(asio::io_context& io, const HttpForwardOptions& options,
           std::function<void(Result<HttpResponse>)> done)
      : resolver(io), stream(io), done(std::move(done)) {
    parser.body_limit(options.max_body_bytes);
  }

  void Fail(const std::string& what, const beast::error_code& ec) {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    done(Status::Unavailable("forwarding to " + address + ": " + what + ": " + ec.message()));
  }

  void Start(std::chrono::milliseconds timeout) {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos) {
      done(Status::InvalidArgument("forwarding: not host:port: " + address));
      return;
    }
    stream.expires_after(timeout);
    resolver.async_resolve(address.substr(0, colon), address.substr(colon + 1),
                           [self = shared_from_this()](const beast::error_code& ec,
                                                       const tcp::resolver::results_type& results) {
                             if (ec) {
                               self->Fail("resolve", ec);
                               return;
                             }
                             self->stream.async_connect(results, [self](const beast::error_code& ec,
                                                                        const tcp::endpoint&) {
                               if (ec) {
                                 self->Fail("connect", ec);
                                 return;
                               }
                               http::async_write(self->stream, self->request,
                                                 [self](const beast::error_code& ec, size_t) {
                                                   if (ec) {
                                                     self->Fail("write", ec);
                                                     return;
                                                   }
                                                   self->Read();
                                                 });
                             });
                           });
  }

  void Read() {
    http::async_read(stream, buffer, parser,
                     [self = shared_from_this()](const beast::error_code& ec, size_t) {
                       if (ec) {
                         self->Fail("read", ec);
                         return;
                       }
                       auto& answer = self->parser.get();
                       HttpResponse response;
                       response.status = static_cast<int>(answer.result_int());
                       response.content_type = std::string(answer[http::field::content_type]);
                       response.body = std::move(answer.body());
                       beast::error_code ignored;
                       self->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
                       self->done(std::move(response));
                     });
  }

  std::string address;
  tcp::resolver resolver;
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  http::request<http::string_body> request;
  http::response_parser<http::string_body> parser;
  std::function<void(Result<HttpResponse>)> done;
};

}  // namespace

HttpForwarder::HttpForwarder(asio::io_context& io, HttpForwardOptions options)
    : io_(io), options_(options) {}

void HttpForwarder::Forward(const std::string& address, ForwardRequest request,
                            std::function<void(Result<HttpResponse>)> done) {
  auto exchange = std::make_shared<Exchange>(io_, options_, std::move(done));
  exchange->address = address;
  http::request<http::string_body>& out = exchange->request;
  out.version(11);
  out.method_string(request.method);
  out.target(request.target);
  out.set(http::field::host, address);
  out.set(http::field::connection, "close");
  for (const auto& [name, value] : request.headers) {
    out.set(name, value);
  }
  out.body() = std::move(request.body);
  out.prepare_payload();
  exchange->Start(options_.timeout);
}

}  // namespace handoff
