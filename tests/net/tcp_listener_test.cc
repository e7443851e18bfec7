#include "net/tcp_listener.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "base/log.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using std::chrono::milliseconds;

// Runs handlers until `done` or nothing is left to run. No deadline: every wait in these tests is
// short by construction. A loop that spins instead of waiting is cut off after a million
// handlers (a correct one needs a few dozen at most), so the test fails rather than hangs.
void RunUntil(asio::io_context& io, const std::function<bool()>& done) {
  for (int handlers = 0; !done(); ++handlers) {
    if (handlers == 1'000'000) {
      ADD_FAILURE() << "still not done after a million handlers: spinning?";
      return;
    }
    if (io.stopped()) {
      io.restart();
    }
    if (io.run_one() == 0) {
      return;  // out of work
    }
  }
}

// Runs the handlers that are ready, and those they make ready, until none is.
void RunReady(asio::io_context& io) {
  for (int i = 0; i < 1000 && !io.stopped(); ++i) {
    if (io.poll() == 0) {
      break;
    }
  }
}

// Lowers the soft RLIMIT_NOFILE for the test's life, so filling the table is quick.
class FdLimit {
 public:
  explicit FdLimit(rlim_t soft) {
    EXPECT_EQ(getrlimit(RLIMIT_NOFILE, &saved_), 0);
    rlimit lowered = saved_;
    lowered.rlim_cur = std::min<rlim_t>(saved_.rlim_cur, soft);
    EXPECT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  }
  ~FdLimit() { EXPECT_EQ(setrlimit(RLIMIT_NOFILE, &saved_), 0); }
  FdLimit(const FdLimit&) = delete;
  FdLimit& operator=(const FdLimit&) = delete;

 private:
  rlimit saved_{};
};

// Takes every free descriptor (until EMFILE), and gives them back.
class FdFiller {
 public:
  ~FdFiller() { Release(); }
  void Fill() {
    // Under UBSan the first virtual call through a type probes memory with a pipe; with no
    // descriptor free the probe fails and is reported as an invalid vptr. Make the calls the
    // loop's logging makes (the clock, an error message) while descriptors are still free.
    [[maybe_unused]] const std::string message =
        boost::system::error_code(EMFILE, boost::system::system_category()).message();
    LogInfo("filling the descriptor table");
    for (;;) {
      const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        EXPECT_EQ(errno, EMFILE);
        break;
      }
      fds_.push_back(fd);
    }
    EXPECT_GT(fds_.size(), 0u);
  }
  void Release() {
    for (int fd : fds_) {
      close(fd);
    }
    fds_.clear();
  }

 private:
  std::vector<int> fds_;
};

// Sends stderr (where base/log.h writes) to a file until Stop(), to count log lines. Opened before
// the descriptor table is filled.
class StderrCapture {
 public:
  StderrCapture() : path_(dir_.path() + "/stderr") {
    saved_ = dup(STDERR_FILENO);
    const int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0);
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  ~StderrCapture() { Stop(); }

  // Restores stderr and returns what was written meanwhile.
  std::string Stop() {
    if (saved_ >= 0) {
      dup2(saved_, STDERR_FILENO);
      close(saved_);
      saved_ = -1;
      std::ifstream in(path_);
      std::stringstream text;
      text << in.rdbuf();
      captured_ = text.str();
      std::fputs(captured_.c_str(), stderr);  // still shown in the test's output
    }
    return captured_;
  }

 private:
  testing::TempDir dir_;
  std::string path_;
  int saved_ = -1;
  std::string captured_;
};

int CountLines(const std::string& text, const std::string& needle) {
  int n = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(needle) != std::string::npos) {
      ++n;
    }
  }
  return n;
}

class TcpListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(ListenTcp(&acceptor_, "127.0.0.1", 0, "test"));
    ASSERT_NE(BoundPort(acceptor_), 0);
  }

  // Starts the loop; accepted sockets land in accepted_.
  void StartLoop(AcceptLoopOptions options = {}) {
    options.attempts = &attempts_;
    options.on_backoff = [this](milliseconds wait) { waits_.push_back(wait); };
    AcceptLoop(
        &acceptor_,
        [this, alive = alive_](tcp::socket socket) { accepted_.push_back(std::move(socket)); },
        std::move(options));
  }

  // A client socket; open it before the descriptor table is filled (opening needs one).
  std::unique_ptr<tcp::socket> OpenClient() {
    auto client = std::make_unique<tcp::socket>(io_);
    client->open(tcp::v4());
    return client;
  }

  // Completes in the kernel's backlog whether or not the server can accept.
  void Connect(tcp::socket* client) {
    boost::system::error_code ec;
    client->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), BoundPort(acceptor_)), ec);
    ASSERT_FALSE(ec) << ec.message();
  }

  // The accepted socket talks to `client`.
  void ExpectConnected(tcp::socket* client, tcp::socket* accepted) {
    asio::write(*client, asio::buffer("ping", 4));
    char buf[4];
    asio::read(*accepted, asio::buffer(buf, 4));
    EXPECT_EQ(std::string(buf, 4), "ping");
  }

  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::atomic<uint64_t> attempts_{0};
  std::vector<milliseconds> waits_;
  std::vector<tcp::socket> accepted_;
  // Held by the loop's handler; expires once nothing of the loop is pending any more.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

