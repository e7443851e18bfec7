#include "tests/integration/daemon_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/json_parser.h"

namespace handoff::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

SteadyClock::time_point DeadlineIn(double seconds) {
  return SteadyClock::now() +
         std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(seconds));
}

// Milliseconds left until `deadline`, at least 0, for poll().
int MillisLeft(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return left.count() < 0 ? 0 : static_cast<int>(std::min<int64_t>(left.count(), 1 << 30));
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The port of `<name> listening on HOST:PORT` in the log, or 0 when that line is not there yet.
uint16_t ListeningPort(const std::string& log, const std::string& name) {
  const std::string marker = " " + name + " listening on ";
  size_t at = log.find(marker);
  if (at == std::string::npos) {
    return 0;
  }
  size_t end = log.find('\n', at);
  if (end == std::string::npos) {
    return 0;  // the line is not complete yet
  }
  std::string address = log.substr(at + marker.size(), end - at - marker.size());
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return 0;
  }
  long port = std::strtol(address.c_str() + colon + 1, nullptr, 10);
  return port > 0 && port < 65536 ? static_cast<uint16_t>(port) : 0;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string ErrnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) {
    return "exit code " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return std::string("signal ") + strsignal(WTERMSIG(status));
  }
  return "status " + std::to_string(status);
}

Result<pid_t> SpawnLogged(const std::vector<char*>& argv, int log_fd) {
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = ::getpid();
  pid_t child = ::fork();
  if (child < 0) {
    const Status error = Status::IoError(ErrnoText("fork"));
    ::close(log_fd);
    ::close(null_fd);
    return error;
  }
  if (child == 0) {
    // Only async-signal-safe calls from here to exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(126);  // the test died before the request took effect
    }
    if (null_fd >= 0) {
      ::dup2(null_fd, STDIN_FILENO);
    }
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  if (null_fd >= 0) {
    ::close(null_fd);
  }
  return child;
}

bool WaitUntil(const std::function<bool()>& done, double timeout_seconds, double poll_seconds) {
  const auto deadline = DeadlineIn(timeout_seconds);
  for (;;) {
    if (done()) {
      return true;
    }
    if (SteadyClock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(poll_seconds));
  }
}

// ---------------------------------------------------------------------------------------------
// JSON

Status ParseJson(std::string_view text, Value* out) {
  thread_local JsonParser parser;  // not thread-safe: one per thread
  return parser.Parse(text, out);
}

Value JsonOrFail(std::string_view text) {
  Value v;
  Status st = ParseJson(text, &v);
  if (!st.ok()) {
    ADD_FAILURE() << "not JSON (" << st.ToString() << "): " << text;
    return Value();
  }
  return v;
}

const Value* JsonAt(const Value& v, std::string_view dotted_path) {
  const Value* at = &v;
  while (!dotted_path.empty()) {
    size_t dot = dotted_path.find('.');
    std::string_view key = dotted_path.substr(0, dot);
    at = at->Find(key);
    if (at == nullptr) {
      return nullptr;
    }
    dotted_path = dot == std::string_view::npos ? std::string_view() : dotted_path.substr(dot + 1);
  }
  return at;
}

double JsonNumber(const Value& v, std::string_view dotted_path) {
  const Value* at = JsonAt(v, dotted_path);
  return at != nullptr && at->is_number() ? at->as_number() : std::nan("");
}

std::string JsonString(const Value& v, std::string_view dotted_path) {
  const Value* at = JsonAt(v, dotted_path);
  return at != nullptr && at->is_string() ? at->as_string() : std::string();
}

