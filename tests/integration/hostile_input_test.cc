// Hostile input against the real daemon (issue 12, item 4): each attack gets a clear error or a
// limit, the daemon's memory stays bounded, other clients are served during and after it, and
// the daemon stays up.
//
// Memory is read from /proc/<pid>/status: VmHWM is the daemon's peak resident set since it
// started, so one reading at the end of a test bounds every moment of the attack. The bound is
// generous (kMaxPeakBytes); what would break it is buffering the attack (a gigabyte line, an
// inflated gzip bomb, a backlog of records) instead of streaming or refusing it. Each test prints
// its figures ("[memory] ...") for the record.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/daemon_harness.h"
#include "tests/testutil.h"

namespace handoff::testing {
namespace {

// GCC says which sanitizer builds the file with __SANITIZE_THREAD__ / __SANITIZE_ADDRESS__;
// clang 14, which builds the sanitized CI stages, only answers __has_feature.
#if defined(__SANITIZE_THREAD__)
#define HANDOFF_UNDER_TSAN 1
#elif defined(__SANITIZE_ADDRESS__)
#define HANDOFF_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HANDOFF_UNDER_TSAN 1
#elif __has_feature(address_sanitizer)
#define HANDOFF_UNDER_ASAN 1
#endif
#endif

constexpr uint64_t kMiB = 1 << 20;
#if defined(HANDOFF_UNDER_TSAN)
constexpr bool kSanitized = true;
// TSan's shadow memory is four times the memory the daemon touches, plus its records of every
// mutex and atomic: the 200 MiB of RocksDB memtables behind a 31 MiB outbox show as about 900 MiB
// (peak 1,010 MiB seen). Still a bound an attack would break: a gigabyte buffered shows as five.
constexpr uint64_t kMaxPeakBytes = 1536 * kMiB;
#elif defined(HANDOFF_UNDER_ASAN)
constexpr bool kSanitized = true;
// Under a sanitizer the daemon's memory carries shadow memory and ASan's quarantine of freed
// blocks (up to 256 MiB): a looser bound, still far below the gigabyte an attack would buffer.
constexpr uint64_t kMaxPeakBytes = 900 * kMiB;
#else
constexpr bool kSanitized = false;
// The largest honest figure is the stuck subscriber's store: 2,000 leads of 16 KiB traits held as
// leads, in the lead journal, in the journal's, history's and outbox's memtables (335 to 368 MiB
// on this machine, 383 in CI; that test bounds its peak from the figure before the stuck
// subscriber). A buffered attack is a gigabyte.
constexpr uint64_t kMaxPeakBytes = 384 * kMiB;
#endif

// How much the floods below send. Under a sanitizer the daemon takes every byte several times
// slower (TSan: 20 s for the huge headers, 35 s for the large bodies), and a quarter as much is
// still far past every limit these tests hit (64 KiB of headers, 500 KiB of body, 128 MiB of
// bodies in flight), so the sanitized builds send that.
constexpr uint64_t kFloodBytes = (kSanitized ? 16 : 64) * kMiB;

// One click scores; a lead with one click is "warm" (a stage record carrying its traits).
constexpr std::string_view kRules =
    "scores:\n"
    "  clicks: {kind: event}\n"
    "rules:\n"
    "  - id: click\n"
    "    score: clicks\n"
    "    when: event == \"Click\"\n"
    "    points: 1\n"
    "stages:\n"
    "  - name: warm\n"
    "    enter: score.clicks >= 1\n";

std::string Click(const std::string& user, const std::string& message_id) {
  return R"({"type":"track","userId":")" + user + R"(","event":"Click","messageId":")" +
         message_id + R"("})";
}

// The status code of an HTTP response's first line ("HTTP/1.1 413 Payload Too Large"), or 0.
int StatusOf(const std::string& response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) {
    return 0;
  }
  return std::atoi(response.c_str() + 9);
}

// The body of a whole response read to EOF (after the blank line).
std::string BodyOf(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? std::string() : response.substr(at + 4);
}

// A gzip member of `chunks` MiB of zeros, built without compressing them all: one MiB is
// deflated once, ending in a full flush (byte-aligned, no reference to what came before), and
// those bytes are repeated; then an empty final block and the trailer (CRC-32 and length).
std::string GzipOfZeros(size_t chunks) {
  const std::string zeros(kMiB, '\0');
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
  std::string block(deflateBound(&zs, zeros.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zeros.data()));
  zs.avail_in = static_cast<uInt>(zeros.size());
  zs.next_out = reinterpret_cast<Bytef*>(block.data());
  zs.avail_out = static_cast<uInt>(block.size());
  EXPECT_EQ(deflate(&zs, Z_FULL_FLUSH), Z_OK);
  EXPECT_EQ(zs.avail_in, 0u);
  block.resize(block.size() - zs.avail_out);
  deflateEnd(&zs);

  std::string out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);  // gzip header
  uLong crc = crc32(0, nullptr, 0);
  const uLong chunk_crc = crc32(crc, reinterpret_cast<const Bytef*>(zeros.data()), zeros.size());
  for (size_t i = 0; i < chunks; ++i) {
    out += block;
    crc = crc32_combine(crc, chunk_crc, static_cast<z_off_t>(zeros.size()));
  }
  out += std::string("\x03\x00", 2);  // a final fixed-Huffman block with no data
  const uint64_t size = chunks * kMiB;
  for (uint64_t v : {static_cast<uint64_t>(crc), size}) {
    for (int k = 0; k < 4; ++k) {
      out.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
    }
  }
  return out;
}

