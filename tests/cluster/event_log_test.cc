#include "cluster/event_log.h"

#include <gtest/gtest.h>

#include <limits>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster/hand_over.h"
#include "tests/integration/nats_cluster.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

TEST(EventLogTest, PartitionOfIsStableAndSpread) {
  // Part of the cluster's on-disk format: these values never change.
  EXPECT_EQ(PartitionOf("", 16), 14695981039346656037ULL % 16);
  EXPECT_EQ(PartitionOf("user-1", 16), PartitionOf("user-1", 16));
  EXPECT_EQ(PartitionOf("user-1", 1), 0u);
  std::set<uint32_t> seen;
  for (int i = 0; i < 1000; ++i) {
    const uint32_t p = PartitionOf("lead-" + std::to_string(i), 16);
    ASSERT_LT(p, 16u);
    seen.insert(p);
  }
  EXPECT_EQ(seen.size(), 16u);
}

TEST(EventLogTest, SubjectsNameTheirPartition) {
  EXPECT_EQ(PartitionSubject(7), "handoff.events.7");
  EXPECT_EQ(PartitionOfSubject("handoff.events.7"), 7);
  EXPECT_EQ(PartitionOfSubject("handoff.events.1023"), 1023);
  EXPECT_EQ(PartitionOfSubject("handoff.events."), -1);
  EXPECT_EQ(PartitionOfSubject("handoff.events.7x"), -1);
  EXPECT_EQ(PartitionOfSubject("other.7"), -1);
}

// nats-server 2.9.10 made a stream asking for three copies on two servers (two nodes making it
// at once); its group held two, and a bucket of three copies never opened. The copies are those
// the group holds.
TEST(EventLogTest, StreamCopiesAreThoseItsGroupHoldsNeverMoreThanAsked) {
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Replicas = 3;
  jsStreamInfo info{};
  EXPECT_EQ(StreamCopies(info), 0);  // no configuration: nothing said
  info.Config = &config;
  EXPECT_EQ(StreamCopies(info), 3);  // no cluster info: those asked

  jsPeerInfo peer{};
  jsPeerInfo* replicas[] = {&peer, &peer};
  char leader[] = "node0";
  jsClusterInfo cluster{};
  info.Cluster = &cluster;
  EXPECT_EQ(StreamCopies(info), 3);  // no cluster members named: those asked
  cluster.Replicas = replicas;
  cluster.ReplicasLen = 2;
  EXPECT_EQ(StreamCopies(info), 2);  // no leader: the answering server names every member
  cluster.Leader = leader;
  cluster.ReplicasLen = 1;
  EXPECT_EQ(StreamCopies(info), 2);  // asked three, holds two
  cluster.ReplicasLen = 2;
  EXPECT_EQ(StreamCopies(info), 3);
  config.Replicas = 1;
  EXPECT_EQ(StreamCopies(info), 1);  // never more than asked
  cluster.ReplicasLen = 0;
  EXPECT_EQ(StreamCopies(info), 1);  // one server without a cluster names itself as leader
}

