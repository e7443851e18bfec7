// Cluster mode over real processes (docs/cluster.md): three nats-server nodes with JetStream and
// handoffd started with --cluster, against a single handoffd fed the same events. A workload with
// anonymous visitors merged into known leads must give, lead for lead, the single daemon's
// state; kill -9 of handoffd or of a NATS node mid-stream loses nothing acknowledged and counts
// nothing twice.
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
namespace {

// The whole file at `path` (empty when it cannot be read).
std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Scores are read at one instant, so decay does not depend on when the test runs.
constexpr char kAt[] = "?at=2026-11-25T00:00:00Z";
constexpr char kStream[] = "HANDOFF_EVENTS";

// One connection's share of the workload: its leads' events, in order.
struct Share {
  std::vector<std::string> lines;
};

// `leads` visitors, each browsing anonymously, then identifying (anonymousId -> userId, a merge;
// every seventh by an alias instead) and going on as the known lead, some qualifying. Lead i's
// events all go to share i % shares, interleaved with the share's other leads. Every event has
// a messageId; every 50th line is sent twice (a tracker's retry).
std::vector<Share> Workload(int leads, int shares, std::vector<std::string>* ids) {
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
std::vector<Share> KnownLeadsWorkload(int leads, int shares, int round) {
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
std::string LeadView(uint16_t http_port, const std::string& id, bool here_only = false) {
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

void SendThroughFailures(const std::function<uint16_t(size_t share)>& port,
                         const std::vector<Share>& shares, const std::function<void()>& midway);

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HANDOFF_START_NATS_OR_SKIP(nats_, 3);
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
          << Partitions(node_) << " and " << Partitions(other);
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

TEST_F(ClusterTest, MergesOverSeveralConnectionsGiveTheSingleDaemonsLeads) {
  std::vector<std::string> ids;
  const std::vector<Share> shares = Workload(90, 3, &ids);
  SendAll(node_.ingest_port(), shares);
  SendAll(single_.ingest_port(), shares);
  ExpectSameLeads(ids);
  // Each distinct event applied once: the repeated lines are duplicates on both sides.
  EXPECT_TRUE(WaitUntil([&] { return Applied(node_.http_port()) == Applied(single_.http_port()); }))
      << Applied(node_.http_port()) << " vs " << Applied(single_.http_port());
  // The merged lead answers by either id.
  EXPECT_EQ(LeadView(node_.http_port(), "anon-1"), LeadView(node_.http_port(), "user-1"));
}

// Sends each share to whichever port `port(share)` names now, resending from the last ack after
// a dropped connection, until every line is acknowledged; `midway` runs once, when about a third
// of the lines are acknowledged.
void SendThroughFailures(const std::function<uint16_t(size_t share)>& port,
                         const std::vector<Share>& shares, const std::function<void()>& midway) {
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

// Every merge across partitions goes through the log (hand-overs, docs/cluster.md "Merges across
// partitions"), also across the crash. Before the fix, a request answered while its partition was
// held back missed that partition's held events of the lead, which then made a stray lead that
// the import took for itself (lead 38 lost its anonymous history).
TEST_F(ClusterTest, KillNineOfTheNodeMidStreamLosesNothingAndCountsNothingTwice) {
  ExpectSameLeadsThroughAKillNine();
}

// The same with one router for the cluster (`--cluster-global-router true`): the routing inputs
// the node had not logged when it died are kept in its store and logged at its restart, so its
// outbox ends with every record the single daemon publishes, no stage change lost or twice.
TEST_F(ClusterTest, KillNineOfTheNodeWithTheGlobalRouterLosesNoRecord) {
  ASSERT_OK(node_.Stop());
  node_.options().extra_args.insert(node_.options().extra_args.end(), kGlobalRouter.begin(),
                                    kGlobalRouter.end());
  ASSERT_OK(node_.Start());
  ExpectSameLeadsThroughAKillNine();
  ASSERT_TRUE(WaitUntil([&] { return OutboxHead(node_) == OutboxHead(single_); }, 60, 0.1))
      << OutboxHead(node_) << ", single " << OutboxHead(single_);
  const auto head = static_cast<size_t>(OutboxHead(node_));
  EXPECT_EQ(StageRecords(AllRecords(node_, head)), StageRecords(AllRecords(single_, head)));
}

// The same with hand-overs off (`--cluster-hand-overs false`): a merge across partitions is
// applied where the link is, exact when one node holds every partition.
TEST_F(ClusterTest, KillNineOfTheNodeWithoutHandOversLosesNothingAndCountsNothingTwice) {
  ASSERT_OK(node_.Stop());
  node_.options().extra_args.insert(node_.options().extra_args.end(),
                                    {"--cluster-hand-overs", "false"});
  ASSERT_OK(node_.Start());
  ExpectSameLeadsThroughAKillNine();
}

TEST_F(ClusterTest, KillNineOfANatsNodeMidStreamLosesNothingAndCountsNothingTwice) {
  std::vector<std::string> ids;
  const std::vector<Share> shares = Workload(60, 2, &ids);
  SendThroughFailures([&](size_t) { return node_.ingest_port(); }, shares,
                      [&] {
                        // The event stream's leader: publishes wait for a new one (a few seconds),
                        // and the daemon's links that were on it fail over to the others.
                        const int leader = StreamLeader();
                        ASSERT_GE(leader, 0) << "no leader for " << kStream;
                        nats_.Kill(leader);
                      });
  SendAll(single_.ingest_port(), shares);
  // Every event there once, and in the order sent: the retried publishes held back what came
  // after them on their partitions.
  ExpectSameLeads(ids);
  EXPECT_TRUE(WaitUntil([&] { return Applied(node_.http_port()) == Applied(single_.http_port()); }))
      << Applied(node_.http_port()) << " vs " << Applied(single_.http_port());
  ASSERT_OK(node_.CheckAlive());
}

// Issue 15: one connection's events take effect in the order sent, across leads and partitions,
// also when a publish fails and is retried: no later line is in the log before an earlier one.
// Each event's place in the log is its history `seq`; read back lead by lead and put in that
// order, the lines come out in the order they were sent. With one message in flight per
// partition (the first design), a batch's events went out partition by partition, and a line
// could be logged before an earlier line of another partition; this failed on every run.
TEST_F(ClusterTest, OneConnectionsLinesAreLoggedInTheOrderSentAcrossPartitions) {
  constexpr int kLeads = 150;
  constexpr int kLines = 3000;
  Share share;
  for (int n = 0; n < kLines; ++n) {
    share.lines.push_back(R"({"type":"track","userId":"ord-)" + std::to_string(n % kLeads) +
                          R"(","event":"Page Viewed","messageId":"ord-)" + std::to_string(n) +
                          R"(","timestamp":"2026-11-21T10:00:00Z"})");
  }
  // The event stream's NATS leader dies a third of the way in: publishes fail and are retried.
  SendThroughFailures([&](size_t) { return node_.ingest_port(); }, {share},
                      [&] {
                        const int leader = StreamLeader();
                        ASSERT_GE(leader, 0) << "no leader for " << kStream;
                        nats_.Kill(leader);
                      });
  ASSERT_TRUE(WaitUntil([&] { return Applied(node_.http_port()) == kLines; }, 120))
      << Applied(node_.http_port());
  std::vector<std::pair<double, int>> placed;  // (place in the log, line sent)
  for (int lead = 0; lead < kLeads; ++lead) {
    HttpResult r = HttpClient(node_.http_port())
                       .Get("/v1/leads/ord-" + std::to_string(lead) + "/history?limit=1000");
    ASSERT_EQ(r.status, 200) << r.body;
    const Value body = r.Json();
    for (const Value& event : body.Find("events")->as_array()) {
      placed.emplace_back(event.Find("seq")->as_number(),
                          std::stoi(JsonString(event, "messageId").substr(4)));
    }
  }
  ASSERT_EQ(placed.size(), static_cast<size_t>(kLines));  // each line once
  std::sort(placed.begin(), placed.end());
  int inversions = 0;
  for (size_t i = 1; i < placed.size(); ++i) {
    if (placed[i].second < placed[i - 1].second) {
      ++inversions;
      ADD_FAILURE_AT(__FILE__, __LINE__)
          << "line " << placed[i].second << " is logged after line " << placed[i - 1].second;
      if (inversions >= 5) {
        break;
      }
    }
  }
  EXPECT_EQ(inversions, 0);
  ASSERT_OK(node_.CheckAlive());
}

// Two links, each holding its partition back until the other's partition answers, never share a
// message (docs/cluster.md, "Merged ids"). A tracker repeats identify(userId, anonymousId) on
// every page: with u and y in one partition and x and v in another, identify(v, y) and then
// identify(u, x) in one read made one message in the first cut of the ingest message, whose
// rule looked at the merged lead's partition and not at the id as sent: each partition then
// waited for the other at the same sequence, for ever, and the leads' later events were never
// applied (acknowledged all the same).
TEST_F(ClusterTest, RepeatedLinksAcrossTwoPartitionsNeverHoldEachOtherBack) {
  constexpr uint32_t kPartitions = 16;  // the default
  auto in = [&](const std::string& prefix, uint32_t partition, int skip) {
    for (int i = 0;; ++i) {
      std::string id = prefix + std::to_string(i);
      if (PartitionOf(id, kPartitions) == partition && skip-- == 0) {
        return id;
      }
    }
  };
  const uint32_t p = PartitionOf("u-0", kPartitions);
  const uint32_t q = (p + 5) % kPartitions;
  const std::string u = "u-0";
  const std::string y = in("y-", p, 0);
  const std::string x = in("x-", q, 0);
  const std::string v = in("v-", q, 1);
  auto identify = [](const std::string& user, const std::string& anon, const std::string& id) {
    return R"({"type":"identify","userId":")" + user + R"(","anonymousId":")" + anon +
           R"(","messageId":")" + id + R"(","timestamp":"2026-11-21T10:00:00Z"})";
  };
  auto track = [](const std::string& user, const std::string& id) {
    return R"({"type":"track","userId":")" + user + R"(","event":"Demo Requested","messageId":")" +
           id + R"(","timestamp":"2026-11-21T10:01:00Z"})";
  };
  IngestClient client;
  ASSERT_OK(client.Connect(node_.ingest_port()));
  // The first links merge x into u and y into v.
  ASSERT_OK(client.SendLines(
      {track(x, "r-0"), track(y, "r-1"), identify(u, x, "r-2"), identify(v, y, "r-3")}));
  ASSERT_OK(client.WaitForAck(4, 60));
  ASSERT_TRUE(WaitUntil([&] { return Applied(node_.http_port()) == 4; }, 60));
  // Then the tracker repeats them, in one read, and goes on.
  ASSERT_OK(client.SendLines(
      {identify(v, y, "r-4"), identify(u, x, "r-5"), track(u, "r-6"), track(v, "r-7")}));
  ASSERT_OK(client.WaitForAck(8, 60));
  ASSERT_TRUE(WaitUntil([&] { return Applied(node_.http_port()) == 8; }, 60))
      << Applied(node_.http_port()) << " of 8 applied";
  for (const auto& [lead, events] : {std::pair{u, 4}, std::pair{v, 4}}) {
    HttpResult r = HttpClient(node_.http_port()).Get("/v1/leads/" + lead);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(JsonNumber(r.Json(), "events"), events) << r.body;
  }
  ASSERT_OK(node_.CheckAlive());
}