TEST_F(TcpListenerTest, ListenRejectsABadAddress) {
  tcp::acceptor acceptor(io_);
  const Status st = ListenTcp(&acceptor, "not-an-address", 0, "ingest");
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find("ingest"), std::string::npos) << st.ToString();
  EXPECT_EQ(BoundPort(acceptor), 0);
}

TEST_F(TcpListenerTest, ListenOnABusyPortIsAnIoError) {
  tcp::acceptor second(io_);
  const Status st = ListenTcp(&second, "127.0.0.1", BoundPort(acceptor_), "subscribe");
  EXPECT_EQ(st.code(), Status::Code::kIoError);
  EXPECT_NE(st.message().find("subscribe"), std::string::npos) << st.ToString();
}

TEST_F(TcpListenerTest, AcceptsConnectionsWithNoDelay) {
  StartLoop();
  std::vector<std::unique_ptr<tcp::socket>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(OpenClient());
    Connect(clients.back().get());
  }
  RunUntil(io_, [&] { return accepted_.size() == 3; });
  ASSERT_EQ(accepted_.size(), 3u);
  for (tcp::socket& socket : accepted_) {
    tcp::no_delay no_delay;
    socket.get_option(no_delay);
    EXPECT_TRUE(no_delay.value());
  }
  ExpectConnected(clients[0].get(), &accepted_[0]);
  EXPECT_TRUE(waits_.empty());
}

TEST_F(TcpListenerTest, ClosingTheAcceptorEndsTheLoop) {
  StartLoop();
  std::weak_ptr<int> alive = alive_;
  alive_.reset();
  RunReady(io_);
  EXPECT_FALSE(alive.expired());  // an accept is pending
  acceptor_.close();
  RunReady(io_);
  EXPECT_TRUE(io_.stopped()) << "work left after the acceptor closed";
  EXPECT_TRUE(alive.expired()) << "the loop still holds its state";
}

// The bug this guards against: on EMFILE the loop re-armed at once, and the pending connection
// made every accept fail at once, spinning the io thread at 100% CPU until a descriptor freed up.
TEST_F(TcpListenerTest, OutOfDescriptorsBacksOffAndThenAcceptsThePendingClient) {
  auto client = OpenClient();
  StderrCapture log;
  FdLimit limit(256);
  FdFiller filler;
  StartLoop();  // the defaults: 10 ms, doubling up to 1 s
  filler.Fill();
  Connect(client.get());

  // Let the exhausted loop run a while. Backing off, it tries a handful of times (waits of 10,
  // 20, 40, ... ms); spinning, it would try hundreds of thousands of times. The bound is loose:
  // this checks for a spin, not for speed.
  io_.run_for(milliseconds(300));
  EXPECT_LT(attempts_.load(), 100u);
  EXPECT_TRUE(accepted_.empty());
  EXPECT_TRUE(acceptor_.is_open());

  // Each wait doubles the one before, from 10 ms, never past 1 s.
  ASSERT_GE(waits_.size(), 1u);
  EXPECT_EQ(waits_[0], milliseconds(10));
  for (size_t i = 1; i < waits_.size(); ++i) {
    EXPECT_EQ(waits_[i], std::min(2 * waits_[i - 1], milliseconds(1000))) << i;
  }

  // Descriptors free up: the client that waited in the backlog is accepted.
  filler.Release();
  RunUntil(io_, [&] { return !accepted_.empty(); });
  ASSERT_EQ(accepted_.size(), 1u);
  ExpectConnected(client.get(), &accepted_[0]);

  // And the listener goes on as before.
  auto second = OpenClient();
  Connect(second.get());
  RunUntil(io_, [&] { return accepted_.size() == 2; });
  ASSERT_EQ(accepted_.size(), 2u);

  const std::string text = log.Stop();
  EXPECT_EQ(CountLines(text, " WARN "), 1) << text;
  EXPECT_EQ(CountLines(text, "Too many open files"), 1) << text;
  EXPECT_EQ(CountLines(text, "accepting again"), 1) << text;
}

