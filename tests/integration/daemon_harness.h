// Integration-test harness: runs the real `handoffd` binary as a child process on free loopback
// ports and talks to it over its real protocols (NDJSON ingest, HTTP, subscriber stream), as
// Redis's Tcl suite drives a real server.
//
// Everything here blocks with a deadline and never sleeps for a fixed time to "let things
// happen": tests wait for the output they expect (an ack, a record, an HTTP answer) with generous
// deadlines, so they pass on a slow shared machine and fail only when the behaviour is wrong.
//
// The binary is found at $HANDOFF_BINARY_DIR/handoffd (CTest sets it; see tests/testutil.h) and
// run through a symlink named `daemon-under-test` in the test's temp directory, so that something
// else on a shared machine stopping "handoffd" processes by name does not hit the daemon a test
// is driving.
// A child that outlives its test (the test crashed) is killed by the kernel: the child asks for
// SIGKILL when its parent dies.
//
// Not thread-safe: each object belongs to one thread. Different clients may be used from
// different threads.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "handoff/status.h"
#include "handoff/value.h"
#include "tests/testutil.h"

namespace handoff::testing {

// Generous default deadline for anything the daemon should do "soon".
inline constexpr double kDefaultDeadlineSeconds = 30;

// Polls `done` every `poll_seconds` until it returns true (true) or `timeout_seconds` pass
// (false). For conditions with no push notification (a file watch, a metric).
bool WaitUntil(const std::function<bool()>& done, double timeout_seconds = kDefaultDeadlineSeconds,
               double poll_seconds = 0.05);

// A thread that is always joined: when the scope ends (also through an ASSERT that returns
// early) `stop` runs first, if given and Join() has not been called, to unblock the body (e.g.
// LineConnection::Abort), then the thread is joined. A joinable std::thread would abort the test.
class ScopedThread {
 public:
  explicit ScopedThread(std::function<void()> body, std::function<void()> stop = nullptr)
      : stop_(std::move(stop)), thread_(std::move(body)) {}
  ~ScopedThread() {
    if (thread_.joinable()) {
      if (stop_) {
        stop_();
      }
      thread_.join();
    }
  }
  ScopedThread(const ScopedThread&) = delete;
  ScopedThread& operator=(const ScopedThread&) = delete;
  // Waits for the body to finish on its own.
  void Join() {
    if (thread_.joinable()) {
      thread_.join();
    }
  }

 private:
  std::function<void()> stop_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// JSON helpers, through the project's own parser (JsonParser).

// The smallest rule file most tests need: one event score, `clicks`, a point per "Click".
inline constexpr std::string_view kClickRules =
    "scores:\n"
    "  clicks: {kind: event}\n"
    "rules:\n"
    "  - id: click\n"
    "    score: clicks\n"
    "    when: event == \"Click\"\n"
    "    points: 1\n";

// Rules where a "Qualify" track event awards 100 points to `engagement` and puts a lead in `sql`,
// the routing stage: `extra_rules` (list items under `rules:`) come after the qualify rule, and
// `routing` (lines indented by two spaces, under `routing:`) after `stage: sql`.
inline std::string QualifyRules(std::string_view routing, std::string_view extra_rules = "") {
  return std::string(
             "scores:\n"
             "  engagement: {kind: event}\n"
             "rules:\n"
             "  - id: qualify\n"
             "    score: engagement\n"
             "    when: event == \"Qualify\"\n"
             "    points: 100\n") +
         std::string(extra_rules) +
         "stages:\n"
         "  - name: sql\n"
         "    enter: score.engagement >= 100\n"
         "routing:\n"
         "  stage: sql\n" +
         std::string(routing);
}

// A "Click" track event for `user` as one NDJSON line (no newline), at a fixed time (2026-01-01).
inline std::string ClickLine(const std::string& user, const std::string& message_id) {
  return R"({"type":"track","userId":")" + user + R"(","event":"Click","messageId":")" +
         message_id + R"(","timestamp":1767225600})";
}

// Parses one JSON text. InvalidArgument when it is not one valid JSON value.
Status ParseJson(std::string_view text, Value* out);
// Parses, or returns null and records a test failure naming the text.
Value JsonOrFail(std::string_view text);
// Follows a dotted path of object keys ("scores.engagement"); nullptr when any step is missing
// or not an object. An empty path is `v` itself.
const Value* JsonAt(const Value& v, std::string_view dotted_path);
// The number at the path, or NaN when it is absent or not a number.
double JsonNumber(const Value& v, std::string_view dotted_path);
// The string at the path, or "" when it is absent or not a string.
std::string JsonString(const Value& v, std::string_view dotted_path);

// The value of the Prometheus sample whose name-and-labels text is exactly `series`
// (e.g. `handoff_events_duplicate_total{transport="tcp"}`), or nullopt when absent.
std::optional<double> PrometheusSample(std::string_view metrics_text, std::string_view series);

// ---------------------------------------------------------------------------------------------
// The daemon process.

// "what: strerror(errno)".
std::string ErrnoText(const char* what);
// A waitpid status in words: "exit code N", "signal NAME".
std::string DescribeWaitStatus(int status);

