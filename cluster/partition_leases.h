// PartitionLeases: which partitions of the event log this node applies (docs/cluster.md).
//
// Leases live in the replicated key-value bucket HANDOFF_LEASES (JetStream, with as many copies
// as the stream holds: three by default), whose entries expire `lease_seconds` after their last
// write (the bucket's TTL):
// - `n.<node>`: the node is alive; rewritten every round, its value the node's HTTP address (for
//   reads forwarded to the holder). The live nodes are the bucket's `n.` keys.
// - `p.<partition>`: the partition's owner. Taken with a create (it only succeeds when the key
//   is absent: never taken, handed back, or expired because its owner stopped renewing), kept
//   with an update on the last revision (it fails once someone else has taken it).
// Every third of `lease_seconds` a round renews what the node holds, then balances: with N live
// nodes a node holds at most ceil(partitions / N); it hands back what is over (a node joined) and
// takes free partitions while under it (a node died or left). A node whose renewal has not gone
// through for two thirds of the lease stops applying the partition before anyone can take it.
//
// The listener hears every change on the lease thread (`cluster-lease`): Acquired before the
// node may apply a partition, Released before it is handed back. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/lasting_problem.h"
#include "cluster/log_progress.h"
#include "cluster/nats_link.h"
#include "handoff/status.h"

namespace handoff {

inline constexpr std::string_view kLeaseBucket = "HANDOFF_LEASES";

struct PartitionLeaseOptions {
  std::vector<std::string> urls;
  std::string node_id;
  // The event log's partition count (the stream's, cluster/event_log.h).
  uint32_t partitions = 16;
  // Copies of the bucket. Default: 3.
  int replicas = 3;
  // A lease not renewed for this long is free for another node. Default: 10 s.
  double lease_seconds = 10;
  // Where the leases say they have settled and how many they hold (may be null).
  std::shared_ptr<LogProgress> progress;
  // This node's HTTP API as the others reach it ("host:port"); empty until SetHttpAddress (reads
  // are not forwarded to this node meanwhile).
  std::string http_address;
};

class PartitionLeases {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    virtual void Acquired(uint32_t partition) = 0;
    virtual void Released(uint32_t partition) = 0;
  };

  // Starts the lease thread (which waits for NATS when it is not there). An error only for bad
  // options. `listener` is borrowed and must outlive this object.
  static Result<std::unique_ptr<PartitionLeases>> Open(const PartitionLeaseOptions& options,
                                                       Listener* listener);
  // Hands every lease back (the others take them at their next round) unless Abandon was called.
  ~PartitionLeases();
  PartitionLeases(const PartitionLeases&) = delete;
  PartitionLeases& operator=(const PartitionLeases&) = delete;

  // The partitions held now, ascending.
  std::vector<uint32_t> held() const;
  // Publishes `address` as this node's HTTP API from the next round on (the port is known once
  // the server listens, after the leases start).
  void SetHttpAddress(std::string address);
  // The stream's partition count as the leases know it (the option's until the first round).
  uint32_t partitions() const;
  // The HTTP address of the node holding `partition` as of the last round, when that is another
  // node that published one; empty otherwise (held here, free, or not known yet).
  std::string HolderAddress(uint32_t partition) const;
  // True while this node holds `partition`.
  bool Holds(uint32_t partition) const;
  // The distinct HTTP addresses of the other nodes holding partitions, as of the last round.
  std::vector<std::string> HolderAddresses() const;
  // Stops renewing without handing anything back, as a crash would (for tests).
  void Abandon();

 private:
  struct Held {
    uint32_t partition = 0;
    uint64_t revision = 0;
    std::chrono::steady_clock::time_point renewed;
  };

  PartitionLeases(PartitionLeaseOptions options, Listener* listener);
  void Loop();
  // Opens the bucket, or makes it (with the copies the stream holds); the error while it cannot.
  [[nodiscard]] Status OpenBucket();
  void Round();
  void Renew(std::chrono::steady_clock::time_point now);
  // False when the bucket's keys could not be listed (nothing changed).
  bool Balance(std::chrono::steady_clock::time_point now);
  // Takes `partition` back when its lease names this node (held before a restart).
  void Reclaim(uint32_t partition, std::chrono::steady_clock::time_point now);
  // Reads every partition's holder and the holders' HTTP addresses into holder_addresses_.
  void RefreshHolders();
  // held_[index]: tells the listener, then deletes the key. False when the delete got no answer
  // (NATS unreachable); the lease then expires instead.
  bool Release(size_t index);
  void Lose(size_t index);  // held_[index] is no longer ours: tell the listener
  std::string PartitionKey(uint32_t partition) const;

  PartitionLeaseOptions options_;
  Listener* listener_;
  std::string node_key_;
  std::unique_ptr<NatsLink> link_;
  kvStore* kv_ = nullptr;   // lease thread only
  bool reclaimed_ = false;  // lease thread only: the first round looked for its own leases
  // A round that cannot write this node's key or list the leases (lease thread only).
  LastingProblem round_problem_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Held> held_;                     // written by the lease thread under mu_
  std::vector<std::string> holder_addresses_;  // per partition; written under mu_
  uint32_t partitions_known_;                  // under mu_
  std::string http_address_;                   // under mu_
  bool stopping_ = false;
  bool abandoned_ = false;
  std::thread thread_;
};

}  // namespace handoff
