// RoutingPublisher against three real nats-server nodes: what the engine appends is stored in the
// event stream's routing subject, in messages NATS takes.
#include "cluster/routing_publisher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "cluster/event_log.h"
#include "tests/integration/nats_cluster.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

using testing::NatsCluster;
using testing::WaitUntil;

class RoutingPublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HANDOFF_START_NATS_OR_SKIP(nats_, 3);
    NatsLinkOptions link_options;
    link_options.urls = nats_.url_list();
    link_options.name = "test";
    auto link = NatsLink::Open(link_options);
    ASSERT_TRUE(link.ok()) << link.status().ToString();
    link_ = std::move(link.value());
    // The stream exists before anything is logged (the node's log publisher makes it).
    ASSERT_TRUE(WaitUntil([&] { return EnsureEventStream(link_->js(), &layout_).ok(); }, 30, 0.2));
    RoutingPublisherOptions options;
    options.urls = nats_.url_list();
    options.node_id = "node-a";
    options.clock = &clock_;
    auto publisher = RoutingPublisher::Open(std::move(options));
    ASSERT_TRUE(publisher.ok()) << publisher.status().ToString();
    publisher_ = std::move(publisher.value());
  }

  uint64_t LastSeq() {
    EventStreamState state;
    return EnsureEventStream(link_->js(), &layout_, &state).ok() ? state.last_seq : 0;
  }

  static RoutingInput Rules(uint64_t revision, size_t bytes) {
    RoutingInput input;
    input.kind = RoutingInputKind::kRules;
    input.rules_revision = revision;
    input.rules_yaml = "# " + std::string(bytes, 'x') + "\n";
    return input;
  }

  NatsCluster nats_;
  std::unique_ptr<NatsLink> link_;
  EventLogLayout layout_;
  ManualClock clock_{1.7e9};
  std::unique_ptr<RoutingPublisher> publisher_;
};

// Two inputs that together are over NATS's 1 MiB payload limit go in two messages; in one they
// would be refused for ever, and nothing after them would be logged.
TEST_F(RoutingPublisherTest, InputsOverTheMessageLimitTogetherGoInSeveralMessages) {
  std::atomic<bool> stored{false};
  publisher_->Append({Rules(1, 600 * 1024), Rules(2, 600 * 1024)}, [&] { stored = true; });
  ASSERT_TRUE(WaitUntil([&] { return stored.load(); }, 30, 0.05));
  EXPECT_EQ(LastSeq(), 2u);
  std::atomic<bool> after{false};
  publisher_->Append({Rules(3, 10)}, [&] { after = true; });
  ASSERT_TRUE(WaitUntil([&] { return after.load(); }, 30, 0.05));
  EXPECT_EQ(LastSeq(), 3u);
}

// One input over the limit can never be logged: it is said and let go, and what follows is
// logged.
TEST_F(RoutingPublisherTest, AnInputOverTheLimitAloneDoesNotStopTheLog) {
  std::atomic<int> stored{0};
  publisher_->Append({Rules(1, 1100 * 1024)}, [&] { ++stored; });
  publisher_->Append({Rules(2, 10)}, [&] { ++stored; });
  ASSERT_TRUE(WaitUntil([&] { return stored.load() == 2; }, 30, 0.05));
  EXPECT_EQ(LastSeq(), 1u);
}

}  // namespace
}  // namespace handoff
