// Drives SubscriberServer over real loopback sockets, with a real Store in a temp dir and a real
// Engine on a tiny rule file. Outbox records are committed straight to the store and announced
// with NotifyOutboxHead, as the engine's outbox listener does after each commit.
//
// The client is a blocking POSIX socket with a receive guard of a few seconds, so a server bug
// fails a test instead of hanging it. No test asserts how fast anything happens: a subscription
// is known to be in place once a later line on the same connection has been answered (lines are
// handled in order), and an absent record is shown by a later record arriving first.
// clang-format off
#include <utility>
#include "subscribe/subscriber_server.h"
// clang-format on

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/metrics.h"
#include "core/engine.h"
#include "outbox/stored_record.h"
#include "storage/rocks_store.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

namespace asio = boost::asio;

// Long enough that a correct server never hits it, short enough that a broken one fails soon.
constexpr int kGuardSeconds = 10;
constexpr EpochSeconds kNow = 1'800'000'000;
constexpr EpochSeconds kEightDaysAgo = kNow - 8 * 86400;  // older than the 7 d retention
// An accept of a seq no router has heard of: its answer is always unknown_seq.
constexpr uint64_t kUnknownSeq = 999'999;

constexpr char kRules[] = R"(scores:
  fit: {kind: profile}
)";

