#include "ingest/spent_events.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace handoff {
namespace {

std::vector<Event> Events(size_t n, const std::string& prefix) {
  std::vector<Event> events(n);
  for (size_t i = 0; i < n; ++i) {
    events[i].user_id = prefix + "-user-with-a-name-past-the-small-string-" + std::to_string(i);
  }
  return events;
}

TEST(SpentEventsTest, TakeHandsBackWhatWasGivenWithItsEvents) {
  SpentEvents spent;
  EXPECT_TRUE(spent.Take().empty());
  std::vector<Event> events = Events(3, "a");
  const Event* data = events.data();
  spent.Give(std::move(events));
  std::vector<Event> back = spent.Take();
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back.data(), data);  // the same memory, to be parsed over
  EXPECT_EQ(back[2].user_id, "a-user-with-a-name-past-the-small-string-2");
  EXPECT_TRUE(spent.Take().empty());
}

TEST(SpentEventsTest, KeepsAtMostItsBoundOfEventsAndIgnoresEmptyVectors) {
  SpentEvents spent(5);
  spent.Give(std::vector<Event>());
  EXPECT_TRUE(spent.Take().empty());
  spent.Give(Events(2, "a"));
  spent.Give(Events(3, "b"));
  spent.Give(Events(1, "c"));  // a sixth event: over the bound, freed by the giver
  int taken = 0;
  while (!spent.Take().empty()) {
    ++taken;
  }
  EXPECT_EQ(taken, 2);
  // Taking gives the room back.
  spent.Give(Events(5, "d"));
  EXPECT_EQ(spent.Take().size(), 5u);
}

// One thread gives (the engine), another takes and parses over (the io thread); run under the
// sanitizers in CI.
TEST(SpentEventsTest, OneThreadGivesWhileAnotherTakes) {
  SpentEvents spent(16);
  constexpr int kRounds = 20000;
  std::thread giver([&] {
    for (int i = 0; i < kRounds; ++i) {
      spent.Give(Events(4, "g" + std::to_string(i)));
    }
  });
  // Every vector taken is one whole vector that was given: four events of one round.
  size_t torn = 0;
  size_t taken = 0;
  auto check = [&](std::vector<Event>& events) {
    ++taken;
    const std::string round = events[0].user_id.substr(0, events[0].user_id.find('-'));
    torn += events.size() != 4 ? 1 : 0;
    for (Event& e : events) {
      torn += e.user_id.starts_with(round + "-") ? 0 : 1;
      e.user_id.assign("reused");  // parsed over, as the io thread does
    }
  };
  for (int i = 0; i < kRounds; ++i) {
    std::vector<Event> events = spent.Take();
    if (!events.empty()) {
      check(events);
    }
  }
  giver.join();
  for (std::vector<Event> events = spent.Take(); !events.empty(); events = spent.Take()) {
    check(events);
  }
  EXPECT_EQ(torn, 0u);
  EXPECT_GT(taken, 0u);
}

}  // namespace
}  // namespace handoff
