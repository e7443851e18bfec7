#include "tests/integration/nats_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace handoff::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Each monitoring request is bounded on its own, so one hung node cannot use up the whole
// deadline of a readiness wait.
constexpr double kProbeSeconds = 2;
// Start() picks fresh ports this many times when one was taken before its node bound it.
constexpr int kStartAttempts = 3;
// Lines of each node's log that a failure message carries (log() has the whole text).
constexpr size_t kLogTailLines = 25;

SteadyClock::time_point DeadlineIn(double seconds) {
  return SteadyClock::now() +
         std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(seconds));
}

double SecondsLeft(SteadyClock::time_point deadline) {
  double left = std::chrono::duration<double>(deadline - SteadyClock::now()).count();
  return left > 0 ? left : 0;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Tail(const std::string& text, size_t lines) {
  size_t at = text.size();
  if (at > 0 && text[at - 1] == '\n') {
    --at;
  }
  for (size_t seen = 0; at > 0; --at) {
    if (text[at - 1] == '\n' && ++seen == lines) {
      break;
    }
  }
  return text.substr(at);
}

// The first executable `nats-server` on PATH, else Debian's /usr/sbin one (/usr/sbin is often
// missing from a user's PATH); "" when there is none.
std::string FindNatsServer() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) {
      continue;
    }
    std::string candidate = dir + "/nats-server";
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return ::access("/usr/sbin/nats-server", X_OK) == 0 ? "/usr/sbin/nats-server" : "";
}

// `count` distinct loopback ports that were free a moment ago: all sockets stay bound until every
// port is known, so the kernel cannot hand out the same one twice. Another process may still take
// one before its node binds it; Start() retries then.
Status PickPorts(size_t count, std::vector<uint16_t>* ports) {
  std::vector<int> fds;
  Status result = Status::Ok();
  for (size_t i = 0; i < count && result.ok(); ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      result = Status::IoError(ErrnoText("socket"));
      break;
    }
    fds.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      result = Status::IoError(ErrnoText("bind a free port"));
      break;
    }
    ports->push_back(ntohs(addr.sin_port));
  }
  for (int fd : fds) {
    ::close(fd);
  }
  return result;
}

std::string Loopback(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

}  // namespace

NatsCluster::~NatsCluster() { KillAll(); }

void NatsCluster::KillAll() {
  // Every signal first, then every wait: the nodes die in parallel.
  for (Node& node : nodes_) {
    node.wanted = false;
    if (node.pid > 0) {
      ::kill(node.pid, SIGKILL);
    }
  }
  for (int i = 0; i < size(); ++i) {
    Kill(i);
  }
}

std::string NatsCluster::name(int i) const {
  (void)nodes_.at(i);  // the same out-of-range check as every other accessor
  return "node" + std::to_string(i);
}

std::string NatsCluster::url(int i) const { return "nats://" + Loopback(client_port(i)); }

std::string NatsCluster::urls() const {
  std::string all;
  for (int i = 0; i < size(); ++i) {
    all += (i == 0 ? "" : ",") + url(i);
  }
  return all;
}

std::vector<std::string> NatsCluster::url_list() const {
  std::vector<std::string> all;
  for (int i = 0; i < size(); ++i) {
    all.push_back(url(i));
  }
  return all;
}

std::string NatsCluster::store_dir(int i) const { return temp_.path() + "/" + name(i) + "/store"; }

std::string NatsCluster::log(int i) const {
  return ReadWholeFile(temp_.path() + "/" + name(i) + ".log");
}

bool NatsCluster::running(int i) {
  Node& node = nodes_.at(i);
  if (node.pid <= 0) {
    return false;
  }
  int status = 0;
  if (::waitpid(node.pid, &status, WNOHANG) == node.pid) {
    node.pid = -1;
    node.last_exit = DescribeWaitStatus(status);
    return false;
  }
  return true;
}