class Client {
 public:
  // `rcvbuf`: a small receive buffer makes a client that does not read stall the server sooner.
  explicit Client(uint16_t port, int rcvbuf = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) {
      setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    }
    timeval tv{kGuardSeconds, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Client() { Close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }

  void Close() {
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  // Unblocks a send() stuck in another thread.
  void Shutdown() { shutdown(fd_, SHUT_RDWR); }
  // Half-close: the server reads end of stream; this side can still read.
  void ShutdownWrite() { shutdown(fd_, SHUT_WR); }
  // True once the server closed the connection (a read returned end of stream).
  bool eof() const { return eof_; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  bool SendLine(std::string_view line) { return Send(std::string(line) + "\n"); }

  // The next line (without its newline) that is not a heartbeat, unless heartbeats are asked
  // for; nullopt when the guard time passes or the server closes.
  std::optional<std::string> ReadLine(bool heartbeats = false) {
    while (true) {
      std::optional<std::string> line;
      if (!backlog_.empty()) {
        line = std::move(backlog_.front());
        backlog_.pop_front();
      } else {
        line = ReadSocketLine();
      }
      if (!line) {
        return std::nullopt;
      }
      if (!heartbeats && line->rfind("{\"heartbeat\":", 0) == 0) {
        continue;
      }
      return line;
    }
  }

  // Sends a line the server answers at once with bad_request and waits for that answer. Lines
  // arriving meanwhile (records) stay queued for ReadLine. After it returns, every line sent
  // before has been handled (the server handles a connection's lines in order).
  void Sync() {
    ASSERT_TRUE(SendLine(R"({"sync":1})"));
    while (true) {
      std::optional<std::string> line = ReadSocketLine();
      ASSERT_TRUE(line.has_value()) << "no answer to the sync line";
      if (line->find("expected subscribe") != std::string::npos) {
        return;
      }
      if (line->rfind("{\"heartbeat\":", 0) != 0) {
        backlog_.push_back(std::move(*line));
      }
    }
  }

 private:
  std::optional<std::string> ReadSocketLine() {
    while (true) {
      size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      char chunk[65536];
      ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) {
        eof_ = n == 0;
        return std::nullopt;
      }
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string buffer_;
  std::deque<std::string> backlog_;
};

struct RecordSpec {
  std::string kind = "routed";
  std::string rep;
  std::string team;
  std::string from_rep;
  size_t pad = 0;  // bytes of padding in traits, for large records
};

RecordSpec Rec(std::string kind, std::string rep = "", std::string team = "",
               std::string from_rep = "", size_t pad = 0) {
  RecordSpec spec;
  spec.kind = std::move(kind);
  spec.rep = std::move(rep);
  spec.team = std::move(team);
  spec.from_rep = std::move(from_rep);
  spec.pad = pad;
  return spec;
}

class SubscriberServerTest : public ::testing::Test {
 protected:
  ~SubscriberServerTest() override { StopAll(); }

  void StartServer(SubscriberServerOptions options = {}) {
    StoreOptions store_options;
    store_options.path = dir_.path() + "/data";
    store_options.clock = &clock_;
    auto store = RocksStore::Open(store_options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store.value());

    EngineOptions engine_options;
    engine_options.rules_path = dir_.WriteFile("rules.yaml", kRules);
    engine_options.watch_rules = false;
    engine_options.stage_check_interval = 0;
    engine_ = std::make_unique<Engine>(engine_options, store_.get(), &clock_, &metrics_);
    server_ = std::make_unique<SubscriberServer>(io_, options, engine_.get(), &engine_->outbox(),
                                                 &metrics_);
    engine_->outbox().SetListener(
        [server = server_.get()](uint64_t head) { server->NotifyOutboxHead(head); });
    ASSERT_OK(engine_->Start());
    ASSERT_OK(server_->Listen("127.0.0.1", 0));
    port_ = server_->port();
    ASSERT_NE(port_, 0);
    io_thread_ = std::thread([this] { io_.run(); });
  }

  void StopAll() {
    if (io_thread_.joinable()) {
      std::promise<void> stopped;
      asio::post(io_, [&] {
        server_->Stop();
        stopped.set_value();
      });
      stopped.get_future().wait();
    }
    if (engine_) {
      engine_->Stop();
    }
    guard_.reset();
    io_.stop();
    if (io_thread_.joinable()) {
      io_thread_.join();
    }
    server_.reset();
    engine_.reset();
    store_.reset();
  }

  // Commits records next_seq_.. in one batch, then tells the server, like the engine does.
  void Append(const std::vector<RecordSpec>& specs, EpochSeconds at = kNow) {
    CommitBatch batch;
    for (const RecordSpec& spec : specs) {
      const uint64_t seq = next_seq_++;
      std::string json = "{\"seq\":" + std::to_string(seq) + ",\"kind\":\"" + spec.kind +
                         "\",\"at\":\"2027-01-15T08:00:00.000Z\",\"lead\":\"u" +
                         std::to_string(seq) + "\"";
      if (!spec.rep.empty()) {
        json += ",\"rep\":\"" + spec.rep + "\"";
      }
      if (!spec.team.empty()) {
        json += ",\"team\":\"" + spec.team + "\"";
      }
      if (!spec.from_rep.empty()) {
        json += ",\"from_rep\":\"" + spec.from_rep + "\"";
      }
      // A trait named rep must never be taken for the record's rep.
      json += ",\"traits\":{\"rep\":\"alice\",\"pad\":\"" + std::string(spec.pad, 'x') + "\"}}";
      OutboxRecord header;
      header.kind = *OutboxKindFromName(spec.kind);
      header.rep = spec.rep;
      header.team = spec.team;
      std::string stored;
      EncodeStoredRecord(header, json, &stored);
      batch.PutOutbox(seq, at, stored);
      records_[seq] = json;
    }
    ASSERT_OK(store_->Commit(&batch));
    server_->NotifyOutboxHead(next_seq_ - 1);
  }
  void AppendMany(size_t n, const RecordSpec& spec = {}, EpochSeconds at = kNow) {
    constexpr size_t kPerCommit = 500;
    while (n > 0) {
      const size_t k = std::min(n, kPerCommit);
      Append(std::vector<RecordSpec>(k, spec), at);
      n -= k;
    }
  }

  uint64_t head() const { return next_seq_ - 1; }

  // Reads records `first`..`last` in order, exactly as stored.
  void ExpectRecords(Client& client, uint64_t first, uint64_t last) {
    for (uint64_t seq = first; seq <= last; ++seq) {
      std::optional<std::string> line = client.ReadLine();
      ASSERT_TRUE(line.has_value()) << "waiting for seq " << seq;
      ASSERT_EQ(*line, records_.at(seq)) << "expected seq " << seq;
    }
  }
  void ExpectRecord(Client& client, uint64_t seq) { ExpectRecords(client, seq, seq); }
  void ExpectLine(Client& client, std::string_view expected) {
    std::optional<std::string> line = client.ReadLine();
    ASSERT_TRUE(line.has_value()) << "waiting for " << expected;
    EXPECT_EQ(*line, expected);
  }

  // A connected client with its subscription in place.
  std::unique_ptr<Client> Subscribe(std::string_view line, int rcvbuf = 0) {
    auto client = std::make_unique<Client>(port_, rcvbuf);
    EXPECT_TRUE(client->connected());
    EXPECT_TRUE(client->SendLine(line));
    client->Sync();
    return client;
  }

  testing::TempDir dir_;
  ManualClock clock_{kNow};
  Metrics metrics_;
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  std::unique_ptr<Store> store_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<SubscriberServer> server_;
  std::thread io_thread_;
  uint16_t port_ = 0;
  uint64_t next_seq_ = 1;
  std::map<uint64_t, std::string> records_;
};

TEST_F(SubscriberServerTest, FromReplaysInOrderThenStreamsNewRecords) {
  StartServer();
  AppendMany(600);  // more than two store chunks
  auto client = Subscribe(R"({"subscribe":{},"from":0})");
  ExpectRecords(*client, 1, 600);
  Append({{}, Rec("stage")});
  ExpectRecords(*client, 601, 602);
}

TEST_F(SubscriberServerTest, FromSkipsOlderRecords) {
  StartServer();
  AppendMany(50);
  auto client = Subscribe(R"({"subscribe":{},"from":41})");
  ExpectRecords(*client, 42, 50);
}

TEST_F(SubscriberServerTest, FromBeyondTheHeadWaitsForThoseRecords) {
  StartServer();
  AppendMany(3);
  auto client = Subscribe(R"({"subscribe":{},"from":5})");
  AppendMany(4);
  ExpectRecords(*client, 6, 7);
}

TEST_F(SubscriberServerTest, WithoutFromOnlyNewRecords) {
  StartServer();
  AppendMany(5);
  auto client = Subscribe(R"({"subscribe":{}})");
  Append({Rec("stage"), Rec("routed", "bob")});
  ExpectRecords(*client, 6, 7);
}

TEST_F(SubscriberServerTest, EmptyOutboxThenLiveRecords) {
  StartServer();
  auto client = Subscribe(R"({"subscribe":{},"from":0})");
  Append({{}});
  ExpectRecord(*client, 1);
}

TEST_F(SubscriberServerTest, Filters) {
  StartServer();
  Append({
      Rec("stage"),                                     // 1
      Rec("routed", "alice", "enterprise"),             // 2
      Rec("routed", "bob", "enterprise"),               // 3
      Rec("reassigned", "bob", "enterprise", "alice"),  // 4
      Rec("routed", "alice", "smb"),                    // 5
      Rec("accepted", "alice", "enterprise"),           // 6
      Rec("unrouted"),                                  // 7
  });
  auto all = Subscribe(R"({"subscribe":{"kinds":["routed","reassigned"],"rep":"alice",)"
                       R"("team":"enterprise"},"from":0})");
  auto rep = Subscribe(R"({"subscribe":{"rep":"alice"},"from":0})");
  auto team = Subscribe(R"({"subscribe":{"team":"enterprise"},"from":0})");
  auto stage = Subscribe(R"({"subscribe":{"kinds":["stage","unrouted"]},"from":0})");
  // Markers: a later record arriving shows that every record between was left out.
  Append({Rec("routed", "alice", "enterprise"),  // 8
          Rec("stage")});                        // 9
  ExpectRecord(*all, 2);
  ExpectRecord(*all, 8);
  // A rep filter matches the record's rep only (not from_rep), so it gets no stage records and
  // not the reassignment away from alice.
  for (uint64_t seq : {2, 5, 6, 8}) {
    ExpectRecord(*rep, seq);
  }
  for (uint64_t seq : {2, 3, 4, 6, 8}) {
    ExpectRecord(*team, seq);
  }
  for (uint64_t seq : {1, 7, 9}) {
    ExpectRecord(*stage, seq);
  }
}

TEST_F(SubscriberServerTest, GapAfterTrimGoesOnFromTheOldest) {
  StartServer();
  AppendMany(5, {}, kEightDaysAgo);
  AppendMany(3, {}, kNow);
  ASSERT_OK(store_->TrimOutbox(kNow));
  ASSERT_EQ(store_->OldestOutboxSeq(), 6u);

  auto from_zero = Subscribe(R"({"subscribe":{},"from":0})");
  ExpectLine(*from_zero, R"({"error":"gap","oldest":6})");
  ExpectRecords(*from_zero, 6, 8);

  auto from_two = Subscribe(R"({"subscribe":{"kinds":["routed"]},"from":2})");
  ExpectLine(*from_two, R"({"error":"gap","oldest":6})");
  ExpectRecords(*from_two, 6, 8);

  // Nothing it asked for is gone: no gap.
  auto from_five = Subscribe(R"({"subscribe":{},"from":5})");
  ExpectRecords(*from_five, 6, 8);
}

TEST_F(SubscriberServerTest, GapWhenEveryRecordWasTrimmed) {
  StartServer();
  AppendMany(3, {}, kEightDaysAgo);
  ASSERT_OK(store_->TrimOutbox(kNow));
  ASSERT_EQ(store_->OldestOutboxSeq(), 0u);
  auto client = Subscribe(R"({"subscribe":{},"from":1})");
  ExpectLine(*client, R"({"error":"gap","oldest":4})");
  Append({{}});
  ExpectRecord(*client, 4);
  // Caught up with the head: no gap to report.
  auto caught_up = Subscribe(R"({"subscribe":{},"from":4})");
  Append({{}});
  ExpectRecord(*caught_up, 5);
}

TEST_F(SubscriberServerTest, HeartbeatWhenIdle) {
  SubscriberServerOptions options;
  options.heartbeat_interval = std::chrono::milliseconds(100);
  StartServer(options);
  AppendMany(3);
  auto client = Subscribe(R"({"subscribe":{"kinds":["stage"]}})");
  std::optional<std::string> line = client->ReadLine(/*heartbeats=*/true);
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(*line, R"({"heartbeat":3})");
  AppendMany(2);
  // Records that do not match send nothing; heartbeats carry the new head.
  while (true) {
    line = client->ReadLine(/*heartbeats=*/true);
    ASSERT_TRUE(line.has_value());
    ASSERT_EQ(line->rfind("{\"heartbeat\":", 0), 0u) << *line;
    if (*line == R"({"heartbeat":5})") {
      break;
    }
  }
}

TEST_F(SubscriberServerTest, ResumeWithFromMissesNothingAndRepeatsNothing) {
  StartServer();
  AppendMany(300);
  uint64_t last_seen = 0;
  {
    auto client = Subscribe(R"({"subscribe":{},"from":0})");
    ExpectRecords(*client, 1, 120);
    last_seen = 120;
  }  // disconnects with more records unread
  AppendMany(50);
  auto client = Subscribe(R"({"subscribe":{},"from":)" + std::to_string(last_seen) + "}");
  ExpectRecords(*client, 121, 350);
  Append({{}});
  ExpectRecord(*client, 351);
}

TEST_F(SubscriberServerTest, StuckSubscriberBlocksNobodyAndLosesNothing) {
  StartServer();
  // Never reads (until the end), with a small receive buffer: the server's writes to it stall.
  auto stuck = Subscribe(R"({"subscribe":{},"from":0})", /*rcvbuf=*/4096);
  constexpr size_t kRecords = 3000;  // ~6 MB: far more than socket buffers hold
  AppendMany(kRecords, Rec("routed", "", "", "", 2000));
  auto reader = Subscribe(R"({"subscribe":{},"from":0})");
  ExpectRecords(*reader, 1, kRecords);
  Append({{}});
  ExpectRecord(*reader, kRecords + 1);
  // The stuck one gets everything once it reads.
  ExpectRecords(*stuck, 1, kRecords + 1);
}

TEST_F(SubscriberServerTest, HundredConcurrentSubscribersReceiveEverything) {
  StartServer();
  constexpr int kSubscribers = 100;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kSubscribers; ++i) {
    clients.push_back(
        Subscribe(i % 2 == 0 ? R"({"subscribe":{},"from":0})" : R"({"subscribe":{}})"));
  }
  EXPECT_NE(metrics_.RenderPrometheus().find("handoff_subscribers 100\n"), std::string::npos);
  constexpr size_t kRecords = 500;
  AppendMany(kRecords);
  for (auto& client : clients) {
    ExpectRecords(*client, 1, kRecords);
  }
  // A subscriber that is gone is found by a failed write (a half-closed one still reads), so
  // every disconnect is counted once records flow again.
  clients.clear();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (metrics_.RenderPrometheus().find("handoff_subscribers 0\n") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    AppendMany(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(metrics_.RenderPrometheus().find("handoff_subscribers 0\n"), std::string::npos);
}

TEST_F(SubscriberServerTest, SalesActionsAreAnsweredWithTheirSeq) {
  StartServer();
  AppendMany(3);
  auto client = Subscribe(R"({"subscribe":{"rep":"alice"},"from":0})");
  const std::string seq = std::to_string(kUnknownSeq);
  for (const std::string& line :
       {R"({"accept":)" + seq + "}", R"({"reject":)" + seq + R"(,"reason":"not my region"})",
        R"({"close":)" + seq + R"(,"outcome":"won"})"}) {
    ASSERT_TRUE(client->SendLine(line));
    std::optional<std::string> reply = client->ReadLine();
    ASSERT_TRUE(reply.has_value()) << line;
    EXPECT_EQ(reply->rfind(R"({"error":"unknown_seq","message":")", 0), 0u) << *reply;
    EXPECT_NE(reply->find(R"(,"seq":)" + seq + "}"), std::string::npos) << *reply;
  }
  ASSERT_TRUE(client->SendLine(R"({"close":5,"outcome":"maybe"})"));
  std::optional<std::string> reply = client->ReadLine();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->rfind(R"({"error":"invalid_outcome","message":")", 0), 0u) << *reply;
  EXPECT_NE(reply->find(R"(,"seq":5})"), std::string::npos) << *reply;

  ASSERT_TRUE(client->SendLine(R"({"accept":-1})"));
  reply = client->ReadLine();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->rfind(R"({"error":"bad_request","message":")", 0), 0u) << *reply;

  // The stream goes on after every error.
  Append({Rec("routed", "alice")});
  ExpectRecord(*client, 4);
}

TEST_F(SubscriberServerTest, RepliesKeepCommandOrder) {
  StartServer();
  Client client(port_);
  ASSERT_TRUE(client.connected());
  // The engine answers the accept later than the server answers the bad line; replies still
  // come in the order of the commands.
  ASSERT_TRUE(client.Send("{\"accept\":" + std::to_string(kUnknownSeq) + "}\nnonsense\n"));
  std::optional<std::string> first = client.ReadLine();
  std::optional<std::string> second = client.ReadLine();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->rfind(R"({"error":"unknown_seq")", 0), 0u) << *first;
  EXPECT_EQ(second->rfind(R"({"error":"bad_request")", 0), 0u) << *second;
}

TEST_F(SubscriberServerTest, CommandsBeforeSubscribingAreAnswered) {
  StartServer();
  AppendMany(2);
  Client client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.SendLine("{\"accept\":" + std::to_string(kUnknownSeq) + "}"));
  std::optional<std::string> reply = client.ReadLine();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->rfind(R"({"error":"unknown_seq")", 0), 0u) << *reply;
  ASSERT_TRUE(client.SendLine(R"({"subscribe":{},"from":0})"));
  ExpectRecords(client, 1, 2);
}

TEST_F(SubscriberServerTest, BadSubscribeLineThenAValidOne) {
  StartServer();
  AppendMany(2);
  Client client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.SendLine(R"({"subscribe":{"kinds":["routed","nope"]},"from":0})"));
  std::optional<std::string> reply = client.ReadLine();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->rfind(R"({"error":"bad_request","message":")", 0), 0u) << *reply;
  EXPECT_NE(reply->find("nope"), std::string::npos) << *reply;
  ASSERT_TRUE(client.SendLine(R"({"subscribe":{},"from":0)"));  // malformed JSON
  reply = client.ReadLine();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->rfind(R"({"error":"bad_request")", 0), 0u) << *reply;
  ASSERT_TRUE(client.SendLine(std::string(70 * 1024, 'x')));  // over the line limit
  reply = client.ReadLine();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->rfind(R"({"error":"bad_request")", 0), 0u) << *reply;
  ASSERT_TRUE(client.SendLine(R"({"subscribe":{},"from":0})"));
  ExpectRecords(client, 1, 2);
  // A second subscribe is refused; the first one stays.
  ASSERT_TRUE(client.SendLine(R"({"subscribe":{"kinds":["stage"]}})"));
  reply = client.ReadLine();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->rfind(R"({"error":"bad_request")", 0), 0u) << *reply;
  Append({{}});
  ExpectRecord(client, 3);
}

