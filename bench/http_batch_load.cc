// http_batch_load: events per second through POST /v1/batch of a real handoffd.
//
// Several clients, each on one HTTP/1.1 keep-alive connection, post batches shaped like those of
// @segment/analytics-node (Basic auth with a write key; per event a messageId, a timestamp,
// context.library and _metadata; a mix of identify, page and track over a pool of leads), each
// waiting for its 200 before the next batch, as the library does. A 200 means the batch is
// durable, so the figure is durable events per second.
//
// By default it starts the daemon itself (the handoffd next to this program) on a temporary data
// directory and the example rules, and stops it at the end; --port targets a daemon already
// running instead. It checks its answer before it reports: every answer must be
// {"success":true}, and at the end the daemon's metrics must count exactly as many events applied
// over HTTP as were acknowledged (for a daemon it started itself).
//
//   build/http_batch_load                          # 8 connections, 100-event batches, 10 s
//   build/http_batch_load --connections 32 --seconds 20 --durability fsync
//   build/http_batch_load --port 7402 --write-key KEY
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using SteadyClock = std::chrono::steady_clock;

struct Config {
  int connections = 8;
  int batch = 100;
  double seconds = 10;
  double warmup = 1;
  int leads = 10000;
  int port = 0;  // 0: start a daemon
  std::string write_key = "load-key";
  std::string durability = "process";
  std::string daemon;  // default: handoffd next to this program
  std::string rules = HANDOFF_SOURCE_DIR "/rules/examples/default.yaml";
};

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "http_batch_load: %s\n", message.c_str());
  std::exit(1);
}

void Usage() {
  std::puts(
      "usage: http_batch_load [--connections N] [--batch N] [--seconds S] [--warmup S]\n"
      "                       [--leads N] [--durability process|fsync] [--write-key KEY]\n"
      "                       [--daemon PATH] [--rules PATH] [--port PORT]\n"
      "  --port targets a running daemon on 127.0.0.1 instead of starting one.");
}

Config ParseArgs(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      Usage();
      std::exit(0);
    }
    if (i + 1 >= argc) {
      Die("missing value for " + flag);
    }
    const std::string value = argv[++i];
    if (flag == "--connections") {
      c.connections = std::atoi(value.c_str());
    } else if (flag == "--batch") {
      c.batch = std::atoi(value.c_str());
    } else if (flag == "--seconds") {
      c.seconds = std::atof(value.c_str());
    } else if (flag == "--warmup") {
      c.warmup = std::atof(value.c_str());
    } else if (flag == "--leads") {
      c.leads = std::atoi(value.c_str());
    } else if (flag == "--port") {
      c.port = std::atoi(value.c_str());
    } else if (flag == "--write-key") {
      c.write_key = value;
    } else if (flag == "--durability") {
      c.durability = value;
    } else if (flag == "--daemon") {
      c.daemon = value;
    } else if (flag == "--rules") {
      c.rules = value;
    } else {
      Usage();
      Die("unknown flag " + flag);
    }
  }
  if (c.connections < 1 || c.batch < 1 || c.seconds <= 0 || c.warmup < 0 || c.leads < 1) {
    Die("--connections, --batch, --leads and --seconds must be positive");
  }
  return c;
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

// ---- the daemon ----------------------------------------------------------------------------

