// The cluster tests' fixture and workloads (tests/integration/cluster_test.cc and
// cluster_shared_state_test.cc; split in two so neither runs near CTest's timeout): three
// nats-server nodes with JetStream and handoffd started with --cluster, against a single handoffd
// fed the same events.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cluster/event_log.h"
#include "tests/integration/daemon_harness.h"
#include "tests/integration/decay_rules.h"
#include "tests/integration/nats_cluster.h"
#include "tests/testutil.h"

namespace handoff::testing {

// The whole file at `path` (empty when it cannot be read).
inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Scores are read at one instant, so decay does not depend on when the test runs.
inline constexpr char kAt[] = "?at=2026-11-25T00:00:00Z";
inline constexpr char kStream[] = "HANDOFF_EVENTS";

// One connection's share of the workload: its leads' events, in order.
struct Share {
  std::vector<std::string> lines;
};

// `leads` visitors, each browsing anonymously, then identifying (anonymousId -> userId, a merge;
// every seventh by an alias instead) and going on as the known lead, some qualifying. Lead i's
// events all go to share i % shares, interleaved with the share's other leads. Every event has
// a messageId; every 50th line is sent twice (a tracker's retry).
inline std::vector<Share> Workload(int leads, int shares, std::vector<std::string>* ids) {
  std::vector<Share> out(shares);
  const char* paths[] = {"/pricing", "/docs/api", "/blog/x", "/careers", "/pricing/enterprise"};
  const char* events[] = {"Webinar Attended", "Demo Requested", "Trial Started",
                          "Email Link Clicked", "User Invited"};
  int message = 0;
  auto line = [&](int minute, const std::string& body) {
    char ts[40];
    std::snprintf(ts, sizeof ts, "2026-11-2%dT%02d:%02d:00Z", 1 + minute / 1440, minute / 60 % 24,
                  minute % 60);
    return "{" + body + R"(,"messageId":"m-)" + std::to_string(message++) + R"(","timestamp":")" +
           ts + "\"}";
  };
  constexpr int kSteps = 9;
  for (int step = 0; step < kSteps; ++step) {
    for (int i = 0; i < leads; ++i) {
      const std::string anon = "anon-" + std::to_string(i);
      const std::string user = "user-" + std::to_string(i);
      const int minute = step * 300 + i % 300;
      std::string body;
      if (step < 3) {
        body = R"("type":"page","anonymousId":")" + anon + R"(","properties":{"path":")" +
               paths[(i + step) % 5] + "\"}";
      } else if (step == 3) {
        body = R"("type":"track","anonymousId":")" + anon + R"(","event":")" + events[i % 5] + "\"";
      } else if (step == 4) {
        if (i % 7 == 0) {
          body = R"("type":"alias","previousId":")" + anon + R"(","userId":")" + user + "\"";
        } else {
          body = R"("type":"identify","anonymousId":")" + anon + R"(","userId":")" + user +
                 R"(","traits":{"email":")" + user + "@corp" + std::to_string(i % 3) +
                 R"(.com","title":")" + (i % 2 == 0 ? "VP Sales" : "Engineer") +
                 R"(","employees":)" + std::to_string(150 * (i % 9)) + "}";
        }
      } else if (step < 8) {
        body = R"("type":"track","userId":")" + user + R"(","event":")" + events[(i + step) % 5] +
               "\"";
      } else {
        // After the merge, the anonymous id still reaches the lead.
        body = R"("type":"page","anonymousId":")" + anon + R"(","properties":{"path":")" +
               paths[i % 5] + "\"}";
      }
      std::vector<std::string>& lines = out[i % shares].lines;
      lines.push_back(line(minute, body));
      if (lines.size() % 50 == 0) {
        lines.push_back(lines.back());
      }
    }
  }
  for (int i = 0; i < leads; ++i) {
    ids->push_back("anon-" + std::to_string(i));
    ids->push_back("user-" + std::to_string(i));
  }
  return out;
}