TEST_F(SubscriberServerTest, ClientThatNeverReadsRepliesIsThrottledAlone) {
  StartServer();
  auto flooder = std::make_unique<Client>(port_, /*rcvbuf=*/4096);
  ASSERT_TRUE(flooder->connected());
  // Sends commands and never reads the answers: once its unwritten replies pass the limit the
  // server stops reading it, so this send blocks (until Shutdown below).
  std::thread sender([&] {
    std::string lines;
    for (int i = 0; i < 1000; ++i) {
      lines += "{\"nonsense\":1}\n";
    }
    for (int i = 0; i < 2000 && flooder->Send(lines); ++i) {
    }
  });
  auto reader = Subscribe(R"({"subscribe":{},"from":0})");
  AppendMany(100);
  ExpectRecords(*reader, 1, 100);
  flooder->Shutdown();
  sender.join();
}

TEST_F(SubscriberServerTest, HalfClosedSubscriberKeepsReceivingRecords) {
  StartServer();
  AppendMany(2);
  auto client = Subscribe(R"({"subscribe":{},"from":0})");
  ExpectRecords(*client, 1, 2);
  client->ShutdownWrite();  // `printf '{"subscribe":{}}\n' | nc -N`: no more commands
  AppendMany(2);
  ExpectRecords(*client, 3, 4);
}

TEST_F(SubscriberServerTest, CommandOnlyConnectionClosesAfterItsReplies) {
  StartServer();
  Client client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.SendLine("{\"accept\":" + std::to_string(kUnknownSeq) + "}"));
  client.ShutdownWrite();
  std::optional<std::string> reply = client.ReadLine();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->rfind(R"({"error":"unknown_seq")", 0), 0u) << *reply;
  EXPECT_FALSE(client.ReadLine().has_value());
  EXPECT_TRUE(client.eof());
}

}  // namespace
}  // namespace handoff
