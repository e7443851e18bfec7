#include "cluster/partition_leases.h"

#include <pthread.h>

#include <algorithm>
#include <functional>
#include <map>

#include "base/lasting_problem.h"
#include "base/log.h"
#include "cluster/event_log.h"

namespace handoff {
namespace {

constexpr std::string_view kNodePrefix = "n.";
constexpr std::string_view kPartitionPrefix = "p.";
constexpr int64_t kNanosPerSecond = 1'000'000'000;
constexpr auto kRetryWait = std::chrono::milliseconds(200);

// A key may hold letters, digits and -_=/. only: anything else in a node id becomes '_'.
std::string KeySafe(std::string_view id) {
  std::string out(id);
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '=';
    if (!ok) {
      c = '_';
    }
  }
  return out;
}

// A server's answer (a revision that moved on, a key taken) rather than no answer at all.
bool Refused(natsStatus s) {
  return s != NATS_OK && s != NATS_TIMEOUT && s != NATS_NO_RESPONDERS &&
         s != NATS_CONNECTION_CLOSED && s != NATS_CONNECTION_DISCONNECTED &&
         s != NATS_NOT_YET_CONNECTED;
}

}  // namespace

Result<std::unique_ptr<PartitionLeases>> PartitionLeases::Open(const PartitionLeaseOptions& options,
                                                               Listener* listener) {
  if (options.partitions == 0 || options.lease_seconds <= 0 || options.node_id.empty()) {
    return Status::InvalidArgument("partition leases need partitions, a lease and a node id");
  }
  std::unique_ptr<PartitionLeases> leases(new PartitionLeases(options, listener));
  NatsLinkOptions link_options;
  link_options.urls = options.urls;
  link_options.name = options.node_id + "/lease";
  link_options.api_wait_ms =
      std::max<int64_t>(200, static_cast<int64_t>(options.lease_seconds * 250));
  auto link = NatsLink::Open(link_options);
  if (!link.ok()) {
    return link.status();
  }
  leases->link_ = std::move(link.value());
  leases->thread_ = std::thread([l = leases.get()] { l->Loop(); });
  return leases;
}

PartitionLeases::PartitionLeases(PartitionLeaseOptions options, Listener* listener)
    : options_(std::move(options)),
      listener_(listener),
      node_key_(std::string(kNodePrefix) + KeySafe(options_.node_id)),
      round_problem_("partition leases: a round",
                     "no free partition is taken, and a lease not renewed for two thirds of its "
                     "time is given up"),
      partitions_known_(options_.partitions),
      http_address_(options_.http_address) {}

PartitionLeases::~PartitionLeases() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (link_ != nullptr) {
    // A failover's reconnect takes ~250 ms: worth waiting for, so the leases are handed back
    // (the others take them at their next round) rather than left to expire.
    link_->CloseIfDisconnected(std::chrono::milliseconds(500));
  }
  if (thread_.joinable()) {
    thread_.join();
  }
  if (kv_ != nullptr) {
    kvStore_Destroy(kv_);
  }
  link_.reset();
}

std::vector<uint32_t> PartitionLeases::held() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<uint32_t> out;
  for (const Held& h : held_) {
    out.push_back(h.partition);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void PartitionLeases::Abandon() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    abandoned_ = true;
  }
  cv_.notify_all();
}

std::string PartitionLeases::PartitionKey(uint32_t partition) const {
  return std::string(kPartitionPrefix) + std::to_string(partition);
}

void PartitionLeases::Loop() {
  pthread_setname_np(pthread_self(), "cluster-lease");
  const auto round_every = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(options_.lease_seconds / 3));
  LastingProblem bucket_problem(
      "partition leases: opening bucket " + std::string(kLeaseBucket),
      "this node applies no partition and acknowledges no event until it opens");
  for (;;) {
    bool opened = kv_ != nullptr;
    if (!opened) {
      const Status st = OpenBucket();
      opened = st.ok();
      if (opened) {
        bucket_problem.Cleared(std::chrono::steady_clock::now());
      } else {
        bucket_problem.Failed(st.ToString(), std::chrono::steady_clock::now());
      }
    }
    if (opened) {
      Round();
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, opened ? round_every : kRetryWait,
                 [this] { return stopping_ || abandoned_; });
    if (abandoned_) {
      return;  // as a crash: nothing handed back, the leases expire
    }
    if (stopping_) {
      break;
    }
  }
  // A clean stop: hand everything back so the others take it at their next round. Once a hand-back
  // gets no answer (NATS is down), the rest are let go to expire: each would wait its deadline,
  // and sixteen of them held the stop for 40 s.
  bool answered = true;
  while (!held_.empty()) {
    if (answered) {
      answered = Release(held_.size() - 1);
    } else {
      Lose(held_.size() - 1);
    }
  }
  if (options_.progress != nullptr) {
    options_.progress->rounds.fetch_add(1);
  }
  if (kv_ != nullptr) {
    (void)kvStore_Delete(kv_, node_key_.c_str());
  }
}

