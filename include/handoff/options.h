// Options: every setting of the daemon, with its default (SPEC 1).
//
// The one table in daemon/config.cc declares each setting once (config-file key, flag, bounds,
// help) and fills this struct; the config file, the flags and `handoffd --help` all come from it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace handoff {

struct Options {
  // host:port of the tracker NDJSON listener. Default: 127.0.0.1:7400.
  std::string ingest_listen = "127.0.0.1:7400";
  // host:port of the outbox subscriber listener. Default: 127.0.0.1:7401.
  std::string subscribe_listen = "127.0.0.1:7401";
  // host:port of the HTTP API (admin + Segment ingest). Default: 127.0.0.1:7402.
  std::string http_listen = "127.0.0.1:7402";
  // Where RocksDB keeps the state. Default: ./data.
  std::string data_dir = "./data";
  // A rule file or a directory of *.yaml. Default: rules/examples/default.yaml.
  std::string rules = "rules/examples/default.yaml";
  // "process" (WAL before ack; survives kill -9) or "fsync" (also fsynced). Default: process.
  std::string durability = "process";
  // Bearer token every /v1/ admin call must carry; empty: none. Default: none.
  std::string admin_token;
  // Segment write keys accepted by HTTP ingest; empty: open (loopback only). Default: none.
  std::vector<std::string> write_keys;
  // Seconds between wall-clock re-checks of stage exits; 0 turns it off. Default: 60.
  double stage_check_interval = 60;
  // Seconds a messageId is remembered by receive time. Default: 24 h.
  double dedupe_window = 86400;
  // Seconds outbox records are kept. Default: 7 d.
  double outbox_retention = 7 * 86400;
  // Seconds each lead's applied events are kept in its history; 0: forever. Default: 90 d.
  double history_retention = 90 * 86400;
  // Keep each lead's history (identity merges replay it; off: merges are not exact). Default: on.
  bool history = true;
  // Reload the rules when their files change. Default: true.
  bool watch = true;
  // Longest NDJSON line accepted, without its newline. Default: 64 KiB.
  size_t max_line_bytes = 64 * 1024;
  // Seconds of silence after which a subscriber is sent {"heartbeat":HEAD}. Default: 10.
  double heartbeat_interval = 10;
  // Seconds an HTTP request (headers and body) may take to arrive; slower clients are closed.
  // Default: 10.
  double http_read_timeout = 10;
  // Seconds an idle keep-alive HTTP connection is kept. Default: 60.
  double http_idle_timeout = 60;
  // Bytes of HTTP request bodies under way at once, across connections (each request holds its
  // Content-Length from its headers until answered); a request that does not fit gets 503.
  // Default: 128 MiB.
  size_t http_max_inflight_body_bytes = 128 << 20;
  // Open connections per listener (ingest, subscribe, http, each on its own); one more is refused
  // at once: a too_many_connections line on the TCP ports, 503 on HTTP. Default: 1024.
  size_t max_connections = 1024;
  // Input bytes one ingest connection may have in flight before the server stops reading it.
  // Default: 8 MiB.
  size_t max_inflight_bytes = 8 << 20;
  // Input bytes every ingest connection together may have in flight before reading pauses for
  // all of them. Default: 16 MiB.
  size_t max_total_inflight_bytes = 16 << 20;
  // Leads held in memory besides the staged and owned ones (always held); the rest are read
  // from the store when needed. About 1 KB each. Bounds: 1,000 to 1,000,000,000.
  size_t lead_cache = 250'000;
  // Bytes of lead journal blocks (the changed leads of each commit, written as one block) after
  // which they are frozen and checkpointed into the leads' table, each lead once
  // (storage/rocks_store.h). The leads written since hold that much memory, about as much again
  // while a frozen generation is copied, and a start reads back what was not yet copied. More:
  // fewer checkpoint writes (a lead changed in many commits is copied once a generation); less:
  // less memory. 0: no journal, every commit writes its leads in place. Bounds: 0 to 64 GiB.
  // Default: 256 MiB.
  size_t lead_journal_bytes = size_t{256} << 20;
  // Back the heap and the large tables (the lead cache's, the dedupe index's) with transparent
  // huge pages where the kernel gives them to memory that asks (its setting "madvise" or
  // "always"): 2 MiB a page fault instead of 4 KiB. A trade: more events a second (~8 % in
  // bench/README.md's send), but a fault that clears 2 MiB at once stalls the event that takes it
  // (5-10 ms in the benchmark's VM, where fresh memory is slow to come), which shows in the
  // event-to-routed tail. Default: off.
  bool huge_pages = false;
  // Fault the heap's new memory in when the allocator takes it from the system (one
  // MADV_POPULATE_WRITE call a block), not a page at a time on first write. In the benchmark's VM
  // a page faulted alone cost ~9 us and one of a populated range ~4.4 us; a fresh daemon takes
  // ~150k of them per million events. On: ~10 % more events a second and a shorter
  // event-to-routed tail (bench/README.md), for memory the heap reserved being resident sooner
  // (~15 MB after that send). Needs Linux 5.14; older kernels ignore it. Default: on.
  bool populate_heap = true;
  // Leads a backtest (POST /v1/rules/backtest) replays in memory at once, about 1 KB each; a
  // store with more is replayed in passes over parts of its leads. Bounds: 1,000 to
  // 1,000,000,000. Default: 1,000,000.
  size_t backtest_max_leads = 1'000'000;
  // Cluster mode (docs/cluster.md): NATS server URLs ("nats://HOST:PORT", comma-separated on the
  // command line). Empty (the default): the single daemon, nothing leaves this machine.
  std::vector<std::string> cluster_urls;
  // This node's name in the cluster; unique per node. Default: the host name.
  std::string cluster_node_id;
  // Partitions of the cluster's event stream, fixed when the stream is first created (a node
  // that finds the stream already made uses its count). Bounds: 1 to 1,024. Default: 16.
  size_t cluster_partitions = 16;
  // A node's partition lease not renewed for this long is taken over by the others (seconds;
  // renewed every third of it). Bounds: 1 to 600. Default: 10.
  double cluster_lease = 10;
  // Merges across partitions hand the older lead over through the log (docs/cluster.md, "Merges
  // across partitions"), so they are exact whichever nodes hold the two partitions. Off: such a
  // merge is applied where the link is, with what that node has (exact only when one node holds
  // both partitions; no hold and no round trip). Default: on.
  bool cluster_hand_overs = true;
  // One router for the whole cluster (docs/cluster.md, "The router and the outbox"): every node
  // applies the routing log to a router of its own, so every node routes alike and serves the
  // same outbox records under the same seq. Off: each node routes the leads of its partitions
  // and numbers its own outbox. The same on every node. Default: on.
  bool cluster_global_router = true;
  // Testing only: while this path exists, every write of the store fails as on a full disk, so
  // tests drive the daemon's storage-fault handling from outside. Default: none (off).
  std::string fault_file;
};

}  // namespace handoff