// Forks and execs argv[0] (argv ends with nullptr) with stdin from /dev/null and stdout and
// stderr into `log_fd`, which it closes. The child gets SIGKILL when the calling thread exits
// (PR_SET_PDEATHSIG), so start children from the test's own thread. The child's pid, or why not.
Result<pid_t> SpawnLogged(const std::vector<char*>& argv, int log_fd);

struct DaemonOptions {
  // The rule file or directory (--rules). Required.
  std::string rules;
  // --watch; the watch test turns it on, everything else wants deterministic reloads.
  bool watch = false;
  // --stage-check-interval ("0": off).
  std::string stage_check_interval = "0";
  // --http: where the HTTP API listens (the port must be 0; the harness reads the one it got).
  std::string http_listen = "127.0.0.1:0";
  // Any further flags, e.g. {"--durability", "fsync"}.
  std::vector<std::string> extra_args{};
  // How long Start() waits for the three "listening" lines.
  double start_deadline_seconds = 60;
};

class DaemonProcess {
 public:
  // The data directory is a fresh temp directory owned by this object, kept across restarts.
  explicit DaemonProcess(DaemonOptions options);
  // Kills a still-running child (SIGKILL) and removes the temp directory.
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // Starts the binary on 127.0.0.1 port 0 for every listener and waits until it has logged
  // `ingest|subscribe|http listening on HOST:PORT` for all three; the ports are read from those
  // lines. Fails (with the daemon's log in the message) when the child exits first or the
  // deadline passes (then the child is killed).
  Status Start();
  // Like Start(), but returns as soon as the log contains `text` (not empty), which may be before
  // any listener is up; the ports stay 0. For tests of what happens during start-up.
  Status StartUntilLogged(std::string_view text);
  // SIGTERM, then waits for the exit. Fails when the child had already exited (something else
  // stopped it), does not exit within the deadline (it is then killed), or exits with a non-zero
  // status or by a signal.
  Status Stop(double timeout_seconds = kDefaultDeadlineSeconds);
  // SIGKILL, then waits for the exit.
  Status Kill9();
  // Stop() then Start() on the same data directory.
  Status Restart();
  // Writes `yaml` to temp()/name atomically (a temp file renamed over it, so a watching daemon
  // never reads half a file), makes it the --rules path and returns the path.
  std::string WriteRules(std::string_view yaml, std::string_view name = "rules.yaml");

  // OK while the child runs; Unavailable, with its exit status and log, once it has exited
  // without being asked to (a crash, or a signal from outside the test).
  Status CheckAlive();

  // Sends a signal (e.g. SIGHUP) to the running child.
  Status Signal(int signo);

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  uint16_t ingest_port() const { return ingest_port_; }
  uint16_t subscribe_port() const { return subscribe_port_; }
  uint16_t http_port() const { return http_port_; }
  const std::string& data_dir() const { return data_dir_; }
  // A scratch directory for the test (rule files etc.), removed with this object.
  const TempDir& temp() const { return temp_; }
  DaemonOptions& options() { return options_; }

  // Everything the current (or last) child wrote to stderr so far.
  std::string log() const;

  // The running child's resident memory, from /proc/<pid>/status: VmRSS (now) and VmHWM (the
  // peak since it started), in bytes; both 0 when the child is not running or the file cannot be
  // read.
  struct Memory {
    uint64_t rss_bytes = 0;
    uint64_t peak_bytes = 0;
  };
  Memory memory() const;

 private:
  Status WaitExit(double timeout_seconds, int* wait_status);

  DaemonOptions options_;
  TempDir temp_;
  std::string data_dir_;
  std::string log_path_;
  int starts_ = 0;
  pid_t pid_ = -1;
  uint16_t ingest_port_ = 0;
  uint16_t subscribe_port_ = 0;
  uint16_t http_port_ = 0;
};

// Writes the example rules (rules/examples/default.yaml) with every rep always in hours as the
// daemon's rule file and returns its path: routing then does not depend on the wall clock when
// the test runs.
std::string ExampleRulesAlwaysOpen(DaemonProcess& daemon);

// ---------------------------------------------------------------------------------------------
// Clients. Each is a blocking loopback TCP connection; reads take a deadline.

class LineConnection {
 public:
  LineConnection() = default;
  ~LineConnection();
  LineConnection(const LineConnection&) = delete;
  LineConnection& operator=(const LineConnection&) = delete;

