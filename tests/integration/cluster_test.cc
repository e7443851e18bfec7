// Cluster mode over real processes (docs/cluster.md): three nats-server nodes with JetStream and
// handoffd started with --cluster, against a single handoffd fed the same events. A workload with
// anonymous visitors merged into known leads must give, lead for lead, the single daemon's
// state; kill -9 of handoffd or of a NATS node mid-stream loses nothing acknowledged and counts
// nothing twice.
//
// The fixture and workloads are in cluster_fixture.h; cluster_shared_state_test.cc has the tests
// of what every node agrees on (merges across nodes, the funnel, admin changes, rules, the global
// router).
#include <chrono>
#include <thread>

#include "tests/integration/cluster_fixture.h"

namespace handoff::testing {
namespace {

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
  // A list shows a lead only on the holder of its partition, so while a partition changes hands
  // (here: a 4 s lease that lapsed on a loaded machine and was taken again, seen once under ASan
  // with four tests at a time) its leads are missing until the new holder has them
  // (docs/cluster.md). Asked again until complete, for at most three leases: a lead that never
  // shows still fails.
  auto listed_in_full = [&](DaemonProcess& d, int page) {
    std::string ids;
    for (int attempt = 0; attempt < 60; ++attempt) {
      ids = list_ids(d, page);
      if (ids == all) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return ids;
  };
  EXPECT_EQ(listed_in_full(node_, 1000), all);
  EXPECT_EQ(listed_in_full(other, 1000), all);
  EXPECT_EQ(listed_in_full(node_, 7), all);

  // Without asking the holder, node-a has only its half: the answers above were forwarded.
  int on_a = 0;
  for (int i = 0; i < kLeads; ++i) {
    const std::string id = "user-" + std::to_string(i);
    on_a +=
        LeadView(node_.http_port(), id, /*here_only=*/true) == LeadView(single_.http_port(), id);
  }
  EXPECT_LT(on_a, kLeads);
  // An erasure asked of node-a of a lead node-b holds is forwarded there too (SPEC 8), as on the
  // single daemon. Found by a black-box cluster review: node-a answered 404.
  std::vector<int> held_by_b;
  for (int i = 0; i < kLeads && held_by_b.size() < 2; ++i) {
    const std::string id = "user-" + std::to_string(i);
    if (LeadView(node_.http_port(), id, /*here_only=*/true) != LeadView(single_.http_port(), id)) {
      held_by_b.push_back(i);
    }
  }
  ASSERT_EQ(held_by_b.size(), 2u);
  const int erased = held_by_b[0];
  const std::string erased_id = "user-" + std::to_string(erased);
  HttpResult single_erase;
  ASSERT_OK(HttpClient(single_.http_port())
                .Request("DELETE", "/v1/leads/" + erased_id, "", {}, &single_erase));
  HttpResult cluster_erase;
  ASSERT_OK(HttpClient(node_.http_port())
                .Request("DELETE", "/v1/leads/" + erased_id, "", {}, &cluster_erase));
  EXPECT_EQ(cluster_erase.status, 200) << cluster_erase.body;
  EXPECT_EQ(cluster_erase.body, single_erase.body);
  for (DaemonProcess* d : {&node_, &other}) {
    EXPECT_EQ(HttpClient(d->http_port()).Get("/v1/leads/" + erased_id).status, 404);
  }
  // node-b dies: until node-a holds its partitions, node-a answers from what it has; then as
  // the single daemon. (Not the erased lead: a node taking a partition over rebuilds it from the
  // event log, erased leads included; docs/cluster.md, "Known differences".)
  ASSERT_OK(other.Kill9());
  // An erasure asked while the holder is down (its lease not lapsed yet) is a 503, not an
  // erasure of what node-a has: that lead is still the single daemon's after the takeover below.
  HttpResult while_down;
  const std::string kept_id = "user-" + std::to_string(held_by_b[1]);
  ASSERT_OK(
      HttpClient(node_.http_port()).Request("DELETE", "/v1/leads/" + kept_id, "", {}, &while_down));
  EXPECT_EQ(while_down.status, 503) << while_down.body;
  ASSERT_TRUE(WaitUntil([&] { return Partitions(node_) == 16; }, 60, 0.1)) << Partitions(node_);
  for (int i = 0; i < kLeads; ++i) {
    if (i == erased) {
      continue;
    }
    const std::string id = "user-" + std::to_string(i);
    EXPECT_TRUE(WaitUntil(
        [&] { return LeadView(node_.http_port(), id) == LeadView(single_.http_port(), id); }, 60,
        0.1))
        << id;
  }
}

// SPEC 3 orders one connection's events; with one node holding every partition, the leads of
// one send qualify in the order sent, as on the single daemon, so round robin gives each the
// same rep. (An ingest message holds a section per partition; the sections were applied one
// after another, so twenty leads qualifying in one read were routed in partition order.)
TEST_F(ClusterTest, LeadsQualifyingInOneSendAreRoutedInTheOrderSent) {
  constexpr int kLeads = 20;
  Share share;
  int message = 0;
  for (int step = 0; step < 3; ++step) {
    for (int i = 0; i < kLeads; ++i) {
      const std::string lead = "q-" + std::to_string(i);
      std::string body;
      if (step == 0) {
        body = R"("type":"identify","userId":")" + lead +
               R"(","traits":{"title":"VP Engineering","email":"buyer@)" + lead +
               R"(.example.com"})";
      } else {
        body = R"("type":"track","userId":")" + lead + R"(","event":")" +
               (step == 1 ? "Demo Requested" : "Trial Started") + "\"";
      }
      share.lines.push_back("{" + body + R"(,"messageId":"q-m)" + std::to_string(message++) +
                            R"(","timestamp":"2026-11-24T10:00:00Z"})");
    }
  }
  SendAll(node_.ingest_port(), {share});
  SendAll(single_.ingest_port(), {share});
  ASSERT_TRUE(WaitUntil(
      [&] {
        const double head = OutboxHead(single_);
        return head > 0 && OutboxHead(node_) == head;
      },
      60, 0.1))
      << OutboxHead(node_) << ", single " << OutboxHead(single_);
  const auto head = static_cast<size_t>(OutboxHead(single_));
  auto order = [](const std::vector<Value>& records) {
    std::vector<std::string> out;
    for (const Value& r : records) {
      const Value* rep = r.Find("rep");
      out.push_back(r.Find("kind")->as_string() + " " + r.Find("lead")->as_string() + " " +
                    (rep == nullptr ? "-" : rep->ToJson()));
    }
    return out;
  };
  EXPECT_EQ(order(AllRecords(node_, head)), order(AllRecords(single_, head)));
}

