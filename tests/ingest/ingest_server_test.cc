// TCP ingest without the engine: a fake IngestSink takes the batches and says when they are
// durable, so acks, error lines, line numbers and "never ack what is not durable" are checked
// at the protocol level.
#include "ingest/ingest_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/json_parser.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

namespace asio = boost::asio;

constexpr int kGuardSeconds = 10;
constexpr size_t kMaxReplyBytes = 64 << 10;

// Takes batches; completes each at once (OK or a failure), or holds them until Release(). Keeps
// a copy of every event and gives the batch's events back to the server, as the engine does
// (ingest/spent_events.h), so the next reads parse over them.
class FakeSink final : public IngestSink {
 public:
  void Submit(IngestBatch batch) override {
    std::unique_lock<std::mutex> lock(mu_);
    batch_sizes_.push_back(batch.events.size());
    for (const Event& e : batch.events) {
      message_ids_.push_back(e.message_id);
      events_.push_back(e);
    }
    if (batch.spent) {
      batch.spent->Give(std::move(batch.events));
    }
    if (hold_) {
      held_.push_back(std::move(batch.done));
    } else {
      IngestDone done = std::move(batch.done);
      lock.unlock();
      done(fail_ ? Status::IoError("disk full") : Status::Ok());
      lock.lock();
    }
    cv_.notify_all();
  }
  void set_hold(bool hold) {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = hold;
  }
  void set_fail(bool fail) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_ = fail;
  }
  // Waits until `n` events were submitted; their messageIds in submit order.
  std::vector<std::string> WaitForEvents(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(kGuardSeconds),
                 [&] { return message_ids_.size() >= n; });
    return message_ids_;
  }
  // Copies of the events submitted so far, in submit order.
  std::vector<Event> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  bool Waiting() const override { return waiting_.load(); }
  // Whether the sink says it waits for work (IngestSink::Waiting).
  void set_waiting(bool waiting) { waiting_.store(waiting); }
  // The number of events of each batch submitted so far, in submit order.
  std::vector<size_t> batch_sizes() {
    std::lock_guard<std::mutex> lock(mu_);
    return batch_sizes_;
  }
  // Completes the oldest held batch (there must be one).
  void ReleaseFirst() {
    IngestDone done;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ASSERT_FALSE(held_.empty());
      done = std::move(held_.front());
      held_.erase(held_.begin());
    }
    done(Status::Ok());
  }
  // Completes the held batches; later ones complete at once unless `keep_holding`.
  void Release(bool keep_holding = false) {
    std::vector<IngestDone> held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      held.swap(held_);
      hold_ = keep_holding;
    }
    for (IngestDone& done : held) {
      done(Status::Ok());
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> message_ids_;
  std::vector<Event> events_;
  std::vector<IngestDone> held_;
  std::vector<size_t> batch_sizes_;
  std::atomic<bool> waiting_{false};
  bool hold_ = false;
  bool fail_ = false;
};

