// Routing over the wire (SPEC 6 reps and accounts calls, 7, 9): the real daemon routes leads that
// qualify, sales tools answer on the subscriber port, admins change availability and accounts over
// HTTP, and every expectation is computed by hand from a small rule file written by the test.
//
// Every rule file here has one score `engagement` (no decay), a rule awarding 100 points for a
// `Qualify` event, and one stage `sql` entered at 100: each lead's first Qualify publishes a stage
// record (new -> sql) and then routes it. Reps have no working hours, so nothing depends on the
// wall clock (except the SLA timers, which are the point of their tests).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "base/timestamp.h"
#include "tests/integration/daemon_harness.h"
#include "tests/testutil.h"

namespace handoff::testing {
namespace {

// The qualify rules (daemon_harness.h) with `routing` (lines indented by two spaces, under
// `routing:`) appended.
std::string Rules(std::string_view routing) { return QualifyRules(routing); }

// One team `sales` that takes every lead.
std::string SalesTeam(std::string_view strategy, std::string_view reps,
                      std::string_view extra = "") {
  return std::string(extra) +
         "  teams:\n"
         "    - id: sales\n"
         "      when: true\n"
         "      strategy: " +
         std::string(strategy) + "\n      reps: " + std::string(reps) + "\n";
}

std::string QualifyId(const std::string& lead) { return "q-" + lead; }

std::string Qualify(const std::string& lead, const std::string& message_id) {
  return R"({"type":"track","userId":")" + lead + R"(","event":"Qualify","messageId":")" +
         message_id + R"(","timestamp":1767225600})";
}
std::string Qualify(const std::string& lead) { return Qualify(lead, QualifyId(lead)); }

std::string IdentifyEmail(const std::string& lead, const std::string& email) {
  return R"({"type":"identify","userId":")" + lead + R"(","traits":{"email":")" + email +
         R"("},"messageId":"id-)" + lead + R"(","timestamp":1767225600})";
}

std::string Seq(const Value& record) {
  return std::to_string(static_cast<uint64_t>(JsonNumber(record, "seq")));
}

// Epoch seconds of a record's "at" (2026-11-22T14:03:07.123Z), NaN when it does not parse.
double AtSeconds(const Value& record) {
  EpochSeconds t = 0;
  return ParseRfc3339(JsonString(record, "at"), &t) ? t : std::nan("");
}

void ExpectStage(const Value& r, const std::string& lead, const std::string& from,
                 const std::string& to, const std::string& trigger) {
  SCOPED_TRACE(r.ToJson());
  EXPECT_EQ(JsonString(r, "kind"), "stage");
  EXPECT_EQ(JsonString(r, "lead"), lead);
  EXPECT_EQ(JsonString(r, "from"), from);
  EXPECT_EQ(JsonString(r, "to"), to);
  if (trigger.empty()) {
    EXPECT_EQ(r.Find("trigger"), nullptr);
  } else {
    EXPECT_EQ(JsonString(r, "trigger"), trigger);
  }
}

// A routing-kind record (`routed`, `reassigned`, ...) for `lead`; an empty `trigger` must be
// absent from the record (a timer or an API call caused it).
void ExpectRouting(const Value& r, const std::string& kind, const std::string& lead,
                   const std::string& rep, const std::string& reason, const std::string& trigger,
                   const std::string& team = "sales") {
  SCOPED_TRACE(r.ToJson());
  EXPECT_EQ(JsonString(r, "kind"), kind);
  EXPECT_EQ(JsonString(r, "lead"), lead);
  EXPECT_EQ(JsonString(r, "rep"), rep);
  EXPECT_EQ(JsonString(r, "team"), team);
  if (!reason.empty()) {
    EXPECT_EQ(JsonString(r, "reason"), reason);
  }
  if (trigger.empty()) {
    EXPECT_EQ(r.Find("trigger"), nullptr);
  } else {
    EXPECT_EQ(JsonString(r, "trigger"), trigger);
  }
}

// A lead (GET /v1/leads/ID) whose "owner" is null.
bool HasNoOwner(const Value& lead) {
  const Value* owner = JsonAt(lead, "owner");
  return owner != nullptr && owner->is_null();
}

struct RepCounts {
  int open;
  int today;
};

class RoutingTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (daemon_.running()) {
      EXPECT_OK(daemon_.Stop());
    }
  }

  // Starts the daemon on `rules` and connects the ingest client, a subscriber to every record
  // from the start (watcher_) and a sales tool that never subscribes (tool_: acts for any rep,
  // and reads only its own replies).
  void Start(const std::string& rules) {
    daemon_.WriteRules(rules);
    ASSERT_OK(daemon_.Start());
    Connect();
  }
  void Connect() {
    ingest_ = std::make_unique<IngestClient>();
    ASSERT_OK(ingest_->Connect(daemon_.ingest_port()));
    watcher_ = std::make_unique<SubscriberClient>();
    ASSERT_OK(watcher_->Connect(daemon_.subscribe_port()));
    ASSERT_OK(watcher_->Subscribe(seen_));
    tool_ = std::make_unique<SubscriberClient>();
    ASSERT_OK(tool_->Connect(daemon_.subscribe_port()));
  }
  void Restart() {
    ASSERT_OK(daemon_.Restart());
    Connect();
  }

  double Deadline() const { return HasFailure() ? 2 : kDefaultDeadlineSeconds; }

  // Sends the lines on the one ingest connection (so they take effect in this order) and waits
  // until all are acknowledged.
  void Send(const std::vector<std::string>& lines) {
    ASSERT_OK(ingest_->SendLines(lines));
    ASSERT_OK(ingest_->WaitForAck(ingest_->lines_sent()));
    EXPECT_TRUE(ingest_->errors().empty()) << ingest_->errors().front().ToJson();
  }

  // The next `n` records of the outbox, in order; checks their seqs follow on.
  std::vector<Value> Next(size_t n) {
    std::vector<Value> records;
    // Once something failed, later waits are short: one wrong decision must not cost a
    // deadline for every record after it.
    Status st = watcher_->ReadRecords(n, &records, Deadline());
    EXPECT_OK(st);
    records.resize(n);
    for (const Value& r : records) {
      EXPECT_EQ(JsonNumber(r, "seq"), static_cast<double>(seen_ + 1)) << r.ToJson();
      ++seen_;
    }
    return records;
  }
  Value NextOne() { return Next(1)[0]; }

  // Qualifies `lead` and checks its stage record (new -> sql, triggered by the Qualify); returns
  // the record after it, which the caller checks (normally the routed record).
  Value QualifyAndNext(const std::string& lead) {
    Send({Qualify(lead)});
    std::vector<Value> r = Next(2);
    ExpectStage(r[0], lead, "new", "sql", QualifyId(lead));
    return r[1];
  }
  // Qualifies `lead`, expects it routed to `rep` for `reason`, returns the routed record.
  Value Route(const std::string& lead, const std::string& rep, const std::string& reason) {
    Value routed = QualifyAndNext(lead);
    ExpectRouting(routed, "routed", lead, rep, reason, QualifyId(lead));
    EXPECT_EQ(JsonString(routed, "stage"), "sql") << routed.ToJson();
    return routed;
  }

  // Sends one command line on `conn` and returns its reply ({"ok":..} or {"error":..}),
  // skipping the records a subscribed connection receives meanwhile.
  Value Command(SubscriberClient& conn, const std::string& line) {
    EXPECT_OK(conn.SendLine(line));
    for (;;) {
      Value m;
      Status st = conn.ReadMessage(&m, Deadline());
      if (!st.ok()) {
        ADD_FAILURE() << "no reply to " << line << ": " << st.ToString();
        return Value();
      }
      if (m.Find("kind") == nullptr) {
        return m;  // not a record
      }
    }
  }
  Value Command(const std::string& line) { return Command(*tool_, line); }
  void ExpectOk(const Value& reply, const Value& record) {
    EXPECT_EQ(JsonNumber(reply, "ok"), JsonNumber(record, "seq")) << reply.ToJson();
  }
  void ExpectError(const Value& reply, const std::string& code, double seq) {
    SCOPED_TRACE(reply.ToJson());
    EXPECT_EQ(JsonString(reply, "error"), code);
    EXPECT_FALSE(JsonString(reply, "message").empty());
    EXPECT_EQ(JsonNumber(reply, "seq"), seq);
  }

  // GET /v1/reps, the entry of `rep` (null, with a failure, when absent).
  Value RepEntry(const std::string& rep) {
    Value body = HttpClient(daemon_.http_port()).Get("/v1/reps").Json();
    const Value* reps = body.Find("reps");
    if (reps == nullptr || !reps->is_array()) {
      ADD_FAILURE() << "GET /v1/reps: " << body.ToJson();
      return Value();
    }
    for (const Value& r : reps->as_array()) {
      if (JsonString(r, "id") == rep) {
        return r;
      }
    }
    ADD_FAILURE() << "no rep " << rep << " in " << body.ToJson();
    return Value();
  }
  void ExpectCounts(const std::string& rep, RepCounts want) {
    Value r = RepEntry(rep);
    SCOPED_TRACE(r.ToJson());
    EXPECT_EQ(JsonNumber(r, "open"), want.open) << rep;
    EXPECT_EQ(JsonNumber(r, "today"), want.today) << rep;
  }

  HttpClient http() { return HttpClient(daemon_.http_port()); }
  Value Lead(const std::string& id) { return http().Get("/v1/leads/" + id).Json(); }

  DaemonProcess daemon_{DaemonOptions{}};
  // Never null (unconnected until Start), so a failed start fails the test without a crash.
  std::unique_ptr<IngestClient> ingest_ = std::make_unique<IngestClient>();
  std::unique_ptr<SubscriberClient> watcher_ = std::make_unique<SubscriberClient>();
  std::unique_ptr<SubscriberClient> tool_ = std::make_unique<SubscriberClient>();
  uint64_t seen_ = 0;  // the last seq the watcher read
};

