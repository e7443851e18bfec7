// RouterReplica (cluster mode's router, docs/cluster.md "The router and the outbox"): the routing
// log applied to a router over lead copies. Time comes only from the inputs, an input a partition
// logs again is dropped, and replicas given the same log publish the same records.
#include "routing/router_replica.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "rules/rule_loader.h"
#include "scoring/scorer.h"

namespace handoff {
namespace {

// Stages whose enter never holds (the inputs say where leads move), routing at sql with an SLA.
constexpr std::string_view kRules = R"(
stages:
  - {name: mql, enter: false}
  - {name: sql, enter: false}
routing:
  stage: sql
  sla: {accept_within: 10m, max_reassign: 1}
  teams:
    - id: everyone
      when: true
      strategy: round_robin
      reps: [{id: ann}, {id: bo}]
)";

constexpr EpochSeconds kStart = 1'800'000'000;
constexpr double kMinute = 60;

// A published record, copied out of the borrowed views.
struct Rec {
  uint64_t seq = 0;
  std::string kind;
  EpochSeconds at = 0;
  std::string lead;
  std::string rep;
  std::string reason;
  std::string from_rep;
  std::string outcome;
  std::string from;
  std::string to;
  std::string trigger;

  bool operator==(const Rec&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Rec& r) {
  return os << r.seq << " " << r.kind << " at=" << r.at << " lead=" << r.lead << " rep=" << r.rep
            << " reason=" << r.reason << " from_rep=" << r.from_rep << " outcome=" << r.outcome
            << " " << r.from << "->" << r.to << " trigger=" << r.trigger;
}

class ListSink final : public RecordSink {
 public:
  uint64_t Publish(OutboxRecord* record, Lead* lead, EpochSeconds /*scores_at*/) override {
    Rec r;
    r.seq = records.size() + 1;
    r.kind = std::string(OutboxKindName(record->kind));
    r.at = record->at;
    r.lead = lead->id;
    r.rep = std::string(record->rep);
    r.reason = std::string(record->reason);
    r.from_rep = std::string(record->from_rep);
    r.outcome = std::string(record->outcome);
    r.from = std::string(record->from);
    r.to = std::string(record->to);
    r.trigger = std::string(record->trigger);
    record->seq = r.seq;
    records.push_back(std::move(r));
    return record->seq;
  }
  std::vector<Rec> records;
};

// One node's replica with its sink.
class Node {
 public:
  explicit Node(const Scorer* scorer) : replica_(&sink_, &metrics_) { replica_.SetRules(scorer); }
  ReplicaOutcome Apply(const RoutingInput& input) { return replica_.Apply(input); }
  const std::vector<Rec>& records() const { return sink_.records; }
  RouterReplica& replica() { return replica_; }

 private:
  ListSink sink_;
  Metrics metrics_;
  RouterReplica replica_;
};

// `id` (by the event at `order` in `partition`) moved from stage `from` to `to` at `at`.
RoutingInput StageInput(const std::string& id, uint32_t partition, uint64_t order,
                        const std::string& from, const std::string& to, EpochSeconds at) {
  RoutingInput in;
  in.kind = RoutingInputKind::kStage;
  in.at = at;
  in.place = RoutingPlace{partition, order};
  in.lead.id = id;
  in.lead.stage = to;
  in.from_stage = from;
  in.to_stage = to;
  in.trigger = "m-" + id;
  in.scores_at = at;
  return in;
}

RoutingInput Tick(EpochSeconds at) {
  RoutingInput in;
  in.kind = RoutingInputKind::kTick;
  in.at = at;
  return in;
}

RoutingInput Action(SalesActionKind kind, uint64_t seq, EpochSeconds at,
                    const std::string& outcome = "") {
  RoutingInput in;
  in.kind = RoutingInputKind::kSalesAction;
  in.at = at;
  in.action.kind = kind;
  in.action.seq = seq;
  in.action.outcome = outcome;
  in.asked_by = "node-b";
  in.request = 7;
  return in;
}

class RouterReplicaTest : public ::testing::Test {
 protected:
  RouterReplicaTest() {
    LoadResult loaded = LoadRulesFromString(std::string(kRules), "rules.yaml");
    EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].ToString());
    scorer_ = std::make_unique<Scorer>(loaded.rules);
  }

