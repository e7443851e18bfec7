// Cluster mode over real processes (docs/cluster.md), what every node agrees on: merges across
// nodes give the single daemon's leads, the funnel on any node adds up every node's part, admin
// changes and rules applied on one node hold on every node, the global router gives every node
// the same records. The fixture is in cluster_fixture.h; cluster_test.cc has the failure tests.
#include <cstdlib>
#include <random>

#include "tests/integration/cluster_fixture.h"

namespace handoff::testing {
namespace {

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

// A chain of links (u <- a, then a <- ax, ax without events of its own): the alias is applied
// where a's lead went, so when ax's partition is held by the node that does not hold u, that
// node knew nothing of ax and answered 404 while the other node served the merged lead. A read
// this node cannot answer now asks the other nodes (docs/cluster.md, "What each read gives").
// With two nodes, each of the 30 chains has that layout with a chance of about a quarter.
TEST_F(ClusterTest, AnIdLinkedThroughAChainReadsTheMergedLeadOnEveryNode) {
  std::unique_ptr<DaemonProcess> node_b;
  ASSERT_NO_FATAL_FAILURE(StartSecondNode(/*short_leases=*/true, &node_b));
  DaemonProcess& other = *node_b;
  constexpr int kChains = 30;
  auto id = [](int k, const char* part) { return "e" + std::to_string(k) + "-" + part; };
  for (int k = 0; k < kChains; ++k) {
    // Each chain's two lines together, one chain after the other, as a tracker sends them.
    Share chain;
    chain.lines.push_back(R"({"type":"identify","userId":")" + id(k, "u") + R"(","anonymousId":")" +
                          id(k, "a") + R"(","messageId":")" + id(k, "1") +
                          R"(","timestamp":"2026-11-21T06:51:08Z"})");
    chain.lines.push_back(R"({"type":"alias","previousId":")" + id(k, "ax") + R"(","userId":")" +
                          id(k, "a") + R"(","messageId":")" + id(k, "2") +
                          R"(","timestamp":"2026-11-21T06:52:38Z"})");
    SendAll(node_.ingest_port(), {chain});
    SendAll(single_.ingest_port(), {chain});
  }
  for (int k = 0; k < kChains; ++k) {
    for (DaemonProcess* d : {&node_, &other}) {
      ExpectSameLeadOn(*d, id(k, "ax"));
      ExpectSameLeadOn(*d, id(k, "a"));
    }
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
  // Speed to lead runs from the qualifying event's receipt through the log to the routing, as
  // on the single daemon (SPEC 12): it was 0 for every lead routed at once (the router's records
  // timed from their own time). Found by a black-box cluster review.
  const Value speed = funnel(node_);
  const Value* p50 = JsonAt(speed, "speed_to_lead_ms.routed.p50");
  ASSERT_NE(p50, nullptr) << speed.ToJson();
  ASSERT_TRUE(p50->is_number()) << speed.ToJson();
  EXPECT_GT(p50->as_number(), 0) << speed.ToJson();
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
  HttpResult r = PutAliceAwayWhenReady(node_);
  ASSERT_EQ(r.status, 200) << r.body;
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

// Links in one burst: a visitor's page views under two anonymous ids, then identify u+a and
// alias a2 -> a and a page under a2, all five lines in one write. Every acknowledged event
// reaches the merged lead, whichever partitions the three ids hash to and whichever node holds
// them.
TEST_F(ClusterTest, LinksInOneBurstLoseNoEvent) {
  std::unique_ptr<DaemonProcess> node_b;
  ASSERT_NO_FATAL_FAILURE(StartSecondNode(/*short_leases=*/true, &node_b));
  DaemonProcess& other = *node_b;
  constexpr int kBursts = 24;
  auto id = [](int k, const char* part) { return "b" + std::to_string(k) + "-" + part; };
  auto line = [&](int k, int n, const std::string& body) {
    return "{" + body + R"(,"messageId":")" + id(k, "m") + std::to_string(n) +
           R"(","timestamp":"2026-11-21T06:5)" + std::to_string(n) + ":00Z\"}";
  };
  for (int k = 0; k < kBursts; ++k) {
    const std::string a = id(k, "a");
    const std::string a2 = id(k, "a2");
    const std::string u = id(k, "u");
    Share burst;
    burst.lines = {
        line(k, 0,
             R"("type":"page","anonymousId":")" + a + R"(","properties":{"path":"/pricing"})"),
        line(k, 1, R"("type":"page","anonymousId":")" + a2 + R"(","properties":{"path":"/docs"})"),
        line(k, 2, R"("type":"identify","userId":")" + u + R"(","anonymousId":")" + a + "\""),
        line(k, 3, R"("type":"alias","previousId":")" + a2 + R"(","userId":")" + a + "\""),
        line(k, 4, R"("type":"page","anonymousId":")" + a2 + R"(","properties":{"path":"/blog"})"),
    };
    SendAll(k % 2 == 0 ? node_.ingest_port() : other.ingest_port(), {burst});
    SendAll(single_.ingest_port(), {burst});
  }
  for (int k = 0; k < kBursts; ++k) {
    for (const char* part : {"u", "a", "a2"}) {
      for (DaemonProcess* d : {&node_, &other}) {
        ExpectSameLeadOn(*d, id(k, part));
      }
    }
  }
}