std::string LeadName(int i) {
  char name[16];
  std::snprintf(name, sizeof(name), "L%02d", i);
  return name;
}

// --- strategies ---

TEST_F(RoutingTest, WeightedRoundRobinFollowsTheSmoothSequence) {
  ASSERT_NO_FATAL_FAILURE(Start(Rules(SalesTeam(
      "weighted_round_robin", "[{id: a, weight: 5}, {id: b, weight: 1}, {id: c, weight: 1}]"))));
  // Smooth WRR with weights 5, 1, 1 (current weights after each pick, winner minus 7):
  //   (5,1,1)->a (-2,1,1); (3,2,2)->a (-4,2,2); (1,3,3)->b (ties: file order) (1,-4,3);
  //   (6,-3,4)->a (-1,-3,4); (4,-2,5)->c (4,-2,-2); (9,-1,-1)->a (2,-1,-1); (7,0,0)->a (0,0,0).
  const std::vector<std::string> want = {"a", "a", "b", "a", "c", "a", "a",
                                         "a", "a", "b", "a", "c", "a", "a"};
  std::vector<std::string> lines;
  for (int i = 1; i <= 14; ++i) {
    lines.push_back(Qualify(LeadName(i)));
  }
  Send(lines);  // all 14 in order on one connection
  std::vector<Value> records = Next(28);
  for (int i = 0; i < 14; ++i) {
    SCOPED_TRACE("lead " + LeadName(i + 1));
    // Each lead's stage record, then its routed record right after it, both naming its event.
    ExpectStage(records[2 * i], LeadName(i + 1), "new", "sql", QualifyId(LeadName(i + 1)));
    ExpectRouting(records[2 * i + 1], "routed", LeadName(i + 1), want[i], "weighted_round_robin",
                  QualifyId(LeadName(i + 1)));
    EXPECT_EQ(JsonString(records[2 * i + 1], "stage"), "sql");
    EXPECT_EQ(JsonNumber(records[2 * i + 1], "scores.engagement"), 100);
  }
  EXPECT_TRUE(watcher_->NothingWithin(0.3)) << "more records than the 14 leads cause";

  ExpectCounts("a", {10, 10});
  ExpectCounts("b", {2, 2});
  ExpectCounts("c", {2, 2});
  // Two whole cycles bring every current weight back to 0.
  for (const char* rep : {"a", "b", "c"}) {
    Value r = RepEntry(rep);
    EXPECT_EQ(JsonNumber(r, "current_weight"), 0) << r.ToJson();
    EXPECT_EQ(JsonString(r, "team"), "sales");
  }
  // The routed lead knows its owner.
  Value lead = Lead("L03");
  EXPECT_EQ(JsonString(lead, "owner.rep"), "b") << lead.ToJson();
  EXPECT_EQ(JsonString(lead, "owner.team"), "sales");
  EXPECT_EQ(JsonNumber(lead, "owner.seq"), 6);
}

TEST_F(RoutingTest, RoundRobinCyclesInFileOrderAndItsStateSurvivesARestart) {
  ASSERT_NO_FATAL_FAILURE(Start(Rules(SalesTeam("round_robin", "[{id: a}, {id: b}, {id: c}]"))));
  const std::vector<std::string> want = {"a", "b", "c", "a", "b"};
  for (int i = 1; i <= 5; ++i) {
    Route(LeadName(i), want[i - 1], "round_robin");
  }
  // Routing state persists: after a restart the cycle goes on where it was (c), not at a.
  ASSERT_NO_FATAL_FAILURE(Restart());
  Route(LeadName(6), "c", "round_robin");
  Route(LeadName(7), "a", "round_robin");
  ExpectCounts("a", {3, 3});
  ExpectCounts("b", {2, 2});
  ExpectCounts("c", {2, 2});
}