  // The seq of the last `kind` record of `lead` in `records`; 0 when none.
  static uint64_t SeqOf(const std::vector<Rec>& records, const std::string& kind,
                        const std::string& lead) {
    uint64_t seq = 0;
    for (const Rec& r : records) {
      if (r.kind == kind && r.lead == lead) {
        seq = r.seq;
      }
    }
    return seq;
  }

  std::unique_ptr<Scorer> scorer_;
};

// The log of a small day: leads of two partitions qualify in turn, a rep accepts, another lets
// the SLA lapse, a lead is recycled. Two nodes apply it: the same records, the same seqs, the same
// times. Round robin follows the log's order across partitions.
TEST_F(RouterReplicaTest, TwoReplicasGivenTheSameLogPublishTheSameRecords) {
  Node a(scorer_.get());
  Node b(scorer_.get());
  auto both = [&](const RoutingInput& in) {
    const ReplicaOutcome x = a.Apply(in);
    const ReplicaOutcome y = b.Apply(in);
    EXPECT_EQ(x.applied, y.applied);
    EXPECT_EQ(x.action.ok, y.action.ok);
    EXPECT_EQ(x.action.error, y.action.error);
    EXPECT_EQ(x.recycled_lead, y.recycled_lead);
    return x;
  };
  both(StageInput("u1", 3, 100, "new", "sql", kStart));
  both(StageInput("u2", 7, 101, "new", "sql", kStart + 1));
  both(StageInput("u3", 3, 102, "new", "sql", kStart + 2));
  EXPECT_TRUE(both(Action(SalesActionKind::kAccept, SeqOf(a.records(), "routed", "u1"),
                          kStart + 3 * kMinute))
                  .action.ok);
  both(Tick(kStart + 11 * kMinute));  // u2's and u3's SLA lapsed: reassigned
  const ReplicaOutcome closed =
      both(Action(SalesActionKind::kClose, SeqOf(a.records(), "routed", "u1"),
                  kStart + 12 * kMinute, "recycled"));
  EXPECT_TRUE(closed.action.ok) << closed.action.error;
  EXPECT_EQ(closed.recycled_lead, "u1");

  EXPECT_EQ(a.records(), b.records());
  std::vector<std::string> summary;
  for (const Rec& r : a.records()) {
    summary.push_back(r.kind + " " + r.lead + " " + r.rep + r.to);
  }
  EXPECT_EQ(summary, (std::vector<std::string>{
                         "stage u1 sql", "routed u1 ann", "stage u2 sql", "routed u2 bo",
                         "stage u3 sql", "routed u3 ann", "accepted u1 ann", "reassigned u2 ann",
                         "reassigned u3 bo", "closed u1 ann", "stage u1 new"}));
  // The copy follows the recycle; the lead's partition is told through the outcome.
  ASSERT_NE(a.replica().Find("u1"), nullptr);
  EXPECT_EQ(a.replica().Find("u1")->stage, "new");
}

// A partition applied again (a takeover, a crash) logs its inputs again: each is taken once.
TEST_F(RouterReplicaTest, AnInputFromAPartitionAtOrBeforeAPlaceTakenIsDropped) {
  Node node(scorer_.get());
  EXPECT_TRUE(node.Apply(StageInput("u1", 3, 100, "new", "sql", kStart)).applied);
  EXPECT_FALSE(node.Apply(StageInput("u1", 3, 100, "new", "sql", kStart)).applied);
  EXPECT_FALSE(node.Apply(StageInput("u0", 3, 50, "new", "sql", kStart)).applied);
  // Another partition has places of its own; a later input of the same event is new.
  EXPECT_TRUE(node.Apply(StageInput("u2", 7, 50, "new", "sql", kStart)).applied);
  RoutingInput second = StageInput("u1", 3, 100, "sql", "mql", kStart);
  second.place.index = 1;
  EXPECT_TRUE(node.Apply(second).applied);
  // Not from a partition (a tick, a sales answer): never dropped.
  EXPECT_TRUE(node.Apply(Tick(kStart)).applied);
  EXPECT_TRUE(node.Apply(Tick(kStart)).applied);
  int routed = 0;
  for (const Rec& r : node.records()) {
    routed += r.kind == "routed" ? 1 : 0;
  }
  EXPECT_EQ(routed, 2);
}