// The bytes `gzip` inflates to (-1 when it is not a valid gzip stream), inflated a MiB at a time.
int64_t InflatedSize(const std::string& gzip) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    return -1;
  }
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gzip.data()));
  zs.avail_in = static_cast<uInt>(gzip.size());
  std::string out(kMiB, '\0');
  int64_t total = 0;
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    total += static_cast<int64_t>(out.size() - zs.avail_out);
  }
  inflateEnd(&zs);
  return rc == Z_STREAM_END && zs.avail_in == 0 ? total : -1;
}

// Raises this process's soft RLIMIT_NOFILE to `wanted` (at most the hard limit) for the scope.
class OpenFileLimit {
 public:
  explicit OpenFileLimit(rlim_t wanted) {
    getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit raised = saved_;
    raised.rlim_cur = std::min(wanted, saved_.rlim_max);
    setrlimit(RLIMIT_NOFILE, &raised);
    getrlimit(RLIMIT_NOFILE, &now_);
  }
  ~OpenFileLimit() { setrlimit(RLIMIT_NOFILE, &saved_); }
  OpenFileLimit(const OpenFileLimit&) = delete;
  OpenFileLimit& operator=(const OpenFileLimit&) = delete;
  rlim_t soft() const { return now_.rlim_cur; }

 private:
  rlimit saved_{};
  rlimit now_{};
};

// Many raw loopback connections, opened with non-blocking connects.
class ConnectionSwarm {
 public:
  ~ConnectionSwarm() { CloseAll(); }

  // Starts `n` connects to `port`; Status when a socket cannot be made.
  Status Open(uint16_t port, size_t n) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (size_t i = 0; i < n; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        return Status::IoError(std::string("socket: ") + std::strerror(errno));
      }
      fds_.push_back(fd);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 &&
          errno != EINPROGRESS) {
        return Status::IoError(std::string("connect: ") + std::strerror(errno));
      }
    }
    return Status::Ok();
  }

  // Waits until every connect has completed; fails on a connect error.
  Status WaitConnected(double timeout_seconds) {
    std::vector<pollfd> pending;
    for (int fd : fds_) {
      pending.push_back({fd, POLLOUT, 0});
    }
    const bool done = WaitUntil(
        [&] {
          ::poll(pending.data(), pending.size(), 0);
          std::vector<pollfd> still;
          for (const pollfd& p : pending) {
            if (p.revents == 0) {
              still.push_back({p.fd, POLLOUT, 0});
            }
          }
          pending.swap(still);
          return pending.empty();
        },
        timeout_seconds);
    if (!done) {
      return Status::IoError(std::to_string(pending.size()) + " connects still pending");
    }
    for (int fd : fds_) {
      int error = 0;
      socklen_t len = sizeof(error);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
      if (error != 0) {
        return Status::IoError(std::string("connect: ") + std::strerror(error));
      }
    }
    return Status::Ok();
  }

  // Reads what each connection has received up to EOF; `closed` counts the connections the
  // daemon closed, `replies` holds what each of those received. Polls until `expected_closed`
  // have closed or the deadline passes.
  void CollectClosed(size_t expected_closed, double timeout_seconds) {
    received_.resize(fds_.size());
    eof_.resize(fds_.size(), false);
    WaitUntil(
        [&] {
          std::vector<pollfd> polls;
          std::vector<size_t> index;
          for (size_t i = 0; i < fds_.size(); ++i) {
            if (!eof_[i]) {
              polls.push_back({fds_[i], POLLIN, 0});
              index.push_back(i);
            }
          }
          ::poll(polls.data(), polls.size(), 50);
          for (size_t k = 0; k < polls.size(); ++k) {
            if (polls[k].revents == 0) {
              continue;
            }
            char buf[4096];
            const ssize_t n = ::recv(polls[k].fd, buf, sizeof(buf), 0);
            if (n > 0) {
              received_[index[k]].append(buf, static_cast<size_t>(n));
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
              eof_[index[k]] = true;
              ++closed_;
            }
          }
          return closed_ >= expected_closed;
        },
        timeout_seconds, 0);
  }

  // The connections still open, checked without waiting: received nothing and no EOF.
  size_t Quiet() const {
    size_t n = 0;
    for (size_t i = 0; i < fds_.size(); ++i) {
      if (!eof_[i] && received_[i].empty()) {
        ++n;
      }
    }
    return n;
  }

  void CloseAll() {
    for (int fd : fds_) {
      ::close(fd);
    }
    fds_.clear();
  }

  size_t closed() const { return closed_; }
  const std::vector<std::string>& received() const { return received_; }
  const std::vector<bool>& eof() const { return eof_; }

 private:
  std::vector<int> fds_;
  std::vector<std::string> received_;
  std::vector<bool> eof_;
  size_t closed_ = 0;
};

// Extra daemon flags from HANDOFF_HOSTILE_EXTRA_ARGS (space-separated), to check by hand that a
// test fails with a limit turned off, e.g. "--max-total-inflight-bytes 68719476736".
std::vector<std::string> ExtraArgsFromEnv() {
  std::vector<std::string> args;
  const char* env = std::getenv("HANDOFF_HOSTILE_EXTRA_ARGS");
  std::istringstream in(env == nullptr ? "" : env);
  for (std::string arg; in >> arg;) {
    args.push_back(arg);
  }
  return args;
}

class HostileInputTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (daemon_ != nullptr && daemon_->running()) {
      EXPECT_OK(daemon_->CheckAlive());
      EXPECT_OK(daemon_->Stop());
    }
  }

  void StartDaemon(std::vector<std::string> extra_args = {}) {
    DaemonOptions options;
    options.extra_args = std::move(extra_args);
    daemon_ = std::make_unique<DaemonProcess>(options);
    daemon_->WriteRules(kRules);
    ASSERT_OK(daemon_->Start());
  }

  // A well-behaved tracker on TCP and one on HTTP, and a health check: each is answered.
  void ExpectOthersServed(const std::string& tag) {
    SCOPED_TRACE("others served: " + tag);
    IngestClient client;
    ASSERT_OK(client.Connect(daemon_->ingest_port()));
    ASSERT_OK(client.SendLines({Click("good-" + tag, "good-tcp-" + tag)}));
    ASSERT_OK(client.WaitForAck(1));
    EXPECT_TRUE(client.errors().empty());
    HttpClient http(daemon_->http_port());
    HttpResult r = http.Post("/v1/track", Click("good-" + tag, "good-http-" + tag));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(http.Get("/healthz").status, 200);
  }

  // Prints the daemon's memory and checks its peak against `max_peak_bytes`.
  void ExpectMemoryBounded(const std::string& what, uint64_t max_peak_bytes = kMaxPeakBytes) {
    const DaemonProcess::Memory m = daemon_->memory();
    ASSERT_GT(m.peak_bytes, 0u) << "cannot read /proc/" << daemon_->pid() << "/status";
    std::printf("[memory] %s: VmRSS %.1f MiB, VmHWM (peak) %.1f MiB\n", what.c_str(),
                static_cast<double>(m.rss_bytes) / kMiB, static_cast<double>(m.peak_bytes) / kMiB);
    RecordProperty("vmrss_mib", std::to_string(m.rss_bytes / kMiB));
    RecordProperty("vmhwm_mib", std::to_string(m.peak_bytes / kMiB));
    EXPECT_LT(m.peak_bytes, max_peak_bytes) << what;
  }

  // Sends `request` on a fresh connection (from a thread: the daemon may stop reading it), and
  // returns everything the daemon answered up to its close.
  std::string RawHttpExchange(const std::string& request, double read_seconds = 60) {
    LineConnection conn;
    EXPECT_OK(conn.Connect(daemon_->http_port()));
    ScopedThread sender([&] { (void)conn.SendAll(request, 10); }, [&] { conn.Abort(); });
    std::string response;
    EXPECT_OK(conn.ReadToEof(&response, read_seconds));
    conn.Abort();
    sender.Join();
    return response;
  }

  std::unique_ptr<DaemonProcess> daemon_;
};

// a. A gigabyte with no newline: line_too_long as soon as the line passes the limit, the rest of
// the line is skipped as it streams by, and the connection goes on with the next line.
TEST_F(HostileInputTest, GigabyteLineIsStreamedNotBuffered) {
  StartDaemon();
  constexpr uint64_t kLineBytes = 1024 * kMiB;
  IngestClient client;
  ASSERT_OK(client.Connect(daemon_->ingest_port()));
  std::atomic<bool> sent{false};
  ScopedThread sender(
      [&] {
        const std::string chunk(kMiB, 'x');
        for (uint64_t done = 0; done < kLineBytes; done += chunk.size()) {
          if (!client.connection().SendAll(chunk).ok()) {
            return;
          }
        }
        if (client.connection().SendAll("\n" + Click("after-giant", "after-giant") + "\n").ok()) {
          sent = true;
        }
      },
      [&] { client.connection().Abort(); });
  ExpectOthersServed("during-giant-line");  // while the gigabyte streams
  sender.Join();
  ASSERT_TRUE(sent.load());
  ASSERT_OK(client.WaitForAck(2, 120));
  ASSERT_EQ(client.errors().size(), 1u);
  EXPECT_EQ(JsonString(client.errors()[0], "error"), "line_too_long");
  EXPECT_EQ(JsonNumber(client.errors()[0], "line"), 1);
  HttpResult lead = HttpClient(daemon_->http_port()).Get("/v1/leads/after-giant");
  EXPECT_EQ(lead.status, 200) << lead.body;
  ExpectOthersServed("after-giant-line");
  ExpectMemoryBounded("after a 1 GiB line without a newline on TCP ingest");
}

