#include "daemon/daemon.h"

// clang-format off
#include <utility>  // before Asio: Boost 1.74 needs it under g++ 12
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
// clang-format on

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "api/admin_changes.h"
#include "api/http_api.h"
#include "base/log.h"
#include "base/metrics.h"
#include "cluster/admin_replica.h"
#include "cluster/event_log.h"
#include "cluster/lead_directory.h"
#include "cluster/log_applier.h"
#include "cluster/log_publisher.h"
#include "cluster/partition_leases.h"
#include "cluster/routing_publisher.h"
#include "core/engine.h"
#include "daemon/config.h"
#include "ingest/ingest_server.h"
#include "net/http_server.h"
#include "storage/rocks_store.h"
#include "subscribe/subscriber_server.h"

namespace handoff {

namespace asio = boost::asio;

namespace {

// Starts `server` listening where the listen setting says and logs the address it got (the port
// may have been 0: any free one).
template <typename Server>
Status ListenOn(Server& server, std::string_view name, const std::string& setting) {
  Result<HostPort> address = ParseListenAddress(setting);
  if (!address.ok()) {
    return address.status();
  }
  if (Status st = server.Listen(address->host, address->port); !st.ok()) {
    return st;
  }
  LogInfo(std::string(name) + " listening on " + FormatHostPort({address->host, server.port()}));
  return Status::Ok();
}

// Raises the soft limit on open descriptors to the hard limit: each connection is one, RocksDB
// keeps its files open, and a refused connection needs one for a moment. Logs the limit, and
// warns when it cannot hold every listener's max_connections plus a reserve for the store.
void RaiseOpenFileLimit(size_t max_connections) {
  constexpr rlim_t kStoreReserve = 1024;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    LogWarning(std::string("cannot read the open-file limit: ") + std::strerror(errno));
    return;
  }
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      limit = raised;
    } else {
      LogWarning(std::string("cannot raise the open-file limit: ") + std::strerror(errno));
    }
  }
  const rlim_t wanted = 3 * static_cast<rlim_t>(max_connections) + kStoreReserve;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    LogWarning("open-file limit " + std::to_string(limit.rlim_cur) + " is below the " +
               std::to_string(wanted) + " that max_connections " + std::to_string(max_connections) +
               " on three listeners and the store may need; raise the hard limit (ulimit -Hn) "
               "or lower max_connections");
  } else {
    LogInfo("open-file limit " + (limit.rlim_cur == RLIM_INFINITY
                                      ? std::string("unlimited")
                                      : std::to_string(limit.rlim_cur)));
  }
}

// Cluster mode: the stream sequence stored under the first of `keys` the store has (0: none).
uint64_t StoredSeqOf(Store* store, std::initializer_list<std::string> keys) {
  for (const std::string& key : keys) {
    std::string value;
    Status st = store->GetMeta(key, &value);
    if (st.IsNotFound()) {
      continue;
    }
    char* end = nullptr;
    const uint64_t seq = std::strtoull(value.c_str(), &end, 10);
    if (!st.ok() || value.empty() || *end != '\0') {
      // Never guess a position: applying from 0 again would count everything twice.
      LogError("meta " + key + " is unreadable (" + st.ToString() + ", \"" + value +
               "\"); stopping");
      std::abort();
    }
    return seq;
  }
  return 0;
}

// The last stream sequence the store made durable for `partition`; the first release's single
// position stands for every partition until that partition has its own.
uint64_t AppliedSeqOf(Store* store, uint32_t partition) {
  return StoredSeqOf(store, {AppliedSeqKey(partition), std::string(kAppliedSeqKey)});
}

// Cluster mode: the partitions this node holds a lease for are the ones its applier applies.
class LeasesToApplier : public PartitionLeases::Listener {
 public:
  LeasesToApplier(LogApplier* applier, Metrics* metrics, LogProgress* progress)
      : applier_(applier), metrics_(metrics), progress_(progress) {}
  void Acquired(uint32_t partition) override {
    applier_->Own(partition);
    progress_->Hold(partition, true);
    metrics_->AddClusterPartitions(1);
    if (partition == 0) {
      progress_->router_clock = true;
    }
  }
  void Released(uint32_t partition) override {
    applier_->Disown(partition);
    progress_->Hold(partition, false);
    metrics_->AddClusterPartitions(-1);
    if (partition == 0) {
      progress_->router_clock = false;
    }
  }

 private:
  LogApplier* applier_;
  Metrics* metrics_;
  LogProgress* progress_;
};

}  // namespace

