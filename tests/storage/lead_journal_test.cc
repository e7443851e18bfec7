#include "storage/lead_journal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace handoff {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

std::string Block(const std::vector<std::pair<std::string, std::string>>& puts,
                  const std::vector<std::string>& deletes = {}) {
  std::string block;
  for (const auto& [id, state] : puts) {
    LeadJournal::AppendPut(id, state, &block);
  }
  for (const std::string& id : deletes) {
    LeadJournal::AppendDelete(id, &block);
  }
  return block;
}

std::string StateOf(const LeadJournal& journal, std::string_view id) {
  const LeadJournal::Slot* slot = journal.Find(id);
  if (slot == nullptr) {
    return "<none>";
  }
  return slot->deleted ? "<deleted>" : std::string(slot->state);
}

TEST(LeadJournalTest, BlocksRoundTrip) {
  const std::string block = Block({{"a", "1"}, {"b", std::string(300, 'x')}}, {"c"});
  std::vector<std::string> seen;
  ASSERT_TRUE(LeadJournal::ForEachInBlock(block, [&](std::string_view id, std::string_view state,
                                                     bool deleted) {
    seen.push_back(std::string(id) + (deleted ? " deleted" : " " + std::to_string(state.size())));
  }));
  EXPECT_THAT(seen, ElementsAre("a 1", "b 300", "c deleted"));
}

TEST(LeadJournalTest, BadBlocksAreRejectedAndNotApplied) {
  const std::string good = Block({{"a", "1"}});
  for (const std::string& bad : {good.substr(0, good.size() - 1), std::string("\x07\x01z", 3),
                                 good + std::string("\x01\x05", 2)}) {
    EXPECT_FALSE(LeadJournal::ForEachInBlock(bad, [](auto, auto, bool) {}));
    LeadJournal journal;
    EXPECT_FALSE(journal.Apply(1, std::string(bad), /*check=*/true));
    EXPECT_EQ(StateOf(journal, "a"), "<none>");
    EXPECT_TRUE(journal.active_empty());
  }
}

// A generation's table is made big enough up front: the expected leads fit without a growth,
// and the next generation has room for the last one's and a quarter more.
TEST(LeadJournalTest, GenerationsStartWithRoomForTheExpectedLeads) {
  LeadJournal journal;
  uint64_t block = 0;
  auto apply_leads = [&](int from, int count) {
    for (int b = 0; b < count / 100; ++b) {
      std::vector<std::pair<std::string, std::string>> puts;
      puts.reserve(100);
      for (int i = 0; i < 100; ++i) {
        puts.emplace_back("lead-" + std::to_string(from + b * 100 + i), "state");
      }
      ASSERT_TRUE(journal.Apply(++block, Block(puts), /*check=*/false));
    }
  };
  journal.ExpectLeadsPerGeneration(5000);
  EXPECT_EQ(journal.active_room(), 0u);  // nothing held until a block comes
  apply_leads(0, 100);
  const size_t room = journal.active_room();
  EXPECT_GE(room, 5000u);
  apply_leads(100, 4900);
  EXPECT_EQ(journal.active_room(), room);  // 5,000 leads in: never grew
  // A generation past the estimate (it grows) is followed by one with room for a quarter more.
  journal.Freeze();
  apply_leads(5000, 7000);
  journal.Freeze();
  apply_leads(12000, 100);
  EXPECT_GE(journal.active_room(), 7000u + 7000u / 4);
  EXPECT_EQ(StateOf(journal, "lead-4999"), "state");
  EXPECT_EQ(StateOf(journal, "lead-11999"), "state");
}

TEST(LeadJournalTest, NewestStateWinsAcrossBlocksAndGenerations) {
  LeadJournal journal;
  ASSERT_TRUE(journal.Apply(1, Block({{"a", "a1"}, {"b", "b1"}}), false));
  ASSERT_TRUE(journal.Apply(2, Block({{"a", "a2"}}), false));
  EXPECT_EQ(StateOf(journal, "a"), "a2");
  journal.Freeze();
  ASSERT_EQ(journal.frozen().size(), 1u);
  EXPECT_EQ(journal.frozen().front()->last_block(), 2u);
  EXPECT_EQ(journal.frozen().front()->size(), 2u);
  EXPECT_TRUE(journal.active_empty());
  EXPECT_EQ(journal.active_block_bytes(), 0u);

  ASSERT_TRUE(journal.Apply(3, Block({{"a", "a3"}}, {"b"}), false));
  EXPECT_EQ(StateOf(journal, "a"), "a3");
  EXPECT_EQ(StateOf(journal, "b"), "<deleted>");
  EXPECT_EQ(StateOf(journal, "zz"), "<none>");
  journal.Freeze();
  journal.Freeze();  // nothing new: no empty generation
  ASSERT_EQ(journal.frozen().size(), 2u);

  // The oldest goes once copied; the newer one still answers.
  journal.DropOldest();
  EXPECT_EQ(StateOf(journal, "a"), "a3");
  EXPECT_EQ(StateOf(journal, "b"), "<deleted>");
  journal.DropOldest();
  EXPECT_EQ(StateOf(journal, "a"), "<none>");
}