std::string DeepArrays(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

std::string DeepObjects(size_t depth) {
  std::string s;
  for (size_t i = 0; i < depth; ++i) {
    s += R"({"a":)";
  }
  s += "1";
  s.append(depth, '}');
  return s;
}

// a'. Many connections flooding valid events and never reading their acks: each stops being read
// at max_inflight_bytes, and all of them together at max_total_inflight_bytes, so what waits for
// the engine stays bounded however many flood. A well-behaved tracker is still served.
TEST_F(HostileInputTest, ManyFloodingConnectionsStayWithinTheTotalInFlight) {
  StartDaemon(ExtraArgsFromEnv());
  constexpr int kFlooders = 200;
  std::string block;
  for (int i = 0; i < 2000; ++i) {
    block += R"({"type":"track","userId":"flood-)" + std::to_string(i % 50) +
             R"(","event":"Click","properties":{"pad":")" + std::string(200, 'p') + "\"}}\n";
  }
  std::vector<int> fds;
  for (int i = 0; i < kFlooders; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
    const int small = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));  // acks stay unread
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(daemon_->ingest_port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  std::atomic<uint64_t> sent{0};
  std::atomic<bool> stop{false};
  ScopedThread flood(
      [&] {
        std::vector<size_t> offset(fds.size(), 0);
        std::vector<pollfd> polls;
        for (int fd : fds) {
          polls.push_back({fd, POLLOUT, 0});
        }
        while (!stop.load()) {
          ::poll(polls.data(), polls.size(), 100);  // only the ones the daemon has room for
          for (size_t i = 0; i < fds.size(); ++i) {
            if ((polls[i].revents & POLLOUT) == 0) {
              continue;
            }
            const ssize_t n = ::send(fds[i], block.data() + offset[i], block.size() - offset[i],
                                     MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
              offset[i] = (offset[i] + static_cast<size_t>(n)) % block.size();
              sent += static_cast<uint64_t>(n);
            }
          }
        }
      },
      [&] { stop = true; });
  // Well past the total: the engine applies ~50 MB/s of these on this machine.
  ASSERT_TRUE(WaitUntil([&] { return sent.load() > 200 * kMiB; }, 60)) << sent.load();
  // Served beside the flood: checked in the plain build only. Connections take turns once the
  // total is full, first come first served (one read of up to 64 KiB per flooder before the
  // tracker's), and a sanitized engine is ~10x slower, which pushes 200 reads past the client's
  // deadline; the sanitized run keeps the memory check.
  if (!kSanitized) {
    const auto served_from = std::chrono::steady_clock::now();
    ExpectOthersServed("during-flood");
    std::printf(
        "a tracker beside the flood was served in %.1f s\n",
        std::chrono::duration<double>(std::chrono::steady_clock::now() - served_from).count());
  }
  stop = true;
  flood.Join();
  std::printf("flooders sent %.0f MiB\n", static_cast<double>(sent.load()) / kMiB);
  ExpectMemoryBounded("200 connections flooding valid events without reading");
  for (int fd : fds) {
    ::close(fd);
  }
}

// b. Deep JSON: nesting past 128 levels is invalid_json (TCP) or 400 (HTTP), parsed without
// recursion past that depth; a YAML body 100k levels deep is a 422 from rules/validate.
TEST_F(HostileInputTest, DeepNestingIsRejectedOnTcpAndHttp) {
  // Lines long enough for 100k levels.
  StartDaemon({"--max-line-bytes", std::to_string(2 * kMiB)});
  constexpr size_t kDepth = 100'000;
  const std::string prefix = R"({"type":"track","userId":"deep","event":"Click","properties":)";
  IngestClient client;
  ASSERT_OK(client.Connect(daemon_->ingest_port()));
  ASSERT_OK(client.SendLines({
      prefix + DeepArrays(kDepth) + "}",
      prefix + DeepObjects(kDepth) + "}",
      prefix + std::string(kDepth, '[') + "}",              // never closed
      std::string(kDepth, '[') + std::string(kDepth, ']'),  // the whole line
      std::string(kDepth, '{'),
      Click("deep-ok", "deep-ok"),
  }));
  ASSERT_OK(client.WaitForAck(6, 60));
  ASSERT_EQ(client.errors().size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(JsonString(client.errors()[i], "error"), "invalid_json") << i;
    EXPECT_EQ(JsonNumber(client.errors()[i], "line"), static_cast<double>(i + 1));
  }

  HttpClient http(daemon_->http_port());
  // A single event may be 32 KiB: 16,000 levels.
  HttpResult r = http.Post(
      "/v1/track", R"({"userId":"deep","event":"Click","properties":)" + DeepArrays(16'000) + "}");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(JsonString(r.Json(), "error"), "invalid_json") << r.body;
  // A batch is valid JSON however deep its items: each item nested too deep is refused alone,
  // its error listed (SPEC 4: 400 is for a body that is not JSON).
  for (const std::string& batch : {R"({"batch":[)" + DeepObjects(kDepth / 2) + "]}",  // 350 KB
                                   R"({"batch":)" + DeepArrays(kDepth) + "}"}) {
    r = http.Post("/v1/batch", batch);
    EXPECT_EQ(r.status, 200) << r.body.substr(0, 300);
    const Value answer = r.Json();
    const Value* errors = JsonAt(answer, "errors");
    ASSERT_NE(errors, nullptr) << r.body.substr(0, 300);
    ASSERT_EQ(errors->as_array().size(), 1u) << r.body.substr(0, 300);
    EXPECT_EQ(JsonNumber(errors->as_array()[0], "index"), 0);
    EXPECT_EQ(JsonString(errors->as_array()[0], "error"), "invalid_json");
  }
  r = http.Put("/v1/reps/alice/availability", DeepArrays(kDepth));
  EXPECT_EQ(r.status, 400) << r.body;
  // Rule files are YAML, a superset of JSON: a body nested 100k deep, and one just under the YAML
  // parser's own guard (2,000 levels).
  for (size_t depth : {kDepth, size_t{1990}}) {
    r = http.Post("/v1/rules/validate", "scores: " + DeepArrays(depth) + "\n");
    EXPECT_EQ(r.status, 422) << depth << ": " << r.body.substr(0, 300);
  }
  EXPECT_EQ(http.Get("/v1/leads/deep").status, 404);
  ExpectOthersServed("after-deep-json");
  ExpectMemoryBounded("after JSON nested 100k deep on TCP and HTTP");
}

// c. Invalid UTF-8 and NUL bytes: invalid_json (SPEC 2: a line must be JSON, and JSON text is
// UTF-8 with no raw control characters in strings); an escaped \u0000 is valid JSON and accepted.
// Every answer is itself valid JSON.
TEST_F(HostileInputTest, InvalidUtf8AndNulBytesAreInvalidJson) {
  StartDaemon();
  auto track = [](std::string_view user) {
    return R"({"type":"track","userId":")" + std::string(user) + R"(","event":"Click"})";
  };
  const std::vector<std::string> bad = {
      track("bad\xff"),                 // a byte that is never UTF-8
      track("bad\xc0\xaf"),             // an overlong encoding of '/'
      track("bad\xed\xa0\x80"),         // a UTF-16 surrogate, UTF-8 encoded
      track("bad\xe2\x82"),             // a sequence cut short by the quote
      track(std::string("bad\0x", 5)),  // a raw NUL inside a string
      std::string(R"({"type":"track",)") + '\0' + R"("userId":"u","event":"Click"})",
      std::string(1, '\0'),                                                    // a line of one NUL
      std::string(R"({"type":"track","userId":"u","event":"Click"})") + '\0',  // after the object
  };
  const std::vector<std::string> good = {
      track(R"(nul-\u0000-escaped)"),
      track("j\xc3\xbcrgen-\xf0\x9f\x98\x80"),  // real UTF-8: ü and an emoji
  };
  IngestClient client;
  ASSERT_OK(client.Connect(daemon_->ingest_port()));
  std::vector<std::string> lines = bad;
  lines.insert(lines.end(), good.begin(), good.end());
  ASSERT_OK(client.SendLines(lines));
  ASSERT_OK(client.WaitForAck(lines.size()));  // every reply line parsed as JSON on the way
  ASSERT_EQ(client.errors().size(), bad.size());
  for (size_t i = 0; i < bad.size(); ++i) {
    EXPECT_EQ(JsonString(client.errors()[i], "error"), "invalid_json") << i;
    EXPECT_EQ(JsonNumber(client.errors()[i], "line"), static_cast<double>(i + 1));
  }
  HttpClient http(daemon_->http_port());
  HttpResult r = http.Get("/v1/leads/nul-%00-escaped");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonString(r.Json(), "id"), std::string("nul-\0-escaped", 13));
  EXPECT_NE(r.body.find(R"("nul-\u0000-escaped")"), std::string::npos) << r.body;
  r = http.Get("/v1/leads/j%C3%BCrgen-%F0%9F%98%80");
  EXPECT_EQ(r.status, 200) << r.body;

  // HTTP: the same bytes in a body are a 400 with a JSON answer; a batch fails as a whole.
  for (size_t i = 0; i < bad.size(); ++i) {
    r = http.Post("/v1/track", bad[i]);
    EXPECT_EQ(r.status, 400) << i << ": " << r.body;
    EXPECT_EQ(JsonString(r.Json(), "error"), "invalid_json") << i;
  }
  r = http.Post("/v1/batch", R"({"batch":[)" + track("batch-ok") + "," + bad[0] + "]}");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(http.Get("/v1/leads/batch-ok").status, 404);
  // Invalid UTF-8 in a path: the 404's message quotes the id, and the answer is still JSON.
  r = http.Get("/v1/leads/bad%FF%C0");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(JsonString(r.Json(), "error"), "not_found") << r.body;
  ExpectOthersServed("after-bad-bytes");
  ExpectMemoryBounded("after invalid UTF-8 and NUL bytes");
}

// d. max_connections on each listener: one more connection gets a clear refusal and is closed;
// the other listeners go on; once a connection closes, a new one is admitted.
TEST_F(HostileInputTest, EachListenerRefusesConnectionsOverItsLimit) {
  constexpr size_t kMax = 4;
  StartDaemon({"--max-connections", std::to_string(kMax)});
  const std::string tcp_refusal_ingest =
      R"({"error":"too_many_connections","message":"the ingest listener has 4 connections )"
      R"x(open (max_connections)"})x";
  const std::string tcp_refusal_subscribe =
      R"({"error":"too_many_connections","message":"the subscribe listener has 4 connections )"
      R"x(open (max_connections)"})x";

  // Ingest: four idle connections fill it.
  std::vector<std::unique_ptr<IngestClient>> ingest;
  for (size_t i = 0; i < kMax; ++i) {
    ingest.push_back(std::make_unique<IngestClient>());
    ASSERT_OK(ingest.back()->Connect(daemon_->ingest_port()));
  }
  // The server accepts in order, so these four are in before the fifth.
  LineConnection refused;
  ASSERT_OK(refused.Connect(daemon_->ingest_port()));
  std::string line;
  ASSERT_OK(refused.ReadLine(&line));
  EXPECT_EQ(line, tcp_refusal_ingest);
  std::string rest;
  EXPECT_OK(refused.ReadToEof(&rest));
  EXPECT_EQ(rest, "");
  // The admitted ones work.
  ASSERT_OK(ingest[0]->SendLines({Click("limit", "limit-1")}));
  ASSERT_OK(ingest[0]->WaitForAck(1));

  // Subscribe, likewise, while ingest is full.
  std::vector<std::unique_ptr<SubscriberClient>> subs;
  for (size_t i = 0; i < kMax; ++i) {
    subs.push_back(std::make_unique<SubscriberClient>());
    ASSERT_OK(subs.back()->Connect(daemon_->subscribe_port()));
  }
  ASSERT_OK(subs[0]->Subscribe(0));
  std::vector<Value> records;
  ASSERT_OK(subs[0]->ReadRecords(1, &records));  // limit's stage record
  LineConnection refused_sub;
  ASSERT_OK(refused_sub.Connect(daemon_->subscribe_port()));
  ASSERT_OK(refused_sub.ReadLine(&line));
  EXPECT_EQ(line, tcp_refusal_subscribe);

  // HTTP: four idle connections (no request yet) fill it; the fifth gets a 503.
  std::vector<std::unique_ptr<LineConnection>> http_idle;
  for (size_t i = 0; i < kMax; ++i) {
    http_idle.push_back(std::make_unique<LineConnection>());
    ASSERT_OK(http_idle.back()->Connect(daemon_->http_port()));
  }
  HttpResult r;
  // The four may not all be counted yet when this one arrives: accepted in order, they are.
  ASSERT_OK(HttpClient(daemon_->http_port()).Request("GET", "/healthz", "", {}, &r));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(JsonString(r.Json(), "error"), "too_many_connections") << r.body;
  EXPECT_EQ(r.Header("Retry-After"), "1");

  // One of each closes: a new connection is admitted (once the daemon has seen the close).
  ingest.pop_back();
  subs.pop_back();
  http_idle.pop_back();
  ASSERT_TRUE(WaitUntil([&] {
    IngestClient c;
    Value reply;
    return c.Connect(daemon_->ingest_port()).ok() &&
           c.SendLines({Click("limit", "limit-2")}).ok() && c.ReadReply(&reply).ok() &&
           JsonAt(reply, "ack") != nullptr;
  }));
  ASSERT_TRUE(WaitUntil([&] {
    HttpResult health;
    return HttpClient(daemon_->http_port()).Request("GET", "/healthz", "", {}, &health).ok() &&
           health.status == 200;
  }));
  ASSERT_TRUE(WaitUntil([&] {
    SubscriberClient s;
    Value message;
    return s.Connect(daemon_->subscribe_port()).ok() && s.Subscribe(0).ok() &&
           s.ReadMessage(&message).ok() && JsonAt(message, "seq") != nullptr;
  }));
  ExpectMemoryBounded("after filling each listener");
}