// The whole shape on one machine: three NATS servers, three handoffd nodes, a connection to
// every node, visitors merged into known leads across partitions. Mid-stream, kill -9 of one
// handoffd node (its connection moves to another node and resends from its last ack) and of the
// event stream's NATS leader. Every lead, read on any node (reads of another node's lead are
// forwarded), equals the single daemon's: nothing acknowledged lost, nothing counted twice.
// Restarted, the node takes a share of the partitions back and answers for every lead too.
TEST_F(ClusterTest, ThreeNodesLoseNothingWhenANodeAndANatsServerDie) {
  std::unique_ptr<DaemonProcess> node_b;
  std::unique_ptr<DaemonProcess> node_c;
  ASSERT_NO_FATAL_FAILURE(StartSecondNode(/*short_leases=*/true, &node_b));
  ASSERT_NO_FATAL_FAILURE(StartNode("node-c", /*short_leases=*/true, &node_c));
  std::vector<DaemonProcess*> nodes = {&node_, node_b.get(), node_c.get()};
  auto shares_held = [&] {
    std::string out;
    for (DaemonProcess* d : nodes) {
      out += std::to_string(static_cast<int>(Partitions(*d))) + " ";
    }
    return out;
  };
  // 16 partitions over three nodes: 5, 5 and 6 in some order.
  auto split_in_three = [&] {
    double sum = 0;
    for (DaemonProcess* d : nodes) {
      const double p = Partitions(*d);
      if (p < 5) {
        return false;
      }
      sum += p;
    }
    return sum == 16;
  };
  ASSERT_TRUE(WaitUntil(split_in_three, 60, 0.1)) << shares_held();

  // Visitors merged into known leads, each lead's events on one of the three connections: most
  // merges cross partitions held by different nodes, and some wait on node-c when it dies.
  std::vector<std::string> ids;
  const std::vector<Share> shares = Workload(60, 3, &ids);
  std::atomic<bool> c_down{false};
  SendThroughFailures(
      [&](size_t share) {
        // node-c's connection goes to node-a once node-c is down.
        return share == 2 && c_down ? node_.ingest_port() : nodes[share]->ingest_port();
      },
      shares,
      [&] {
        c_down = true;
        ASSERT_OK(node_c->Kill9());
        const int leader = StreamLeader();
        ASSERT_GE(leader, 0) << "no leader for " << kStream;
        nats_.Kill(leader);
      });
  SendAll(single_.ingest_port(), shares);
  // node-a and node-b hold every partition between them once node-c's leases expire.
  ASSERT_TRUE(WaitUntil([&] { return Partitions(node_) + Partitions(*node_b) == 16; }, 60, 0.1))
      << shares_held();
  ExpectSameLeads(ids);
  // node-c back on its data: it takes a share again and answers for every lead.
  ASSERT_OK(node_c->Start());
  ASSERT_TRUE(WaitUntil(split_in_three, 60, 0.1)) << shares_held();
  for (DaemonProcess* d : nodes) {
    for (const std::string& id : ids) {
      ExpectSameLeadOn(*d, id);
    }
  }
}