std::optional<double> PrometheusSample(std::string_view metrics_text, std::string_view series) {
  size_t pos = 0;
  while (pos < metrics_text.size()) {
    size_t end = metrics_text.find('\n', pos);
    if (end == std::string_view::npos) {
      end = metrics_text.size();
    }
    std::string_view line = metrics_text.substr(pos, end - pos);
    pos = end + 1;
    if (line.size() > series.size() && line.substr(0, series.size()) == series &&
        line[series.size()] == ' ') {
      std::string value(line.substr(series.size() + 1));
      char* stop = nullptr;
      double d = std::strtod(value.c_str(), &stop);
      if (stop == value.c_str()) {
        return std::nullopt;
      }
      return d;
    }
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// DaemonProcess

DaemonProcess::DaemonProcess(DaemonOptions options) : options_(std::move(options)) {
  data_dir_ = temp_.path() + "/data";
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
}

std::string DaemonProcess::log() const { return log_path_.empty() ? "" : ReadWholeFile(log_path_); }

Status DaemonProcess::Start() { return StartUntilLogged(""); }

Status DaemonProcess::StartUntilLogged(std::string_view text) {
  if (pid_ > 0) {
    return Status::FailedPrecondition("the daemon is already running");
  }
  const std::string binary = BinaryDir() + "/handoffd";
  if (::access(binary.c_str(), X_OK) != 0) {
    return Status::NotFound("no executable " + binary + " (build the handoffd target)");
  }
  // See the header: a name other processes do not match.
  const std::string alias = temp_.path() + "/daemon-under-test";
  ::unlink(alias.c_str());
  if (::symlink(binary.c_str(), alias.c_str()) != 0) {
    return Status::IoError(ErrnoText("symlink"));
  }
  std::vector<std::string> args = {alias,
                                   "--ingest",
                                   "127.0.0.1:0",
                                   "--subscribe",
                                   "127.0.0.1:0",
                                   "--http",
                                   options_.http_listen,
                                   "--data-dir",
                                   data_dir_,
                                   "--rules",
                                   options_.rules,
                                   "--watch",
                                   options_.watch ? "true" : "false",
                                   "--stage-check-interval",
                                   options_.stage_check_interval};
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);

  ++starts_;
  log_path_ = temp_.path() + "/handoffd-" + std::to_string(starts_) + ".log";
  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return Status::IoError(ErrnoText("open log"));
  }
  Result<pid_t> child = SpawnLogged(argv, log_fd);
  if (!child.ok()) {
    return child.status();
  }
  pid_ = child.value();
  ingest_port_ = subscribe_port_ = http_port_ = 0;

  const auto deadline = DeadlineIn(options_.start_deadline_seconds);
  for (;;) {
    std::string logged = log();
    if (!text.empty()) {
      if (logged.find(text) != std::string::npos) {
        return Status::Ok();
      }
    } else {
      ingest_port_ = ListeningPort(logged, "ingest");
      subscribe_port_ = ListeningPort(logged, "subscribe");
      http_port_ = ListeningPort(logged, "http");
      if (ingest_port_ != 0 && subscribe_port_ != 0 && http_port_ != 0) {
        return Status::Ok();
      }
    }
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return Status::Unavailable("handoffd exited during start-up (" + DescribeWaitStatus(status) +
                                 "); its log:\n" + log());
    }
    if (SteadyClock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
      return Status::Unavailable(
          std::string("handoffd did not log ") +
          (text.empty() ? "its three listeners" : "\"" + std::string(text) + "\"") +
          " in time; its log:\n" + log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Status DaemonProcess::WaitExit(double timeout_seconds, int* wait_status) {
  const auto deadline = DeadlineIn(timeout_seconds);
  for (;;) {
    pid_t r = ::waitpid(pid_, wait_status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return Status::Ok();
    }
    if (r < 0) {
      pid_ = -1;
      return Status::IoError(ErrnoText("waitpid"));
    }
    if (SteadyClock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, wait_status, 0);
      pid_ = -1;
      return Status::Unavailable("handoffd did not exit in time (killed); its log:\n" + log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Status DaemonProcess::CheckAlive() {
  if (pid_ <= 0) {
    return Status::FailedPrecondition("the daemon is not running");
  }
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return Status::Unavailable("handoffd exited unexpectedly (" + DescribeWaitStatus(status) +
                               "); its log:\n" + log());
  }
  return Status::Ok();
}

Status DaemonProcess::Stop(double timeout_seconds) {
  if (Status st = CheckAlive(); !st.ok()) {
    return st;
  }
  if (::kill(pid_, SIGTERM) != 0) {
    return Status::IoError(ErrnoText("kill SIGTERM"));
  }
  int status = 0;
  if (Status st = WaitExit(timeout_seconds, &status); !st.ok()) {
    return st;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Unavailable("handoffd stopped with " + DescribeWaitStatus(status) +
                               " after SIGTERM; its log:\n" + log());
  }
  return Status::Ok();
}

Status DaemonProcess::Kill9() {
  if (pid_ <= 0) {
    return Status::FailedPrecondition("the daemon is not running");
  }
  if (::kill(pid_, SIGKILL) != 0) {
    return Status::IoError(ErrnoText("kill SIGKILL"));
  }
  int status = 0;
  return WaitExit(kDefaultDeadlineSeconds, &status);
}

Status DaemonProcess::Restart() {
  if (Status st = Stop(); !st.ok()) {
    return st;
  }
  return Start();
}

std::string DaemonProcess::WriteRules(std::string_view yaml, std::string_view name) {
  const std::string path = temp_.path() + "/" + std::string(name);
  const std::string staging = temp_.path() + "/.staging-" + std::string(name);
  {
    std::ofstream out(staging, std::ios::binary | std::ios::trunc);
    out << yaml;
  }
  if (::rename(staging.c_str(), path.c_str()) != 0) {
    ADD_FAILURE() << ErrnoText("rename rules");
  }
  options_.rules = path;
  return path;
}

Status DaemonProcess::Signal(int signo) {
  if (pid_ <= 0) {
    return Status::FailedPrecondition("the daemon is not running");
  }
  if (::kill(pid_, signo) != 0) {
    return Status::IoError(ErrnoText("kill"));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// LineConnection

LineConnection::~LineConnection() { Close(); }

DaemonProcess::Memory DaemonProcess::memory() const {
  Memory memory;
  if (pid_ <= 0) {
    return memory;
  }
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    // "VmRSS:\t  123456 kB"
    uint64_t* field = line.rfind("VmRSS:", 0) == 0   ? &memory.rss_bytes
                      : line.rfind("VmHWM:", 0) == 0 ? &memory.peak_bytes
                                                     : nullptr;
    if (field != nullptr) {
      *field = std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
    }
  }
  return memory;
}

Status LineConnection::Connect(uint16_t port, double timeout_seconds) {
  Close();
  const auto deadline = DeadlineIn(timeout_seconds);
  for (;;) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      return Status::IoError(ErrnoText("socket"));
    }
    if (receive_buffer_ > 0) {
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer_, sizeof(receive_buffer_));
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      fd_ = fd;
      buffer_.clear();
      return Status::Ok();
    }
    std::string error = ErrnoText("connect");
    ::close(fd);
    if (SteadyClock::now() >= deadline) {
      return Status::IoError(error + " (port " + std::to_string(port) + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Status LineConnection::SendAll(std::string_view bytes, double stall_seconds, size_t* sent) {
  size_t done = 0;
  auto report = [&] {
    if (sent != nullptr) {
      *sent = done;
    }
  };
  while (done < bytes.size()) {
    if (fd_ < 0) {
      report();
      return Status::FailedPrecondition("not connected");
    }
    pollfd p{fd_, POLLOUT, 0};
    int r = ::poll(&p, 1, static_cast<int>(stall_seconds * 1000));
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r == 0) {
      report();
      return Status::IoError("send stalled: the peer stopped reading");
    }
    ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        continue;
      }
      report();
      return Status::IoError(ErrnoText("send"));
    }
    done += static_cast<size_t>(n);
  }
  report();
  return Status::Ok();
}

Status LineConnection::ReadLine(std::string* line, double timeout_seconds) {
  const auto deadline = DeadlineIn(timeout_seconds);
  for (;;) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      line->assign(buffer_, 0, nl);
      buffer_.erase(0, nl + 1);
      return Status::Ok();
    }
    if (fd_ < 0) {
      return Status::FailedPrecondition("not connected");
    }
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, MillisLeft(deadline));
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r == 0) {
      return Status::IoError("no complete line within the deadline (have " +
                             std::to_string(buffer_.size()) + " bytes: " + buffer_.substr(0, 200) +
                             ")");
    }
    char chunk[64 * 1024];
    ssize_t n = ::recv(fd_, chunk, sizeof(chunk), MSG_DONTWAIT);
    if (n == 0) {
      return Status::Unavailable("connection closed by the peer" +
                                 (buffer_.empty() ? std::string() : " after: " + buffer_));
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        continue;
      }
      return Status::IoError(ErrnoText("recv"));
    }
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

Status LineConnection::ReadExactly(size_t n, std::string* out, double timeout_seconds) {
  const auto deadline = DeadlineIn(timeout_seconds);
  while (buffer_.size() < n) {
    if (fd_ < 0) {
      return Status::FailedPrecondition("not connected");
    }
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, MillisLeft(deadline));
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r == 0) {
      return Status::IoError("not enough bytes within the deadline");
    }
    char chunk[64 * 1024];
    ssize_t got = ::recv(fd_, chunk, sizeof(chunk), MSG_DONTWAIT);
    if (got == 0) {
      return Status::Unavailable("connection closed before " + std::to_string(n) + " bytes");
    }
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        continue;
      }
      return Status::IoError(ErrnoText("recv"));
    }
    buffer_.append(chunk, static_cast<size_t>(got));
  }
  out->assign(buffer_, 0, n);
  buffer_.erase(0, n);
  return Status::Ok();
}