// d. 10,000 idle connections on the ingest port with the default max_connections (1024): 1024
// are admitted and cost little memory, the other 8,976 are refused with one line each; HTTP and
// subscribers go on meanwhile, and ingest serves again once they leave. The daemon raises its own
// soft open-file limit: it is started here with a soft limit of 512.
TEST_F(HostileInputTest, TenThousandIdleConnections) {
  constexpr size_t kConnections = 10'000;
  constexpr size_t kDefaultMax = 1024;
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_max < kConnections + 256) {
    GTEST_SKIP() << "the hard open-file limit " << limit.rlim_max << " is below "
                 << kConnections + 256;
  }
  {
    rlimit low = limit;
    low.rlim_cur = 512;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    StartDaemon();  // inherits the soft limit of 512
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
    ASSERT_NE(daemon_, nullptr);
  }
  {
    std::ifstream in("/proc/" + std::to_string(daemon_->pid()) + "/limits");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t at = text.find("Max open files");
    ASSERT_NE(at, std::string::npos) << text;
    unsigned long long soft = 0;
    unsigned long long hard = 0;
    std::sscanf(text.c_str() + at + std::strlen("Max open files"), "%llu %llu", &soft, &hard);
    EXPECT_EQ(soft, hard) << "the daemon did not raise its soft open-file limit";
  }
  const DaemonProcess::Memory before = daemon_->memory();

  OpenFileLimit fds(kConnections + 256);
  ASSERT_GE(fds.soft(), kConnections + 256);
  ConnectionSwarm swarm;
  // In batches, each taken in by the daemon before the next is opened: a burst past the listen
  // backlog would leave connections half-open in the kernel (SYN_RECV, retried for a minute)
  // while this side already sees them connected.
  constexpr size_t kBatch = 1000;
  for (size_t opened = 0; opened < kConnections;) {
    const size_t n = std::min(kBatch, kConnections - opened);
    ASSERT_OK(swarm.Open(daemon_->ingest_port(), n));
    opened += n;
    ASSERT_OK(swarm.WaitConnected(60));
    const size_t refused = opened > kDefaultMax ? opened - kDefaultMax : 0;
    swarm.CollectClosed(refused, 60);
    ASSERT_EQ(swarm.closed(), refused) << "after " << opened << " connections";
  }
  const std::string refusal =
      R"({"error":"too_many_connections","message":"the ingest listener has 1024 connections )"
      R"x(open (max_connections)"})x"
      "\n";
  size_t refused_with_line = 0;
  for (size_t i = 0; i < swarm.received().size(); ++i) {
    if (swarm.eof()[i] && swarm.received()[i] == refusal) {
      ++refused_with_line;
    }
  }
  EXPECT_EQ(refused_with_line, kConnections - kDefaultMax);
  EXPECT_EQ(swarm.Quiet(), kDefaultMax);  // admitted, idle, nothing said

  // With 1024 idle ingest connections held: HTTP and subscribers are served.
  HttpClient http(daemon_->http_port());
  HttpResult r = http.Post("/v1/track", Click("beside-swarm", "beside-swarm"));
  EXPECT_EQ(r.status, 200) << r.body;
  SubscriberClient sub;
  ASSERT_OK(sub.Connect(daemon_->subscribe_port()));
  ASSERT_OK(sub.Subscribe(0));
  std::vector<Value> records;
  ASSERT_OK(sub.ReadRecords(1, &records));
  const DaemonProcess::Memory held = daemon_->memory();
  std::printf("[memory] 1024 idle ingest connections held: VmRSS %.1f MiB (%.1f before them)\n",
              static_cast<double>(held.rss_bytes) / kMiB,
              static_cast<double>(before.rss_bytes) / kMiB);
  // Each idle connection costs well under 32 KiB (no read buffer of its own).
  EXPECT_LT(held.rss_bytes, before.rss_bytes + kDefaultMax * 32 * 1024);

  swarm.CloseAll();
  ASSERT_TRUE(WaitUntil([&] {
    IngestClient c;
    Value reply;
    return c.Connect(daemon_->ingest_port()).ok() &&
           c.SendLines({Click("after-swarm", "after-swarm")}).ok() && c.ReadReply(&reply).ok() &&
           JsonAt(reply, "ack") != nullptr;
  }));
  ExpectOthersServed("after-swarm");
  ExpectMemoryBounded("10,000 connections to TCP ingest (1024 held idle)");
}

