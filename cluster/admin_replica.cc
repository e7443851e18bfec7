#include "cluster/admin_replica.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "base/lasting_problem.h"
#include "base/log.h"
#include "cluster/event_log.h"

namespace handoff {
namespace {

constexpr auto kRetryWait = std::chrono::milliseconds(200);
// How long one wait on the watch lasts: also the most a Put waits before it is stored.
constexpr int64_t kWatchWaitMs = 20;

}  // namespace

Result<std::unique_ptr<AdminReplica>> AdminReplica::Open(AdminReplicaOptions options) {
  if (options.node_id.empty() || !options.apply) {
    return Status::InvalidArgument("admin replica needs a node id and an apply function");
  }
  std::unique_ptr<AdminReplica> replica(new AdminReplica(std::move(options)));
  NatsLinkOptions link_options;
  link_options.urls = replica->options_.urls;
  link_options.name = replica->options_.node_id + "/admin";
  auto link = NatsLink::Open(link_options);
  if (!link.ok()) {
    return link.status();
  }
  replica->link_ = std::move(link.value());
  replica->thread_ = std::thread([r = replica.get()] { r->Loop(); });
  return replica;
}

AdminReplica::AdminReplica(AdminReplicaOptions options) : options_(std::move(options)) {}

AdminReplica::~AdminReplica() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (link_ != nullptr) {
    link_->CloseIfDisconnected();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
  DropWatch();
  if (kv_ != nullptr) {
    kvStore_Destroy(kv_);
  }
  link_.reset();
}

void AdminReplica::Put(std::string key, std::string value,
                       std::function<void(const Status&)> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      pending_.push_back(Pending{std::move(key), std::move(value), std::move(done)});
      return;
    }
  }
  done(Status::Unavailable("admin state: the node is stopping"));
}

uint64_t AdminReplica::applied_revision() const {
  std::lock_guard<std::mutex> lock(mu_);
  return applied_;
}

void AdminReplica::Loop() {
  pthread_setname_np(pthread_self(), "cluster-admin");
  LastingProblem watch_problem("admin state: opening bucket " + std::string(kAdminBucket),
                               "admin changes fail and other nodes' changes are not applied here");
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        break;
      }
    }
    if (watcher_ == nullptr) {
      const Status st = Watch();
      if (!st.ok()) {
        watch_problem.Failed(st.ToString(), std::chrono::steady_clock::now());
        // No bucket to store into: a change asked for now fails rather than waits unseen.
        std::deque<Pending> failed;
        {
          std::unique_lock<std::mutex> lock(mu_);
          failed.swap(pending_);
          cv_.wait_for(lock, kRetryWait, [this] { return stopping_; });
        }
        for (Pending& p : failed) {
          p.done(Status::Unavailable("admin state: " + st.ToString()));
        }
        continue;
      }
      watch_problem.Cleared(std::chrono::steady_clock::now());
    }
    StorePending();
    if (!ApplyNext(kWatchWaitMs)) {
      DropWatch();  // set up again on the next pass, from every key's current value
    }
    CompleteWaiters();
  }
  std::deque<Pending> failed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    failed.swap(pending_);
  }
  for (Pending& p : failed) {
    p.done(Status::Unavailable("admin state: the node is stopping"));
  }
  for (Waiter& w : waiters_) {
    w.done(Status::Unavailable("admin state: the node stopped before applying the change"));
  }
  waiters_.clear();
}

Status AdminReplica::Watch() {
  if (kv_ == nullptr) {
    const std::string bucket(kAdminBucket);
    if (js_KeyValue(&kv_, link_->js(), bucket.c_str()) != NATS_OK) {
      kv_ = nullptr;
      // No more copies than the event stream keeps (one on a NATS server without a cluster,
      // where more fail; this node's log reader or writer makes the stream, and until it is
      // there a failed attempt is tried again).
      int replicas = options_.replicas;
      if (Status st = EventStreamReplicas(link_->js(), &replicas); !st.ok() && !st.IsNotFound()) {
        return st;
      }
      kvConfig config;
      kvConfig_Init(&config);
      config.Bucket = bucket.c_str();
      config.Description = "handoff admin state";
      config.History = 1;
      config.StorageType = js_FileStorage;
      config.Replicas = std::min(options_.replicas, replicas);
      if (natsStatus s = js_CreateKeyValue(&kv_, link_->js(), &config); s != NATS_OK) {
        kv_ = nullptr;
        Status st = NatsStatus(
            s, "making bucket " + bucket + " with " + std::to_string(config.Replicas) + " copies");
        // Made by another node meanwhile, or JetStream not ready yet.
        if (js_KeyValue(&kv_, link_->js(), bucket.c_str()) != NATS_OK) {
          kv_ = nullptr;
          return st;
        }
      }
    }
  }
  kvWatchOptions watch_options;
  kvWatchOptions_Init(&watch_options);
  watch_options.IgnoreDeletes = true;
  if (natsStatus s = kvStore_WatchAll(&watcher_, kv_, &watch_options); s != NATS_OK) {
    watcher_ = nullptr;
    return NatsStatus(s, "watching the admin state");
  }
  return Status::Ok();
}

void AdminReplica::DropWatch() {
  if (watcher_ != nullptr) {
    kvWatcher_Destroy(watcher_);
    watcher_ = nullptr;
  }
}

void AdminReplica::StorePending() {
  std::deque<Pending> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(pending_);
  }
  for (Pending& p : batch) {
    uint64_t revision = 0;
    natsStatus s = kvStore_Put(&revision, kv_, p.key.c_str(), p.value.data(),
                               static_cast<int>(p.value.size()));
    if (s != NATS_OK) {
      p.done(NatsStatus(s, "storing admin state " + p.key));
      continue;
    }
    waiters_.push_back(Waiter{revision, std::move(p.done)});
  }
}

bool AdminReplica::ApplyNext(int64_t wait_ms) {
  kvEntry* entry = nullptr;
  const natsStatus s = kvWatcher_Next(&entry, watcher_, wait_ms);
  if (s == NATS_TIMEOUT) {
    return true;
  }
  if (s != NATS_OK) {
    if (s != NATS_CONNECTION_CLOSED) {  // closed: the node is stopping
      LogWarning(NatsStatus(s, "watching the admin state").ToString() + "; watching again");
    }
    return false;
  }
  if (entry == nullptr) {
    return true;  // every key's current value has been delivered once; changes follow
  }
  const uint64_t revision = kvEntry_Revision(entry);
  Status applied = Status::Ok();
  if (kvEntry_Operation(entry) == kvOp_Put) {
    const std::string_view key(kvEntry_Key(entry));
    const std::string_view value(static_cast<const char*>(kvEntry_Value(entry)),
                                 static_cast<size_t>(kvEntry_ValueLen(entry)));
    applied = options_.apply(key, value, revision);
    if (!applied.ok()) {
      LogWarning("admin state " + std::string(key) +
                 " not applied on this node: " + applied.ToString());
    }
  }
  kvEntry_Destroy(entry);
  {
    std::lock_guard<std::mutex> lock(mu_);
    applied_ = std::max(applied_, revision);
  }
  // The change a Put here stored: its caller hears how it went on this node.
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->revision == revision) {
      it->done(applied);
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
  return true;
}

void AdminReplica::CompleteWaiters() {
  const uint64_t applied = applied_revision();
  // A value superseded before this node saw it (a later Put of the same key) holds as applied.
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->revision <= applied) {
      it->done(Status::Ok());
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace handoff