class SpawnedDaemon {
 public:
  // Starts handoffd on free loopback ports; returns its HTTP port.
  int Start(const Config& c) {
    std::string binary = c.daemon;
    if (binary.empty()) {
      binary =
          (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "handoffd").string();
    }
    char dir_template[] = "/tmp/handoff-load-XXXXXX";
    if (mkdtemp(dir_template) == nullptr) {
      Die("mkdtemp failed");
    }
    dir_ = dir_template;
    log_ = dir_ + "/handoffd.log";
    std::vector<std::string> args = {binary,         "--ingest",     "127.0.0.1:0", "--subscribe",
                                     "127.0.0.1:0",  "--http",       "127.0.0.1:0", "--data-dir",
                                     dir_ + "/data", "--rules",      c.rules,       "--watch",
                                     "false",        "--durability", c.durability};
    if (!c.write_key.empty()) {
      args.insert(args.end(), {"--write-key", c.write_key});
    }
    std::vector<char*> argv;
    for (std::string& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    const int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::dup2(log_fd, STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(log_fd);
    const auto deadline = SteadyClock::now() + std::chrono::seconds(60);
    while (SteadyClock::now() < deadline) {
      const std::string text = Log();
      const size_t at = text.find(" http listening on ");
      if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
        const size_t colon = text.rfind(':', text.find('\n', at));
        return std::atoi(text.c_str() + colon + 1);
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        Die("handoffd exited during start-up:\n" + text);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    Die("handoffd did not start in time:\n" + Log());
  }

  ~SpawnedDaemon() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  std::string Log() const {
    std::ifstream in(log_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  pid_t pid_ = -1;
  std::string dir_;
  std::string log_;
};

// ---- one keep-alive HTTP/1.1 connection ----------------------------------------------------

class Connection {
 public:
  explicit Connection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
      Die(std::string("connect: ") + std::strerror(errno));
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~Connection() { ::close(fd_); }

  // Sends `request` and reads one response; returns the status, the body in *body.
  int RoundTrip(const std::string& request, std::string* body) {
    for (size_t sent = 0; sent < request.size();) {
      const ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        Die(std::string("send: ") + std::strerror(errno));
      }
      sent += static_cast<size_t>(n);
    }
    size_t header_end;
    while ((header_end = in_.find("\r\n\r\n")) == std::string::npos) {
      Fill();
    }
    const std::string head = in_.substr(0, header_end);
    size_t length = 0;
    for (size_t at = head.find("\r\n"); at != std::string::npos; at = head.find("\r\n", at + 2)) {
      if (strncasecmp(head.c_str() + at + 2, "content-length:", 15) == 0) {
        length = std::strtoul(head.c_str() + at + 17, nullptr, 10);
      }
    }
    while (in_.size() < header_end + 4 + length) {
      Fill();
    }
    body->assign(in_, header_end + 4, length);
    in_.erase(0, header_end + 4 + length);
    return std::atoi(head.c_str() + 9);
  }

 private:
  void Fill() {
    char buf[16384];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) {
      Die(n == 0 ? "the daemon closed a keep-alive connection"
                 : std::string("recv: ") + std::strerror(errno));
    }
    in_.append(buf, static_cast<size_t>(n));
  }

  int fd_ = -1;
  std::string in_;
};

// ---- the load ------------------------------------------------------------------------------

std::string Iso8601Now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const int millis = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char text[64];
  std::snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return text;
}

// One request: a batch of `c.batch` events with messageIds "<run>-<client>-<seq>".
std::string BatchRequest(const Config& c, const std::string& run, int client, uint64_t* seq,
                         uint64_t* rng, size_t* body_bytes) {
  static constexpr const char* kPaths[] = {"/pricing", "/docs/api", "/blog/scoring", "/"};
  static constexpr const char* kEvents[] = {"Click", "Demo Requested", "Webinar Attended",
                                            "Trial Started"};
  static constexpr const char* kTitles[] = {"VP Marketing", "Engineer", "Head of Sales",
                                            "Marketing Manager"};
  const std::string ts = Iso8601Now();
  const std::string tail = R"(","context":{"library":{"name":"@segment/analytics-node",)"
                           R"("version":"3.1.0"}},"_metadata":{"nodeVersion":"v20",)"
                           R"("jsRuntime":"node"},"integrations":{}})";
  std::string body = R"({"batch":[)";
  for (int i = 0; i < c.batch; ++i) {
    *rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;  // PCG-style LCG
    const unsigned r = static_cast<unsigned>(*rng >> 33);
    const std::string user = "lead-" + std::to_string(r % static_cast<unsigned>(c.leads));
    const unsigned kind = (r >> 20) % 10;
    body += i > 0 ? ",{" : "{";
    if (kind == 0) {
      body += R"("type":"identify","userId":")" + user + R"(","traits":{"email":")" + user +
              R"(@acme.com","title":")" + kTitles[(r >> 8) % 4] + R"(","employees":)" +
              std::to_string(50 + (r >> 4) % 2000) + "}";
    } else if (kind < 4) {
      body += R"("type":"page","userId":")" + user + R"(","name":"Page","properties":{"path":")" +
              kPaths[(r >> 8) % 4] + R"(","referrer":"https://www.google.com/"})";
    } else {
      body += R"("type":"track","userId":")" + user + R"(","event":")" + kEvents[(r >> 8) % 4] +
              R"(","properties":{"plan":"pro","value":)" + std::to_string((r >> 4) % 100) + "}";
    }
    body += R"(,"timestamp":")" + ts + R"(","messageId":")" + run + "-" + std::to_string(client) +
            "-" + std::to_string((*seq)++) + tail;
  }
  body += R"(],"sentAt":")" + ts + R"("})";
  *body_bytes = body.size();
  std::string request =
      "POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Content-Type: application/json\r\n"
      "User-Agent: http_batch_load\r\n";
  if (!c.write_key.empty()) {
    request += "Authorization: Basic " + Base64(c.write_key + ":") + "\r\n";
  }
  request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return request;
}

struct Totals {
  std::atomic<uint64_t> events{0};  // acknowledged, warm-up included
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<bool> measuring{false};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<double> latencies_ms;  // of the measured window; guarded by mu
};

