// AdminReplica: admin state that every node of the cluster holds alike (docs/cluster.md).
//
// Each admin change is a value under a key of the replicated key-value bucket HANDOFF_ADMIN
// (JetStream, R3 like the event log, one value per key): "rep X's availability", "account Y's
// owner". Put() stores one; every node watches the bucket and hands each value to `apply`, one at
// a time, in the bucket's order (its revisions), so every node ends in the same state whichever
// node a change was sent to. A Put's `done` runs once this node has applied the value.
//
// Values are states, not steps: applying one twice changes nothing. So at start, and whenever the
// watch is set up again after a NATS failure, the current value of every key is applied again;
// that is also how a node that was down catches up with the changes it missed.
//
// Thread-safe. One thread of its own (`cluster-admin`), which makes the bucket, stores the values
// Put() queues, and runs `apply` and every `done`.
#pragma once

#include <nats/nats.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cluster/nats_link.h"
#include "handoff/status.h"
#include "ingest/admin_sink.h"

namespace handoff {

inline constexpr std::string_view kAdminBucket = "HANDOFF_ADMIN";

struct AdminReplicaOptions {
  std::vector<std::string> urls;
  std::string node_id;
  // Copies of the bucket. Default: 3.
  int replicas = 3;
  // Applies one value (stored at the bucket's `revision`) on this node and returns once it holds
  // (durably); an error is logged and the value skipped on this node. Runs on the replica's
  // thread, in revision order.
  std::function<Status(std::string_view key, std::string_view value, uint64_t revision)> apply;
};

class AdminReplica final : public AdminSink {
 public:
  // Starts the replica's thread (which waits for NATS when it is not there). An error only for
  // bad options.
  static Result<std::unique_ptr<AdminReplica>> Open(AdminReplicaOptions options);
  // Stops the thread; Puts not yet stored get Unavailable.
  ~AdminReplica() override;
  AdminReplica(const AdminReplica&) = delete;
  AdminReplica& operator=(const AdminReplica&) = delete;

  void Put(std::string key, std::string value, std::function<void(const Status&)> done) override;

  // The newest revision applied on this node (0: none yet). Any thread.
  uint64_t applied_revision() const;

 private:
  struct Pending {
    std::string key;
    std::string value;
    std::function<void(const Status&)> done;
  };
  struct Waiter {
    uint64_t revision = 0;
    std::function<void(const Status&)> done;
  };

  explicit AdminReplica(AdminReplicaOptions options);
  void Loop();
  // Opens the bucket (making it when no node has) and sets the watch up; the error while it
  // cannot.
  [[nodiscard]] Status Watch();
  // Stores what Put() queued; each becomes a Waiter for its revision.
  void StorePending();
  // Applies what the watch delivers within `wait_ms`; false when the watch failed.
  bool ApplyNext(int64_t wait_ms);
  void CompleteWaiters();
  void DropWatch();

  AdminReplicaOptions options_;
  std::unique_ptr<NatsLink> link_;
  kvStore* kv_ = nullptr;         // replica thread only
  kvWatcher* watcher_ = nullptr;  // replica thread only
  std::vector<Waiter> waiters_;   // replica thread only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> pending_;  // under mu_
  uint64_t applied_ = 0;         // under mu_
  bool stopping_ = false;        // under mu_
  std::thread thread_;
};

}  // namespace handoff