Status PartitionLeases::OpenBucket() {
  // Leases are of the stream's partitions, whatever this node's setting says.
  EventLogLayout layout;
  layout.partitions = options_.partitions;
  layout.replicas = options_.replicas;
  if (Status st = EnsureEventStream(link_->js(), &layout); !st.ok()) {
    return st;
  }
  options_.partitions = layout.partitions;
  const std::string bucket(kLeaseBucket);
  if (js_KeyValue(&kv_, link_->js(), bucket.c_str()) == NATS_OK) {
    return Status::Ok();
  }
  kv_ = nullptr;
  kvConfig config;
  kvConfig_Init(&config);
  config.Bucket = bucket.c_str();
  config.Description = "handoff partition leases";
  config.History = 1;
  config.TTL = static_cast<int64_t>(options_.lease_seconds * kNanosPerSecond);
  config.StorageType = js_FileStorage;
  config.Replicas = layout.replicas;  // the copies the stream holds (StreamCopies)
  const natsStatus created = js_CreateKeyValue(&kv_, link_->js(), &config);
  if (created == NATS_OK) {
    return Status::Ok();
  }
  kv_ = nullptr;
  Status st = NatsStatus(created, "making it with " + std::to_string(layout.replicas) + " copies");
  // Made by another node meanwhile, or JetStream not ready yet: the next round tries again.
  if (js_KeyValue(&kv_, link_->js(), bucket.c_str()) == NATS_OK) {
    return Status::Ok();
  }
  kv_ = nullptr;
  return st;
}

void PartitionLeases::Round() {
  const auto now = std::chrono::steady_clock::now();
  // Alive first, so a node that just started counts in everyone's fair share.
  uint64_t revision = 0;
  std::string alive;
  {
    std::lock_guard<std::mutex> lock(mu_);
    alive = http_address_.empty() ? options_.node_id : http_address_;
  }
  if (natsStatus s = kvStore_PutString(&revision, kv_, node_key_.c_str(), alive.c_str());
      s != NATS_OK) {
    round_problem_.Failed(NatsStatus(s, "writing key " + node_key_).ToString(), now);
    Renew(now);  // renewals still count down, and lose what they cannot keep
    if (options_.progress != nullptr) {
      options_.progress->owned = static_cast<uint32_t>(held_.size());
      options_.progress->rounds.fetch_add(1);
    }
    return;
  }
  Renew(now);
  const bool balanced = Balance(now);
  if (balanced) {
    round_problem_.Cleared(now);
  }
  RefreshHolders();
  if (options_.progress != nullptr) {
    options_.progress->owned = static_cast<uint32_t>(held_.size());
    options_.progress->settled = options_.progress->settled || balanced;
    options_.progress->rounds.fetch_add(1);
  }
}

void PartitionLeases::Renew(std::chrono::steady_clock::time_point now) {
  const auto give_up_after = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(options_.lease_seconds * 2 / 3));
  // Once a renewal gets no answer and the link has no server, the others are not tried this
  // round: each would wait its deadline (16 partitions: 40 s a round), and the round would be
  // late to give up what it can no longer keep. A timeout with the link up (a JetStream leader
  // election) does not stop the round: one stray timeout must not leave every lease unrenewed.
  bool reachable = true;
  for (size_t i = 0; i < held_.size();) {
    Held& h = held_[i];
    natsStatus s = NATS_NOT_YET_CONNECTED;
    const bool tried = reachable;
    if (tried) {
      uint64_t revision = 0;
      const std::string key = PartitionKey(h.partition);
      s = kvStore_UpdateString(&revision, kv_, key.c_str(), options_.node_id.c_str(), h.revision);
      if (s == NATS_OK) {
        h.revision = revision;
        h.renewed = now;
        ++i;
        continue;
      }
      reachable = Refused(s) || link_->connected();
    }
    // The give-up is judged now, not at the round's start: the renewals before took time.
    if (Refused(s) || std::chrono::steady_clock::now() - h.renewed >= give_up_after) {
      // Taken by another node after it expired, or not renewed for so long that it may be: stop
      // applying it before anyone else can start.
      LogWarning("cluster: lease of partition " + std::to_string(h.partition) + " lost (" +
                 (tried ? natsStatus_GetText(s) : "no NATS server to renew it with") + ")");
      Lose(i);
    } else {
      ++i;  // no answer: try again next round
    }
  }
}

