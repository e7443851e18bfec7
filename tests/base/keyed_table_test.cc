// base/keyed_table.h.
#include "base/keyed_table.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace handoff {
namespace {

struct Item {
  std::string id;
  int value = 0;
};
struct IdOf {
  const std::string& operator()(const Item& item) const { return item.id; }
};
using Table = KeyedTable<Item, IdOf>;

std::unique_ptr<Item> MakeItem(std::string id, int value) {
  auto item = std::make_unique<Item>();
  item->id = std::move(id);
  item->value = value;
  return item;
}

TEST(KeyedTableTest, FindsWhatWasInsertedAndNothingElse) {
  Table table;
  EXPECT_EQ(table.Find("a"), nullptr);
  Item& a = table.Insert(MakeItem("a", 1));
  table.Insert(MakeItem("b", 2));
  EXPECT_EQ(table.Find("a"), &a);
  EXPECT_EQ(table.Find("b")->value, 2);
  EXPECT_EQ(table.Find("c"), nullptr);
  EXPECT_EQ(table.size(), 2u);

  std::unique_ptr<Item> taken = table.Take("a");
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(taken.get(), &a);
  EXPECT_EQ(table.Find("a"), nullptr);
  EXPECT_EQ(table.Take("a"), nullptr);
  EXPECT_EQ(table.Erase("b"), 1u);
  EXPECT_EQ(table.Erase("b"), 0u);
  EXPECT_TRUE(table.empty());
}

// Objects never move: the address Insert returned stays the object's through every growth.
TEST(KeyedTableTest, GrowingMovesAFewSlotsAnInsertAndObjectsStayPut) {
  Table table;
  std::vector<Item*> addresses;
  size_t growths = 0;
  size_t previous_slots = 0;
  for (int i = 0; i < 5000; ++i) {
    const size_t moving_before = table.moving();
    addresses.push_back(&table.Insert(MakeItem("lead-" + std::to_string(i), i)));
    if (table.slot_count() != previous_slots && moving_before == 0 && table.moving() > 0) {
      ++growths;  // a new array: the old one is moved over by the inserts that follow
    } else if (moving_before > 0) {
      EXPECT_LE(moving_before - table.moving(), Table::kMoveStep) << "insert " << i;
    }
    previous_slots = table.slot_count();
    if (i % 97 == 0) {
      for (int j = 0; j <= i; ++j) {
        ASSERT_EQ(table.Find("lead-" + std::to_string(j)), addresses[j]) << i << " " << j;
      }
    }
  }
  EXPECT_GE(growths, 5u);
  EXPECT_EQ(table.size(), 5000u);
}

// A bounded cache erases as much as it inserts: the erased slots' markers must not pile up.
TEST(KeyedTableTest, ChurnKeepsTheTableBounded) {
  Table table;
  constexpr int kLive = 1000;
  for (int i = 0; i < kLive; ++i) {
    table.Insert(MakeItem(std::to_string(i), i));
  }
  size_t most_slots = 0;
  for (int i = kLive; i < 200 * kLive; ++i) {
    ASSERT_NE(table.Take(std::to_string(i - kLive)), nullptr) << i;
    table.Insert(MakeItem(std::to_string(i), i));
    most_slots = std::max(most_slots, table.slot_count());
  }
  EXPECT_EQ(table.size(), static_cast<size_t>(kLive));
  EXPECT_LE(most_slots, 16u * kLive);
  for (int i = 199 * kLive; i < 200 * kLive; ++i) {
    ASSERT_NE(table.Find(std::to_string(i)), nullptr) << i;
  }
  EXPECT_EQ(table.Find(std::to_string(199 * kLive - 1)), nullptr);
}

// Few objects left in a large array that erased markers have filled: the next array is small
// (sized for the live objects), fills before the large one is moved over, and the large one's
// last objects go straight to the array after it.
TEST(KeyedTableTest, ASmallArrayFillingBeforeTheOldOneIsMovedLosesNothing) {
  Table table;
  for (int i = 0; i < 1000; ++i) {
    table.Insert(MakeItem(std::to_string(i), i));
  }
  std::vector<std::string> kept;
  for (int i = 0; i < 1000; ++i) {
    if (i % 300 == 7) {
      kept.push_back(std::to_string(i));
    } else {
      ASSERT_NE(table.Take(std::to_string(i)), nullptr) << i;
    }
  }
  while (table.moving() > 0) {  // finish any move under way
    table.Insert(MakeItem("warm", 0));
    ASSERT_NE(table.Take("warm"), nullptr);
  }
  const size_t large = table.slot_count();
  for (int n = 0; table.moving() == 0; ++n) {  // churn until the markers make the array move
    const std::string id = "churn-" + std::to_string(n);
    table.Insert(MakeItem(id, n));
    ASSERT_NE(table.Take(id), nullptr);
  }
  ASSERT_LT(table.slot_count() - large, large / 4) << "the new array is sized for few objects";
  for (int i = 0; i < 200; ++i) {
    table.Insert(MakeItem("new-" + std::to_string(i), i));
    kept.push_back("new-" + std::to_string(i));
    for (const std::string& id : kept) {
      ASSERT_NE(table.Find(id), nullptr) << id << " after insert " << i;
    }
  }
  EXPECT_EQ(table.moving(), 0u);
  EXPECT_EQ(table.size(), kept.size());
}

// Counts live Counted objects, so a leak or a double destruction shows without LeakSanitizer.
int live_counted = 0;
struct Counted {
  explicit Counted(std::string id_in) : id(std::move(id_in)) { ++live_counted; }
  ~Counted() { --live_counted; }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  std::string id;
};
struct CountedId {
  const std::string& operator()(const Counted& c) const { return c.id; }
};

// While a move is under way: objects still in the old array can be taken, every object is
// visited once, finds and takes leave the arrays as they are, and the table owns exactly what
// it holds (also after clear and reuse).
TEST(KeyedTableTest, TakesAndVisitsDuringAMoveSeeEveryObjectOnce) {
  live_counted = 0;
  {
    KeyedTable<Counted, CountedId> table;
    int next = 0;
    while (table.moving() == 0 || table.size() < 500) {
      table.Insert(std::make_unique<Counted>(std::to_string(next++)));
    }
    // The highest slots of the old array are moved last: take objects from all over while the
    // move goes on, and insert a few so that it advances.
    const size_t slots = table.slot_count();
    const size_t moving = table.moving();
    size_t expected = table.size();
    for (int i = 0; i < next; i += 3) {
      ASSERT_NE(table.Take(std::to_string(i)), nullptr) << i;
      --expected;
      EXPECT_EQ(table.slot_count(), slots);
      EXPECT_EQ(table.moving(), moving);
    }
    EXPECT_EQ(table.Find(std::to_string(0)), nullptr);
    for (int round = 0; table.moving() > 0; ++round) {
      table.Insert(std::make_unique<Counted>("round-" + std::to_string(round)));
      ++expected;
      size_t visits = 0;
      std::unordered_map<const Counted*, int> seen;
      table.ForEach([&](Counted& c) {
        ++visits;
        ++seen[&c];
      });
      ASSERT_EQ(visits, expected) << "round " << round;
      ASSERT_EQ(seen.size(), expected) << "an object visited twice, round " << round;
      ASSERT_EQ(table.size(), expected);
      ASSERT_EQ(live_counted, static_cast<int>(expected));
    }
    for (int i = 0; i < next; ++i) {
      EXPECT_EQ(table.Find(std::to_string(i)) != nullptr, i % 3 != 0) << i;
    }
    table.clear();
    EXPECT_EQ(live_counted, 0);
    table.Insert(std::make_unique<Counted>("again"));
    EXPECT_NE(table.Find("again"), nullptr);
    EXPECT_EQ(live_counted, 1);
  }
  EXPECT_EQ(live_counted, 0);
}

// Differential: the same random operations on a std::unordered_map, in phases that grow,
// churn and shrink the table.
TEST(KeyedTableTest, AgreesWithAnUnorderedMapUnderRandomOperations) {
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    std::mt19937 rng(seed);
    Table table;
    std::unordered_map<std::string, Item*> model;
    for (int phase = 0; phase < 12; ++phase) {
      // Insert-heavy, balanced, then erase-heavy, in turn.
      const int insert_percent = phase % 3 == 0 ? 80 : phase % 3 == 1 ? 50 : 15;
      const int key_space = 1 << (8 + phase % 6);
      for (int op = 0; op < 20000; ++op) {
        const std::string key = "k" + std::to_string(rng() % key_space);
        const bool insert = static_cast<int>(rng() % 100) < insert_percent;
        auto it = model.find(key);
        if (insert) {
          if (it == model.end()) {
            model[key] = &table.Insert(MakeItem(key, op));
          } else {
            ASSERT_EQ(table.Find(key), it->second) << key;
          }
        } else {
          std::unique_ptr<Item> taken = table.Take(key);
          if (it == model.end()) {
            ASSERT_EQ(taken, nullptr) << key;
          } else {
            ASSERT_EQ(taken.get(), it->second) << key;
            model.erase(it);
          }
        }
        ASSERT_EQ(table.size(), model.size());
      }
      for (const auto& [key, item] : model) {
        ASSERT_EQ(table.Find(key), item) << key;
      }
      size_t visited = 0;
      table.ForEach([&](Item& item) {
        ++visited;
        EXPECT_EQ(model.at(item.id), &item);
      });
      ASSERT_EQ(visited, model.size());
    }
  }
}

}  // namespace
}  // namespace handoff
