// PartitionLeases against three real nats-server nodes: nodes split the partitions, a node that
// stops renewing (a crash) has its partitions taken over, and a node that joins gets a share.
#include "cluster/partition_leases.h"

#include <gtest/gtest.h>

#include <mutex>
#include <set>

#include "tests/integration/daemon_harness.h"
#include "tests/integration/nats_cluster.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

using testing::NatsCluster;
using testing::WaitUntil;

constexpr uint32_t kPartitions = 8;

// What a node's listener heard: the partitions it may apply.
class Recorder : public PartitionLeases::Listener {
 public:
  void Acquired(uint32_t partition) override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_TRUE(owned_.insert(partition).second) << "acquired twice: " << partition;
  }
  void Released(uint32_t partition) override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_EQ(owned_.erase(partition), 1u) << "released without holding: " << partition;
  }
  std::set<uint32_t> owned() const {
    std::lock_guard<std::mutex> lock(mu_);
    return owned_;
  }

 private:
  mutable std::mutex mu_;
  std::set<uint32_t> owned_;
};

class PartitionLeasesTest : public ::testing::Test {
 protected:
  void SetUp() override { HANDOFF_START_NATS_OR_SKIP(nats_, 3); }

  // Leases of 4 s by default: short, so a takeover fits a test, and long enough that a loaded
  // machine (ctest -j2, sanitizers) still renews them in time.
  std::unique_ptr<PartitionLeases> Node(const std::string& id, Recorder* recorder,
                                        double lease_seconds = 4,
                                        uint32_t partitions = kPartitions) {
    PartitionLeaseOptions options;
    options.urls = nats_.url_list();
    options.node_id = id;
    options.partitions = partitions;
    options.lease_seconds = lease_seconds;
    auto leases = PartitionLeases::Open(options, recorder);
    EXPECT_TRUE(leases.ok()) << leases.status().ToString();
    return leases.ok() ? std::move(leases.value()) : nullptr;
  }

  // Every partition held by exactly one of `nodes`, each holding `each`, and each listener
  // agreeing with its node.
  static bool SplitEvenly(const std::vector<std::pair<PartitionLeases*, Recorder*>>& nodes,
                          size_t each) {
    std::set<uint32_t> all;
    size_t total = 0;
    for (const auto& [leases, recorder] : nodes) {
      const std::vector<uint32_t> held = leases->held();
      const std::set<uint32_t> heard = recorder->owned();
      if (held.size() != each || std::set<uint32_t>(held.begin(), held.end()) != heard) {
        return false;
      }
      all.insert(held.begin(), held.end());
      total += held.size();
    }
    return total == kPartitions && all.size() == kPartitions;
  }

  NatsCluster nats_;
};

TEST_F(PartitionLeasesTest, NodesSplitThePartitionsTakeOverACrashedOneAndShareWithANewOne) {
  Recorder a_heard;
  Recorder b_heard;
  auto a = Node("node-a", &a_heard);
  auto b = Node("node-b", &b_heard);
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(WaitUntil(
      [&] {
        return SplitEvenly({{a.get(), &a_heard}, {b.get(), &b_heard}}, 4);
      },
      60, 0.1))
      << "a holds " << a->held().size() << ", b holds " << b->held().size();

  // b crashes: nothing handed back; its leases expire and a takes them.
  b->Abandon();
  b.reset();
  EXPECT_TRUE(WaitUntil(
      [&] {
        return SplitEvenly({{a.get(), &a_heard}}, kPartitions);
      },
      60, 0.1))
      << "a holds " << a->held().size();

  // c joins: a hands half back, c takes it.
  Recorder c_heard;
  auto c = Node("node-c", &c_heard);
  ASSERT_TRUE(c);
  EXPECT_TRUE(WaitUntil(
      [&] {
        return SplitEvenly({{a.get(), &a_heard}, {c.get(), &c_heard}}, 4);
      },
      60, 0.1))
      << "a holds " << a->held().size() << ", c holds " << c->held().size();

  // A clean stop hands everything back at once: the other takes it all.
  c.reset();
  EXPECT_TRUE(WaitUntil(
      [&] {
        return SplitEvenly({{a.get(), &a_heard}}, kPartitions);
      },
      60, 0.1))
      << "a holds " << a->held().size();
}

TEST_F(PartitionLeasesTest, ARestartedNodeTakesItsOwnLeasesBackAtOnce) {
  // Leases of 10 minutes: waiting for them to expire would outlast the test's deadline.
  constexpr double kLongLease = 600;
  Recorder first_heard;
  auto first = Node("node-a", &first_heard, kLongLease);
  ASSERT_TRUE(first);
  ASSERT_TRUE(WaitUntil([&] { return first->held().size() == kPartitions; }, 60, 0.1));
  first->Abandon();  // a crash: the leases stay, naming node-a
  first.reset();
  Recorder again_heard;
  auto again = Node("node-a", &again_heard, kLongLease);
  ASSERT_TRUE(again);
  EXPECT_TRUE(WaitUntil([&] { return again->held().size() == kPartitions; }, 60, 0.05));
  EXPECT_EQ(again_heard.owned().size(), kPartitions);
}

// Shares differ by one at most: 16 partitions over three nodes settle at 6, 5 and 5 (a share of
// ceil(16 / 3) for everyone settled at 6, 6 and 4, leaving one node a third short).
TEST_F(PartitionLeasesTest, ThreeNodesSettleOnSharesThatDifferByOneAtMost) {
  constexpr uint32_t kSixteen = 16;
  std::vector<std::unique_ptr<Recorder>> heard;
  std::vector<std::unique_ptr<PartitionLeases>> nodes;
  for (const char* id : {"node-a", "node-b", "node-c"}) {
    heard.push_back(std::make_unique<Recorder>());
    nodes.push_back(Node(id, heard.back().get(), 4, kSixteen));
    ASSERT_TRUE(nodes.back());
  }
  auto sizes = [&] {
    std::multiset<size_t> out;
    std::set<uint32_t> all;
    for (size_t i = 0; i < nodes.size(); ++i) {
      const std::vector<uint32_t> held = nodes[i]->held();
      if (std::set<uint32_t>(held.begin(), held.end()) != heard[i]->owned()) {
        return std::multiset<size_t>{};
      }
      out.insert(held.size());
      all.insert(held.begin(), held.end());
    }
    return all.size() == kSixteen ? out : std::multiset<size_t>{};
  };
  const std::multiset<size_t> settled = {5, 5, 6};
  EXPECT_TRUE(WaitUntil([&] { return sizes() == settled; }, 60, 0.1))
      << nodes[0]->held().size() << " " << nodes[1]->held().size() << " "
      << nodes[2]->held().size();
}

}  // namespace
}  // namespace handoff