bool PartitionLeases::Balance(std::chrono::steady_clock::time_point now) {
  kvKeysList keys{};
  kvWatchOptions watch;
  kvWatchOptions_Init(&watch);
  watch.Timeout = std::max<int64_t>(200, static_cast<int64_t>(options_.lease_seconds * 250));
  if (natsStatus s = kvStore_Keys(&keys, kv_, &watch); s != NATS_OK) {
    round_problem_.Failed(NatsStatus(s, "listing the leases").ToString(), now);
    return false;
  }
  std::vector<std::string_view> nodes;  // the live nodes' keys (this one's included)
  std::vector<bool> taken(options_.partitions, false);
  for (int i = 0; i < keys.Count; ++i) {
    std::string_view key = keys.Keys[i];
    if (key.substr(0, kNodePrefix.size()) == kNodePrefix) {
      nodes.push_back(key);
    } else if (key.substr(0, kPartitionPrefix.size()) == kPartitionPrefix) {
      key.remove_prefix(kPartitionPrefix.size());
      const uint32_t p = static_cast<uint32_t>(std::strtoul(std::string(key).c_str(), nullptr, 10));
      if (p < taken.size()) {
        taken[p] = true;
      }
    }
  }
  // Each node's share: the partitions over the nodes, and the first (partitions % nodes) nodes
  // in key order one more (16 over three: 6, 5, 5). Every node computes the same shares, so
  // they settle with nothing free and nobody under its share.
  if (std::find(nodes.begin(), nodes.end(), node_key_) == nodes.end()) {
    nodes.push_back(node_key_);
  }
  std::sort(nodes.begin(), nodes.end());
  const size_t rank = std::find(nodes.begin(), nodes.end(), node_key_) - nodes.begin();
  const size_t fair =
      options_.partitions / nodes.size() + (rank < options_.partitions % nodes.size() ? 1 : 0);
  kvKeysList_Destroy(&keys);  // after the last use of `nodes`, which points into it
  if (!reclaimed_) {
    // A node restarted after a crash finds its own leases still there: they are its own (node
    // ids are unique), so it takes them back at once rather than waiting for them to expire.
    reclaimed_ = true;
    for (uint32_t p = 0; p < options_.partitions; ++p) {
      if (taken[p]) {
        Reclaim(p, now);
      }
    }
  }
  // Over the fair share (a node joined): hand the last taken back.
  while (held_.size() > fair) {
    (void)Release(held_.size() - 1);  // unanswered, the lease expires instead
  }
  if (held_.size() >= fair) {
    return true;
  }
  // Under it: take free partitions, starting at a place of this node's own so that nodes
  // starting together try different ones first.
  const uint32_t start =
      static_cast<uint32_t>(std::hash<std::string>()(options_.node_id) % options_.partitions);
  for (uint32_t k = 0; k < options_.partitions && held_.size() < fair; ++k) {
    const uint32_t p = (start + k) % options_.partitions;
    if (taken[p]) {
      continue;
    }
    const std::string key = PartitionKey(p);
    uint64_t revision = 0;
    if (kvStore_CreateString(&revision, kv_, key.c_str(), options_.node_id.c_str()) != NATS_OK) {
      continue;  // another node was quicker
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_.push_back(Held{p, revision, now});
    }
    LogInfo("cluster: took the lease of partition " + std::to_string(p));
    listener_->Acquired(p);
  }
  return true;
}