// Two nodes share the partitions by lease and each applies its own; kill -9 of one: the other
// takes its partitions over and rebuilds them from the stream; the killed node, restarted, gets a
// share back and catches its partitions up from its own position. Each time, every lead on the
// node that holds it equals the single daemon's.
TEST_F(ClusterTest, TwoNodesShareThePartitionsAndTakeThemOverFromEachOther) {
  std::unique_ptr<DaemonProcess> node_b;
  ASSERT_NO_FATAL_FAILURE(StartSecondNode(/*short_leases=*/true, &node_b));
  DaemonProcess& other = *node_b;
  // Each lead's state on whichever node shows it as the single daemon does (the other node has
  // no copy, or an older one).
  auto expect_every_lead_on_some_node = [&](int leads) {
    for (int i = 0; i < leads; ++i) {
      const std::string id = "user-" + std::to_string(i);
      std::string theirs;
      const bool found = WaitUntil(
          [&] {
            theirs = LeadView(single_.http_port(), id);
            return LeadView(node_.http_port(), id) == theirs ||
                   LeadView(other.http_port(), id) == theirs;
          },
          60, 0.1);
      ASSERT_TRUE(found) << id << ": no node shows\n"
                         << theirs << "node-a:\n"
                         << LeadView(node_.http_port(), id) << "node-b:\n"
                         << LeadView(other.http_port(), id) << "node-a's log:\n"
                         << node_.log() << "node-b's log:\n"
                         << other.log();
    }
  };
  constexpr int kLeads = 40;
  const std::vector<Share> first = KnownLeadsWorkload(kLeads, 2, 0);
  SendAll(node_.ingest_port(), {first[0]});
  SendAll(other.ingest_port(), {first[1]});
  SendAll(single_.ingest_port(), first);
  expect_every_lead_on_some_node(kLeads);
  // Each node applies only its half: node-a itself does not have every lead.
  int on_a = 0;
  for (int i = 0; i < kLeads; ++i) {
    on_a += LeadView(node_.http_port(), "user-" + std::to_string(i), /*here_only=*/true) ==
            LeadView(single_.http_port(), "user-" + std::to_string(i));
  }
  EXPECT_LT(on_a, kLeads);
  EXPECT_GT(on_a, 0);

  // node-b dies: node-a takes its partitions over once their leases expire, rebuilding them
  // from the stream.
  ASSERT_OK(other.Kill9());
  ASSERT_TRUE(WaitUntil([&] { return Partitions(node_) == 16; }, 60, 0.1)) << Partitions(node_);
  for (int i = 0; i < kLeads; ++i) {
    const std::string id = "user-" + std::to_string(i);
    EXPECT_TRUE(WaitUntil(
        [&] { return LeadView(node_.http_port(), id) == LeadView(single_.http_port(), id); }, 60,
        0.1))
        << id << "\nnode-a:\n"
        << LeadView(node_.http_port(), id) << "single:\n"
        << LeadView(single_.http_port(), id);
  }

  // node-b comes back: node-a hands half back, node-b takes it and catches up from its own
  // position; the next round of events lands on whichever node holds each lead now.
  ASSERT_OK(other.Start());
  ASSERT_TRUE(WaitUntil([&] { return Partitions(node_) == 8 && Partitions(other) == 8; }, 60, 0.1))
      << Partitions(node_) << " and " << Partitions(other);
  const std::vector<Share> second = KnownLeadsWorkload(kLeads, 2, 1);
  SendAll(other.ingest_port(), {second[0]});
  SendAll(node_.ingest_port(), {second[1]});
  SendAll(single_.ingest_port(), second);
  expect_every_lead_on_some_node(kLeads);
}