struct Daemon::Impl {
  Options options;
  const Clock* clock;
  asio::io_context io{1};
  Metrics metrics;
  std::unique_ptr<Store> store;
  std::unique_ptr<Engine> engine;
  // Cluster mode only: events go to the log, and come back from it into the engine.
  std::unique_ptr<LogPublisher> publisher;
  std::unique_ptr<RoutingPublisher> routing;  // the replicated router's inputs (after the engine)
  std::unique_ptr<LogApplier> applier;
  std::unique_ptr<LeasesToApplier> lease_listener;
  std::unique_ptr<PartitionLeases> leases;
  std::unique_ptr<AdminReplica> admin;       // admin state every node holds alike
  std::unique_ptr<LeadDirectory> directory;  // which node answers reads of a lead
  std::shared_ptr<LogProgress> log_progress = std::make_shared<LogProgress>();
  std::unique_ptr<IngestServer> ingest;
  std::unique_ptr<SubscriberServer> subscribe;
  std::unique_ptr<HttpApi> api;
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<asio::signal_set> signals;
  bool stopped = false;

  void WaitForSignal() {
    signals->async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) {
        return;
      }
      if (signo == SIGHUP) {
        LogInfo("SIGHUP: reloading rules");
        engine->RequestReload(nullptr);
        WaitForSignal();
        return;
      }
      LogInfo(signo == SIGTERM ? "SIGTERM: stopping" : "SIGINT: stopping");
      Shutdown();
    });
  }

  // On the io thread.
  void Shutdown() {
    if (stopped) {
      return;
    }
    stopped = true;
    if (ingest) {
      ingest->Stop();
    }
    if (subscribe) {
      subscribe->Stop();
    }
    if (http) {
      http->Stop();
    }
    if (signals) {
      boost::system::error_code ignored;
      signals->cancel(ignored);
    }
    io.stop();
  }
};

Daemon::Daemon(Options options, const Clock* clock) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->clock = clock != nullptr ? clock : &SystemClock::Instance();
}

Daemon::~Daemon() {
  Stop();
  // The leases first (handed back at once, so the other nodes take them over at their next
  // round), then the applier: nothing more reaches the engine from the log while it stops.
  impl_->directory.reset();  // reads it were forwarding are over: the io thread has stopped
  impl_->leases.reset();
  impl_->admin.reset();  // its apply waits on the engine: gone before the engine stops
  impl_->applier.reset();
  impl_->publisher.reset();
  if (impl_->engine) {
    impl_->engine->Stop();  // commits what it has
  }
  impl_->routing.reset();  // after the engine: its commits log routing inputs here
  impl_->http.reset();
  impl_->api.reset();  // after engine->Stop(): the engine's outbox listener points here too
  impl_->ingest.reset();
  impl_->subscribe.reset();  // after engine->Stop(): the engine's outbox listener points here
  impl_->engine.reset();
  const bool started = impl_->store != nullptr;
  impl_->store.reset();  // closes RocksDB
  if (started) {
    LogInfo("stopped");  // the last line: every thread joined, the store closed
  }
}