TEST_F(TcpListenerTest, OverMaxConnectionsRefusesWithOneLineAndCloses) {
  StderrCapture log;
  AcceptLoopOptions options;
  options.name = "ingest";
  options.max_connections = 2;
  options.open_connections = [this] { return accepted_.size(); };
  StartLoop(std::move(options));
  std::vector<std::unique_ptr<tcp::socket>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(OpenClient());
    Connect(clients.back().get());
  }
  // All four wait in the backlog; the loop takes them in order and refuses the last two.
  RunUntil(io_, [&] { return accepted_.size() == 2; });
  io_.run_for(milliseconds(200));
  ASSERT_EQ(accepted_.size(), 2u);
  for (int i = 2; i < 4; ++i) {
    std::string got;
    boost::system::error_code ec;
    asio::read(*clients[i], asio::dynamic_buffer(got), ec);
    EXPECT_EQ(ec, asio::error::eof) << ec.message();
    EXPECT_EQ(got, TooManyConnectionsLine("ingest", 2));
  }
  EXPECT_EQ(TooManyConnectionsLine("ingest", 2),
            R"({"error":"too_many_connections","message":"the ingest listener has 2 )"
            R"x(connections open (max_connections)"})x"
            "\n");
  ExpectConnected(clients[0].get(), &accepted_[0]);

  // One closes: the next connection is admitted.
  accepted_.pop_back();
  auto next = OpenClient();
  Connect(next.get());
  RunUntil(io_, [&] { return accepted_.size() == 2; });
  ASSERT_EQ(accepted_.size(), 2u);
  ExpectConnected(next.get(), &accepted_[1]);

  const std::string text = log.Stop();
  EXPECT_EQ(CountLines(text, "refusing new ones"), 1) << text;  // once per episode, not per refusal
  EXPECT_EQ(CountLines(text, "admitting connections again after refusing 2"), 1) << text;
}

TEST_F(TcpListenerTest, BackOffDoublesToTheMaxAndStartsOverAfterAnAccept) {
  auto first = OpenClient();
  auto second = OpenClient();
  StderrCapture log;
  FdLimit limit(256);
  FdFiller filler;
  AcceptLoopOptions options;
  options.initial_backoff = milliseconds(1);
  options.max_backoff = milliseconds(8);
  StartLoop(options);

  filler.Fill();
  Connect(first.get());
  RunUntil(io_, [&] { return waits_.size() >= 6; });
  EXPECT_EQ(waits_, (std::vector<milliseconds>{milliseconds(1), milliseconds(2), milliseconds(4),
                                               milliseconds(8), milliseconds(8), milliseconds(8)}));
  EXPECT_TRUE(accepted_.empty());
  filler.Release();
  RunUntil(io_, [&] { return accepted_.size() == 1; });
  ASSERT_EQ(accepted_.size(), 1u);

  // A second episode starts from the initial wait again, with a warning of its own.
  waits_.clear();
  filler.Fill();
  Connect(second.get());
  RunUntil(io_, [&] { return waits_.size() >= 2; });
  EXPECT_EQ(waits_[0], milliseconds(1));
  EXPECT_EQ(waits_[1], milliseconds(2));
  filler.Release();
  RunUntil(io_, [&] { return accepted_.size() == 2; });
  ASSERT_EQ(accepted_.size(), 2u);
  ExpectConnected(second.get(), &accepted_[1]);

  const std::string text = log.Stop();
  EXPECT_EQ(CountLines(text, " WARN "), 2) << text;
  EXPECT_EQ(CountLines(text, "accepting again"), 2) << text;
}

// Closing the acceptor during a back-off ends the loop at once: the wait (an hour here) does not
// keep the io_context busy, and nothing of the loop stays pending.
TEST_F(TcpListenerTest, ClosingTheAcceptorDuringABackOffEndsTheLoop) {
  auto client = OpenClient();
  {
    StderrCapture log;
    FdLimit limit(256);
    FdFiller filler;
    AcceptLoopOptions options;
    options.initial_backoff = std::chrono::hours(1);
    options.max_backoff = std::chrono::hours(1);
    StartLoop(options);
    std::weak_ptr<int> alive = alive_;
    alive_.reset();
    filler.Fill();
    Connect(client.get());
    RunUntil(io_, [&] { return !waits_.empty(); });
    ASSERT_EQ(waits_.size(), 1u);
    const uint64_t attempts = attempts_.load();

    acceptor_.close();
    RunReady(io_);
    EXPECT_TRUE(io_.stopped()) << "the back-off wait is still pending";
    EXPECT_TRUE(alive.expired()) << "the loop still holds its state";
    EXPECT_EQ(attempts_.load(), attempts);  // no accept after the close
  }
  EXPECT_TRUE(accepted_.empty());
}

}  // namespace
}  // namespace handoff