TEST_F(RoutingTest, LeastLoadedFollowsOpenCountsThenTodayThenFileOrder) {
  ASSERT_NO_FATAL_FAILURE(Start(Rules(SalesTeam("least_loaded", "[{id: a}, {id: b}, {id: c}]"))));
  // open/today of a, b, c after each step in the comments.
  Value l1 = Route("L1", "a", "least_loaded");  // 1/1 0/0 0/0
  Value l2 = Route("L2", "b", "least_loaded");  // 1/1 1/1 0/0
  Route("L3", "c", "least_loaded");             // 1/1 1/1 1/1
  // Accepting does not change the load.
  ExpectOk(Command(R"({"accept":)" + Seq(l1) + "}"), l1);
  EXPECT_EQ(JsonString(NextOne(), "kind"), "accepted");
  // Closing L2 frees b: fewest open.
  ExpectOk(Command(R"({"close":)" + Seq(l2) + R"(,"outcome":"won"})"), l2);
  EXPECT_EQ(JsonString(NextOne(), "kind"), "closed");  // 1/1 0/1 1/1
  Route("L4", "b", "least_loaded");                    // 1/1 1/2 1/1
  ExpectCounts("b", {1, 2});
  // Open ties everywhere; b has more today; a and c tie on both: file order.
  Route("L5", "a", "least_loaded");  // 2/2 1/2 1/1
  // b and c tie on open; c has fewer today (file order would say b).
  Route("L6", "c", "least_loaded");  // 2/2 1/2 2/2
  Route("L7", "b", "least_loaded");  // 2/2 2/3 2/2
  ExpectCounts("a", {2, 2});
  ExpectCounts("b", {2, 3});
  ExpectCounts("c", {2, 2});
}

// --- sales answers over the subscriber connection ---

// SPEC 9's `rep` filters the stream; it does not restrict what the connection may answer: a
// command acts for whichever rep holds the lead.
TEST_F(RoutingTest, ARepFilterOnlyFiltersTheStream) {
  ASSERT_NO_FATAL_FAILURE(Start(Rules(SalesTeam("round_robin", "[{id: a}, {id: b}]"))));
  SubscriberClient a_tool;
  ASSERT_OK(a_tool.Connect(daemon_.subscribe_port()));
  ASSERT_OK(a_tool.SendLine(R"({"subscribe":{"rep":"a"},"from":0})"));
  Route("L1", "a", "round_robin");
  Value l2 = Route("L2", "b", "round_robin");
  ExpectOk(Command(a_tool, R"({"accept":)" + Seq(l2) + "}"), l2);
  ExpectRouting(NextOne(), "accepted", "L2", "b", "", "");
}

