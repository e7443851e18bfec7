// HttpForwarder against an in-process HttpServer: the request arrives as sent (method, target,
// headers, body) and the answer comes back whole; a node that is not there is Unavailable.
#include "net/http_forward.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <thread>

#include "tests/testutil.h"

namespace handoff {
namespace {

namespace asio = boost::asio;

class HttpForwardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<HttpServer>(
        io_, HttpServerOptions{}, [this](HttpRequest&& request, HttpRespond respond) {
          seen_ = request.method + " " + request.path + "?" + request.query + " " +
                  std::string(request.Header("X-Test")) + " " + request.body;
          HttpResponse response;
          response.status = 207;
          response.body = R"({"answer":42})";
          respond(std::move(response));
        });
    ASSERT_OK(server_->Listen("127.0.0.1", 0));
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    asio::post(io_, [this] { server_->Stop(); });
    guard_.reset();
    thread_.join();
  }

  // Forwards on the io thread and waits for the answer.
  Result<HttpResponse> Forward(const std::string& address, ForwardRequest request) {
    std::promise<Result<HttpResponse>> answer;
    asio::post(io_, [&] {
      forwarder_.Forward(address, std::move(request),
                         [&answer](Result<HttpResponse> r) { answer.set_value(std::move(r)); });
    });
    return answer.get_future().get();
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  HttpForwarder forwarder_{io_};
  std::unique_ptr<HttpServer> server_;
  std::string seen_;  // io thread; read after the answer
  std::thread thread_;
};

TEST_F(HttpForwardTest, TheRequestGoesAsSentAndTheAnswerComesBackWhole) {
  ForwardRequest request;
  request.method = "POST";
  request.target = "/v1/leads/u%2F1?at=5";
  request.headers = {{"X-Test", "yes"}};
  request.body = "hello";
  Result<HttpResponse> r = Forward("127.0.0.1:" + std::to_string(server_->port()), request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 207);
  EXPECT_EQ(r->content_type, "application/json");
  EXPECT_EQ(r->body, R"({"answer":42})");
  EXPECT_EQ(seen_, "POST /v1/leads/u%2F1?at=5 yes hello");
}

TEST_F(HttpForwardTest, ANodeThatIsNotThereIsUnavailable) {
  // A port that was just free: nothing listens there.
  uint16_t port = 0;
  {
    asio::ip::tcp::acceptor probe(io_, {asio::ip::make_address("127.0.0.1"), 0});
    port = probe.local_endpoint().port();
  }
  Result<HttpResponse> r = Forward("127.0.0.1:" + std::to_string(port), ForwardRequest{});
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable) << r.status().ToString();
  EXPECT_EQ(Forward("no-port", ForwardRequest{}).status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace handoff