// Reads of one lead on any node (docs/cluster.md, "What each read gives"): a node that does not
// hold the lead's partition asks the node that does, so both nodes answer every lead as the
// single daemon does; once the holder dies, the survivor answers from what it took over.
TEST_F(ClusterTest, AnyNodeAnswersForAnyLead) {
  std::unique_ptr<DaemonProcess> node_b;
  ASSERT_NO_FATAL_FAILURE(StartSecondNode(/*short_leases=*/true, &node_b));
  DaemonProcess& other = *node_b;
  constexpr int kLeads = 30;
  const std::vector<Share> shares = KnownLeadsWorkload(kLeads, 2, 0);
  SendAll(node_.ingest_port(), {shares[0]});
  SendAll(other.ingest_port(), {shares[1]});
  SendAll(single_.ingest_port(), shares);
  auto history = [](DaemonProcess& d, const std::string& id) {
    HttpResult r = HttpClient(d.http_port()).Get("/v1/leads/" + id + "/history");
    return std::to_string(r.status) + " " + r.body;
  };
  for (int i = 0; i < kLeads; ++i) {
    const std::string id = "user-" + std::to_string(i);
    for (DaemonProcess* d : {&node_, &other}) {
      ExpectSameLeadOn(*d, id);
    }
    // The history too, the same on both nodes (its apply order is the log's, so not the single
    // daemon's numbers).
    EXPECT_EQ(history(node_, id), history(other, id)) << id;
  }
  // Lists too: every node lists every lead once, in id order, page by page.
  auto list_ids = [](DaemonProcess& d, int page) {
    std::string ids;
    std::string after;
    for (int pages = 0; pages < 100; ++pages) {
      HttpResult r = HttpClient(d.http_port())
                         .Get("/v1/leads?limit=" + std::to_string(page) +
                              (after.empty() ? "" : "&after=" + after));
      if (r.status != 200) {
        return ids + " (" + std::to_string(r.status) + " " + r.body + ")";
      }
      const Value json = r.Json();
      for (const Value& lead : JsonAt(json, "leads")->as_array()) {
        ids += JsonString(lead, "id") + "/" + JsonAt(lead, "events")->ToJson() + " ";
      }
      const Value* next = JsonAt(json, "next");
      if (next == nullptr || !next->is_string()) {
        break;
      }
      after = next->as_string();
    }
    return ids;
  };
  const std::string all = list_ids(single_, 1000);
  EXPECT_EQ(list_ids(node_, 1000), all);
  EXPECT_EQ(list_ids(other, 1000), all);
  EXPECT_EQ(list_ids(node_, 7), all);

  // Without asking the holder, node-a has only its half: the answers above were forwarded.
  int on_a = 0;
  for (int i = 0; i < kLeads; ++i) {
    const std::string id = "user-" + std::to_string(i);
    on_a +=
        LeadView(node_.http_port(), id, /*here_only=*/true) == LeadView(single_.http_port(), id);
  }
  EXPECT_LT(on_a, kLeads);
  // node-b dies: until node-a holds its partitions, node-a answers from what it has; then as
  // the single daemon.
  ASSERT_OK(other.Kill9());
  ASSERT_TRUE(WaitUntil([&] { return Partitions(node_) == 16; }, 60, 0.1)) << Partitions(node_);
  for (int i = 0; i < kLeads; ++i) {
    const std::string id = "user-" + std::to_string(i);
    EXPECT_TRUE(WaitUntil(
        [&] { return LeadView(node_.http_port(), id) == LeadView(single_.http_port(), id); }, 60,
        0.1))
        << id;
  }
}

// Merges across nodes (docs/cluster.md "Several nodes"): visitors browse anonymously, then
// identify or alias into a known lead whose partition another node may hold; the older lead's
// history is handed over through the log. Lead for lead, by either id, on both nodes, the result
// is the single daemon's.
TEST_F(ClusterTest, MergesAcrossNodesGiveTheSingleDaemonsLeads) {
  std::unique_ptr<DaemonProcess> node_b;
  ASSERT_NO_FATAL_FAILURE(StartSecondNode(/*short_leases=*/true, &node_b));
  DaemonProcess& other = *node_b;
  std::vector<std::string> ids;
  ASSERT_NO_FATAL_FAILURE(SendMergesToTwoNodes(other, &ids));
  for (const std::string& id : ids) {
    ExpectSameLeadOn(other, id);
  }
}