void PartitionLeases::RefreshHolders() {
  // A NATS that stops answering ends the refresh (the old view stays): a round must not spend
  // a timeout per key while its leases wait to be renewed.
  bool answered = true;
  auto value_of = [this, &answered](const std::string& key) -> std::string {
    kvEntry* entry = nullptr;
    if (!answered) {
      return "";
    }
    if (natsStatus s = kvStore_Get(&entry, kv_, key.c_str()); s != NATS_OK) {
      answered = s == NATS_NOT_FOUND;
      return "";
    }
    std::string value;
    if (kvEntry_Operation(entry) == kvOp_Put) {
      value.assign(static_cast<const char*>(kvEntry_Value(entry)),
                   static_cast<size_t>(kvEntry_ValueLen(entry)));
    }
    kvEntry_Destroy(entry);
    return value;
  };
  std::vector<std::string> addresses(options_.partitions);
  std::map<std::string, std::string> address_of;  // node -> its HTTP address
  for (uint32_t p = 0; p < options_.partitions; ++p) {
    const std::string owner = value_of(PartitionKey(p));
    if (owner.empty() || owner == options_.node_id) {
      continue;
    }
    auto it = address_of.find(owner);
    if (it == address_of.end()) {
      std::string address = value_of(std::string(kNodePrefix) + KeySafe(owner));
      // A node that published no address names itself (its id): nothing to forward to.
      it = address_of.emplace(owner, address == owner ? "" : address).first;
    }
    addresses[p] = it->second;
  }
  if (!answered) {
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  holder_addresses_ = std::move(addresses);
  partitions_known_ = options_.partitions;
}

void PartitionLeases::SetHttpAddress(std::string address) {
  std::lock_guard<std::mutex> lock(mu_);
  http_address_ = std::move(address);
}

uint32_t PartitionLeases::partitions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return partitions_known_;
}

std::string PartitionLeases::HolderAddress(uint32_t partition) const {
  std::lock_guard<std::mutex> lock(mu_);
  return partition < holder_addresses_.size() ? holder_addresses_[partition] : "";
}

bool PartitionLeases::Holds(uint32_t partition) const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::any_of(held_.begin(), held_.end(),
                     [partition](const Held& h) { return h.partition == partition; });
}

std::vector<std::string> PartitionLeases::HolderAddresses() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const std::string& address : holder_addresses_) {
    if (!address.empty() && std::find(out.begin(), out.end(), address) == out.end()) {
      out.push_back(address);
    }
  }
  return out;
}

void PartitionLeases::Reclaim(uint32_t partition, std::chrono::steady_clock::time_point now) {
  const std::string key = PartitionKey(partition);
  kvEntry* entry = nullptr;
  if (kvStore_Get(&entry, kv_, key.c_str()) != NATS_OK) {
    return;
  }
  const bool ours =
      kvEntry_Operation(entry) == kvOp_Put &&
      std::string_view(static_cast<const char*>(kvEntry_Value(entry)),
                       static_cast<size_t>(kvEntry_ValueLen(entry))) == options_.node_id;
  const uint64_t last = kvEntry_Revision(entry);
  kvEntry_Destroy(entry);
  uint64_t revision = 0;
  if (!ours || kvStore_UpdateString(&revision, kv_, key.c_str(), options_.node_id.c_str(), last) !=
                   NATS_OK) {
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    held_.push_back(Held{partition, revision, now});
  }
  LogInfo("cluster: took back the lease of partition " + std::to_string(partition) +
          " (held before a restart)");
  listener_->Acquired(partition);
}

bool PartitionLeases::Release(size_t index) {
  const uint32_t p = held_[index].partition;
  Lose(index);
  const std::string key = PartitionKey(p);
  const natsStatus s = kvStore_Delete(kv_, key.c_str());
  if (s != NATS_OK) {
    // The lease expires instead.
    LogWarning("cluster: partition " + std::to_string(p) + " let go, not handed back (" +
               natsStatus_GetText(s) + "): it is free when its lease expires");
    return Refused(s);
  }
  LogInfo("cluster: handed back partition " + std::to_string(p));
  return true;
}

void PartitionLeases::Lose(size_t index) {
  const uint32_t p = held_[index].partition;
  {
    std::lock_guard<std::mutex> lock(mu_);
    held_.erase(held_.begin() + static_cast<std::ptrdiff_t>(index));
  }
  if (options_.progress != nullptr) {
    options_.progress->owned = static_cast<uint32_t>(held_.size());
  }
  listener_->Released(p);
}

}  // namespace handoff