// e. Slowloris: a request trickling its headers one byte at a time is closed once
// http.read_timeout has passed since its first byte, however steadily it trickles; nothing is
// answered to it. Other clients are answered meanwhile.
TEST_F(HostileInputTest, SlowlorisHeadersAreCutOffByTheReadTimeout) {
  StartDaemon({"--http-read-timeout", "2s"});
  constexpr int kLoris = 50;
  std::vector<std::unique_ptr<LineConnection>> loris;
  for (int i = 0; i < kLoris; ++i) {
    loris.push_back(std::make_unique<LineConnection>());
    ASSERT_OK(loris.back()->Connect(daemon_->http_port()));
    ASSERT_OK(loris.back()->SendAll("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
  }
  std::atomic<int> closed{0};
  std::atomic<bool> stop{false};
  // One header byte per connection every 100 ms: never idle for long, never done.
  ScopedThread trickler(
      [&] {
        std::vector<bool> open(kLoris, true);
        for (int round = 0; round < 600 && !stop.load(); ++round) {
          for (int i = 0; i < kLoris; ++i) {
            if (open[i] && !loris[i]->SendAll("X", 1).ok()) {
              open[i] = false;
              ++closed;
            }
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      },
      [&] { stop = true; });
  ExpectOthersServed("during-slowloris");
  // The daemon closes them: the trickler's sends then fail, and reads see the end.
  ASSERT_TRUE(WaitUntil([&] { return closed.load() == kLoris; }, 60))
      << closed.load() << " of " << kLoris << " closed";
  stop = true;
  trickler.Join();
  for (auto& conn : loris) {
    std::string got;
    EXPECT_OK(conn->ReadToEof(&got, 5));
    EXPECT_EQ(got, "");  // no answer to a request that never arrived
  }
  ExpectOthersServed("after-slowloris");
  ExpectMemoryBounded("after 50 slowloris connections");
}

// f. Huge headers: 431 and the connection closed, whether the headers are one enormous line or
// an endless stream of small ones.
TEST_F(HostileInputTest, HugeHeadersAre431AndClosed) {
  StartDaemon();
  std::string one_huge =
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(kFloodBytes, 'b');
  std::string response = RawHttpExchange(one_huge);
  EXPECT_EQ(StatusOf(response), 431) << response.substr(0, 300);
  EXPECT_EQ(JsonString(JsonOrFail(BodyOf(response)), "error"), "header_too_large");

  std::string many = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; many.size() < kFloodBytes; ++i) {
    many += "X-H" + std::to_string(i) + ": v\r\n";
  }
  response = RawHttpExchange(many);
  EXPECT_EQ(StatusOf(response), 431) << response.substr(0, 300);
  // A request line alone past the limit.
  response = RawHttpExchange("GET /" + std::string(kFloodBytes, 'p'));
  EXPECT_EQ(StatusOf(response), 431) << response.substr(0, 300);
  ExpectOthersServed("after-huge-headers");
  ExpectMemoryBounded("after 64 MiB (sanitized: 16) of headers, three ways");
}

// g. Oversized bodies: 413 for a body over 500 KiB whether its length is announced or chunked
// without end, and for a gzip bomb (a small upload that inflates to hundreds of MB): inflation
// stops at the limit.
TEST_F(HostileInputTest, OversizedAndGzipBombBodiesAre413) {
  StartDaemon();
  // Announced: 10 GB. Answered from the headers; what follows is not read.
  std::string response =
      RawHttpExchange("POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n" +
                      std::string(kFloodBytes, 'z'));
  EXPECT_EQ(StatusOf(response), 413) << response.substr(0, 300);
  EXPECT_EQ(JsonString(JsonOrFail(BodyOf(response)), "error"), "payload_too_large");
  // Chunked, 64 MiB (sanitized: 16) of 1 MiB chunks and no end.
  std::string chunked = "POST /v1/batch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (uint64_t i = 0; i < kFloodBytes / kMiB; ++i) {
    chunked += "100000\r\n" + std::string(kMiB, 'c') + "\r\n";
  }
  response = RawHttpExchange(chunked);
  EXPECT_EQ(StatusOf(response), 413) << response.substr(0, 300);

  // The bomb: 480 MiB of zeros in under 500 KiB of gzip.
  const std::string bomb = GzipOfZeros(480);
  ASSERT_LT(bomb.size(), 500u * 1024) << "the bomb does not fit under the as-sent limit";
  ASSERT_EQ(InflatedSize(bomb), static_cast<int64_t>(480 * kMiB));
  std::printf("gzip bomb: %zu bytes inflating to 480 MiB\n", bomb.size());
  HttpResult r =
      HttpClient(daemon_->http_port()).Post("/v1/batch", bomb, {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_NE(r.body.find("inflated"), std::string::npos) << r.body;
  // Several at once.
  std::vector<std::unique_ptr<ScopedThread>> bombers;
  std::atomic<int> answered_413{0};
  for (int i = 0; i < 4; ++i) {
    bombers.push_back(std::make_unique<ScopedThread>([&] {
      HttpResult br;
      if (HttpClient(daemon_->http_port())
              .Request("POST", "/v1/track", bomb, {{"Content-Encoding", "gzip"}}, &br)
              .ok() &&
          br.status == 413) {
        ++answered_413;
      }
    }));
  }
  ExpectOthersServed("during-gzip-bombs");
  bombers.clear();
  EXPECT_EQ(answered_413.load(), 4);
  ExpectOthersServed("after-oversized-bodies");
  ExpectMemoryBounded("after 10 GB announced, 64 MiB (sanitized: 16) chunked, five gzip bombs");
}

// g. Many large bodies at once: on each of 1,000 connections (sanitized: 400) a client sends all
// but the last byte of a 500 KB body and waits. The bodies being read may hold
// http.max_inflight_body_bytes (128 MiB) between them: the first 262 fit, the others are answered
// 503 busy from their headers.
TEST_F(HostileInputTest, ManyLargeBodiesAtOnceStayWithinTheBodyBudget) {
  StartDaemon({"--http-read-timeout", "120s"});  // none of them times out during the test
  constexpr int kClients = kSanitized ? 400 : 1000;
  constexpr size_t kBody = 512'000;
  constexpr int kFit = (128 << 20) / kBody;  // 262
  const std::string head =
      "POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(kBody) + "\r\n\r\n";
  const std::string almost(kBody - 1, 'b');
  std::vector<std::unique_ptr<LineConnection>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<LineConnection>());
    ASSERT_OK(clients.back()->Connect(daemon_->http_port()));
    // A refused client's body may not all be taken (the daemon drains, then closes).
    (void)clients.back()->SendAll(head + almost, 5);
  }
  int busy = 0;
  for (int i = 0; i < kClients; ++i) {
    if (i < kFit) {
      continue;  // admitted: waiting for the last byte, no answer
    }
    std::string status;
    ASSERT_OK(clients[i]->ReadLine(&status));
    EXPECT_EQ(status, "HTTP/1.1 503 Service Unavailable\r") << i;
    busy += status.find(" 503 ") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(busy, kClients - kFit);
  // The admitted ones complete: each gets its answer (400: the body is not JSON).
  for (int i = 0; i < kFit; ++i) {
    ASSERT_OK(clients[i]->SendAll("b"));
    std::string status;
    ASSERT_OK(clients[i]->ReadLine(&status));
    EXPECT_EQ(status, "HTTP/1.1 400 Bad Request\r") << i;
  }
  clients.clear();
  ExpectOthersServed("after-many-bodies");
  ExpectMemoryBounded("1,000 (sanitized: 400) HTTP bodies of 500 KB at once, 262 admitted");
}

// h. A subscriber that asks for the whole outbox and never reads: the daemon holds one chunk for
// it, not the backlog; another subscriber gets everything and ingest goes on; when the stuck one
// finally reads, nothing is lost.
TEST_F(HostileInputTest, SubscriberThatNeverReadsHoldsNoBacklog) {
  StartDaemon();
  // 2,000 leads, each with 16 KiB of traits, each warm: 2,000 stage records of 16 KiB (31 MiB).
  constexpr int kLeads = 2000;
  const std::string traits_pad(16 * 1024, 't');
  {
    IngestClient loader;
    ASSERT_OK(loader.Connect(daemon_->ingest_port()));
    std::vector<std::string> lines;
    for (int i = 0; i < kLeads; ++i) {
      const std::string id = "big-" + std::to_string(i);
      lines.push_back(R"({"type":"identify","userId":")" + id + R"(","traits":{"pad":")" +
                      traits_pad + R"("}})");
      lines.push_back(Click(id, "big-click-" + std::to_string(i)));
    }
    ASSERT_OK(loader.SendLines(lines));
    ASSERT_OK(loader.WaitForAck(lines.size(), 120));
    ASSERT_TRUE(loader.errors().empty());
  }
  const uint64_t backlog_bytes = kLeads * traits_pad.size();
  // A reader of the whole backlog (this also brings the outbox into the store's caches, so the
  // memory measured below is the stuck subscriber's alone).
  SubscriberClient reader;
  ASSERT_OK(reader.Connect(daemon_->subscribe_port()));
  ASSERT_OK(reader.Subscribe(0));
  std::vector<Value> records;
  ASSERT_OK(reader.ReadRecords(kLeads, &records, 120));
  EXPECT_EQ(JsonNumber(records.back(), "seq"), kLeads);
  const DaemonProcess::Memory before = daemon_->memory();

  SubscriberClient stuck;
  stuck.connection().set_receive_buffer(4096);
  ASSERT_OK(stuck.Connect(daemon_->subscribe_port()));
  ASSERT_OK(stuck.Subscribe(0));
  // Ingest goes on, and its record reaches the reader past the stuck one.
  ExpectOthersServed("beside-stuck-subscriber");
  records.clear();
  ASSERT_OK(reader.ReadRecords(1, &records));
  EXPECT_EQ(JsonString(records[0], "lead"), "good-beside-stuck-subscriber");
  const DaemonProcess::Memory during = daemon_->memory();
  std::printf(
      "[memory] stuck subscriber from 0 over a %d-record, %.1f MiB outbox: VmRSS %.1f MiB "
      "(%.1f before it subscribed)\n",
      kLeads, static_cast<double>(backlog_bytes) / kMiB,
      static_cast<double>(during.rss_bytes) / kMiB, static_cast<double>(before.rss_bytes) / kMiB);
  // Far less than the backlog it asked for. Under a sanitizer the daemon's RSS moves by tens of
  // MiB on its own (TSan's shadow pages and its records of mutexes; 17 MiB seen in CI), so the
  // allowance there is the backlog's size: a buffered backlog would still show as about five times
  // that, its bytes plus their shadow.
  const uint64_t allowed_growth = kSanitized ? backlog_bytes : backlog_bytes / 2;
  EXPECT_LT(during.rss_bytes, before.rss_bytes + allowed_growth);

  // The stuck subscriber finally reads: every record, in order.
  records.clear();
  ASSERT_OK(stuck.ReadRecords(kLeads + 1, &records, 120));
  for (int i = 0; i < kLeads + 1; ++i) {
    ASSERT_EQ(JsonNumber(records[i], "seq"), i + 1);
  }
  // The store's honest memory for this backlog (its memtables) varies with the machine: 335 to
  // 368 MiB here, 383 MiB in CI before the stuck subscriber came. So the peak is bounded by the
  // fixed ceiling or by what the daemon held before it plus the allowance, whichever is higher: a
  // stuck subscriber's backlog buffered would still break it.
  ExpectMemoryBounded("subscriber from 0 never reading a 31 MiB outbox",
                      std::max(kMaxPeakBytes, before.peak_bytes + allowed_growth));
}

}  // namespace
}  // namespace handoff::testing
