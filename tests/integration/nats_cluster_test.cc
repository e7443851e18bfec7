// The NATS cluster harness itself: three JetStream nodes form a cluster, keep a meta leader when
// one node dies, and take the node back when it restarts on the same ports and store.
#include "tests/integration/nats_cluster.h"

#include <gtest/gtest.h>

#include <string>

namespace handoff::testing {
namespace {

// Kills node `victim`, checks the two others agree on a meta leader that is still running, then
// restarts the victim and checks that all three are healthy again and agree.
void LoseAndRegainNode(NatsCluster& cluster, int victim) {
  SCOPED_TRACE("victim " + cluster.name(victim));
  cluster.Kill(victim);
  EXPECT_FALSE(cluster.running(victim));
  EXPECT_FALSE(cluster.Healthy(victim));
  // Two of three are a quorum: they keep (or elect) a leader among themselves.
  ASSERT_OK(cluster.WaitReady(15));
  for (int i = 0; i < cluster.size(); ++i) {
    if (i != victim) {
      EXPECT_NE(cluster.MetaLeader(i), cluster.name(victim));
    }
  }

  ASSERT_OK(cluster.Restart(victim, 15));
  EXPECT_TRUE(cluster.running(victim));
  EXPECT_TRUE(cluster.Healthy(victim)) << cluster.log(victim);
  EXPECT_EQ(cluster.MetaLeader(victim), cluster.MetaLeader((victim + 1) % cluster.size()));
}

TEST(NatsClusterTest, KeepsAMetaLeaderThroughALostNodeAndTakesItBack) {
  NatsCluster cluster;
  HANDOFF_START_NATS_OR_SKIP(cluster, 3);

  ASSERT_EQ(cluster.size(), 3);
  EXPECT_EQ(cluster.urls(), cluster.url(0) + "," + cluster.url(1) + "," + cluster.url(2));
  EXPECT_EQ(cluster.url_list(),
            (std::vector<std::string>{cluster.url(0), cluster.url(1), cluster.url(2)}));
  const std::string leader = cluster.MetaLeader(0);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(cluster.running(i));
    EXPECT_TRUE(cluster.Healthy(i)) << cluster.log(i);
    EXPECT_EQ(cluster.MetaLeader(i), leader);
  }

  // Node 0, the leader or not; then, when it was not the leader, the node that leads, so a
  // failover (the survivors naming the dead leader until they elect another, 4-7 s) happens on
  // every run, and only once.
  LoseAndRegainNode(cluster, 0);
  if (::testing::Test::HasFatalFailure() || leader == cluster.name(0)) {
    return;
  }
  const std::string now_leading = cluster.MetaLeader(0);
  int leader_index = -1;
  for (int i = 0; i < 3; ++i) {
    leader_index = cluster.name(i) == now_leading ? i : leader_index;
  }
  ASSERT_GE(leader_index, 0) << "node0 names the meta leader \"" << now_leading << "\"";
  LoseAndRegainNode(cluster, leader_index);
}

}  // namespace
}  // namespace handoff::testing