// Records carry the log's time, never this machine's; a node whose clock is behind does not move
// the router's back; an SLA lapses at the first input past its deadline.
TEST_F(RouterReplicaTest, TimeComesOnlyFromTheInputs) {
  Node node(scorer_.get());
  node.Apply(StageInput("u1", 3, 100, "new", "sql", kStart));
  ASSERT_EQ(node.records().size(), 2u);
  EXPECT_EQ(node.records()[1].kind, "routed");
  EXPECT_EQ(node.records()[1].at, kStart);
  node.Apply(StageInput("u2", 5, 101, "new", "sql", kStart - 30));  // logged by a slower clock
  ASSERT_EQ(node.records().size(), 4u);
  EXPECT_EQ(node.records()[3].at, kStart);
  EXPECT_EQ(node.replica().Now(), kStart);
  node.Apply(Tick(kStart + 9 * kMinute));
  EXPECT_EQ(node.records().size(), 4u);
  node.Apply(Tick(kStart + 10 * kMinute + 1));
  ASSERT_EQ(node.records().size(), 6u);
  EXPECT_EQ(node.records()[4].kind, "reassigned");
  EXPECT_EQ(node.records()[4].at, kStart + 10 * kMinute + 1);
}

// A merge (SPEC 8): the older lead's open owner carries over to the merged lead, which had none;
// no new routing, and the older copy is gone.
TEST_F(RouterReplicaTest, AMergeCarriesTheOlderLeadsOwnerOver) {
  Node node(scorer_.get());
  node.Apply(StageInput("anon-1", 3, 100, "new", "sql", kStart));
  ASSERT_NE(node.replica().Find("anon-1"), nullptr);
  ASSERT_TRUE(node.replica().Find("anon-1")->owner.has_value());
  RoutingInput merge;
  merge.kind = RoutingInputKind::kMerge;
  merge.at = kStart + 60;
  merge.place = RoutingPlace{9, 200};
  merge.lead.id = "user-1";
  merge.lead.stage = "new";
  merge.older.id = "anon-1";
  merge.older.stage = "sql";
  merge.trigger = "m-link";
  merge.scores_at = kStart + 60;
  EXPECT_TRUE(node.Apply(merge).applied);
  EXPECT_EQ(node.replica().Find("anon-1"), nullptr);
  const Lead* merged = node.replica().Find("user-1");
  ASSERT_NE(merged, nullptr);
  ASSERT_TRUE(merged->owner.has_value());
  EXPECT_EQ(merged->owner->rep, "ann");
  EXPECT_EQ(node.records().size(), 2u);  // the older lead's stage and routed records only
}

// A sales answer the router refuses gives the asking node its error; nothing is published.
TEST_F(RouterReplicaTest, ARefusedSalesAnswerComesBackWithItsError) {
  Node node(scorer_.get());
  node.Apply(StageInput("u1", 3, 100, "new", "sql", kStart));
  const ReplicaOutcome answer = node.Apply(Action(SalesActionKind::kAccept, 99, kStart + 1));
  EXPECT_TRUE(answer.applied);
  EXPECT_FALSE(answer.action.ok);
  EXPECT_EQ(answer.action.error, "unknown_seq");
  EXPECT_EQ(node.records().size(), 2u);
}

}  // namespace
}  // namespace handoff
