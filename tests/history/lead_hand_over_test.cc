// LeadHandOver's bytes: what Encode makes decodes to the same lead; anything cut short or
// changed in its framing fails cleanly (the bytes come over the network).
#include "history/lead_hand_over.h"

#include <gtest/gtest.h>

#include <string>

namespace handoff {
namespace {

LeadHandOver Sample() {
  LeadHandOver lead;
  lead.root = "anon-7";
  lead.ids = {"anon-8", "device-9"};
  lead.state.id = "anon-7";
  lead.state.events = 2;
  lead.state.traits = Value::MakeObject();
  lead.state.traits.Set("title", Value::String("VP Sales"));
  for (uint64_t i = 1; i <= 2; ++i) {
    HistoryEntry e;
    e.apply_seq = i << 12;
    e.lead = i == 1 ? "anon-8" : "anon-7";
    e.received_at = 1'800'000'000 + static_cast<double>(i);
    e.event.type = EventType::kTrack;
    e.event.anonymous_id = e.lead;
    e.event.name = "Webinar Attended";
    e.event.has_name = true;
    e.event.timestamp = e.received_at;
    e.event.has_timestamp = true;
    e.awards = {{"webinar", 15}, {"visit", 0.5}};
    lead.entries.push_back(e);
  }
  lead.into = "user-7";
  lead.covered_seq = 4242;
  return lead;
}

TEST(LeadHandOverTest, EncodeThenDecodeGivesTheSameLead) {
  const LeadHandOver lead = Sample();
  std::string bytes;
  lead.Encode(&bytes);
  LeadHandOver back;
  ASSERT_TRUE(back.Decode(bytes));
  EXPECT_EQ(back.root, lead.root);
  EXPECT_EQ(back.ids, lead.ids);
  EXPECT_EQ(back.state.id, lead.state.id);
  EXPECT_EQ(back.state.events, 2u);
  EXPECT_EQ(back.state.traits.ToJson(), lead.state.traits.ToJson());
  ASSERT_EQ(back.entries.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(back.entries[i].apply_seq, lead.entries[i].apply_seq);
    EXPECT_EQ(back.entries[i].lead, lead.entries[i].lead);
    EXPECT_EQ(back.entries[i].received_at, lead.entries[i].received_at);
    EXPECT_EQ(back.entries[i].event.name, "Webinar Attended");
    EXPECT_EQ(back.entries[i].awards, lead.entries[i].awards);
  }
  EXPECT_EQ(back.into, "user-7");
  EXPECT_EQ(back.covered_seq, 4242u);
}

// A hand-over logged by the first release (version 1) has neither `into` nor `covered_seq`: it
// still decodes, with them empty.
TEST(LeadHandOverTest, AVersionOneHandOverDecodesWithoutItsCover) {
  LeadHandOver lead = Sample();
  lead.into.clear();
  lead.covered_seq = 0;
  std::string bytes;
  lead.Encode(&bytes);
  // Version 2 ends with into ("": one byte of length) and covered_seq (0: one byte).
  bytes.resize(bytes.size() - 2);
  bytes[0] = 1;
  LeadHandOver back;
  ASSERT_TRUE(back.Decode(bytes));
  EXPECT_EQ(back.root, "anon-7");
  EXPECT_EQ(back.entries.size(), 2u);
  EXPECT_EQ(back.into, "");
  EXPECT_EQ(back.covered_seq, 0u);
}

TEST(LeadHandOverTest, BytesCutShortOrWithMoreDoNotDecode) {
  std::string bytes;
  Sample().Encode(&bytes);
  for (size_t n = 0; n < bytes.size(); ++n) {
    LeadHandOver lead;
    EXPECT_FALSE(lead.Decode(std::string_view(bytes).substr(0, n))) << n;
  }
  LeadHandOver lead;
  EXPECT_FALSE(lead.Decode(bytes + "x"));
  std::string other_version = bytes;
  other_version[0] = 9;
  EXPECT_FALSE(lead.Decode(other_version));
}

}  // namespace
}  // namespace handoff