// `leads` known leads (user-0...), each only ever under its userId (no merges, so each lead
// lives in one partition from its first event), split over `shares` connections; `round` makes
// the messageIds and timestamps of a later round new.
inline std::vector<Share> KnownLeadsWorkload(int leads, int shares, int round) {
  std::vector<Share> out(shares);
  const char* events[] = {"Webinar Attended", "Demo Requested", "Trial Started",
                          "Email Link Clicked", "User Invited"};
  for (int step = 0; step < 4; ++step) {
    for (int i = 0; i < leads; ++i) {
      const int minute = round * 2000 + step * 300 + i % 300;
      char ts[40];
      std::snprintf(ts, sizeof ts, "2026-11-2%dT%02d:%02d:00Z", 1 + minute / 1440, minute / 60 % 24,
                    minute % 60);
      const std::string user = "user-" + std::to_string(i);
      std::string body =
          step == 0 && round == 0
              ? R"("type":"identify","userId":")" + user + R"(","traits":{"email":")" + user +
                    R"(@corp.com","employees":)" + std::to_string(100 * (i % 7)) + "}"
              : R"("type":"track","userId":")" + user + R"(","event":")" +
                    events[(i + step + round) % 5] + "\"";
      out[i % shares].lines.push_back("{" + body + R"(,"messageId":"k-)" + std::to_string(round) +
                                      "-" + std::to_string(step) + "-" + std::to_string(i) +
                                      R"(","timestamp":")" + ts + "\"}");
    }
  }
  return out;
}

// The lead as GET /v1/leads/{id} shows it at kAt, without its owner: round robin follows the
// order the router sees qualifications in, which differs between connections (docs/cluster.md).
// Scores, breakdowns and stages depend on each lead seeing its events in the order sent, also
// across merges and failures.
// `here_only`: as the node itself has it, without asking the lead's holder (the header a
// forwarded read carries).
inline std::string LeadView(uint16_t http_port, const std::string& id, bool here_only = false) {
  HttpResult r = HttpClient(http_port).Get(
      "/v1/leads/" + id + kAt,
      here_only ? HttpClient::Headers{{"X-Handoff-Forwarded", "1"}} : HttpClient::Headers{});
  if (r.status != 200) {
    return std::to_string(r.status) + " " + r.body;
  }
  Value lead = r.Json();
  std::string view;
  for (const char* field : {"id", "aliases", "traits", "first_seen", "last_seen", "events", "stage",
                            "scores", "breakdown"}) {
    const Value* v = JsonAt(lead, field);
    view += std::string(field) + "=" + (v == nullptr ? "absent" : v->ToJson()) + "\n";
  }
  return view;
}