  Status Connect(uint16_t port, double timeout_seconds = kDefaultDeadlineSeconds);
  bool connected() const { return fd_ >= 0; }
  // Writes every byte, waiting while the peer's window is full. IoError when no byte could be
  // written for `stall_seconds` (the peer stopped reading), with *sent (optional) telling how
  // many bytes went out.
  Status SendAll(std::string_view bytes, double stall_seconds = kDefaultDeadlineSeconds,
                 size_t* sent = nullptr);
  // Reads one line, without its '\n'. Unavailable on EOF, IoError past the deadline (the bytes
  // read so far stay buffered).
  Status ReadLine(std::string* line, double timeout_seconds = kDefaultDeadlineSeconds);
  // Reads exactly `n` bytes (after what is buffered) into *out.
  Status ReadExactly(size_t n, std::string* out, double timeout_seconds = kDefaultDeadlineSeconds);
  // Reads until the peer closes, appending to *out.
  Status ReadToEof(std::string* out, double timeout_seconds = kDefaultDeadlineSeconds);
  // Half-closes the sending side (the server sees EOF and answers what it has).
  void ShutdownWrite();
  // Shuts both directions down without closing the descriptor: a send or read blocked in another
  // thread returns. The only method that may be called from another thread.
  void Abort();
  void Close();
  // Shrinks the kernel receive buffer (before Connect), so a client that never reads fills it
  // quickly.
  void set_receive_buffer(int bytes) { receive_buffer_ = bytes; }

 private:
  int fd_ = -1;
  int receive_buffer_ = 0;
  std::string buffer_;
};

// The tracker side of NDJSON ingest (SPEC 3).
class IngestClient {
 public:
  Status Connect(uint16_t port) { return conn_.Connect(port); }
  // Sends raw bytes as given (no newline added).
  Status Send(std::string_view bytes) { return conn_.SendAll(bytes); }
  // Sends each line followed by '\n', in one write. Counts them in lines_sent().
  Status SendLines(const std::vector<std::string>& lines);
  // Reads reply lines until an {"ack":N} with N >= `line` arrives. Error lines met on the way are
  // kept (errors()). Fails on EOF, on a line that is not JSON, or past the deadline.
  Status WaitForAck(uint64_t line, double timeout_seconds = kDefaultDeadlineSeconds);
  // Reads one reply line (an error or an ack) and records it as WaitForAck does.
  Status ReadReply(Value* reply, double timeout_seconds = kDefaultDeadlineSeconds);
  uint64_t last_ack() const { return last_ack_; }
  // Every error line read so far, in order.
  const std::vector<Value>& errors() const { return errors_; }
  // Every ack number read so far, in order.
  const std::vector<uint64_t>& acks() const { return acks_; }
  uint64_t lines_sent() const { return lines_sent_; }
  LineConnection& connection() { return conn_; }

 private:
  LineConnection conn_;
  uint64_t last_ack_ = 0;
  uint64_t lines_sent_ = 0;
  std::vector<Value> errors_;
  std::vector<uint64_t> acks_;
};

// A sales tool on the subscriber port (SPEC 9).
class SubscriberClient {
 public:
  Status Connect(uint16_t port) { return conn_.Connect(port); }
  // Sends one line (a newline is added), e.g. R"({"subscribe":{},"from":0})".
  Status SendLine(std::string_view line) { return conn_.SendAll(std::string(line) + "\n"); }
  // Sends {"subscribe":{},"from":N} (no "from" when nullopt).
  Status Subscribe(std::optional<uint64_t> from);
  // Reads the next line that is not a heartbeat, parsed.
  Status ReadMessage(Value* message, double timeout_seconds = kDefaultDeadlineSeconds);
  // Reads messages until `count` records (lines with "seq") have arrived, appending them to
  // *records; fails on anything else (an error line) or past the deadline.
  Status ReadRecords(size_t count, std::vector<Value>* records,
                     double timeout_seconds = kDefaultDeadlineSeconds);
  // True when no line (other than heartbeats) arrives within `quiet_seconds`. Use only to check
  // that nothing more comes after everything expected has been read.
  bool NothingWithin(double quiet_seconds);
  LineConnection& connection() { return conn_; }

 private:
  LineConnection conn_;
};

struct HttpResult {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // The first header named `name` (case-insensitive); "" when absent.
  std::string Header(std::string_view name) const;
  // The body parsed as JSON (null, with a test failure, when it is not JSON).
  Value Json() const { return JsonOrFail(body); }
};

// A minimal HTTP/1.1 client: one request per connection ("Connection: close"), bodies framed by
// Content-Length (or read to EOF).
class HttpClient {
 public:
  explicit HttpClient(uint16_t port) : port_(port) {}
  // How long Request keeps trying to connect (a refused connection is retried until then);
  // default: the request's own deadline. A client that follows a restarting daemon gives up
  // sooner on a port whose daemon is gone.
  void set_connect_timeout(double seconds) { connect_timeout_ = seconds; }

  using Headers = std::vector<std::pair<std::string, std::string>>;
  Status Request(std::string_view method, std::string_view target, std::string_view body,
                 const Headers& headers, HttpResult* out,
                 double timeout_seconds = kDefaultDeadlineSeconds);

  // Shorthands that record a test failure (and return status 0) when the exchange itself fails.
  HttpResult Get(std::string_view target, const Headers& headers = {});
  HttpResult Post(std::string_view target, std::string_view body, const Headers& headers = {});
  HttpResult Put(std::string_view target, std::string_view body, const Headers& headers = {});

 private:
  uint16_t port_;
  double connect_timeout_ = -1;  // < 0: the request's deadline
};

}  // namespace handoff::testing
