#include "identity/identity_map.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace handoff {
namespace {

using Ids = std::vector<std::string>;

TEST(IdentityMapTest, AnUnlinkedIdIsItsOwnRoot) {
  IdentityMap map;
  EXPECT_EQ(map.Resolve("u1"), "u1");
  EXPECT_TRUE(map.Aliases("u1").empty());
  EXPECT_EQ(map.size(), 0u);
}

TEST(IdentityMapTest, ChainsResolveToTheLastRoot) {
  IdentityMap map;
  map.Link("a", "b");
  map.Link("b", "c");
  EXPECT_EQ(map.Resolve("a"), "c");
  EXPECT_EQ(map.Resolve("b"), "c");
  EXPECT_EQ(map.Resolve("c"), "c");
  EXPECT_EQ(map.Aliases("c"), (Ids{"b", "a"}));
  EXPECT_TRUE(map.Aliases("b").empty());
  // Flat: every linked id points at its root.
  map.ForEachLink([](const std::string& id, const std::string& root) { EXPECT_EQ(root, "c"); });
}

TEST(IdentityMapTest, ForgetRemovesTheRootsWholeGroupOnly) {
  IdentityMap map;
  map.Link("a", "c");
  map.Link("b", "c");
  map.Link("x", "y");
  EXPECT_EQ(map.Forget("c"), (Ids{"a", "b"}));
  EXPECT_EQ(map.Resolve("a"), "a");
  EXPECT_EQ(map.Resolve("b"), "b");
  EXPECT_EQ(map.Resolve("x"), "y");
  EXPECT_EQ(map.size(), 1u);
}

}  // namespace
}  // namespace handoff