void NatsCluster::Kill(int i) {
  Node& node = nodes_.at(i);
  node.wanted = false;
  if (node.pid <= 0) {
    return;
  }
  ::kill(node.pid, SIGKILL);
  int status = 0;
  while (::waitpid(node.pid, &status, 0) < 0 && errno == EINTR) {
  }
  node.pid = -1;
  node.last_exit = DescribeWaitStatus(status);
}

Status NatsCluster::Spawn(int i) {
  Node& node = nodes_.at(i);
  std::error_code ec;
  std::filesystem::create_directories(store_dir(i), ec);
  if (ec) {
    return Status::IoError("create " + store_dir(i) + ": " + ec.message());
  }
  // See the header: a process name that `pkill nats-server` does not match.
  const std::string alias = temp_.path() + "/nats-under-test";
  if (::access(alias.c_str(), X_OK) != 0 && ::symlink(binary_.c_str(), alias.c_str()) != 0) {
    return Status::IoError(ErrnoText("symlink"));
  }

  std::vector<std::string> args = {alias,
                                   "--addr",
                                   "127.0.0.1",
                                   "--port",
                                   std::to_string(node.client_port),
                                   "--http_port",
                                   std::to_string(node.monitor_port),
                                   "--server_name",
                                   name(i),
                                   "--jetstream",
                                   "--store_dir",
                                   store_dir(i)};
  if (size() > 1) {
    std::string routes;
    for (int j = 0; j < size(); ++j) {
      if (j != i) {
        routes += (routes.empty() ? "nats://" : ",nats://") + Loopback(nodes_[j].cluster_port);
      }
    }
    args.insert(args.end(), {"--cluster_name", "handoff-test", "--cluster",
                             "nats://" + Loopback(node.cluster_port), "--routes", routes});
  }
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);

  // One log per node across its restarts, so a failure after a restart still shows why the
  // earlier run went wrong.
  const std::string log_path = temp_.path() + "/" + name(i) + ".log";
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return Status::IoError(ErrnoText("open log"));
  }
  ++node.starts;
  std::string marker = "=== harness: start " + std::to_string(node.starts) + " ===\n";
  if (::write(log_fd, marker.data(), marker.size()) < 0) {
    // Only a missing marker line; the log itself still works.
  }
  Result<pid_t> child = SpawnLogged(argv, log_fd);
  if (!child.ok()) {
    return child.status();
  }
  node.pid = child.value();
  node.wanted = true;
  return Status::Ok();
}

Status NatsCluster::Start(int nodes, double timeout_seconds) {
  if (!nodes_.empty()) {
    return Status::FailedPrecondition("the cluster is already started");
  }
  if (nodes < 1) {
    return Status::InvalidArgument("a cluster needs at least one node");
  }
  binary_ = FindNatsServer();
  if (binary_.empty()) {
    return Status::NotFound(
        "no nats-server on PATH or at /usr/sbin/nats-server (tools/setup.sh installs it)");
  }
  const auto deadline = DeadlineIn(timeout_seconds);
  Status st = Status::Ok();
  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    st = StartOnce(nodes, SecondsLeft(deadline));
    if (st.ok() || st.message().find("address already in use") == std::string::npos) {
      return st;
    }
    // A fresh store too: the failed attempt's JetStream state names peers on other ports.
    for (int i = 0; i < nodes; ++i) {
      std::error_code ec;
      std::filesystem::remove_all(temp_.path() + "/" + name(i), ec);
    }
    nodes_.clear();
  }
  return st;
}

Status NatsCluster::StartOnce(int nodes, double timeout_seconds) {
  std::vector<uint16_t> ports;
  if (Status st = PickPorts(3 * static_cast<size_t>(nodes), &ports); !st.ok()) {
    return st;
  }
  nodes_.assign(nodes, Node{});
  for (int i = 0; i < nodes; ++i) {
    nodes_[i].client_port = ports[3 * i];
    nodes_[i].cluster_port = ports[3 * i + 1];
    nodes_[i].monitor_port = ports[3 * i + 2];
  }
  for (int i = 0; i < nodes; ++i) {
    if (Status st = Spawn(i); !st.ok()) {
      KillAll();
      return st;
    }
  }
  Status st = WaitReady(timeout_seconds);
  if (!st.ok()) {
    KillAll();
  }
  return st;
}