Status LineConnection::ReadToEof(std::string* out, double timeout_seconds) {
  const auto deadline = DeadlineIn(timeout_seconds);
  out->append(buffer_);
  buffer_.clear();
  for (;;) {
    if (fd_ < 0) {
      return Status::FailedPrecondition("not connected");
    }
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, MillisLeft(deadline));
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r == 0) {
      return Status::IoError("the peer did not close within the deadline");
    }
    char chunk[64 * 1024];
    ssize_t got = ::recv(fd_, chunk, sizeof(chunk), MSG_DONTWAIT);
    if (got == 0) {
      return Status::Ok();
    }
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        continue;
      }
      if (errno == ECONNRESET) {
        return Status::Ok();
      }
      return Status::IoError(ErrnoText("recv"));
    }
    out->append(chunk, static_cast<size_t>(got));
  }
}

void LineConnection::ShutdownWrite() {
  if (fd_ >= 0) {
    ::shutdown(fd_, SHUT_WR);
  }
}

void LineConnection::Abort() {
  int fd = fd_;
  if (fd >= 0) {
    ::shutdown(fd, SHUT_RDWR);
  }
}

void LineConnection::Close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  buffer_.clear();
}

// ---------------------------------------------------------------------------------------------
// IngestClient

Status IngestClient::SendLines(const std::vector<std::string>& lines) {
  std::string bytes;
  for (const std::string& l : lines) {
    bytes += l;
    bytes.push_back('\n');
  }
  lines_sent_ += lines.size();
  return conn_.SendAll(bytes);
}