TEST_F(RoutingTest, AcceptRejectCloseUpdateRepCountsAndAnswerErrors) {
  ASSERT_NO_FATAL_FAILURE(Start(Rules(SalesTeam("round_robin", "[{id: a}, {id: b}]"))));
  // A's own tool: a subscription filtered to rep a.
  SubscriberClient a_tool;
  ASSERT_OK(a_tool.Connect(daemon_.subscribe_port()));
  ASSERT_OK(a_tool.SendLine(R"({"subscribe":{"rep":"a"},"from":0})"));

  Value l1 = Route("L1", "a", "round_robin");
  Value l2 = Route("L2", "b", "round_robin");
  Route("L3", "a", "round_robin");
  ExpectCounts("a", {2, 2});
  ExpectCounts("b", {1, 1});

  // Accept: the lead stays open.
  ExpectOk(Command(a_tool, R"({"accept":)" + Seq(l1) + "}"), l1);
  ExpectRouting(NextOne(), "accepted", "L1", "a", "", "");
  ExpectCounts("a", {2, 2});
  ExpectError(Command(a_tool, R"({"accept":)" + Seq(l1) + "}"), "already_accepted",
              JsonNumber(l1, "seq"));

  // Errors, each naming the seq.
  ExpectError(Command(R"({"accept":999999})"), "unknown_seq", 999999);
  ExpectError(Command(R"({"close":)" + Seq(l1) + R"(,"outcome":"maybe"})"), "invalid_outcome",
              JsonNumber(l1, "seq"));
  // A stage record is no routing record.
  const double l1_stage = JsonNumber(l1, "seq") - 1;
  ExpectError(Command(R"({"accept":)" + std::to_string(static_cast<int>(l1_stage)) + "}"),
              "unknown_seq", l1_stage);
  ExpectCounts("a", {2, 2});
  ExpectCounts("b", {1, 1});

  // Reject: b lets go of L2, which goes to a rep that has not held it (a) as `reassigned`,
  // although the round robin's next pick would be b.
  ExpectOk(Command(R"({"reject":)" + Seq(l2) + R"(,"reason":"not my region"})"), l2);
  Value rejected = NextOne();
  ExpectRouting(rejected, "rejected", "L2", "b", "not my region", "");
  Value moved = NextOne();
  ExpectRouting(moved, "reassigned", "L2", "a", "", "");
  EXPECT_EQ(JsonString(moved, "from_rep"), "b") << moved.ToJson();
  ExpectCounts("a", {3, 3});  // a lead counts in `today` whether routed or reassigned
  ExpectCounts("b", {0, 1});
  // The old routing record of L2 is no longer current.
  ExpectError(Command(R"({"accept":)" + Seq(l2) + "}"), "unknown_seq", JsonNumber(l2, "seq"));

  // Close.
  ExpectOk(Command(a_tool, R"({"close":)" + Seq(l1) + R"(,"outcome":"won"})"), l1);
  Value closed = NextOne();
  ExpectRouting(closed, "closed", "L1", "a", "", "");
  EXPECT_EQ(JsonString(closed, "outcome"), "won");
  ExpectCounts("a", {2, 3});
  ExpectError(Command(R"({"close":)" + Seq(l1) + R"(,"outcome":"lost"})"), "already_closed",
              JsonNumber(l1, "seq"));

  // Recycled: the lead goes back to `new` and may qualify again.
  ExpectOk(Command(a_tool, R"({"close":)" + Seq(moved) + R"(,"outcome":"recycled"})"), moved);
  Value recycled = NextOne();
  ExpectRouting(recycled, "closed", "L2", "a", "", "");
  EXPECT_EQ(JsonString(recycled, "outcome"), "recycled");
  ExpectStage(NextOne(), "L2", "sql", "new", "");
  ExpectCounts("a", {1, 3});
  ExpectCounts("b", {0, 1});
  EXPECT_EQ(JsonString(Lead("L2"), "stage"), "new");

  Send({Qualify("L2", "q-L2-again")});
  std::vector<Value> again = Next(2);
  ExpectStage(again[0], "L2", "new", "sql", "q-L2-again");
  // Round-robin weights after a, b, a: (-1, 1); the reassignment had only a to pick from, which
  // leaves a at -1 whether or not it counts: b is next.
  ExpectRouting(again[1], "routed", "L2", "b", "round_robin", "q-L2-again");
  ExpectCounts("a", {1, 3});
  ExpectCounts("b", {1, 2});
  EXPECT_EQ(JsonString(Lead("L2"), "owner.rep"), "b");
  EXPECT_TRUE(watcher_->NothingWithin(0.3));
}

// --- availability ---

TEST_F(RoutingTest, AnOfflineRepGetsNoLeadsAndAQueuedLeadWaitsForOneToComeBack) {
  ASSERT_NO_FATAL_FAILURE(Start(Rules(SalesTeam("round_robin", "[{id: a}, {id: b}]"))));
  HttpResult put = http().Put("/v1/reps/a/availability", R"({"online":false})");
  ASSERT_EQ(put.status, 200) << put.body;
  Value a = RepEntry("a");
  const Value* online = JsonAt(a, "online");
  EXPECT_TRUE(online != nullptr && *online == Value::Bool(false)) << a.ToJson();
  EXPECT_EQ(JsonString(a, "state"), "offline") << a.ToJson();
  EXPECT_EQ(http().Put("/v1/reps/nobody/availability", R"({"online":false})").status, 404);

  Route("L1", "b", "round_robin");
  Route("L2", "b", "round_robin");

  // Nobody online: L3 qualifies and waits in the team's queue, with no routed record.
  ASSERT_EQ(http().Put("/v1/reps/b/availability", R"({"online":false})").status, 200);
  Send({Qualify("L3")});
  ExpectStage(NextOne(), "L3", "new", "sql", QualifyId("L3"));
  EXPECT_TRUE(watcher_->NothingWithin(0.5)) << "L3 was routed with every rep offline";
  EXPECT_EQ(JsonNumber(RepEntry("a"), "queued"), 1);
  Value l3 = Lead("L3");
  EXPECT_TRUE(HasNoOwner(l3)) << l3.ToJson();

  // a comes back: L3 goes to a at once, caused by the API call (no trigger).
  ASSERT_EQ(http().Put("/v1/reps/a/availability", R"({"online":true})").status, 200);
  ExpectRouting(NextOne(), "routed", "L3", "a", "round_robin", "");
  EXPECT_EQ(JsonNumber(RepEntry("a"), "queued"), 0);
  Route("L4", "a", "round_robin");

  // Both online again. Round-robin weights moved only among the eligible: b (two picks alone)
  // and a (two picks alone) are both at 0, so file order gives a, then b.
  ASSERT_EQ(http().Put("/v1/reps/b/availability", R"({"online":true})").status, 200);
  Route("L5", "a", "round_robin");
  Route("L6", "b", "round_robin");
  ExpectCounts("a", {3, 3});
  ExpectCounts("b", {3, 3});
}