Status NatsCluster::Restart(int i, double timeout_seconds) {
  if (i < 0 || i >= size()) {
    return Status::InvalidArgument("no node " + std::to_string(i));
  }
  Kill(i);
  if (Status st = Spawn(i); !st.ok()) {
    return st;
  }
  return WaitReady(timeout_seconds);
}

bool NatsCluster::Healthy(int i) const {
  HttpClient http(monitor_port(i));
  http.set_connect_timeout(0);  // one attempt: a refused connection means "not up"
  HttpResult result;
  return http.Request("GET", "/healthz", "", {}, &result, kProbeSeconds).ok() &&
         result.status == 200;
}

std::string NatsCluster::MetaLeader(int i) const {
  HttpClient http(monitor_port(i));
  http.set_connect_timeout(0);
  HttpResult result;
  Value jsz;
  if (!http.Request("GET", "/jsz", "", {}, &result, kProbeSeconds).ok() || result.status != 200 ||
      !ParseJson(result.body, &jsz).ok()) {
    return "";
  }
  return JsonString(jsz, "meta_cluster.leader");
}

Status NatsCluster::WaitReady(double timeout_seconds) {
  const auto deadline = DeadlineIn(timeout_seconds);
  for (;;) {
    bool ready = true;
    bool any_running = false;
    std::string leader;
    for (int i = 0; i < size(); ++i) {
      if (!running(i)) {
        if (nodes_[i].wanted) {
          return Status::Unavailable(name(i) + " exited by itself (" + nodes_[i].last_exit + ")\n" +
                                     Describe());
        }
        continue;
      }
      any_running = true;
      if (!ready) {
        continue;  // already not ready; only look for nodes that died
      }
      if (!Healthy(i)) {
        ready = false;
        continue;
      }
      if (size() > 1) {
        std::string named = MetaLeader(i);
        if (named.empty() || (!leader.empty() && named != leader)) {
          ready = false;
        }
        leader = named;
      }
    }
    if (!any_running) {
      return Status::FailedPrecondition("no node is running");
    }
    if (ready && size() > 1) {
      // A leader the test killed is still named until the survivors notice it is gone.
      ready = false;
      for (int j = 0; j < size(); ++j) {
        ready = ready || (leader == name(j) && nodes_[j].pid > 0);
      }
    }
    if (ready) {
      return Status::Ok();
    }
    if (SteadyClock::now() >= deadline) {
      return Status::Unavailable("the NATS cluster was not ready within " +
                                 std::to_string(timeout_seconds) + " s\n" + Describe());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string NatsCluster::Describe() const {
  std::string text;
  for (int i = 0; i < size(); ++i) {
    const Node& node = nodes_[i];
    text += name(i) + " (" + url(i) + ", monitor " + Loopback(node.monitor_port) + "): ";
    if (node.pid <= 0) {
      text += "not running" + (node.last_exit.empty() ? "" : " (" + node.last_exit + ")") + "\n";
      continue;
    }
    HttpClient http(node.monitor_port);
    http.set_connect_timeout(0);
    HttpResult health;
    Status st = http.Request("GET", "/healthz", "", {}, &health, kProbeSeconds);
    text += "pid " + std::to_string(node.pid) + ", /healthz: " +
            (st.ok() ? std::to_string(health.status) + " " + health.body : st.ToString()) +
            ", meta leader: \"" + MetaLeader(i) + "\"\n";
  }
  for (int i = 0; i < size(); ++i) {
    text += "--- " + name(i) + " log (last lines) ---\n" + Tail(log(i), kLogTailLines);
  }
  return text;
}

}  // namespace handoff::testing