TEST(EventLogTest, LogMessageRoundTripsEveryEventInOrder) {
  Event first;
  first.type = EventType::kTrack;
  first.user_id = "u1";
  first.anonymous_id = "a1";
  first.message_id = "m1";
  first.name = "Demo Requested";
  first.has_name = true;
  first.timestamp = 1'800'000'000.5;
  first.has_timestamp = true;
  Event second;
  second.type = EventType::kIdentify;
  second.user_id = "u2";
  std::string bytes;
  StartLogMessage(&bytes);
  AppendLoggedEvent(first, EventOrigin{Transport::kHttp, 1'800'000'001.25}, &bytes);
  AppendLoggedEvent(second, EventOrigin{Transport::kTcp, 1'800'000'002.5}, &bytes);

  std::vector<Event> events;
  std::vector<EventOrigin> origins;
  ASSERT_TRUE(DecodeLogMessage(bytes, &events, &origins));
  ASSERT_EQ(events.size(), 2u);
  ASSERT_EQ(origins.size(), 2u);
  EXPECT_EQ(events[0].type, EventType::kTrack);
  EXPECT_EQ(events[0].user_id, "u1");
  EXPECT_EQ(events[0].anonymous_id, "a1");
  EXPECT_EQ(events[0].message_id, "m1");
  EXPECT_EQ(events[0].name, "Demo Requested");
  EXPECT_TRUE(events[0].has_timestamp);
  EXPECT_EQ(events[0].timestamp, 1'800'000'000.5);
  EXPECT_EQ(origins[0].transport, Transport::kHttp);
  EXPECT_EQ(origins[0].received_at, 1'800'000'001.25);
  EXPECT_EQ(events[1].type, EventType::kIdentify);
  EXPECT_EQ(events[1].user_id, "u2");
  EXPECT_FALSE(events[1].has_timestamp);
  EXPECT_EQ(origins[1].transport, Transport::kTcp);
  EXPECT_EQ(origins[1].received_at, 1'800'000'002.5);
}

TEST(EventLogTest, FirstReleaseMessagesOfOneEventStillRead) {
  // Version 1: the version byte, then one record, no count.
  Event event;
  event.user_id = "u1";
  std::string v2;
  StartLogMessage(&v2);
  AppendLoggedEvent(event, EventOrigin{Transport::kTcp, 5}, &v2);
  const std::string v1 = std::string(1, '\1') + v2.substr(5);
  std::vector<Event> events;
  std::vector<EventOrigin> origins;
  ASSERT_TRUE(DecodeLogMessage(v1, &events, &origins));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].user_id, "u1");
  EXPECT_EQ(origins[0].received_at, 5);
  EXPECT_FALSE(DecodeLogMessage(v1 + v1.substr(1), &events, &origins));  // two records
  EXPECT_EQ(events.size(), 1u);
}

TEST(EventLogTest, BadBytesAreRefusedWholeNotCrashed) {
  Event event;
  event.user_id = "u1";
  std::string bytes;
  StartLogMessage(&bytes);
  AppendLoggedEvent(event, EventOrigin{}, &bytes);
  AppendLoggedEvent(event, EventOrigin{}, &bytes);
  std::vector<Event> events;
  std::vector<EventOrigin> origins;
  // Every truncation (also one at a record's end), a trailing byte, an unknown version or
  // transport, a count of zero or one too many: refused, and nothing appended.
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeLogMessage(std::string_view(bytes).substr(0, n), &events, &origins)) << n;
  }
  EXPECT_FALSE(DecodeLogMessage(bytes + "x", &events, &origins));
  std::string other_version = bytes;
  other_version[0] = 9;
  EXPECT_FALSE(DecodeLogMessage(other_version, &events, &origins));
  std::string other_transport = bytes;
  other_transport[5] = 9;
  EXPECT_FALSE(DecodeLogMessage(other_transport, &events, &origins));
  std::string no_records = bytes;
  no_records[1] = 0;
  EXPECT_FALSE(DecodeLogMessage(no_records, &events, &origins));
  std::string one_more = bytes;
  one_more[1] = 3;
  EXPECT_FALSE(DecodeLogMessage(one_more, &events, &origins));
  EXPECT_TRUE(events.empty());
  EXPECT_TRUE(origins.empty());
  EXPECT_TRUE(DecodeLogMessage(bytes, &events, &origins));
  EXPECT_EQ(events.size(), 2u);
}

// An ingest message: a section per partition, each event with its index in the whole message
// (the arrival order, which is its place in the log with the message's sequence).
TEST(EventLogTest, AnIngestMessageHoldsASectionPerPartitionWithEachEventsIndex) {
  Event a;
  a.type = EventType::kTrack;
  a.user_id = "a";
  a.name = "Demo Requested";
  a.has_name = true;
  Event b = a;
  b.user_id = "b";
  std::string p3;
  std::string p7;
  StartPlacedLogMessage(&p3);
  StartPlacedLogMessage(&p7);
  AppendPlacedEvent(b, EventOrigin{Transport::kTcp, 2}, 0, &p7);
  AppendPlacedEvent(a, EventOrigin{Transport::kHttp, 1}, 1, &p3);
  AppendPlacedEvent(b, EventOrigin{Transport::kTcp, 3}, 2, &p7);
  std::string bytes;
  EncodeIngestMessage({{3, p3}, {7, p7}}, &bytes);

  std::vector<IngestSection> sections;
  ASSERT_TRUE(DecodeIngestMessage(bytes, &sections));
  ASSERT_EQ(sections.size(), 2u);
  EXPECT_EQ(sections[0].partition, 3u);
  EXPECT_EQ(sections[1].partition, 7u);
  EXPECT_EQ(KindOfLogMessage(sections[1].events), LogMessageKind::kEvents);
  std::vector<Event> events;
  std::vector<EventOrigin> origins;
  std::vector<uint32_t> indexes;
  ASSERT_TRUE(DecodeLogMessage(sections[1].events, &events, &origins, &indexes));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(indexes, (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(events[1].user_id, "b");
  EXPECT_EQ(origins[1].received_at, 3);
  ASSERT_TRUE(DecodeLogMessage(sections[0].events, &events, &origins, &indexes));
  EXPECT_EQ(indexes, (std::vector<uint32_t>{0, 2, 1}));
  EXPECT_EQ(events[2].user_id, "a");
  // A version 2 message's indexes are its positions.
  std::string v2;
  StartLogMessage(&v2);
  AppendLoggedEvent(a, EventOrigin{}, &v2);
  AppendLoggedEvent(b, EventOrigin{}, &v2);
  indexes.clear();
  ASSERT_TRUE(DecodeLogMessage(v2, &events, &origins, &indexes));
  EXPECT_EQ(indexes, (std::vector<uint32_t>{0, 1}));

  // Anything else is refused whole, never a crash: every truncation, sections out of order or
  // twice, a section that is not a placed events message, an index past the message's bound.
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<IngestSection> cut;
    if (DecodeIngestMessage(std::string_view(bytes).substr(0, n), &cut)) {
      // A cut at a section's end leaves whole sections; each must still decode or be refused.
      for (const IngestSection& section : cut) {
        std::vector<Event> e;
        std::vector<EventOrigin> o;
        (void)DecodeLogMessage(section.events, &e, &o);
      }
    }
  }
  std::string reordered;
  EncodeIngestMessage({{7, p7}, {3, p3}}, &reordered);
  EXPECT_FALSE(DecodeIngestMessage(reordered, &sections));
  EXPECT_TRUE(sections.empty());
  EncodeIngestMessage({{3, p3}, {3, p3}}, &reordered);
  EXPECT_FALSE(DecodeIngestMessage(reordered, &sections));
  EncodeIngestMessage({{3, v2}}, &reordered);
  EXPECT_FALSE(DecodeIngestMessage(reordered, &sections));
  EncodeIngestMessage({}, &reordered);
  EXPECT_FALSE(DecodeIngestMessage(reordered, &sections));
  EXPECT_FALSE(DecodeIngestMessage(p3, &sections));
  std::string far;
  StartPlacedLogMessage(&far);
  AppendPlacedEvent(a, EventOrigin{}, kMaxIngestEvents - 1, &far);
  EXPECT_TRUE(DecodeLogMessage(far, &events, &origins));
  far[5] = static_cast<char>(0x80);  // the index's varint: 4096 and more
  far.insert(6, 1, static_cast<char>(0x20));
  EXPECT_FALSE(DecodeLogMessage(far, &events, &origins));
}

TEST(EventLogTest, AClockMessageCarriesItsTimeAndIsNoEvent) {
  std::string bytes;
  EncodeClockMessage(1700000000.25, /*reevaluate=*/false, &bytes);
  EXPECT_EQ(KindOfLogMessage(bytes), LogMessageKind::kClock);
  EpochSeconds at = 0;
  bool reevaluate = true;
  ASSERT_TRUE(DecodeClockMessage(bytes, &at, &reevaluate));
  EXPECT_EQ(at, 1700000000.25);
  EXPECT_FALSE(reevaluate);
  std::string again;
  EncodeClockMessage(1700000001, /*reevaluate=*/true, &again);
  ASSERT_TRUE(DecodeClockMessage(again, &at, &reevaluate));
  EXPECT_EQ(at, 1700000001);
  EXPECT_TRUE(reevaluate);
  again[1] = 2;
  EXPECT_FALSE(DecodeClockMessage(again, &at, &reevaluate));
  std::vector<Event> events;
  std::vector<EventOrigin> origins;
  EXPECT_FALSE(DecodeLogMessage(bytes, &events, &origins));

  EXPECT_FALSE(DecodeClockMessage(bytes.substr(0, 5), &at, &reevaluate));
  EXPECT_FALSE(DecodeClockMessage(bytes + "x", &at, &reevaluate));
  EncodeClockMessage(std::numeric_limits<double>::quiet_NaN(), false, &bytes);
  EXPECT_FALSE(DecodeClockMessage(bytes, &at, &reevaluate));
  EncodeClockMessage(std::numeric_limits<double>::infinity(), false, &bytes);
  EXPECT_FALSE(DecodeClockMessage(bytes, &at, &reevaluate));
}

TEST(EventLogTest, AStageResetMessageCarriesItsLeadAndIdAndIsNoEvent) {
  std::string bytes;
  EncodeStageResetMessage("kim", "node-a/42", 1700000000.5, &bytes);
  EXPECT_EQ(KindOfLogMessage(bytes), LogMessageKind::kStageReset);
  std::string lead;
  std::string reset_id;
  EpochSeconds at = 0;
  ASSERT_TRUE(DecodeStageResetMessage(bytes, &lead, &reset_id, &at));
  EXPECT_EQ(lead, "kim");
  EXPECT_EQ(reset_id, "node-a/42");
  EXPECT_EQ(at, 1700000000.5);
  std::vector<Event> events;
  std::vector<EventOrigin> origins;
  EXPECT_FALSE(DecodeLogMessage(bytes, &events, &origins));
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeStageResetMessage(bytes.substr(0, n), &lead, &reset_id, &at)) << n;
  }
  EXPECT_FALSE(DecodeStageResetMessage(bytes + "x", &lead, &reset_id, &at));
  EncodeStageResetMessage("", "node-a/42", 1, &bytes);
  EXPECT_FALSE(DecodeStageResetMessage(bytes, &lead, &reset_id, &at));
}

// The stream against real nats-server nodes: what StreamCopies reads from their answers.
class EventStreamOnNatsTest : public ::testing::Test {
 protected:
  std::unique_ptr<NatsLink> Link() {
    NatsLinkOptions options;
    options.urls = nats_.url_list();
    options.name = "test";
    auto link = NatsLink::Open(options);
    EXPECT_TRUE(link.ok()) << link.status().ToString();
    return link.ok() ? std::move(link.value()) : nullptr;
  }

  // The copies the stream's configuration asks for, and its leader's name.
  void AskedAndLeader(jsCtx* js, int* asked, std::string* leader) {
    jsStreamInfo* info = nullptr;
    const std::string name(kEventStream);
    ASSERT_EQ(js_GetStreamInfo(&info, js, name.c_str(), nullptr, nullptr), NATS_OK);
    *asked = static_cast<int>(info->Config->Replicas);
    *leader =
        info->Cluster != nullptr && info->Cluster->Leader != nullptr ? info->Cluster->Leader : "";
    jsStreamInfo_Destroy(info);
  }

  testing::NatsCluster nats_;
};

// Three servers: the stream keeps three copies, and still counts three with a follower down (the
// leader names it, offline), so a bucket made then asks three as before.
TEST_F(EventStreamOnNatsTest, ThreeServersKeepThreeCopiesAlsoWithAFollowerDown) {
  HANDOFF_START_NATS_OR_SKIP(nats_, 3);
  std::unique_ptr<NatsLink> link = Link();
  ASSERT_NE(link, nullptr);
  EventLogLayout layout;
  ASSERT_TRUE(
      testing::WaitUntil([&] { return EnsureEventStream(link->js(), &layout).ok(); }, 30, 0.2));
  EXPECT_EQ(layout.replicas, 3);
  int asked = 0;
  std::string leader;
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        AskedAndLeader(link->js(), &asked, &leader);
        return !leader.empty();
      },
      30, 0.1));
  EXPECT_EQ(asked, 3);
  int follower = 0;
  while (nats_.name(follower) == leader) {
    ++follower;
  }
  nats_.Kill(follower);
  int copies = 0;
  ASSERT_TRUE(
      testing::WaitUntil([&] { return EventStreamReplicas(link->js(), &copies).ok(); }, 30, 0.2));
  EXPECT_EQ(copies, 3);
}

// Two servers, the threads of one node making the stream at once (a node's log publisher,
// applier and leases do): one makes it at a time, so the stream asks for the two copies it has.
// Without that, nats-server 2.9.10 made, about one start in eight, a stream asking three copies
// with two, whose bucket of three copies never opened.
TEST_F(EventStreamOnNatsTest, ThreadsMakingTheStreamAtOnceOnTwoServersAskTwoCopies) {
  HANDOFF_START_NATS_OR_SKIP(nats_, 2);
  constexpr int kThreads = 4;
  std::vector<std::unique_ptr<NatsLink>> links;
  for (int i = 0; i < kThreads; ++i) {
    links.push_back(Link());
    ASSERT_NE(links.back(), nullptr);
  }
  std::vector<int> copies(kThreads, 0);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      EventLogLayout layout;
      if (testing::WaitUntil([&] { return EnsureEventStream(links[i]->js(), &layout).ok(); }, 30,
                             0.05)) {
        copies[i] = layout.replicas;
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(copies[i], 2) << "thread " << i;
  }
  int asked = 0;
  std::string leader;
  AskedAndLeader(links[0]->js(), &asked, &leader);
  EXPECT_EQ(asked, 2);
}

}  // namespace
}  // namespace handoff