// Random bursts of links: each group's ids (three anonymous, two known) get pages, tracks,
// identifies and aliases in a random order, each group in one write to one of two nodes. Every
// lead by every id equals the single daemon's.
// Environment, to explore: BURST_SEED (default 7), BURST_GROUPS (30), BURST_PRINT (each line to
// stderr). BURST_ANY_USER (a visitor's id linked to either known id, so two known leads merge)
// and BURST_ANON_ALIAS (aliases between anonymous ids) reach docs/cluster.md's open problem
// "an id linked to a second known lead" and fail today.
TEST_F(ClusterTest, RandomBurstsOfLinksGiveTheSingleDaemonsLeads) {
  std::unique_ptr<DaemonProcess> node_b;
  ASSERT_NO_FATAL_FAILURE(StartSecondNode(/*short_leases=*/true, &node_b));
  DaemonProcess& other = *node_b;
  auto setting = [](const char* name, int otherwise) {
    const char* value = std::getenv(name);
    return value == nullptr ? otherwise : std::atoi(value);
  };
  std::mt19937 rng(setting("BURST_SEED", 7));
  const int groups = setting("BURST_GROUPS", 30);
  std::vector<std::string> all_ids;
  int message = 0;
  for (int g = 0; g < groups; ++g) {
    std::vector<std::string> anons;
    std::vector<std::string> users;
    for (int i = 0; i < 3; ++i) {
      anons.push_back("r" + std::to_string(g) + "-a" + std::to_string(i));
    }
    for (int i = 0; i < 2; ++i) {
      users.push_back("r" + std::to_string(g) + "-u" + std::to_string(i));
    }
    auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
    // Each visitor is one person: its anonymous id links to one known id (BURST_ANY_USER: any).
    auto user_of = [&](size_t anon) {
      return setting("BURST_ANY_USER", 0) != 0 ? pick(users) : users[anon % users.size()];
    };
    Share burst;
    const int lines = 6 + static_cast<int>(rng() % 7);
    for (int n = 0; n < lines; ++n) {
      std::string body;
      switch (rng() % 5) {
        case 0:
          body = R"("type":"page","anonymousId":")" + pick(anons) +
                 R"(","properties":{"path":"/pricing"})";
          break;
        case 1:
          body = R"("type":"track","userId":")" + pick(users) + R"(","event":"Demo Requested")";
          break;
        case 2: {
          const size_t a = rng() % anons.size();
          body = R"("type":"identify","userId":")" + user_of(a) + R"(","anonymousId":")" +
                 anons[a] + "\"";
          break;
        }
        case 3: {
          const size_t a = rng() % anons.size();
          body =
              R"("type":"alias","previousId":")" + anons[a] + R"(","userId":")" +
              (setting("BURST_ANON_ALIAS", 0) != 0 && rng() % 2 == 0 ? pick(anons) : user_of(a)) +
              "\"";
          break;
        }
        default:
          body = R"("type":"page","userId":")" + pick(users) + R"(","properties":{"path":"/docs"})";
          break;
      }
      burst.lines.push_back("{" + body + R"(,"messageId":"rb-)" + std::to_string(message++) +
                            R"(","timestamp":"2026-11-21T07:00:00Z"})");
    }
    if (setting("BURST_PRINT", 0) != 0) {
      for (const std::string& l : burst.lines) {
        std::fprintf(stderr, "BURST %d %s\n", g, l.c_str());
      }
    }
    SendAll(g % 2 == 0 ? node_.ingest_port() : other.ingest_port(), {burst});
    SendAll(single_.ingest_port(), {burst});
    all_ids.insert(all_ids.end(), anons.begin(), anons.end());
    all_ids.insert(all_ids.end(), users.begin(), users.end());
  }
  for (const std::string& id : all_ids) {
    for (DaemonProcess* d : {&node_, &other}) {
      ExpectSameLeadOn(*d, id);
    }
  }
}

}  // namespace
}  // namespace handoff::testing