Status IngestClient::ReadReply(Value* reply, double timeout_seconds) {
  std::string line;
  if (Status st = conn_.ReadLine(&line, timeout_seconds); !st.ok()) {
    return st;
  }
  if (Status st = ParseJson(line, reply); !st.ok()) {
    return Status::InvalidArgument("ingest reply is not JSON: " + line);
  }
  if (const Value* ack = reply->Find("ack"); ack != nullptr) {
    if (!ack->is_number()) {
      return Status::InvalidArgument("ack is not a number: " + line);
    }
    auto n = static_cast<uint64_t>(ack->as_number());
    acks_.push_back(n);
    last_ack_ = std::max(last_ack_, n);
  } else if (reply->Find("error") != nullptr) {
    errors_.push_back(*reply);
  } else {
    return Status::InvalidArgument("ingest reply is neither an ack nor an error: " + line);
  }
  return Status::Ok();
}

Status IngestClient::WaitForAck(uint64_t line, double timeout_seconds) {
  const auto deadline = DeadlineIn(timeout_seconds);
  while (last_ack_ < line) {
    double left = std::chrono::duration<double>(deadline - SteadyClock::now()).count();
    Value reply;
    if (Status st = ReadReply(&reply, std::max(left, 0.0)); !st.ok()) {
      return Status::IoError("waiting for {\"ack\":" + std::to_string(line) + "} (last ack " +
                             std::to_string(last_ack_) + "): " + st.ToString());
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// SubscriberClient

Status SubscriberClient::Subscribe(std::optional<uint64_t> from) {
  std::string line = "{\"subscribe\":{}";
  if (from.has_value()) {
    line += ",\"from\":" + std::to_string(*from);
  }
  line += "}";
  return SendLine(line);
}

Status SubscriberClient::ReadMessage(Value* message, double timeout_seconds) {
  const auto deadline = DeadlineIn(timeout_seconds);
  for (;;) {
    double left = std::chrono::duration<double>(deadline - SteadyClock::now()).count();
    std::string line;
    if (Status st = conn_.ReadLine(&line, std::max(left, 0.0)); !st.ok()) {
      return st;
    }
    if (Status st = ParseJson(line, message); !st.ok()) {
      return Status::InvalidArgument("subscriber line is not JSON: " + line);
    }
    if (message->Find("heartbeat") == nullptr) {
      return Status::Ok();
    }
  }
}

Status SubscriberClient::ReadRecords(size_t count, std::vector<Value>* records,
                                     double timeout_seconds) {
  const auto deadline = DeadlineIn(timeout_seconds);
  for (size_t i = 0; i < count; ++i) {
    double left = std::chrono::duration<double>(deadline - SteadyClock::now()).count();
    Value message;
    if (Status st = ReadMessage(&message, std::max(left, 0.0)); !st.ok()) {
      return Status::IoError("waiting for record " + std::to_string(i + 1) + " of " +
                             std::to_string(count) + ": " + st.ToString());
    }
    if (message.Find("seq") == nullptr) {
      return Status::InvalidArgument("expected a record, got " + message.ToJson());
    }
    records->push_back(std::move(message));
  }
  return Status::Ok();
}

bool SubscriberClient::NothingWithin(double quiet_seconds) {
  Value message;
  Status st = ReadMessage(&message, quiet_seconds);
  return !st.ok() && st.code() == Status::Code::kIoError;
}

// ---------------------------------------------------------------------------------------------
// HttpClient

std::string HttpResult::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) {
      return v;
    }
  }
  return "";
}

