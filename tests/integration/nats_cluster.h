// Integration-test harness: a NATS JetStream cluster of real `nats-server` processes on free
// loopback ports, for tests of code that publishes to or consumes from JetStream and must survive
// a node going away.
//
// Each node gets its own client, cluster (route) and monitoring port, its own JetStream store
// and its own log file, all under one temp directory owned by the object; nothing outside it is
// written, and no configuration file is used (everything is on the command line). Nodes are
// named node0 .. node<n-1>, index i being node<i>.
//
// Readiness is read from each node's monitoring port: GET /healthz, which in nats-server 2.9
// answers 200 only once the node is in contact with, and current with, a JetStream meta leader,
// and GET /jsz, whose meta_cluster.leader names that leader. Like DaemonProcess, everything waits
// for the state it expects with a deadline and never sleeps for a fixed time.
//
// The binary is found on PATH or at /usr/sbin/nats-server (Debian's package, which
// tools/setup.sh installs); when there is none, Start() returns NotFound and a test should skip.
// Each node runs through a symlink named `nats-under-test` in the temp directory, so that
// something on a shared machine stopping "nats-server" processes by name does not hit it.
// A node that outlives its test (the test crashed) is killed by the kernel: the child asks for
// SIGKILL when the thread that started it dies, so call Start() and Restart() from a thread
// that lives as long as the cluster (the test's own thread).
//
// Ownership: the object owns the child processes, their stores and logs; the destructor kills
// every node still running, reaps it and removes the temp directory.
// Not thread-safe: each object belongs to one thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "handoff/status.h"
#include "tests/integration/daemon_harness.h"
#include "tests/testutil.h"

namespace handoff::testing {

// In a fixture's SetUp (or a test): starts `cluster` with `nodes` servers, skips the test when
// nats-server is not installed, and fails it on any other error.
#define HANDOFF_START_NATS_OR_SKIP(cluster, nodes)                                 \
  do {                                                                             \
    const ::handoff::Status nats_started = (cluster).Start(nodes);                 \
    if (nats_started.IsNotFound()) {                                               \
      GTEST_SKIP() << "nats-server is not installed: " << nats_started.ToString(); \
    }                                                                              \
    ASSERT_TRUE(nats_started.ok()) << nats_started.ToString();                     \
  } while (false)

class NatsCluster {
 public:
  NatsCluster() = default;
  // Kills (SIGKILL) and reaps every node still running, then removes the temp directory.
  ~NatsCluster();
  NatsCluster(const NatsCluster&) = delete;
  NatsCluster& operator=(const NatsCluster&) = delete;

  // Picks free loopback ports, starts `nodes` servers with JetStream on and waits until the
  // cluster is ready (see WaitReady). A single node runs without clustering. NotFound when there
  // is no nats-server binary; FailedPrecondition when already started; otherwise, on a node that
  // exits or a deadline that passes, every node is killed and the error carries their logs.
  // Retries with fresh ports when a port was taken between picking and binding it.
  Status Start(int nodes = 3, double timeout_seconds = kDefaultDeadlineSeconds);

  // SIGKILL to node i, then reaps it. Nothing when it is not running.
  void Kill(int i);
  // Starts node i again on the same ports and store (killing it first when it still runs) and
  // waits until the cluster is ready again with it (see WaitReady).
  Status Restart(int i, double timeout_seconds = kDefaultDeadlineSeconds);

  // OK once every running node answers /healthz with 200 and, with more than one node, all of
  // them name the same meta leader, which is a running node (right after a leader is killed the
  // others keep naming it for a few seconds, until they elect another). Unavailable, with what
  // each node last answered and the logs, past the deadline or when a node exits by itself.
  Status WaitReady(double timeout_seconds = kDefaultDeadlineSeconds);

  // True while node i's process runs; reaps it (and says false) when it has exited by itself.
  bool running(int i);
  int size() const { return static_cast<int>(nodes_.size()); }
  // The node's server name: "node<i>".
  std::string name(int i) const;
  // "nats://127.0.0.1:<client port>" of node i.
  std::string url(int i) const;
  // Every node's URL, comma-separated in index order, killed nodes included (a client is given
  // the whole cluster and fails over by itself).
  std::string urls() const;
  // The same, one URL an element (what a NatsLink is given).
  std::vector<std::string> url_list() const;
  uint16_t client_port(int i) const { return nodes_.at(i).client_port; }
  uint16_t monitor_port(int i) const { return nodes_.at(i).monitor_port; }
  // The JetStream store directory of node i.
  std::string store_dir(int i) const;

  // The meta leader node i names in GET /jsz ("" when it names none or does not answer).
  std::string MetaLeader(int i) const;
  // True when node i answers GET /healthz with 200.
  bool Healthy(int i) const;

  // Everything node i wrote to stdout and stderr, over all its starts (each start begins with a
  // "=== harness: start N ===" line), for failure messages.
  std::string log(int i) const;

 private:
  struct Node {
    uint16_t client_port = 0;
    uint16_t cluster_port = 0;
    uint16_t monitor_port = 0;
    pid_t pid = -1;
    // False once the test killed it: WaitReady tells a node that died by itself from one killed.
    bool wanted = false;
    int starts = 0;
    std::string last_exit;  // how the last child ended, e.g. "signal Killed"
  };

  // Forks and execs node i; does not wait for anything.
  Status Spawn(int i);
  // One attempt of Start() on freshly picked ports.
  Status StartOnce(int nodes, double timeout_seconds);
  void KillAll();
  // One line per node: its process, what /healthz and /jsz answer now; then each log's tail.
  std::string Describe() const;

  TempDir temp_;
  std::string binary_;
  std::vector<Node> nodes_;
};

}  // namespace handoff::testing