// The queue is a record per queued lead (no longer one value rewritten per commit): a kill -9
// keeps every acknowledged lead in it, in order.
TEST_F(RoutingTest, QueuedLeadsKeepTheirOrderThroughAKillNine) {
  ASSERT_NO_FATAL_FAILURE(Start(Rules(SalesTeam("round_robin", "[{id: a}]"))));
  ASSERT_EQ(http().Put("/v1/reps/a/availability", R"({"online":false})").status, 200);
  Send({Qualify("L1"), Qualify("L2"), Qualify("L3")});
  for (const char* lead : {"L1", "L2", "L3"}) {
    ExpectStage(NextOne(), lead, "new", "sql", QualifyId(lead));
  }
  EXPECT_EQ(JsonNumber(RepEntry("a"), "queued"), 3);

  ASSERT_OK(daemon_.Kill9());
  ASSERT_OK(daemon_.Start());
  ASSERT_NO_FATAL_FAILURE(Connect());
  EXPECT_EQ(JsonNumber(RepEntry("a"), "queued"), 3);
  ASSERT_EQ(http().Put("/v1/reps/a/availability", R"({"online":true})").status, 200);
  for (const char* lead : {"L1", "L2", "L3"}) {
    ExpectRouting(NextOne(), "routed", lead, "a", "round_robin", "");
  }
  EXPECT_EQ(JsonNumber(RepEntry("a"), "queued"), 0);
}

// --- accounts ---

TEST_F(RoutingTest, AccountOwnersTakeTheirDomainsLeadsWithoutMovingTheRoundRobin) {
  ASSERT_NO_FATAL_FAILURE(Start(
      Rules(SalesTeam("round_robin", "[{id: a}, {id: b}, {id: c}]", "  account_match: true\n"))));
  // Domains compare case-insensitively: kept and answered lowercased.
  HttpResult put = http().Put("/v1/accounts/Acme.COM", R"({"owner":"b"})");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(JsonString(put.Json(), "domain"), "acme.com") << put.body;
  HttpResult got = http().Get("/v1/accounts/acme.com");
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(JsonString(got.Json(), "owner"), "b") << got.body;
  EXPECT_EQ(JsonString(http().Get("/v1/accounts/ACME.com").Json(), "domain"), "acme.com");
  EXPECT_EQ(http().Get("/v1/accounts/nobody.example").status, 404);

  Route("L0", "a", "round_robin");
  // acme.com's lead goes to its owner b, which the round robin does not count...
  Send({IdentifyEmail("L1", "x@acme.com")});
  Value owned = Route("L1", "b", "account_owner");
  EXPECT_EQ(JsonString(owned, "traits.email"), "x@acme.com") << owned.ToJson();
  // ... so the next lead gets b, the round robin's next after a.
  Route("L2", "b", "round_robin");

  // An accepted lead teaches the owner of its domain.
  Send({IdentifyEmail("L3", "y@globex.com")});
  Value l3 = Route("L3", "c", "round_robin");
  ExpectOk(Command(R"({"accept":)" + Seq(l3) + "}"), l3);
  EXPECT_EQ(JsonString(NextOne(), "kind"), "accepted");
  got = http().Get("/v1/accounts/globex.com");
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(JsonString(got.Json(), "owner"), "c") << got.body;
  Send({IdentifyEmail("L4", "z@GLOBEX.com")});
  Route("L4", "c", "account_owner");  // the round robin's next would be a

  // Free mail never counts.
  Send({IdentifyEmail("L5", "p@gmail.com")});
  Value l5 = Route("L5", "a", "round_robin");
  ExpectOk(Command(R"({"accept":)" + Seq(l5) + "}"), l5);
  EXPECT_EQ(JsonString(NextOne(), "kind"), "accepted");
  EXPECT_EQ(http().Get("/v1/accounts/gmail.com").status, 404);
  // ... nor can an admin set an owner for it.
  put = http().Put("/v1/accounts/GMail.com", R"({"owner":"b"})");
  EXPECT_EQ(put.status, 422) << put.body;
  EXPECT_EQ(JsonString(put.Json(), "error"), "free_mail_domain") << put.body;
  EXPECT_EQ(http().Get("/v1/accounts/gmail.com").status, 404);
  Send({IdentifyEmail("L6", "q@gmail.com")});
  Route("L6", "b", "round_robin");  // not a

  // An owner who is not eligible: normal routing among the others. Round-robin weights after
  // a, b, c, a, b are (-1, -1, 2); with b away: a 0, c 3 -> c.
  ASSERT_EQ(http().Put("/v1/reps/b/availability", R"({"online":false})").status, 200);
  Send({IdentifyEmail("L7", "w@acme.com")});
  Route("L7", "c", "round_robin");
  // The owners survive a restart.
  ASSERT_NO_FATAL_FAILURE(Restart());
  got = http().Get("/v1/accounts/globex.com");
  EXPECT_EQ(JsonString(got.Json(), "owner"), "c") << got.body;
  got = http().Get("/v1/accounts/acme.com");
  EXPECT_EQ(JsonString(got.Json(), "owner"), "b") << got.body;
}