Status Daemon::Start() {
  Impl& d = *impl_;
  if (!d.options.cluster_urls.empty() && d.options.cluster_node_id.empty()) {
    char host[256] = {};
    (void)gethostname(host, sizeof host - 1);
    d.options.cluster_node_id = host;
  }
  const Options& o = d.options;
  // Signals are claimed before anything else happens: a SIGTERM during start-up (a long recovery,
  // or just after the listeners are logged) waits in the set until the loop runs and then stops
  // the daemon cleanly, instead of killing it by the default action.
  d.signals = std::make_unique<asio::signal_set>(d.io, SIGTERM, SIGINT, SIGHUP);
  RaiseOpenFileLimit(o.max_connections);
  StoreOptions store_options;
  store_options.path = o.data_dir;
  store_options.durability = o.durability == "fsync" ? Durability::kFsync : Durability::kProcess;
  store_options.dedupe_window = o.dedupe_window;
  store_options.outbox_retention = o.outbox_retention;
  store_options.fault_file = o.fault_file;
  store_options.lead_journal_bytes = o.lead_journal_bytes;
  store_options.clock = d.clock;
  auto store = RocksStore::Open(store_options);
  if (!store.ok()) {
    return Status::IoError("cannot open the store in " + o.data_dir + ": " +
                           store.status().ToString());
  }
  if (store.value()->checksums_in_hardware()) {
    LogInfo("store checksums: CRC32C by the CPU's crc32 instruction");
  } else {
    LogWarning(
        "store checksums: RocksDB's own CRC32C, without the CPU's crc32 instruction (slower)");
  }
  d.store = std::move(store.value());

  EngineOptions engine_options;
  engine_options.rules_path = o.rules;
  engine_options.watch_rules = o.watch;
  engine_options.stage_check_interval = o.stage_check_interval;
  engine_options.history = o.history;
  engine_options.dedupe_window = o.dedupe_window;
  engine_options.lead_cache = o.lead_cache;
  engine_options.history_retention = o.history_retention;
  if (!o.cluster_urls.empty()) {
    // Leads counted by the partitions the leases hand out, so a node counts what it holds.
    engine_options.lead_partitions = static_cast<uint32_t>(o.cluster_partitions);
    engine_options.lead_partition = [](std::string_view id, uint32_t n) {
      return PartitionOf(id, n);
    };
    if (o.cluster_global_router) {
      RoutingPublisherOptions routing_options;
      routing_options.urls = o.cluster_urls;
      routing_options.node_id = o.cluster_node_id;
      routing_options.clock = d.clock;
      routing_options.ticks = [progress = d.log_progress] { return progress->router_clock.load(); };
      routing_options.partition_clock_interval = o.stage_check_interval;
      routing_options.held_partitions = [progress = d.log_progress] { return progress->held(); };
      auto routing = RoutingPublisher::Open(std::move(routing_options));
      if (!routing.ok()) {
        return routing.status();
      }
      d.routing = std::move(routing.value());
      engine_options.routing_log = d.routing.get();
      engine_options.stage_checks_from_log = true;
      engine_options.log_reevaluation = [routing = d.routing.get()] { routing->LogReevaluation(); };
      engine_options.node_id = o.cluster_node_id;
    }
  }
  d.engine = std::make_unique<Engine>(engine_options, d.store.get(), d.clock, &d.metrics);
  // The subscriber server exists before the engine starts, so no commit's head notice is missed.
  SubscriberServerOptions subscribe_options;
  subscribe_options.heartbeat_interval =
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(o.heartbeat_interval));
  subscribe_options.max_connections = o.max_connections;
  d.subscribe = std::make_unique<SubscriberServer>(d.io, subscribe_options, d.engine.get(),
                                                   &d.engine->outbox(), &d.metrics);
  // The HTTP API exists before the engine starts too: GET /v1/stream hears of new heads.
  HttpApiOptions api_options;
  api_options.admin_token = o.admin_token;
  api_options.write_keys = o.write_keys;
  api_options.backtest_max_leads = o.backtest_max_leads;
  api_options.heartbeat =
      std::chrono::milliseconds(static_cast<int64_t>(o.heartbeat_interval * 1000));
  const bool cluster = !o.cluster_urls.empty();
  if (cluster) {
    LogPublisherOptions publisher_options;
    publisher_options.urls = o.cluster_urls;
    publisher_options.node_id = o.cluster_node_id;
    publisher_options.layout.partitions = static_cast<uint32_t>(o.cluster_partitions);
    publisher_options.identities = d.engine.get();
    publisher_options.progress = d.log_progress;
    auto publisher = LogPublisher::Open(publisher_options);
    if (!publisher.ok()) {
      return publisher.status();
    }
    d.publisher = std::move(publisher.value());
    api_options.ingest_sink = d.publisher.get();
  }
  d.api = std::make_unique<HttpApi>(api_options, d.engine.get(), &d.metrics, d.clock);
  d.engine->outbox().SetListener([subscribe = d.subscribe.get(), api = d.api.get()](uint64_t head) {
    subscribe->NotifyOutboxHead(head);
    api->NotifyOutboxHead(head);
  });
  if (Status st = d.engine->Start(); !st.ok()) {
    return st;
  }
  RulesInfo info = d.engine->rules_info();
  LogInfo("rules version " + std::to_string(info.version) + " from " + info.path);
  if (cluster) {
    // The engine applies the partitions this node holds a lease for, each from just after what
    // its store last made durable.
    LogApplierOptions applier_options;
    applier_options.progress = d.log_progress;
    applier_options.urls = o.cluster_urls;
    applier_options.node_id = o.cluster_node_id;
    applier_options.layout.partitions = static_cast<uint32_t>(o.cluster_partitions);
    applier_options.applied_seq = [store = d.store.get()](uint32_t partition) {
      return AppliedSeqOf(store, partition);
    };
    applier_options.stream_partitions = [engine = d.engine.get()](uint32_t partitions) {
      engine->SetLeadPartitions(partitions);
    };
    if (o.cluster_hand_overs) {
      applier_options.identities = d.engine.get();
      applier_options.exchange = d.engine.get();
    }
    if (o.cluster_global_router) {
      applier_options.routing = d.engine.get();
      applier_options.routing_applied_seq =
          StoredSeqOf(d.store.get(), {std::string(kRoutingAppliedSeqKey)});
    }
    auto applier = LogApplier::Open(applier_options, d.engine.get());
    if (!applier.ok()) {
      return applier.status();
    }
    d.applier = std::move(applier.value());
    d.lease_listener =
        std::make_unique<LeasesToApplier>(d.applier.get(), &d.metrics, d.log_progress.get());
    PartitionLeaseOptions lease_options;
    lease_options.urls = o.cluster_urls;
    lease_options.node_id = o.cluster_node_id;
    lease_options.partitions = static_cast<uint32_t>(o.cluster_partitions);
    lease_options.lease_seconds = o.cluster_lease;
    lease_options.progress = d.log_progress;
    auto leases = PartitionLeases::Open(lease_options, d.lease_listener.get());
    if (!leases.ok()) {
      return leases.status();
    }
    d.leases = std::move(leases.value());
    AdminReplicaOptions admin_options;
    admin_options.urls = o.cluster_urls;
    admin_options.node_id = o.cluster_node_id;
    admin_options.apply = [engine = d.engine.get()](std::string_view key, std::string_view value,
                                                    uint64_t revision) {
      return ApplyAdminChange(engine, key, value, revision);
    };
    auto admin = AdminReplica::Open(std::move(admin_options));
    if (!admin.ok()) {
      return admin.status();
    }
    d.admin = std::move(admin.value());
    d.api->set_admin_sink(d.admin.get());
    d.directory = std::make_unique<LeadDirectory>(d.leases.get(), d.engine.get());
    d.api->EnableForwarding(d.io, d.directory.get());
    LogInfo("cluster node " + o.cluster_node_id + ": " + std::to_string(o.cluster_urls.size()) +
            " NATS URLs, partition leases of " + std::to_string(o.cluster_lease) + " s");
  }

  IngestServerOptions ingest_options;
  ingest_options.max_line_bytes = o.max_line_bytes;
  ingest_options.max_inflight_bytes = o.max_inflight_bytes;
  ingest_options.max_connections = o.max_connections;
  ingest_options.max_total_inflight_bytes = o.max_total_inflight_bytes;
  if (o.durability == "fsync") {
    ingest_options.early_submit_events = 0;
  }
  IngestSink* ingest_sink =
      d.publisher ? static_cast<IngestSink*>(d.publisher.get()) : d.engine.get();
  d.ingest = std::make_unique<IngestServer>(d.io, ingest_options, ingest_sink, &d.metrics, d.clock);
  if (Status st = ListenOn(*d.ingest, "ingest", o.ingest_listen); !st.ok()) {
    return st;
  }
  if (Status st = ListenOn(*d.subscribe, "subscribe", o.subscribe_listen); !st.ok()) {
    return st;
  }

  HttpServerOptions http_options;
  http_options.read_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(o.http_read_timeout * 1000));
  http_options.idle_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(o.http_idle_timeout * 1000));
  http_options.max_connections = o.max_connections;
  http_options.max_inflight_body_bytes = o.http_max_inflight_body_bytes;
  // Segment ingest shares this port: a browser tracker must be able to read the server's own
  // refusals (a body over the limit, a corrupt gzip body) as it reads the handlers' answers.
  http_options.refusal_headers = {{"Access-Control-Allow-Origin", "*"}};
  d.http = std::make_unique<HttpServer>(
      d.io, http_options, [api = d.api.get()](HttpRequest&& req, HttpRespond respond) {
        api->Handle(std::move(req), std::move(respond));
      });
  if (Status st = ListenOn(*d.http, "http", o.http_listen); !st.ok()) {
    return st;
  }
  if (d.leases) {
    // The others forward reads of this node's leads here: the listen host, or this machine's
    // name when it listens on every interface.
    Result<HostPort> listen = ParseListenAddress(o.http_listen);
    std::string host = listen.ok() ? listen->host : "";
    if (host.empty() || host == "0.0.0.0" || host == "::") {
      char name[256] = {};
      host = gethostname(name, sizeof(name) - 1) == 0 ? name : "localhost";
    }
    d.leases->SetHttpAddress(FormatHostPort({host, d.http->port()}));
  }

  d.WaitForSignal();
  return Status::Ok();
}

void Daemon::Run() {
  auto guard = asio::make_work_guard(impl_->io);
  impl_->io.run();
  // The listeners are closed; the engine commits what it holds and the cluster links close in
  // ~Daemon (a NATS call in flight may take its deadline, 5 s, to end).
  LogInfo("stopping: the listeners are closed");
}

void Daemon::Stop() {
  asio::post(impl_->io, [impl = impl_.get()] { impl->Shutdown(); });
}

unsigned short Daemon::ingest_port() const { return impl_->ingest ? impl_->ingest->port() : 0; }
unsigned short Daemon::subscribe_port() const {
  return impl_->subscribe ? impl_->subscribe->port() : 0;
}
unsigned short Daemon::http_port() const { return impl_->http ? impl_->http->port() : 0; }

}  // namespace handoff
