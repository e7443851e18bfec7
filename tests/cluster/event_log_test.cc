#include "cluster/event_log.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

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

TEST(EventLogTest, LoggedEventRoundTrips) {
  Event event;
  event.type = EventType::kTrack;
  event.user_id = "u1";
  event.anonymous_id = "a1";
  event.message_id = "m1";
  event.name = "Demo Requested";
  event.has_name = true;
  event.timestamp = 1'800'000'000.5;
  event.has_timestamp = true;
  LoggedEvent meta{.transport = Transport::kHttp, .received_at = 1'800'000'001.25};
  std::string bytes;
  EncodeLoggedEvent(event, meta, &bytes);

  Event back;
  LoggedEvent back_meta;
  ASSERT_TRUE(DecodeLoggedEvent(bytes, &back, &back_meta));
  EXPECT_EQ(back.type, EventType::kTrack);
  EXPECT_EQ(back.user_id, "u1");
  EXPECT_EQ(back.anonymous_id, "a1");
  EXPECT_EQ(back.message_id, "m1");
  EXPECT_EQ(back.name, "Demo Requested");
  EXPECT_TRUE(back.has_timestamp);
  EXPECT_EQ(back.timestamp, 1'800'000'000.5);
  EXPECT_EQ(back_meta.transport, Transport::kHttp);
  EXPECT_EQ(back_meta.received_at, 1'800'000'001.25);
}

TEST(EventLogTest, BadBytesAreRefusedNotCrashed) {
  Event event;
  event.user_id = "u1";
  std::string bytes;
  EncodeLoggedEvent(event, LoggedEvent{}, &bytes);
  Event back;
  LoggedEvent meta;
  // Every truncation, a trailing byte, an unknown version or transport.
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeLoggedEvent(std::string_view(bytes).substr(0, n), &back, &meta)) << n;
  }
  EXPECT_FALSE(DecodeLoggedEvent(bytes + "x", &back, &meta));
  std::string other_version = bytes;
  other_version[0] = 2;
  EXPECT_FALSE(DecodeLoggedEvent(other_version, &back, &meta));
  std::string other_transport = bytes;
  other_transport[1] = 9;
  EXPECT_FALSE(DecodeLoggedEvent(other_transport, &back, &meta));
}

}  // namespace
}  // namespace handoff