// --- SLA ---

TEST_F(RoutingTest, SlaReassignsAnUnacceptedLeadThenEscalates) {
  ASSERT_NO_FATAL_FAILURE(Start(Rules(SalesTeam("round_robin", "[{id: a}, {id: b}, {id: c}]",
                                                "  sla: {accept_within: 1s, max_reassign: 1}\n"))));
  Value routed = Route("L1", "a", "round_robin");
  // Nobody accepts: after a second the lead moves to a rep that has not held it (weights after a
  // won: a -2, b 1, c 1; without a: b 2, c 2 -> b)...
  Value moved = NextOne();
  ExpectRouting(moved, "reassigned", "L1", "b", "", "");
  EXPECT_EQ(JsonString(moved, "from_rep"), "a") << moved.ToJson();
  EXPECT_FALSE(JsonString(moved, "reason").empty()) << moved.ToJson();
  // Not long before the deadline: a record's `at` is taken a moment after its decision, so only
  // a timer that fires far too early (or at once) fails this.
  EXPECT_GE(AtSeconds(moved) - AtSeconds(routed), 0.5) << moved.ToJson();
  // (No counts checked here: the next timer fires a second later, maybe before a GET.)
  // ... and after max_reassign (1) moves it is escalated and waits in the team's queue, although
  // c has not held it.
  Value escalated = NextOne();
  SCOPED_TRACE(escalated.ToJson());
  EXPECT_EQ(JsonString(escalated, "kind"), "escalated");
  EXPECT_EQ(JsonString(escalated, "lead"), "L1");
  EXPECT_EQ(JsonString(escalated, "team"), "sales");
  EXPECT_EQ(JsonString(escalated, "from_rep"), "b");
  EXPECT_EQ(escalated.Find("trigger"), nullptr);
  EXPECT_GE(AtSeconds(escalated) - AtSeconds(moved), 0.5);
  ExpectCounts("a", {0, 1});
  ExpectCounts("b", {0, 1});
  ExpectCounts("c", {0, 0});
  EXPECT_EQ(JsonNumber(RepEntry("a"), "queued"), 1);
  Value l1 = Lead("L1");
  EXPECT_TRUE(HasNoOwner(l1)) << l1.ToJson();
  // The reassigned record is no longer current once escalated.
  ExpectError(Command(R"({"accept":)" + Seq(moved) + "}"), "unknown_seq", JsonNumber(moved, "seq"));
}

TEST_F(RoutingTest, SlaTimerOfALeadRoutedBeforeARestartFiresAfterIt) {
  // A longer SLA than the restart takes, so the timer is pending across it.
  ASSERT_NO_FATAL_FAILURE(Start(Rules(SalesTeam("round_robin", "[{id: a}, {id: b}]",
                                                "  sla: {accept_within: 3s, max_reassign: 1}\n"))));
  Value l1 = Route("L1", "a", "round_robin");
  ExpectOk(Command(R"({"accept":)" + Seq(l1) + "}"), l1);
  EXPECT_EQ(JsonString(NextOne(), "kind"), "accepted");
  Route("L2", "b", "round_robin");
  ASSERT_NO_FATAL_FAILURE(Restart());  // SIGTERM, start on the same data
  // L2's deadline passes on the restarted daemon: it moves to a. L1 was accepted: it has no
  // deadline, and its (earlier) deadline would have fired first.
  Value moved = NextOne();
  ExpectRouting(moved, "reassigned", "L2", "a", "", "");
  EXPECT_EQ(JsonString(moved, "from_rep"), "b") << moved.ToJson();
  EXPECT_EQ(JsonString(Lead("L1"), "owner.rep"), "a");
  ExpectCounts("a", {2, 2});
  ExpectCounts("b", {0, 1});
}