Status HttpClient::Request(std::string_view method, std::string_view target, std::string_view body,
                           const Headers& headers, HttpResult* out, double timeout_seconds) {
  LineConnection conn;
  if (Status st = conn.Connect(port_, connect_timeout_ < 0 ? timeout_seconds : connect_timeout_);
      !st.ok()) {
    return st;
  }
  std::string request;
  request.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  request += "Host: 127.0.0.1:" + std::to_string(port_) + "\r\n";
  request += "Connection: close\r\n";
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    request += k + ": " + v + "\r\n";
    has_type = has_type || EqualsIgnoreCase(k, "Content-Type");
  }
  if (!body.empty() && !has_type) {
    request += "Content-Type: application/json\r\n";
  }
  if (!body.empty() || method == "POST" || method == "PUT") {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n";
  request.append(body);
  if (Status st = conn.SendAll(request, timeout_seconds); !st.ok()) {
    return st;
  }

  *out = HttpResult();
  std::string status_line;
  if (Status st = conn.ReadLine(&status_line, timeout_seconds); !st.ok()) {
    return Status::IoError("no HTTP status line: " + st.ToString());
  }
  if (!status_line.empty() && status_line.back() == '\r') {
    status_line.pop_back();
  }
  if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) {
    return Status::InvalidArgument("bad HTTP status line: " + status_line);
  }
  out->status = std::atoi(status_line.c_str() + 9);
  long content_length = -1;
  bool chunked = false;
  for (;;) {
    std::string line;
    if (Status st = conn.ReadLine(&line, timeout_seconds); !st.ok()) {
      return Status::IoError("HTTP headers cut short: " + st.ToString());
    }
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (line.empty()) {
      break;
    }
    size_t colon = line.find(':');
    if (colon == std::string::npos) {
      return Status::InvalidArgument("bad HTTP header line: " + line);
    }
    std::string name = line.substr(0, colon);
    size_t v = colon + 1;
    while (v < line.size() && (line[v] == ' ' || line[v] == '\t')) {
      ++v;
    }
    std::string value = line.substr(v);
    if (EqualsIgnoreCase(name, "Content-Length")) {
      content_length = std::strtol(value.c_str(), nullptr, 10);
    }
    if (EqualsIgnoreCase(name, "Transfer-Encoding") && value.find("chunked") != std::string::npos) {
      chunked = true;
    }
    out->headers.emplace_back(std::move(name), std::move(value));
  }
  if (method == "HEAD" || out->status == 204 || out->status == 304) {
    return Status::Ok();
  }
  if (chunked) {
    for (;;) {
      std::string size_line;
      if (Status st = conn.ReadLine(&size_line, timeout_seconds); !st.ok()) {
        return st;
      }
      size_t size = std::strtoul(size_line.c_str(), nullptr, 16);
      std::string data;
      if (Status st = conn.ReadExactly(size + 2, &data, timeout_seconds); !st.ok()) {
        return st;
      }
      if (size == 0) {
        return Status::Ok();
      }
      out->body.append(data, 0, size);
    }
  }
  if (content_length >= 0) {
    return conn.ReadExactly(static_cast<size_t>(content_length), &out->body, timeout_seconds);
  }
  return conn.ReadToEof(&out->body, timeout_seconds);
}