void Client(const Config& c, int port, const std::string& run, int id, Totals* totals) {
  Connection conn(port);
  uint64_t seq = 0;
  uint64_t rng = 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(id + 1);
  std::vector<double> latencies;
  std::string body;
  while (!totals->stop.load(std::memory_order_relaxed)) {
    size_t body_bytes = 0;
    const std::string request = BatchRequest(c, run, id, &seq, &rng, &body_bytes);
    const bool measuring = totals->measuring.load(std::memory_order_relaxed);
    const auto start = SteadyClock::now();
    const int status = conn.RoundTrip(request, &body);
    const double ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
    if (status != 200 || body != R"({"success":true})") {
      Die("unexpected answer " + std::to_string(status) + ": " + body);
    }
    totals->events.fetch_add(static_cast<uint64_t>(c.batch));
    totals->bytes.fetch_add(body_bytes);
    totals->requests.fetch_add(1);
    if (measuring) {
      latencies.push_back(ms);
    }
  }
  std::lock_guard<std::mutex> lock(totals->mu);
  totals->latencies_ms.insert(totals->latencies_ms.end(), latencies.begin(), latencies.end());
}

// The value of a Prometheus sample line "<series> <value>", or -1.
double Metric(int port, const std::string& series) {
  Connection conn(port);
  std::string body;
  if (conn.RoundTrip("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &body) != 200) {
    return -1;
  }
  const size_t at = body.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::atof(body.c_str() + at + series.size() + 2);
}

}  // namespace

int main(int argc, char** argv) {
  const Config c = ParseArgs(argc, argv);
  ::signal(SIGPIPE, SIG_IGN);
  SpawnedDaemon daemon;
  const int port = c.port != 0 ? c.port : daemon.Start(c);
  const std::string run =
      "load" + std::to_string(::getpid()) + "x" +
      std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  const double applied_before = Metric(port, R"(handoff_events_applied_total{transport="http"})");
  const double duplicate_before =
      Metric(port, R"(handoff_events_duplicate_total{transport="http"})");

  Totals totals;
  std::vector<std::thread> clients;
  for (int i = 0; i < c.connections; ++i) {
    clients.emplace_back(Client, std::cref(c), port, run, i, &totals);
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(c.warmup));
  totals.measuring = true;
  const uint64_t events0 = totals.events.load();
  const uint64_t bytes0 = totals.bytes.load();
  const uint64_t requests0 = totals.requests.load();
  const auto t0 = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(c.seconds));
  const uint64_t events1 = totals.events.load();
  const uint64_t bytes1 = totals.bytes.load();
  const uint64_t requests1 = totals.requests.load();
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  totals.stop = true;
  for (std::thread& t : clients) {
    t.join();
  }

  std::vector<double>& lat = totals.latencies_ms;
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, static_cast<size_t>(p * lat.size()))];
  };
  std::printf(
      "http_batch_load: %d keep-alive connections, %d events per batch, %.1f s measured "
      "(after %.1f s warm-up), durability %s%s\n",
      c.connections, c.batch, elapsed, c.warmup, c.durability.c_str(),
      c.port != 0 ? " (external daemon)" : "");
  std::printf("  events/s      %.0f\n", static_cast<double>(events1 - events0) / elapsed);
  std::printf("  batches/s     %.0f\n", static_cast<double>(requests1 - requests0) / elapsed);
  std::printf("  body MB/s     %.1f (%.0f bytes per batch)\n",
              static_cast<double>(bytes1 - bytes0) / elapsed / 1e6,
              requests1 > requests0 ? static_cast<double>(bytes1 - bytes0) /
                                          static_cast<double>(requests1 - requests0)
                                    : 0.0);
  std::printf("  batch latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", pct(0.5), pct(0.99),
              lat.empty() ? 0.0 : lat.back());

  // The load shares the machine with the daemon: say what it cost.
  rusage self{};
  ::getrusage(RUSAGE_SELF, &self);
  const double client_cpu =
      static_cast<double>(self.ru_utime.tv_sec + self.ru_stime.tv_sec) +
      static_cast<double>(self.ru_utime.tv_usec + self.ru_stime.tv_usec) / 1e6;
  std::printf("  load generator CPU %.1f s over %.1f s run\n", client_cpu, c.warmup + elapsed);

  const double applied = Metric(port, R"(handoff_events_applied_total{transport="http"})");
  const double duplicate = Metric(port, R"(handoff_events_duplicate_total{transport="http"})");
  const double acked = static_cast<double>(totals.events.load());
  std::printf("  check: %.0f events acknowledged, %.0f applied, %.0f duplicate (daemon metrics)\n",
              acked, applied - applied_before, duplicate - duplicate_before);
  if (c.port == 0 && applied - applied_before != acked) {
    std::fprintf(stderr, "http_batch_load: MISMATCH between acknowledged and applied events\n");
    return 1;
  }
  return 0;
}