// --- limits ---

TEST_F(RoutingTest, MaxOpenAndMaxPerDayHoldLeadsBackUntilARepIsFree) {
  ASSERT_NO_FATAL_FAILURE(
      Start(Rules(SalesTeam("round_robin", "[{id: a, max_open: 1}, {id: b, max_per_day: 2}]"))));
  Value l1 = Route("L1", "a", "round_robin");
  Route("L2", "b", "round_robin");  // a is at max_open
  Value l3 = Route("L3", "b", "round_robin");
  EXPECT_EQ(JsonString(RepEntry("a"), "state"), "max_open");
  EXPECT_EQ(JsonString(RepEntry("b"), "state"), "max_per_day");

  // Nobody can take L4: it waits.
  Send({Qualify("L4")});
  ExpectStage(NextOne(), "L4", "new", "sql", QualifyId("L4"));
  EXPECT_TRUE(watcher_->NothingWithin(0.5)) << "L4 was routed past max_open / max_per_day";
  EXPECT_EQ(JsonNumber(RepEntry("a"), "queued"), 1);

  // Closing a's lead frees a: L4 goes to a at once.
  ExpectOk(Command(R"({"close":)" + Seq(l1) + R"(,"outcome":"won"})"), l1);
  EXPECT_EQ(JsonString(NextOne(), "kind"), "closed");
  ExpectRouting(NextOne(), "routed", "L4", "a", "round_robin", "");
  // Closing b's lead does not free b: its day's quota is used.
  ExpectOk(Command(R"({"close":)" + Seq(l3) + R"(,"outcome":"lost"})"), l3);
  EXPECT_EQ(JsonString(NextOne(), "kind"), "closed");
  Send({Qualify("L5")});
  ExpectStage(NextOne(), "L5", "new", "sql", QualifyId("L5"));
  EXPECT_TRUE(watcher_->NothingWithin(0.5)) << "L5 was routed past max_open / max_per_day";
  ExpectCounts("a", {1, 2});
  ExpectCounts("b", {1, 2});
  EXPECT_EQ(JsonNumber(RepEntry("b"), "queued"), 1);
}

// --- unrouted ---

TEST_F(RoutingTest, ALeadNoTeamTakesIsUnroutedUntilAReloadGivesItOne) {
  const std::string emea_only =
      "  teams:\n"
      "    - id: emea\n"
      "      when: traits.region == \"emea\"\n"
      "      reps: [{id: e}]\n";
  ASSERT_NO_FATAL_FAILURE(Start(Rules(emea_only)));
  Value unrouted = QualifyAndNext("L1");
  SCOPED_TRACE(unrouted.ToJson());
  EXPECT_EQ(JsonString(unrouted, "kind"), "unrouted");
  EXPECT_EQ(JsonString(unrouted, "lead"), "L1");
  EXPECT_EQ(JsonString(unrouted, "trigger"), QualifyId("L1"));
  EXPECT_EQ(unrouted.Find("rep"), nullptr);
  EXPECT_TRUE(watcher_->NothingWithin(0.3));

  // A catch-all team after emea: the reload routes the waiting lead.
  daemon_.WriteRules(Rules(emea_only + "    - id: everyone\n"
                                       "      when: true\n"
                                       "      reps: [{id: x}]\n"));
  HttpResult reload = http().Post("/v1/rules/reload", "");
  ASSERT_EQ(reload.status, 200) << reload.body;
  ExpectRouting(NextOne(), "routed", "L1", "x", "round_robin", "", "everyone");
  EXPECT_EQ(JsonString(Lead("L1"), "owner.rep"), "x");
  ExpectCounts("x", {1, 1});
  // A lead that matches emea goes there.
  Send({R"({"type":"identify","userId":"L2","traits":{"region":"emea"},"messageId":"id-L2"})"});
  ExpectRouting(QualifyAndNext("L2"), "routed", "L2", "e", "round_robin", QualifyId("L2"), "emea");
}

}  // namespace
}  // namespace handoff::testing