class Client {
 public:
  // `receive_buffer` > 0 shrinks the socket's receive buffer, so a client that does not read
  // fills it soon.
  explicit Client(uint16_t port, int receive_buffer = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{kGuardSeconds, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (receive_buffer > 0) {
      setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Client() { close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& bytes) {
    ASSERT_EQ(send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  // The next reply line (without its newline); nullopt on end of stream or the guard timeout.
  std::optional<std::string> ReadLine() {
    for (;;) {
      if (size_t nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      char chunk[4096];
      ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) {
        return std::nullopt;
      }
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }
  // True when no byte is waiting to be read right now.
  bool NothingPending() {
    char c;
    return recv(fd_, &c, 1, MSG_DONTWAIT | MSG_PEEK) < 0 && buffer_.empty();
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

std::string Track(const std::string& message_id) {
  return R"({"type":"track","userId":"u1","event":"E","messageId":")" + message_id + "\"}\n";
}

class IngestServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IngestServerOptions options;
    options.max_line_bytes = 256;
    options.max_reply_bytes = kMaxReplyBytes;
    Configure(&options);
    server_ = std::make_unique<IngestServer>(io_, options, &sink_, &metrics_, &clock_);
    ASSERT_OK(server_->Listen("127.0.0.1", 0));
    io_thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    asio::post(io_, [this] { server_->Stop(); });
    guard_.reset();
    io_thread_.join();
  }
  // A test fixture's changes to the server's options.
  virtual void Configure(IngestServerOptions* /*options*/) {}
  Value Reply(Client& client) {
    std::optional<std::string> line = client.ReadLine();
    EXPECT_TRUE(line.has_value());
    Value v;
    EXPECT_OK(parser_.Parse(line.value_or("null"), &v));
    return v;
  }
  // Sends one write of 60 events and checks the sink got them as whole reads: at most two reads
  // (the network may cut one write), so some batch holds over 24 events.
  void ExpectReadsAsWholeBatches() {
    Client client(server_->port());
    std::string lines;
    for (int i = 1; i <= 60; ++i) {
      lines += Track("w" + std::to_string(i));
    }
    client.Send(lines);
    ASSERT_EQ(sink_.WaitForEvents(60).size(), 60u);
    EXPECT_EQ(Reply(client).Find("ack")->as_number(), 60);
    const std::vector<size_t> sizes = sink_.batch_sizes();
    EXPECT_GT(*std::max_element(sizes.begin(), sizes.end()), 24u);
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  FakeSink sink_;
  Metrics metrics_;
  ManualClock clock_{1'800'000'000};
  std::unique_ptr<IngestServer> server_;
  std::thread io_thread_;
  JsonParser parser_;
};

TEST_F(IngestServerTest, ValidLinesGoToTheSinkInOrderAndAreAckedOnceDurable) {
  Client client(server_->port());
  ASSERT_TRUE(client.connected());
  client.Send(Track("m1") + "\n   \n" + Track("m2") + Track("m3"));
  EXPECT_EQ(sink_.WaitForEvents(3), (std::vector<std::string>{"m1", "m2", "m3"}));
  // Blank lines are skipped but counted: 5 lines in all.
  Value ack = Reply(client);
  ASSERT_NE(ack.Find("ack"), nullptr) << ack.ToJson();
  EXPECT_EQ(ack.Find("ack")->as_number(), 5);
}

TEST_F(IngestServerTest, RejectedLinesGetAnErrorLineNamingTheirLineAndTheRestGoOn) {
  Client client(server_->port());
  client.Send(Track("m1") + "{not json\n" + R"({"type":"Track","userId":"u","messageId":"m-bad"})" +
              "\n" + std::string(300, 'x') + "\n" + Track("m2"));
  EXPECT_EQ(sink_.WaitForEvents(2), (std::vector<std::string>{"m1", "m2"}));
  Value e1 = Reply(client);
  EXPECT_EQ(e1.Find("error")->as_string(), "invalid_json");
  EXPECT_EQ(e1.Find("line")->as_number(), 2);
  Value e2 = Reply(client);
  EXPECT_EQ(e2.Find("error")->as_string(), "unsupported_type");
  EXPECT_EQ(e2.Find("line")->as_number(), 3);
  EXPECT_EQ(e2.Find("messageId")->as_string(), "m-bad");
  Value e3 = Reply(client);
  EXPECT_EQ(e3.Find("error")->as_string(), "line_too_long");
  EXPECT_EQ(e3.Find("line")->as_number(), 4);
  // The ack covers rejected lines too: they are processed.
  Value ack = Reply(client);
  EXPECT_EQ(ack.Find("ack")->as_number(), 5);
}

// A sink that waits for work gets a read's events in parts as they are parsed (the engine starts
// on a burst's first events while its last are parsed); the parts keep the events' order, and
// each part is acknowledged once it and every part before it are durable, a rejected line
// between two parts included.
TEST_F(IngestServerTest, AnIdleSinkGetsAReadInPartsAckedInOrder) {
  sink_.set_waiting(true);
  sink_.set_hold(true);
  Client client(server_->port());
  std::string lines;
  std::vector<std::string> ids;
  for (int i = 1; i <= 60; ++i) {
    if (i == 25) {
      lines += "{not json\n";  // line 25: right after the first part's 24 events
      continue;
    }
    ids.push_back("m" + std::to_string(i));
    lines += Track(ids.back());
  }
  client.Send(lines);
  EXPECT_EQ(sink_.WaitForEvents(ids.size()), ids);
  const std::vector<size_t> sizes = sink_.batch_sizes();
  ASSERT_GE(sizes.size(), 3u);
  for (size_t size : sizes) {
    EXPECT_LE(size, 24u);
  }
  Value error = Reply(client);
  EXPECT_EQ(error.Find("error")->as_string(), "invalid_json");
  EXPECT_EQ(error.Find("line")->as_number(), 25);
  EXPECT_TRUE(client.NothingPending());  // nothing is durable yet: no ack
  // The first part durable: its lines are acknowledged, and the rejected line after it (the
  // next part starts past it), not one more. (Read whole, the first part is lines 1-24.)
  sink_.ReleaseFirst();
  Value ack = Reply(client);
  EXPECT_EQ(ack.Find("ack")->as_number(), sizes[0] == 24 ? 25.0 : static_cast<double>(sizes[0]));
  // The rest: acks grow (one per part, or fewer, coalesced) up to the last line.
  sink_.Release();
  double acked = ack.Find("ack")->as_number();
  while (acked < 60) {
    Value next = Reply(client);
    ASSERT_NE(next.Find("ack"), nullptr) << next.ToJson();
    EXPECT_GT(next.Find("ack")->as_number(), acked);
    acked = next.Find("ack")->as_number();
  }
  EXPECT_EQ(acked, 60);
}

// A busy sink gets a read as one batch.
TEST_F(IngestServerTest, ABusySinkGetsAReadAsOneBatch) { ExpectReadsAsWholeBatches(); }

// With early parts off (the daemon under `durability: fsync`), a read is one batch even when the
// sink waits for work.
class IngestServerWithoutPartsTest : public IngestServerTest {
 protected:
  void Configure(IngestServerOptions* options) override { options->early_submit_events = 0; }
};

TEST_F(IngestServerWithoutPartsTest, AnIdleSinkGetsAReadAsOneBatch) {
  sink_.set_waiting(true);
  ExpectReadsAsWholeBatches();
}

// Each read parses over the events of an earlier one (given back by the sink): nothing of an old
// event may show in a new one, a rejected line's half-parsed slot included, and a shorter read
// yields only its own events.
TEST_F(IngestServerTest, AReadParsedOverGivenBackEventsHoldsOnlyItsOwnFields) {
  Client client(server_->port());
  client.Send(
      R"({"type":"track","userId":"u-first","event":"Demo Requested","properties":{"plan":"pro"},)"
      R"("context":{"ip":"1.2.3.4"},"messageId":"a1","timestamp":1800000000})"
      "\n" +
      Track("a2") + Track("a3"));
  ASSERT_EQ(sink_.WaitForEvents(3).size(), 3u);
  EXPECT_EQ(Reply(client).Find("ack")->as_number(), 3);

  // A line that fails validation after its fields were read, then one valid identify.
  client.Send(R"({"type":"track","userId":"u-bad","properties":{"x":1},"messageId":"bad"})"
              "\n"
              R"({"type":"identify","anonymousId":"anon-1","traits":{"email":"a@b.c"},)"
              R"("messageId":"b1"})"
              "\n");
  EXPECT_EQ(sink_.WaitForEvents(4), (std::vector<std::string>{"a1", "a2", "a3", "b1"}));
  std::vector<Event> events = sink_.events();
  ASSERT_EQ(events.size(), 4u);  // the second read gave one event, not three
  const Event& b1 = events[3];
  EXPECT_EQ(b1.type, EventType::kIdentify);
  EXPECT_EQ(b1.user_id, "");
  EXPECT_EQ(b1.anonymous_id, "anon-1");
  EXPECT_FALSE(b1.has_name);
  EXPECT_EQ(b1.name, "");
  EXPECT_FALSE(b1.has_timestamp);
  EXPECT_TRUE(b1.properties.is_null()) << b1.properties.ToJson();
  EXPECT_TRUE(b1.context.is_null()) << b1.context.ToJson();
  EXPECT_EQ(b1.traits.ToJson(), R"({"email":"a@b.c"})");
  EXPECT_EQ(events[0].properties.ToJson(), R"({"plan":"pro"})");  // the copy kept its own
}

TEST_F(IngestServerTest, NothingIsAckedBeforeTheSinkSaysDurable) {
  sink_.set_hold(true);
  Client client(server_->port());
  client.Send(Track("m1") + Track("m2"));
  ASSERT_EQ(sink_.WaitForEvents(2).size(), 2u);
  // The batch is in the sink, not durable: no ack can have been written.
  EXPECT_TRUE(client.NothingPending());
  sink_.Release();
  Value ack = Reply(client);
  EXPECT_EQ(ack.Find("ack")->as_number(), 2);
}

TEST_F(IngestServerTest, ABatchThatFailsToBecomeDurableIsNeverAcked) {
  sink_.set_fail(true);
  Client client(server_->port());
  client.Send(Track("m1"));
  Value reply = Reply(client);
  EXPECT_EQ(reply.Find("ack"), nullptr) << reply.ToJson();
  EXPECT_EQ(reply.Find("error")->as_string(), "unavailable");
  // The connection is closed: the client resends what was not acked.
  EXPECT_FALSE(client.ReadLine().has_value());
}

// The log shipper's case (SPEC 3: a client may send forever and never read): 60,000 rejected
// lines and then a valid one, with nothing read. Before replies were bounded, reading stopped
// once the unread errors filled the reply buffer, and the valid event never arrived.
TEST_F(IngestServerTest, ASenderThatNeverReadsItsErrorsIsNeverStalledByThem) {
  constexpr int kRejected = 60'000;
  Client client(server_->port(), /*receive_buffer=*/4096);
  ASSERT_TRUE(client.connected());
  // Long messageIds make the replies (which repeat them) 13 MB: more than any socket buffers.
  const std::string padding(150, 'x');
  std::string bad;
  for (int i = 1; i <= kRejected; ++i) {
    bad += R"({"type":"Track","userId":"u","event":"E","messageId":")" + padding +
           std::to_string(i) + "\"}\n";
  }
  client.Send(bad + Track("m-valid"));
  EXPECT_EQ(sink_.WaitForEvents(1), (std::vector<std::string>{"m-valid"}));
  const std::string metrics = metrics_.RenderPrometheus();
  EXPECT_EQ(metrics.find("handoff_replies_dropped_total 0\n"), std::string::npos) << metrics;

  // Now read everything: every rejected line is answered once, in line order, by its own error
  // line or within a summary's range (a summary goes out each time the socket took what was
  // queued before it), with acks of the lines so far in between; then the last ack.
  uint64_t next_line = 1;
  int summaries = 0;
  for (;;) {
    Value reply = Reply(client);
    if (const Value* ack = reply.Find("ack"); ack != nullptr) {
      ASSERT_LE(ack->as_number(), kRejected + 1);
      if (ack->as_number() == kRejected + 1) {
        break;
      }
      EXPECT_LT(ack->as_number(), next_line);
      continue;
    }
    ASSERT_NE(reply.Find("error"), nullptr) << reply.ToJson();
    if (reply.Find("error")->as_string() == "replies_dropped") {
      ++summaries;
      ASSERT_EQ(reply.Find("first_line")->as_number(), next_line);
      const double last = reply.Find("last_line")->as_number();
      ASSERT_EQ(reply.Find("count")->as_number(), last - next_line + 1);
      next_line = static_cast<uint64_t>(last) + 1;
      continue;
    }
    EXPECT_EQ(reply.Find("error")->as_string(), "unsupported_type");
    ASSERT_EQ(reply.Find("line")->as_number(), next_line);
    ++next_line;
  }
  EXPECT_GE(summaries, 1);
  EXPECT_EQ(next_line, kRejected + 1u);
}

// The total's tests: a FakeSink that holds batches and a server on an io thread of its own.
class IngestServerTotalTest : public ::testing::Test {
 protected:
  void Start(const IngestServerOptions& options) {
    sink_.set_hold(true);
    server_ = std::make_unique<IngestServer>(io_, options, &sink_, &metrics_, &clock_);
    ASSERT_OK(server_->Listen("127.0.0.1", 0));
    io_thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    sink_.Release();
    if (server_ != nullptr) {
      asio::post(io_, [this] { server_->Stop(); });
    }
    guard_.reset();
    if (io_thread_.joinable()) {
      io_thread_.join();
    }
  }
  // `n` track lines with messageIds "<prefix>-00000"...: all of one size.
  static std::string Lines(const std::string& prefix, int n) {
    std::string bytes;
    for (int i = 0; i < n; ++i) {
      char id[16];
      std::snprintf(id, sizeof(id), "%s-%05d", prefix.c_str(), i);
      bytes += Track(id);
    }
    return bytes;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  FakeSink sink_;
  Metrics metrics_;
  ManualClock clock_{1'800'000'000};
  std::unique_ptr<IngestServer> server_;
  std::thread io_thread_;
};

// max_total_inflight_bytes: connections together stop reading once that many input bytes wait
// for the engine, and all go on once the engine catches up. Without it each connection would
// stop only at its own max_inflight_bytes.
TEST_F(IngestServerTotalTest, ConnectionsTogetherPauseAtTheTotalAndResume) {
  IngestServerOptions options;
  options.max_inflight_bytes = 64 << 10;
  options.max_total_inflight_bytes = 100 << 10;
  options.read_chunk_bytes = 4 << 10;
  ASSERT_NO_FATAL_FAILURE(Start(options));
  FakeSink& sink = sink_;
  IngestServer& server = *server_;

  constexpr int kClients = 4;
  constexpr int kLinesEach = 1000;
  const size_t line_bytes = Track("c0-00000").size();  // every line has this size
  std::vector<std::unique_ptr<Client>> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(std::make_unique<Client>(server.port()));
    ASSERT_TRUE(clients.back()->connected());
  }
  for (int c = 0; c < kClients; ++c) {
    const std::string bytes = Lines("c" + std::to_string(c), kLinesEach);
    ASSERT_EQ(bytes.size(), kLinesEach * line_bytes);  // 4 x ~70 KB: over the total together
    clients[c]->Send(bytes);
  }
  // Up to the total (and at most one read past it), then nothing while the engine holds them.
  const size_t cap_lines = options.max_total_inflight_bytes / line_bytes;
  EXPECT_GE(sink.WaitForEvents(cap_lines).size(), cap_lines);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const size_t held = sink.WaitForEvents(0).size();
  // One read (and the line it completes) may pass the total; no more.
  EXPECT_LE(held * line_bytes,
            options.max_total_inflight_bytes + options.read_chunk_bytes + line_bytes);
  EXPECT_LT(held, static_cast<size_t>(kClients * kLinesEach));
  // The engine catches up: every connection reads again, and everything arrives.
  sink.Release();
  EXPECT_EQ(sink.WaitForEvents(kClients * kLinesEach).size(),
            static_cast<size_t>(kClients * kLinesEach));
  for (auto& client : clients) {
    std::optional<std::string> ack;
    do {
      ack = client->ReadLine();
    } while (ack.has_value() && *ack != R"({"ack":)" + std::to_string(kLinesEach) + "}");
    EXPECT_TRUE(ack.has_value());
  }
}

// A connection that arrived, or had bytes unread, while the total was full is read once there is
// room, even if its sender sends nothing more. The sockets are edge-triggered: waiting for
// "readable" again would wait for bytes that never come.
TEST_F(IngestServerTotalTest, BytesThatArrivedWhileTheTotalWasFullAreReadWithoutMoreBytes) {
  IngestServerOptions options;
  options.max_total_inflight_bytes = 16 << 10;
  options.read_chunk_bytes = 4 << 10;
  ASSERT_NO_FATAL_FAILURE(Start(options));
  FakeSink& sink = sink_;
  IngestServer& server = *server_;

  constexpr int kLines = 1000;  // ~70 KB: four times the total
  Client busy(server.port());
  ASSERT_TRUE(busy.connected());
  busy.Send(Lines("b", kLines));
  const size_t line_bytes = Track("b-00000").size();
  sink.WaitForEvents(options.max_total_inflight_bytes / line_bytes);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the total is full
  Client quiet(server.port());
  ASSERT_TRUE(quiet.connected());
  quiet.Send(Track("quiet"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // arrived while full
  // Room comes back a batch at a time; neither client sends another byte.
  bool all_read = false;
  for (int round = 0; round < 400 && !all_read; ++round) {
    sink.Release(/*keep_holding=*/true);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    all_read = sink.WaitForEvents(0).size() == kLines + 1u;
  }
  EXPECT_TRUE(all_read) << sink.WaitForEvents(0).size() << " of " << kLines + 1 << " read";
  sink.Release();
}

// Past the total, readable connections take turns in the order they became readable: a quiet
// tracker that sends one line beside busy connections waits for about one read of each, not for
// them to run dry. Before the turns, every resume raced all connections for the room freed, and
// with 64 flooders the quiet line came after ~47,000 flood lines in one run of three (the bound
// here is ~9,100); with 8 it never showed.
TEST_F(IngestServerTotalTest, AQuietConnectionGetsItsTurnBesideAFlood) {
  IngestServerOptions options;
  options.max_inflight_bytes = 1 << 20;
  options.max_total_inflight_bytes = 32 << 10;
  options.read_chunk_bytes = 4 << 10;
  ASSERT_NO_FATAL_FAILURE(Start(options));
  FakeSink& sink = sink_;
  IngestServer& server = *server_;

  constexpr int kFlooders = 64;
  constexpr int kLinesEach = 1000;
  const size_t line_bytes = Track("f0-00000").size();
  std::vector<std::unique_ptr<Client>> flooders;
  std::vector<std::thread> senders;
  for (int c = 0; c < kFlooders; ++c) {
    flooders.push_back(std::make_unique<Client>(server.port()));
    ASSERT_TRUE(flooders.back()->connected());
    const std::string bytes = Lines("f" + std::to_string(c), kLinesEach);
    senders.emplace_back([client = flooders.back().get(), bytes] { client->Send(bytes); });
  }
  // The total fills; the flooders still have most of their lines to send.
  const size_t before_quiet =
      sink.WaitForEvents(options.max_total_inflight_bytes / line_bytes).size();
  ASSERT_LT(before_quiet, static_cast<size_t>(kFlooders * kLinesEach) / 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // every flooder waits its turn
  Client quiet(server.port());
  ASSERT_TRUE(quiet.connected());
  quiet.Send(Track("quiet"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the quiet one is in line too

  std::vector<std::string> ids;
  auto quiet_at = ids.end();
  for (int round = 0; round < 1000 && quiet_at == ids.end(); ++round) {
    sink.Release(/*keep_holding=*/true);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ids = sink.WaitForEvents(0);
    quiet_at = std::find(ids.begin(), ids.end(), "quiet");
  }
  ASSERT_NE(quiet_at, ids.end());
  const size_t flood_lines_before = static_cast<size_t>(quiet_at - ids.begin());
  // What was in flight when it became readable, then one read per flooder (and the line each
  // read completes), with a round to spare for the moment it joined the line.
  const size_t bound = before_quiet + options.max_total_inflight_bytes / line_bytes +
                       2 * kFlooders * (options.read_chunk_bytes / line_bytes + 1);
  EXPECT_LE(flood_lines_before, bound);
  EXPECT_LT(bound, static_cast<size_t>(kFlooders * kLinesEach) / 2);  // the bound means something
  sink.Release();
  EXPECT_EQ(sink.WaitForEvents(kFlooders * kLinesEach + 1).size(),
            static_cast<size_t>(kFlooders * kLinesEach + 1));
  for (std::thread& t : senders) {
    t.join();
  }
}

}  // namespace
}  // namespace handoff