TEST(LeadJournalTest, DroppedGenerationsLendTheirBlocks) {
  LeadJournal journal;
  EXPECT_EQ(journal.TakeSpareBlock().capacity() >= 1000, false);
  ASSERT_TRUE(journal.Apply(1, Block({{"a", std::string(1000, 'x')}}), false));
  journal.Freeze();
  const uint64_t held = journal.bytes();
  EXPECT_GT(held, 1000u);
  journal.DropOldest();
  std::string spare = journal.TakeSpareBlock();
  EXPECT_TRUE(spare.empty());
  EXPECT_GE(spare.capacity(), 1000u);
}

TEST(LeadJournalTest, FrozenGenerationsSortTheirLeads) {
  LeadJournal journal;
  ASSERT_TRUE(journal.Apply(1, Block({{"c", "3"}, {"a", "1"}, {"b", "2"}}), false));
  journal.Freeze();
  std::vector<std::string> ids;
  for (const auto& [id, slot] : journal.frozen().front()->Sorted()) {
    ids.emplace_back(id);
  }
  EXPECT_THAT(ids, ElementsAre("a", "b", "c"));
  EXPECT_EQ(journal.frozen().front()->entries().size(), 3u);
}

// The overlay of two generations over a stored stream: replaced, added and deleted leads, in
// key order, from `after`, stopping when asked.
class OverlayScanTest : public ::testing::Test {
 protected:
  OverlayScanTest() {
    EXPECT_TRUE(journal_.Apply(1, Block({{"b", "b-old"}, {"d", "d-new"}}, {"c"}), false));
    journal_.Freeze();
    EXPECT_TRUE(journal_.Apply(2, Block({{"b", "b-newest"}, {"f", "f-new"}}, {"d"}), false));
    journal_.Freeze();
  }

  std::vector<std::pair<std::string, std::string>> Scan(std::string_view after, size_t limit) {
    const LeadOverlayScan overlay({journal_.frozen().begin(), journal_.frozen().end()});
    std::vector<std::pair<std::string, std::string>> seen;
    overlay.Run(
        after,
        [&](const auto& visit) {
          for (const auto& [id, state] : stored_) {
            if (std::string_view(id).compare(after) > 0 && !visit(id, state)) {
              return;
            }
          }
        },
        [&](std::string_view id, std::string_view state) {
          seen.emplace_back(id, state);
          return seen.size() < limit;
        });
    return seen;
  }

  LeadJournal journal_;
  std::map<std::string, std::string> stored_ = {
      {"a", "a-stored"}, {"b", "b-stored"}, {"c", "c-stored"}, {"e", "e-stored"}};
};

TEST_F(OverlayScanTest, MergesInKeyOrderNewestFirst) {
  EXPECT_THAT(Scan("", 100), ElementsAre(Pair("a", "a-stored"), Pair("b", "b-newest"),
                                         Pair("e", "e-stored"), Pair("f", "f-new")));
}

TEST_F(OverlayScanTest, StartsAfterAndStopsWhenAsked) {
  EXPECT_THAT(Scan("b", 100), ElementsAre(Pair("e", "e-stored"), Pair("f", "f-new")));
  EXPECT_THAT(Scan("", 2), ElementsAre(Pair("a", "a-stored"), Pair("b", "b-newest")));
  EXPECT_THAT(Scan("e", 100), ElementsAre(Pair("f", "f-new")));
  stored_.clear();
  EXPECT_THAT(Scan("", 100), ElementsAre(Pair("b", "b-newest"), Pair("f", "f-new")));
}

TEST_F(OverlayScanTest, FindReadsTheNewestGeneration) {
  const LeadOverlayScan overlay({journal_.frozen().begin(), journal_.frozen().end()});
  ASSERT_NE(overlay.Find("b"), nullptr);
  EXPECT_EQ(overlay.Find("b")->state, "b-newest");
  ASSERT_NE(overlay.Find("d"), nullptr);
  EXPECT_TRUE(overlay.Find("d")->deleted);
  EXPECT_EQ(overlay.Find("a"), nullptr);
}

}  // namespace
}  // namespace handoff