HttpResult HttpClient::Get(std::string_view target, const Headers& headers) {
  HttpResult r;
  Status st = Request("GET", target, "", headers, &r);
  if (!st.ok()) {
    ADD_FAILURE() << "GET " << target << ": " << st.ToString();
    r.status = 0;
  }
  return r;
}

HttpResult HttpClient::Post(std::string_view target, std::string_view body,
                            const Headers& headers) {
  HttpResult r;
  Status st = Request("POST", target, body, headers, &r);
  if (!st.ok()) {
    ADD_FAILURE() << "POST " << target << ": " << st.ToString();
    r.status = 0;
  }
  return r;
}

HttpResult HttpClient::Put(std::string_view target, std::string_view body, const Headers& headers) {
  HttpResult r;
  Status st = Request("PUT", target, body, headers, &r);
  if (!st.ok()) {
    ADD_FAILURE() << "PUT " << target << ": " << st.ToString();
    r.status = 0;
  }
  return r;
}

std::string ExampleRulesAlwaysOpen(DaemonProcess& daemon) {
  std::ifstream in(SourceDir() + "/rules/examples/default.yaml");
  std::stringstream text;
  text << in.rdbuf();
  std::string yaml = text.str();
  const std::string hours = ",\n           hours: \"Mon-Fri 08:00-17:00\"}";
  for (size_t at; (at = yaml.find(hours)) != std::string::npos;) {
    yaml.replace(at, hours.size(), "}");
  }
  return daemon.WriteRules(yaml);
}

}  // namespace handoff::testing
