// AdminReplica against three real nats-server nodes: a value stored on one node is applied on
// every node, in one order, a node started later catches up, and a node's own failure to apply
// reaches the caller that stored it.
#include "cluster/admin_replica.h"

#include <gtest/gtest.h>

#include <future>
#include <map>
#include <mutex>

#include "tests/integration/nats_cluster.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

using testing::NatsCluster;
using testing::WaitUntil;

// One node's admin state: what its replica applied, in order.
class State {
 public:
  Status Apply(std::string_view key, std::string_view value) {
    std::lock_guard<std::mutex> lock(mu_);
    if (value == "refuse") {
      return Status::NotFound("refused here");
    }
    values_[std::string(key)] = std::string(value);
    ++applied_;
    return Status::Ok();
  }
  std::string Get(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = values_.find(key);
    return it == values_.end() ? "" : it->second;
  }
  int applied() const {
    std::lock_guard<std::mutex> lock(mu_);
    return applied_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> values_;
  int applied_ = 0;
};

class AdminReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override { HANDOFF_START_NATS_OR_SKIP(nats_, 3); }

  std::unique_ptr<AdminReplica> Node(const std::string& id, State* state) {
    AdminReplicaOptions options;
    options.urls = nats_.url_list();
    options.node_id = id;
    options.apply = [state](std::string_view key, std::string_view value, uint64_t) {
      return state->Apply(key, value);
    };
    auto replica = AdminReplica::Open(std::move(options));
    EXPECT_TRUE(replica.ok()) << replica.status().ToString();
    return replica.ok() ? std::move(replica.value()) : nullptr;
  }

  // Stores key=value through `replica` and waits for its answer; retried while NATS is not
  // ready yet (the first node makes the bucket).
  static Status Put(AdminReplica* replica, const std::string& key, const std::string& value) {
    Status last = Status::Unavailable("not tried");
    for (int attempt = 0; attempt < 50; ++attempt) {
      std::promise<Status> answer;
      replica->Put(key, value, [&answer](const Status& st) { answer.set_value(st); });
      last = answer.get_future().get();
      if (last.code() != Status::Code::kUnavailable) {
        return last;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return last;
  }

  NatsCluster nats_;
};

TEST_F(AdminReplicaTest, AValueStoredOnOneNodeHoldsThereAtOnceAndOnTheOthersSoon) {
  State a_state;
  State b_state;
  auto a = Node("node-a", &a_state);
  auto b = Node("node-b", &b_state);
  ASSERT_OK(Put(a.get(), "rep.616c696365", "away"));
  EXPECT_EQ(a_state.Get("rep.616c696365"), "away");  // applied here before the answer
  EXPECT_TRUE(WaitUntil([&] { return b_state.Get("rep.616c696365") == "away"; }, 30));

  // Changes from both nodes, one after the other: every node ends with the last one.
  ASSERT_OK(Put(b.get(), "account.61636d652e636f6d", "dan"));
  ASSERT_OK(Put(a.get(), "account.61636d652e636f6d", "erin"));
  EXPECT_EQ(a_state.Get("account.61636d652e636f6d"), "erin");
  EXPECT_TRUE(WaitUntil([&] { return b_state.Get("account.61636d652e636f6d") == "erin"; }, 30));

  // A node that starts later gets every current value.
  State c_state;
  auto c = Node("node-c", &c_state);
  EXPECT_TRUE(WaitUntil(
      [&] {
        return c_state.Get("rep.616c696365") == "away" &&
               c_state.Get("account.61636d652e636f6d") == "erin";
      },
      30));
}

TEST_F(AdminReplicaTest, ThisNodesFailureToApplyReachesTheCaller) {
  State state;
  auto a = Node("node-a", &state);
  Status st = Put(a.get(), "rep.7a", "refuse");
  EXPECT_TRUE(st.IsNotFound()) << st.ToString();
  // The replica goes on with later values.
  ASSERT_OK(Put(a.get(), "rep.7a", "online"));
  EXPECT_EQ(state.Get("rep.7a"), "online");
}

TEST_F(AdminReplicaTest, ChangesGoOnAfterANatsServerDies) {
  State a_state;
  State b_state;
  auto a = Node("node-a", &a_state);
  auto b = Node("node-b", &b_state);
  ASSERT_OK(Put(a.get(), "rep.01", "away"));
  nats_.Kill(0);
  ASSERT_OK(nats_.WaitReady());
  // Stored and applied everywhere, whichever server each node had been talking to.
  ASSERT_OK(Put(a.get(), "rep.01", "online"));
  ASSERT_OK(Put(b.get(), "rep.02", "away"));
  EXPECT_TRUE(WaitUntil(
      [&] {
        return a_state.Get("rep.01") == "online" && b_state.Get("rep.01") == "online" &&
               a_state.Get("rep.02") == "away" && b_state.Get("rep.02") == "away";
      },
      60))
      << "a: " << a_state.Get("rep.01") << " " << a_state.Get("rep.02")
      << ", b: " << b_state.Get("rep.01") << " " << b_state.Get("rep.02");
}

}  // namespace
}  // namespace handoff