// Sends each share to whichever port `port(share)` names now, resending from the last ack after
// a dropped connection, until every line is acknowledged; `midway` runs once, when about a third
// of the lines are acknowledged.
inline void SendThroughFailures(const std::function<uint16_t(size_t share)>& port,
                                const std::vector<Share>& shares,
                                const std::function<void()>& midway) {
  std::vector<size_t> acked(shares.size(), 0);
  size_t total = 0;
  for (const Share& s : shares) {
    total += s.lines.size();
  }
  bool midway_done = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  for (;;) {
    size_t done = 0;
    for (size_t a : acked) {
      done += a;
    }
    if (done == total) {
      return;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << done << " of " << total << " acked";
    for (size_t c = 0; c < shares.size(); ++c) {
      const std::vector<std::string>& lines = shares[c].lines;
      if (acked[c] == lines.size()) {
        continue;
      }
      IngestClient client;
      if (!client.Connect(port(c)).ok()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the node restarts
        continue;
      }
      // In slices of 200 lines, so `midway` lands while lines are in flight. Acks count the
      // connection's lines, so `base` maps them back to the share's.
      const size_t base = acked[c];
      size_t sent = 0;
      while (acked[c] < lines.size()) {
        const size_t n = std::min<size_t>(200, lines.size() - acked[c]);
        std::vector<std::string> slice(lines.begin() + acked[c], lines.begin() + acked[c] + n);
        if (!client.SendLines(slice).ok()) {
          break;
        }
        sent += n;
        if (!client.WaitForAck(sent, 60).ok()) {
          // Dropped mid-slice: what was acked counts; the rest is sent again.
          acked[c] = base + client.last_ack();
          break;
        }
        EXPECT_TRUE(client.errors().empty()) << client.errors()[0].ToJson();
        acked[c] = base + sent;
        size_t all = 0;
        for (size_t a : acked) {
          all += a;
        }
        if (!midway_done && all * 3 >= total) {
          midway_done = true;
          midway();
          break;
        }
      }
    }
  }
}

class ClusterTest : public ::testing::Test {
 protected:
  // NATS servers the fixture starts (one: a server without a cluster).
  virtual int NatsServers() const { return 3; }

  void SetUp() override {
    HANDOFF_START_NATS_OR_SKIP(nats_, NatsServers());
    node_.options().rules = ExampleRulesAlwaysOpen(node_);
    node_.options().extra_args = {"--cluster", nats_.urls(), "--node-id", "node-a"};
    ASSERT_OK(node_.Start());
    single_.options().rules = ExampleRulesAlwaysOpen(single_);
    ASSERT_OK(single_.Start());
  }

  // Sends every share over its own connection and waits for every line's ack.
  static void SendAll(uint16_t port, const std::vector<Share>& shares) {
    std::vector<IngestClient> clients(shares.size());
    for (size_t c = 0; c < shares.size(); ++c) {
      ASSERT_OK(clients[c].Connect(port));
      ASSERT_OK(clients[c].SendLines(shares[c].lines));
    }
    for (size_t c = 0; c < shares.size(); ++c) {
      ASSERT_OK(clients[c].WaitForAck(shares[c].lines.size(), 120));
      EXPECT_TRUE(clients[c].errors().empty()) << clients[c].errors()[0].ToJson();
    }
  }

  // Lead for lead, the cluster node shows what the single daemon shows, within a deadline (the
  // node acknowledges once the log holds the events; it applies them just after).
  void ExpectSameLeads(const std::vector<std::string>& ids) {
    // Lead by lead, each waited for: the first ones wait while the node catches up, the rest
    // then match at once (one pass of reads, which matters under the sanitizers).
    for (const std::string& id : ids) {
      std::string ours;
      std::string theirs;
      const bool same = WaitUntil(
          [&] {
            ours = LeadView(node_.http_port(), id);
            theirs = LeadView(single_.http_port(), id);
            return ours == theirs;
          },
          60, 0.1);
      ASSERT_TRUE(same) << id << ":\ncluster:\n"
                        << ours << "single:\n"
                        << theirs << "\ncluster history: "
                        << HttpClient(node_.http_port()).Get("/v1/leads/" + id + "/history").body
                        << "\nsingle history: "
                        << HttpClient(single_.http_port()).Get("/v1/leads/" + id + "/history").body
                        << "\napplied: cluster " << Applied(node_.http_port()) << ", single "
                        << Applied(single_.http_port()) << "\ncluster node's log:\n"
                        << node_.log();
    }
  }

  // The merge workload sent to node-a, which is killed (-9) and restarted on its data mid-stream
  // while the sender resends from its last ack: every lead equals the single daemon's.
  void ExpectSameLeadsThroughAKillNine() {
    std::vector<std::string> ids;
    const std::vector<Share> shares = Workload(60, 2, &ids);
    SendThroughFailures([&](size_t) { return node_.ingest_port(); }, shares,
                        [&] {
                          ASSERT_OK(node_.Kill9());
                          ASSERT_OK(node_.Start());  // same data directory, new ports
                        });
    SendAll(single_.ingest_port(), shares);
    ExpectSameLeads(ids);
  }

  // Waits until node `d` shows the lead `id` (another node's lead through a forwarded read) as
  // the single daemon does.
  void ExpectSameLeadOn(DaemonProcess& d, const std::string& id) {
    std::string ours;
    EXPECT_TRUE(WaitUntil(
        [&] {
          ours = LeadView(d.http_port(), id);
          return ours == LeadView(single_.http_port(), id);
        },
        60, 0.1))
        << id << " on port " << d.http_port() << ":\n"
        << ours << "single:\n"
        << LeadView(single_.http_port(), id);
  }

  // Marks alice away through `d`, again until it answers 200: the first admin change waits for
  // NATS to be ready (the bucket is made on first use). The last answer.
  static HttpResult PutAliceAwayWhenReady(DaemonProcess& d) {
    HttpResult r;
    WaitUntil(
        [&] {
          r = HttpClient(d.http_port()).Put("/v1/reps/alice/availability", R"({"online":false})");
          return r.status == 200;
        },
        60, 0.2);
    return r;
  }

  // The partitions `d` holds, from /metrics (-1: unknown).
  static double Partitions(DaemonProcess& d) {
    HttpResult r = HttpClient(d.http_port()).Get("/metrics");
    return PrometheusSample(r.body, "handoff_cluster_partitions").value_or(-1);
  }

  // Starts node-b, a second node of the cluster, into *out. `short_leases`: both nodes hold
  // leases of 4 s (node-a restarted with them), so takeovers fit a test, and node-b is started
  // once the two have split the partitions 8/8.
  void StartSecondNode(bool short_leases, std::unique_ptr<DaemonProcess>* out) {
    if (short_leases) {
      ASSERT_OK(node_.Stop());
      node_.options().extra_args.insert(node_.options().extra_args.end(), kShortLease.begin(),
                                        kShortLease.end());
      if (global_router_) {
        node_.options().extra_args.insert(node_.options().extra_args.end(), kGlobalRouter.begin(),
                                          kGlobalRouter.end());
      }
      ASSERT_OK(node_.Start());
    }
    ASSERT_NO_FATAL_FAILURE(StartNode("node-b", short_leases, out));
    DaemonProcess& other = **out;
    if (short_leases) {
      ASSERT_TRUE(
          WaitUntil([&] { return Partitions(node_) == 8 && Partitions(other) == 8; }, 60, 0.1))
          << Partitions(node_) << " and " << Partitions(other) << "\nnode-a's log:\n"
          << node_.log() << "node-b's log:\n"
          << other.log();
    }
  }

  // Starts one more node of the cluster, `name`, into *out; with `short_leases`, its leases last
  // 4 s.
  void StartNode(const std::string& name, bool short_leases, std::unique_ptr<DaemonProcess>* out) {
    *out = std::make_unique<DaemonProcess>(DaemonOptions{});
    DaemonProcess& other = **out;
    other.options().rules =
        rules_yaml_.empty() ? ExampleRulesAlwaysOpen(other) : other.WriteRules(rules_yaml_);
    other.options().stage_check_interval = node_.options().stage_check_interval;
    other.options().extra_args = {"--cluster", nats_.urls(), "--node-id", name};
    if (short_leases) {
      other.options().extra_args.insert(other.options().extra_args.end(), kShortLease.begin(),
                                        kShortLease.end());
    }
    if (global_router_) {
      other.options().extra_args.insert(other.options().extra_args.end(), kGlobalRouter.begin(),
                                        kGlobalRouter.end());
    }
    ASSERT_OK(other.Start());
  }

  static inline const std::vector<std::string> kShortLease = {"--cluster-lease", "4s"};
  static inline const std::vector<std::string> kGlobalRouter = {"--cluster-global-router", "true"};
  // Nodes started from here on (node-a when StartSecondNode restarts it) share one router.
  bool global_router_ = false;
  // Rules of the nodes StartNode starts (empty: the example rules, always open); they re-check
  // stages as often as node-a.
  std::string rules_yaml_;

  // The newest outbox seq of `d`, from /metrics (-1: unknown).
  static double OutboxHead(DaemonProcess& d) {
    HttpResult r = HttpClient(d.http_port()).Get("/metrics");
    return PrometheusSample(r.body, "handoff_outbox_head").value_or(-1);
  }

  // Waits until `a` and `b` have the same outbox head, past `above`, twice in a row a second
  // apart (the routers are done with what they were given); that head in *head.
  static bool SettleOnOneHead(DaemonProcess& a, DaemonProcess& b, size_t above, size_t* head) {
    double seen = -1;
    const bool settled = WaitUntil(
        [&] {
          const double now = OutboxHead(a);
          const bool same = now > static_cast<double>(above) && now == OutboxHead(b);
          const bool again = same && now == seen;
          seen = same ? now : -1;
          return again;
        },
        60, 1.0);
    *head = static_cast<size_t>(seen);
    return settled;
  }

  // The merge workload (60 leads), each half on a connection to one of node-a and `other`, and
  // all of it to the single daemon; then every lead on node-a by either id (*ids) is the single
  // daemon's.
  void SendMergesToTwoNodes(DaemonProcess& other, std::vector<std::string>* ids) {
    const std::vector<Share> shares = Workload(60, 2, ids);
    SendAll(node_.ingest_port(), {shares[0]});
    SendAll(other.ingest_port(), {shares[1]});
    SendAll(single_.ingest_port(), shares);
    ExpectSameLeads(*ids);
  }

  // Whether `d` has `rep` online ("true", "false"), from GET /v1/reps; else what it has.
  static std::string RepOnline(DaemonProcess& d, const std::string& rep) {
    HttpResult r = HttpClient(d.http_port()).Get("/v1/reps");
    const Value json = r.Json();
    const Value* reps = JsonAt(json, "reps");
    if (reps == nullptr || !reps->is_array()) {
      return "no reps: " + r.body;
    }
    for (const Value& v : reps->as_array()) {
      if (JsonString(v, "id") == rep) {
        const Value* on = JsonAt(v, "online");
        return on == nullptr ? "absent" : on->ToJson();
      }
    }
    return "no " + rep;
  }

  // The stage records among `records`, as "lead from -> to", in no order.
  static std::multiset<std::string> StageRecords(const std::vector<Value>& records) {
    std::multiset<std::string> out;
    for (const Value& r : records) {
      if (r.Find("kind")->as_string() == "stage") {
        out.insert(r.Find("lead")->as_string() + " " + r.Find("from")->as_string() + " -> " +
                   r.Find("to")->as_string());
      }
    }
    return out;
  }

  // Every record of `d`'s outbox, 1 to `head`, read by a subscriber from the start.
  static std::vector<Value> AllRecords(DaemonProcess& d, size_t head) {
    SubscriberClient sub;
    std::vector<Value> records;
    EXPECT_OK(sub.Connect(d.subscribe_port()));
    EXPECT_OK(sub.Subscribe(0));
    EXPECT_OK(sub.ReadRecords(head, &records, 60));
    return records;
  }

  // The events the engine applied and found duplicate, from /metrics.
  static double Applied(uint16_t http_port) {
    HttpResult r = HttpClient(http_port).Get("/metrics");
    return PrometheusSample(r.body, R"(handoff_events_applied_total{transport="tcp"})")
        .value_or(-1);
  }

  // The index of the NATS node leading the event stream, from a running node's /jsz; -1 if none.
  int StreamLeader() {
    for (int i = 0; i < nats_.size(); ++i) {
      if (!nats_.running(i)) {
        continue;
      }
      HttpResult r = HttpClient(nats_.monitor_port(i)).Get("/jsz?accounts=true&streams=true");
      if (r.status != 200) {
        continue;
      }
      const Value jsz = r.Json();
      const Value* accounts = JsonAt(jsz, "account_details");
      if (accounts == nullptr || !accounts->is_array()) {
        continue;
      }
      for (const Value& account : accounts->as_array()) {
        const Value* streams = JsonAt(account, "stream_detail");
        if (streams == nullptr || !streams->is_array()) {
          continue;
        }
        for (const Value& stream : streams->as_array()) {
          if (JsonString(stream, "name") != kStream) {
            continue;
          }
          const std::string leader = JsonString(stream, "cluster.leader");
          for (int n = 0; n < nats_.size(); ++n) {
            if (nats_.name(n) == leader) {
              return n;
            }
          }
        }
      }
    }
    return -1;
  }

  NatsCluster nats_;
  DaemonProcess node_{DaemonOptions{}};
  DaemonProcess single_{DaemonOptions{}};
};

}  // namespace handoff::testing