// The funnel on any node is the cluster's (docs/cluster.md, "What each read gives"): each node
// adds up every node's part, its records' totals and its held partitions' leads per stage. Lead
// for lead the counts are the single daemon's; which rep got a lead follows the order the
// cluster's router took the leads in, which need not be the single daemon's, so the rep rows and
// speed figures are compared between the nodes.
TEST_F(ClusterTest, TheFunnelOnAnyNodeAddsUpEveryNodesPart) {
  std::unique_ptr<DaemonProcess> node_b;
  ASSERT_NO_FATAL_FAILURE(StartSecondNode(/*short_leases=*/true, &node_b));
  DaemonProcess& other = *node_b;
  constexpr int kLeads = 40;
  const std::vector<Share> shares = KnownLeadsWorkload(kLeads, 2, 0);
  SendAll(node_.ingest_port(), {shares[0]});
  SendAll(other.ingest_port(), {shares[1]});
  SendAll(single_.ingest_port(), shares);
  auto funnel = [](DaemonProcess& d, bool here_only = false) {
    HttpResult r =
        HttpClient(d.http_port())
            .Get("/v1/funnel", here_only ? HttpClient::Headers{{"X-Handoff-Forwarded", "1"}}
                                         : HttpClient::Headers{});
    return r.status == 200 ? r.Json() : Value::String(std::to_string(r.status) + " " + r.body);
  };
  // The figures lead for lead: what does not depend on which node routed a lead.
  auto counts = [](const Value& f) {
    std::string view;
    for (const char* field : {"stages", "transitions", "routed", "reassigned", "escalated",
                              "accepted", "rejected", "closed", "won_amount"}) {
      const Value* v = f.is_object() ? JsonAt(f, field) : nullptr;
      view += std::string(field) + "=" + (v == nullptr ? f.ToJson() : v->ToJson()) + "\n";
    }
    return view;
  };
  const std::string single = counts(funnel(single_));
  for (DaemonProcess* d : {&node_, &other}) {
    std::string ours;
    EXPECT_TRUE(WaitUntil(
        [&] {
          ours = counts(funnel(*d));
          return ours == single;
        },
        60, 0.1))
        << "port " << d->http_port() << ":\n"
        << ours << "single:\n"
        << single;
  }
  // Both nodes give the same whole answer, rep rows and speed percentiles included.
  EXPECT_EQ(funnel(node_).ToJson(), funnel(other).ToJson());
  const Value routed_by = *JsonAt(funnel(node_), "reps");
  double routed = 0;
  for (const Value& rep : routed_by.as_array()) {
    routed += JsonAt(rep, "routed")->as_number();
  }
  EXPECT_GT(routed, 0);
  EXPECT_EQ(routed, JsonAt(funnel(single_), "routed")->as_number());
  // A node's own part (what another node asks it for) has only its share of the leads.
  const Value part = funnel(node_, /*here_only=*/true);
  ASSERT_TRUE(part.is_object()) << part.ToJson();
  double here = 0;
  for (const Value& stage : JsonAt(part, "stages")->as_array()) {
    here += stage.as_array()[1].as_number();
  }
  EXPECT_GT(here, 0);
  EXPECT_LT(here, kLeads);
  // A node that cannot be reached makes the funnel a 503, never a silently partial answer.
  ASSERT_OK(other.Kill9());
  const Value after_kill = funnel(node_);
  if (!after_kill.is_object()) {
    EXPECT_EQ(after_kill.as_string().substr(0, 3), "503") << after_kill.as_string();
  }
  // Once node-a holds every partition, its funnel alone counts every lead again.
  ASSERT_TRUE(WaitUntil([&] { return Partitions(node_) == 16; }, 60, 0.1)) << Partitions(node_);
  std::string alone;
  EXPECT_TRUE(WaitUntil(
      [&] {
        const Value f = funnel(node_);
        alone = f.is_object() ? JsonAt(f, "stages")->ToJson() : f.ToJson();
        return alone == JsonAt(funnel(single_), "stages")->ToJson();
      },
      60, 0.1))
      << alone;
}

// A lead's events are ordered by their place in the log on every node, however late a node
// applied them: node-a rebuilds node-b's partitions after node-b dies, then merges leads whose
// two ids it applied at different times. Each id's traits were set under both ids; the merged
// lead takes the later one in the log's order, as the single daemon does. (Numbered by the node
// in the order it applied them, the rebuilt partitions' events came after everything else.)
TEST_F(ClusterTest, AMergeAfterATakeoverKeepsTheLogsOrder) {
  std::unique_ptr<DaemonProcess> node_b;
  ASSERT_NO_FATAL_FAILURE(StartSecondNode(/*short_leases=*/true, &node_b));
  DaemonProcess& other = *node_b;

  constexpr int kLeads = 30;
  int message = 0;
  auto phase = [&](int minute, const std::function<std::string(int)>& body) {
    std::vector<Share> shares(2);
    for (int i = 0; i < kLeads; ++i) {
      char ts[40];
      std::snprintf(ts, sizeof ts, "2026-11-21T%02d:%02d:00Z", minute / 60, minute % 60);
      shares[i % 2].lines.push_back("{" + body(i) + R"(,"messageId":"o-)" +
                                    std::to_string(message++) + R"(","timestamp":")" + ts + "\"}");
    }
    return shares;
  };
  auto send = [&](const std::vector<Share>& shares, bool both_nodes) {
    if (both_nodes) {
      SendAll(node_.ingest_port(), {shares[0]});
      SendAll(other.ingest_port(), {shares[1]});
    } else {
      SendAll(node_.ingest_port(), shares);
    }
    SendAll(single_.ingest_port(), shares);
  };
  // The anonymous visitor's traits first, then the known lead's, each on its own partition.
  send(phase(60,
             [](int i) {
               return R"("type":"identify","anonymousId":"anon-)" + std::to_string(i) +
                      R"(","traits":{"title":"Intern","company":"Anon Co"})";
             }),
       true);
  send(phase(120,
             [](int i) {
               return R"("type":"identify","userId":"user-)" + std::to_string(i) +
                      R"(","traits":{"email":"u)" + std::to_string(i) +
                      R"(@corp.com","title":"VP Sales","employees":400})";
             }),
       true);
  send(phase(180,
             [](int i) {
               return R"("type":"track","anonymousId":"anon-)" + std::to_string(i) +
                      R"(","event":"Webinar Attended")";
             }),
       true);
  // node-b dies; node-a rebuilds its partitions from the stream.
  ASSERT_OK(other.Kill9());
  ASSERT_TRUE(WaitUntil([&] { return Partitions(node_) == 16; }, 60, 0.1)) << Partitions(node_);
  for (int i = 0; i < kLeads; ++i) {
    for (const std::string& id : {"anon-" + std::to_string(i), "user-" + std::to_string(i)}) {
      EXPECT_TRUE(WaitUntil(
          [&] { return LeadView(node_.http_port(), id) == LeadView(single_.http_port(), id); }, 60,
          0.1))
          << id;
    }
  }
  // Each visitor is linked to its known lead: merges of leads node-a applied at different times.
  send(phase(240,
             [](int i) {
               return R"("type":"alias","previousId":"anon-)" + std::to_string(i) +
                      R"(","userId":"user-)" + std::to_string(i) + "\"";
             }),
       false);
  std::vector<std::string> ids;
  for (int i = 0; i < kLeads; ++i) {
    ids.push_back("user-" + std::to_string(i));
    ids.push_back("anon-" + std::to_string(i));
  }
  ExpectSameLeads(ids);
}