// Fewer than three NATS servers (docs/cluster.md: any number of servers): the node gives the
// single daemon's leads, says in its log how many copies the log keeps, and takes admin changes
// (the buckets follow the stream's copy count).
class FewNatsServersTest : public ClusterTest {
 protected:
  void ExpectAWorkingNodeThatSays(const std::string& log_says) {
    std::vector<std::string> ids;
    const std::vector<Share> shares = Workload(30, 2, &ids);
    SendAll(node_.ingest_port(), shares);
    SendAll(single_.ingest_port(), shares);
    ExpectSameLeads(ids);
    EXPECT_NE(node_.log().find(log_says), std::string::npos) << node_.log();
    const HttpResult r = PutAliceAwayWhenReady(node_);
    EXPECT_EQ(r.status, 200) << r.body << "\n" << node_.log();
  }
};

// One NATS server without a cluster refuses a stream or bucket of three copies, and the node
// never applied anything; the stream is now made with one copy there.
class OneNatsServerTest : public FewNatsServersTest {
 protected:
  int NatsServers() const override { return 1; }
};

TEST_F(OneNatsServerTest, ANodeOnOneServerGivesTheSingleDaemonsLeadsAndTakesAdminChanges) {
  ExpectAWorkingNodeThatSays("the NATS server is not clustered, so the log has one copy");
}

// A node started while its NATS server is down finishes starting and answers /healthz, stops on
// SIGTERM, and works once the server is back. cnats' first connect without a callback blocked
// start-up until a server answered, SIGTERM included, without a word in the log.
TEST_F(OneNatsServerTest, ANodeStartedBeforeItsNatsServerStartsStopsAndWorksOnceItComes) {
  ASSERT_OK(node_.Stop());
  nats_.Kill(0);
  ASSERT_OK(node_.Start());  // every listener up, no NATS server
  EXPECT_NE(HttpClient(node_.http_port()).Get("/healthz").status, 0) << node_.log();
  ASSERT_OK(node_.Stop());  // SIGTERM: exit 0
  ASSERT_OK(node_.Start());
  ASSERT_OK(nats_.Restart(0));
  ExpectAWorkingNodeThatSays("connected to " + nats_.url(0) + " (no server answered when it");
}

// A node whose NATS server is gone stops on SIGTERM within the harness's deadline: a clean stop
// hands its leases back, and each hand-back waited 2.5 s for an answer that never came (16
// partitions: 40 s). After the first unanswered one the rest are let go to expire.
TEST_F(OneNatsServerTest, ANodeWhoseNatsServerIsGoneStopsWithoutWaitingOnEveryLease) {
  ExpectAWorkingNodeThatSays("the NATS server is not clustered, so the log has one copy");
  nats_.Kill(0);
  ASSERT_OK(node_.Stop());
  EXPECT_NE(node_.log().find("let go, not handed back"), std::string::npos) << node_.log();
}

// Two clustered NATS servers cannot place three copies ("no suitable peers"), and the node
// waited without a word; the stream is now made with two.
class TwoNatsServersTest : public FewNatsServersTest {
 protected:
  int NatsServers() const override { return 2; }
};

TEST_F(TwoNatsServersTest, ANodeOnTwoServersGivesTheSingleDaemonsLeadsAndTakesAdminChanges) {
  ExpectAWorkingNodeThatSays("so the log has 2 copies");
}

}  // namespace
}  // namespace handoff::testing