// Admin state is global (docs/cluster.md): a rep's availability or an account's owner PUT on one
// node holds there when the answer comes and on the others soon after; a node that was down
// meanwhile catches up when it starts.
TEST_F(ClusterTest, AdminChangesOnOneNodeHoldOnEveryNode) {
  std::unique_ptr<DaemonProcess> node_b;
  ASSERT_NO_FATAL_FAILURE(StartSecondNode(/*short_leases=*/false, &node_b));
  DaemonProcess& other = *node_b;
  auto online = RepOnline;
  auto owner = [](DaemonProcess& d, const std::string& domain) {
    HttpResult r = HttpClient(d.http_port()).Get("/v1/accounts/" + domain);
    return r.status == 200 ? JsonString(r.Json(), "owner") : std::to_string(r.status);
  };
  // The first change waits for NATS to be ready (the bucket is made on first use).
  HttpResult r;
  ASSERT_TRUE(WaitUntil(
      [&] {
        r = HttpClient(node_.http_port()).Put("/v1/reps/alice/availability", R"({"online":false})");
        return r.status == 200;
      },
      60, 0.2))
      << r.status << " " << r.body;
  EXPECT_EQ(r.body, R"({"id":"alice","online":false})");
  EXPECT_EQ(online(node_, "alice"), "false");  // here, when the answer came
  EXPECT_TRUE(WaitUntil([&] { return online(other, "alice") == "false"; }, 30, 0.1))
      << online(other, "alice");

  r = HttpClient(other.http_port()).Put("/v1/accounts/Acme.com", R"({"owner":"dan"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonString(r.Json(), "owner"), "dan");
  EXPECT_TRUE(WaitUntil([&] { return owner(node_, "acme.com") == "dan"; }, 30, 0.1))
      << owner(node_, "acme.com");

  // Refused as the single daemon refuses, and stored nowhere.
  r = HttpClient(node_.http_port()).Put("/v1/reps/nobody/availability", R"({"online":false})");
  EXPECT_EQ(r.status, 404) << r.body;
  r = HttpClient(node_.http_port()).Put("/v1/accounts/acme.com", R"({"owner":"nobody"})");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(owner(other, "acme.com"), "dan");

  // node-b is down while alice comes back and acme.com changes hands; it catches up at start.
  ASSERT_OK(other.Kill9());
  r = HttpClient(node_.http_port()).Put("/v1/reps/alice/availability", R"({"online":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  r = HttpClient(node_.http_port()).Put("/v1/accounts/acme.com", R"({"owner":"erin"})");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_OK(other.Start());
  EXPECT_TRUE(WaitUntil(
      [&] { return online(other, "alice") == "true" && owner(other, "acme.com") == "erin"; }, 30,
      0.1))
      << online(other, "alice") << " " << owner(other, "acme.com");
}

// Rules are admin state too: a file applied or reloaded through the API on one node becomes
// every node's, also a node that was down meanwhile (its own file is replaced when it starts).
TEST_F(ClusterTest, RulesLoadedThroughTheApiOnOneNodeHoldOnEveryNode) {
  std::unique_ptr<DaemonProcess> node_b;
  ASSERT_NO_FATAL_FAILURE(StartSecondNode(/*short_leases=*/false, &node_b));
  DaemonProcess& other = *node_b;
  auto sha = [](DaemonProcess& d) {
    return JsonString(HttpClient(d.http_port()).Get("/v1/rules").Json(), "sha256");
  };
  std::string rules = ReadWholeFile(node_.options().rules);
  ASSERT_EQ(sha(node_), sha(other));

  HttpResult r;
  const std::string applied = rules + "# applied on node-a\n";
  ASSERT_TRUE(WaitUntil(
      [&] {
        r = HttpClient(node_.http_port()).Post("/v1/rules/apply", applied);
        return r.status == 200;
      },
      60, 0.2))
      << r.status << " " << r.body;
  EXPECT_TRUE(WaitUntil([&] { return sha(other) == sha(node_); }, 30, 0.1))
      << sha(other) << " vs " << sha(node_);
  EXPECT_EQ(ReadWholeFile(other.options().rules), applied);

  // node-b is down while node-a's file changes and is reloaded through the API.
  ASSERT_OK(other.Kill9());
  const std::string reloaded = rules + "# reloaded on node-a\n";
  node_.WriteRules(reloaded);
  r = HttpClient(node_.http_port()).Post("/v1/rules/reload", "");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_OK(other.Start());
  EXPECT_TRUE(WaitUntil([&] { return sha(other) == sha(node_); }, 30, 0.1))
      << sha(other) << " vs " << sha(node_);
  EXPECT_EQ(ReadWholeFile(other.options().rules), reloaded);
  // Rules that do not load are refused on the node they were sent to and stored nowhere.
  r = HttpClient(node_.http_port()).Post("/v1/rules/apply", "rules: [");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(sha(other), sha(node_));
}

// One router for the cluster (docs/cluster.md, "The router and the outbox"): two nodes, a
// connection to each. Every node's outbox holds the same records under the same seqs, the stage
// records are the single daemon's lead for lead, and a sales answer given on one node is the
// same record on the other.
TEST_F(ClusterTest, TheGlobalRouterGivesEveryNodeTheSameRecords) {
  global_router_ = true;
  std::unique_ptr<DaemonProcess> node_b;
  ASSERT_NO_FATAL_FAILURE(StartSecondNode(/*short_leases=*/true, &node_b));
  DaemonProcess& other = *node_b;
  std::vector<std::string> ids;
  ASSERT_NO_FATAL_FAILURE(SendMergesToTwoNodes(other, &ids));
  ASSERT_TRUE(WaitUntil(
      [&] {
        const double head = OutboxHead(single_);
        return head > 0 && OutboxHead(node_) == head && OutboxHead(other) == head;
      },
      60, 0.1))
      << OutboxHead(node_) << " and " << OutboxHead(other) << ", single " << OutboxHead(single_);
  const auto head = static_cast<size_t>(OutboxHead(node_));
  const std::vector<Value> mine = AllRecords(node_, head);
  const std::vector<Value> theirs = AllRecords(other, head);
  ASSERT_EQ(mine.size(), theirs.size());
  for (size_t i = 0; i < mine.size(); ++i) {
    EXPECT_EQ(mine[i].ToJson(), theirs[i].ToJson()) << i;
  }
  EXPECT_EQ(StageRecords(mine), StageRecords(AllRecords(single_, head)));

  // A sales tool on node-b accepts a lead routed (maybe) by node-a's partition.
  const Value* routed = nullptr;
  for (const Value& r : mine) {
    if (r.Find("kind")->as_string() == "routed") {
      routed = &r;
      break;
    }
  }
  ASSERT_NE(routed, nullptr) << "no lead was routed";
  const auto seq = static_cast<uint64_t>(routed->Find("seq")->as_number());
  SubscriberClient tool;
  ASSERT_OK(tool.Connect(other.subscribe_port()));
  ASSERT_OK(tool.Subscribe(std::nullopt));
  ASSERT_OK(tool.SendLine(R"({"accept":)" + std::to_string(seq) + "}"));
  bool ok = false;
  for (int i = 0; i < 5 && !ok; ++i) {
    Value message;
    ASSERT_OK(tool.ReadMessage(&message, 30));
    ASSERT_EQ(message.Find("error"), nullptr) << message.ToJson();
    ok = message.Find("ok") != nullptr;
  }
  ASSERT_TRUE(ok);
  // The accept is one record; it may route more after it: the rep now owns the lead's company,
  // and leads of that company waiting for a rep go to them (SPEC 7, account_match).
  size_t accepted_head = 0;
  ASSERT_TRUE(SettleOnOneHead(node_, other, head, &accepted_head))
      << "node-a has " << OutboxHead(node_) << " and node-b " << OutboxHead(other)
      << ", both should pass " << head;
  const std::vector<Value> answered_mine = AllRecords(node_, accepted_head);
  const std::vector<Value> answered_theirs = AllRecords(other, accepted_head);
  ASSERT_EQ(answered_mine.size(), answered_theirs.size());
  for (size_t i = head; i < answered_mine.size(); ++i) {
    EXPECT_EQ(answered_mine[i].ToJson(), answered_theirs[i].ToJson()) << i;
  }
  const Value& accepted = answered_mine[head];
  EXPECT_EQ(accepted.Find("kind")->as_string(), "accepted");
  EXPECT_EQ(accepted.Find("lead")->as_string(), routed->Find("lead")->as_string());
  EXPECT_EQ(accepted.Find("rep")->as_string(), routed->Find("rep")->as_string());
  for (size_t i = head + 1; i < answered_mine.size(); ++i) {
    EXPECT_EQ(JsonString(answered_mine[i], "reason"), "account_owner") << answered_mine[i].ToJson();
  }
  // Any node shows the lead's owner as the router gave it.
  for (DaemonProcess* d : {&node_, &other}) {
    const Value lead =
        HttpClient(d->http_port()).Get("/v1/leads/" + routed->Find("lead")->as_string()).Json();
    ASSERT_NE(lead.Find("owner"), nullptr) << lead.ToJson();
    EXPECT_NE(lead.Find("owner")->ToJson().find(routed->Find("rep")->as_string()),
              std::string::npos)
        << lead.ToJson();
  }

  // node-b killed (-9) and restarted on its data: it rebuilds its router from the log (a replay
  // that publishes nothing again) and routes on alike.
  ASSERT_OK(other.Kill9());
  ASSERT_OK(other.Start());
  // An admin change on node-b reaches node-a's router through the routing log.
  HttpResult put;
  ASSERT_TRUE(WaitUntil(
      [&] {
        put =
            HttpClient(other.http_port()).Put("/v1/reps/frank/availability", R"({"online":false})");
        return put.status == 200;
      },
      60, 0.2))
      << put.status << " " << put.body;
  EXPECT_EQ(RepOnline(other, "frank"), "false");
  EXPECT_TRUE(WaitUntil([&] { return RepOnline(node_, "frank") == "false"; }, 30, 0.1))
      << RepOnline(node_, "frank");
  const std::vector<Share> more = KnownLeadsWorkload(60, 2, 1);
  SendAll(node_.ingest_port(), {more[0]});
  SendAll(other.ingest_port(), {more[1]});
  SendAll(single_.ingest_port(), more);
  // The single daemon has had no accept, so from here its records differ: the nodes are
  // compared with each other, once both have the same head past the accept's.
  size_t last = 0;
  ASSERT_TRUE(SettleOnOneHead(node_, other, accepted_head, &last))
      << OutboxHead(node_) << " and " << OutboxHead(other)
      << ", the second round published nothing";
  const std::vector<Value> after_mine = AllRecords(node_, last);
  const std::vector<Value> after_theirs = AllRecords(other, last);
  ASSERT_EQ(after_mine.size(), after_theirs.size());
  for (size_t i = 0; i < after_mine.size(); ++i) {
    EXPECT_EQ(after_mine[i].ToJson(), after_theirs[i].ToJson()) << i;
  }
}

TEST_F(ClusterTest, AnExitByTimeAloneIsOneRecordOnEveryNodeAndNotTwoAfterATakeover) {
  global_router_ = true;
  rules_yaml_ = std::string(kDecayRules);
  node_.options().rules = node_.WriteRules(kDecayRules);
  node_.options().stage_check_interval = "1s";
  std::unique_ptr<DaemonProcess> node_b;
  ASSERT_NO_FATAL_FAILURE(StartSecondNode(/*short_leases=*/true, &node_b));
  DaemonProcess& other = *node_b;
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  char ts[64];
  std::snprintf(ts, sizeof(ts), "%.3f", now);
  Share share;
  share.lines = {std::string(R"({"type":"track","userId":"cooling","event":"Demo Requested",)") +
                     R"("messageId":"cool-1","timestamp":)" + ts + "}",
                 std::string(R"({"type":"track","userId":"steady","event":"Signed Up",)") +
                     R"("messageId":"steady-1","timestamp":)" + ts + "}"};
  SendAll(other.ingest_port(), {share});
  // Two promotions and one demotion, whichever node holds the leads' partitions: the holder of
  // `cooling`'s partition logs the time in it, and the exit is placed there.
  ASSERT_TRUE(WaitUntil([&] { return OutboxHead(node_) == 3 && OutboxHead(other) == 3; }, 60, 0.1))
      << OutboxHead(node_) << " and " << OutboxHead(other);
  const std::vector<Value> mine = AllRecords(node_, 3);
  const std::vector<Value> theirs = AllRecords(other, 3);
  ASSERT_EQ(mine.size(), 3u);
  ASSERT_EQ(theirs.size(), 3u);
  for (size_t i = 0; i < mine.size(); ++i) {
    EXPECT_EQ(mine[i].ToJson(), theirs[i].ToJson()) << i;
  }
  const Value& demoted = mine[2];
  EXPECT_EQ(JsonString(demoted, "lead"), "cooling") << demoted.ToJson();
  EXPECT_EQ(JsonString(demoted, "from"), "mql");
  EXPECT_EQ(JsonString(demoted, "to"), "new");
  EXPECT_EQ(demoted.Find("trigger"), nullptr);
  EXPECT_EQ(JsonString(HttpClient(node_.http_port()).Get("/v1/leads/cooling").Json(), "stage"),
            "new");
  EXPECT_EQ(JsonString(HttpClient(other.http_port()).Get("/v1/leads/steady").Json(), "stage"),
            "mql");

  // node-b dies (-9): node-a takes its partitions over and applies them again from the log,
  // clocks included. The exit it re-checks there is the one the router took: no record more.
  ASSERT_OK(other.Kill9());
  ASSERT_TRUE(WaitUntil([&] { return Partitions(node_) == 16; }, 60, 0.1)) << Partitions(node_);
  std::this_thread::sleep_for(std::chrono::seconds(3));  // clocks of the partitions taken over
  EXPECT_EQ(OutboxHead(node_), 3);
  EXPECT_EQ(JsonString(HttpClient(node_.http_port()).Get("/v1/leads/cooling").Json(), "stage"),
            "new");
  EXPECT_EQ(JsonString(HttpClient(node_.http_port()).Get("/v1/leads/steady").Json(), "stage"),
            "mql");
}

// POST /v1/rules/apply on one node: the re-evaluation goes into every partition's log, so each
// lead it promotes is one stage record, the same on every node, whichever node holds the lead.
TEST_F(ClusterTest, RulesAppliedOnOneNodePromoteEachLeadOnceOnEveryNode) {
  std::string strict(kDecayRules);
  strict.replace(strict.find("score.lifetime >= 40"), 20, "score.lifetime >= 90");
  rules_yaml_ = strict;
  node_.options().rules = node_.WriteRules(strict);
  std::unique_ptr<DaemonProcess> node_b;
  ASSERT_NO_FATAL_FAILURE(StartSecondNode(/*short_leases=*/true, &node_b));
  DaemonProcess& other = *node_b;
  Share share;
  for (int i = 0; i < 12; ++i) {
    share.lines.push_back(R"({"type":"track","userId":"signed-)" + std::to_string(i) +
                          R"(","event":"Signed Up","messageId":"s-)" + std::to_string(i) + "\"}");
  }
  SendAll(node_.ingest_port(), {share});
  ASSERT_TRUE(WaitUntil(
      [&] { return Applied(other.http_port()) + Applied(node_.http_port()) >= 12; }, 60, 0.1));
  EXPECT_EQ(OutboxHead(node_), 0);

  HttpResult r;
  ASSERT_TRUE(WaitUntil(
      [&] {
        r = HttpClient(other.http_port()).Post("/v1/rules/apply", std::string(kDecayRules));
        return r.status == 200;
      },
      60, 0.2))
      << r.status << " " << r.body;
  ASSERT_TRUE(
      WaitUntil([&] { return OutboxHead(node_) == 12 && OutboxHead(other) == 12; }, 60, 0.1))
      << OutboxHead(node_) << " and " << OutboxHead(other);
  const std::vector<Value> mine = AllRecords(node_, 12);
  const std::vector<Value> theirs = AllRecords(other, 12);
  ASSERT_EQ(mine.size(), 12u);
  std::set<std::string> leads;
  for (size_t i = 0; i < mine.size(); ++i) {
    EXPECT_EQ(mine[i].ToJson(), theirs[i].ToJson()) << i;
    EXPECT_EQ(JsonString(mine[i], "to"), "mql") << mine[i].ToJson();
    leads.insert(JsonString(mine[i], "lead"));
  }
  EXPECT_EQ(leads.size(), 12u);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(OutboxHead(node_), 12);
  EXPECT_EQ(JsonString(HttpClient(node_.http_port()).Get("/v1/leads/signed-3").Json(), "stage"),
            "mql");
}

}  // namespace
}  // namespace handoff::testing
