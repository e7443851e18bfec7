#include "storage/lead_id_filter.h"

#include <gtest/gtest.h>

#include <string>

namespace handoff {
namespace {

std::string Id(const char* prefix, size_t i) { return prefix + std::to_string(i); }

TEST(LeadIdFilterTest, AnIdAddedIsAlwaysFoundAndTheFilterGrowsPastItsCapacity) {
  LeadIdFilter filter;
  const size_t n = 3 * LeadIdFilter::kMinCapacity + 1;  // segments of 1M and 2M (full), 4M
  for (size_t i = 0; i < n; ++i) {
    filter.Add(Id("lead-", i));
  }
  EXPECT_EQ(filter.ids(), n);
  EXPECT_EQ(filter.memory_bytes(), 7 * LeadIdFilter::kMinCapacity * 2);
  size_t missing = 0;
  for (size_t i = 0; i < n; ++i) {
    missing += filter.MayContain(Id("lead-", i)) ? 0 : 1;
  }
  EXPECT_EQ(missing, 0u);
}

TEST(LeadIdFilterTest, FewIdsNeverAddedAreTakenForAddedOnes) {
  LeadIdFilter filter;
  for (size_t i = 0; i < LeadIdFilter::kMinCapacity; ++i) {
    filter.Add(Id("known-", i));
  }
  size_t maybe = 0;
  const size_t probes = 200'000;
  for (size_t i = 0; i < probes; ++i) {
    maybe += filter.MayContain(Id("new-", i)) ? 1 : 0;
  }
  // A full segment: about 1 in 1,000 (16 bits an id, 7 probes in a 64-byte block).
  EXPECT_LT(maybe, probes / 200);
}

TEST(LeadIdFilterTest, AnEmptyFilterHoldsNothing) {
  LeadIdFilter filter;
  EXPECT_FALSE(filter.MayContain(""));
  EXPECT_FALSE(filter.MayContain("lead-1"));
  EXPECT_EQ(filter.ids(), 0u);
}

TEST(LeadIdFilterTest, AbsorbKeepsTheIdsOfBothAndAddsGoOn) {
  LeadIdFilter scanned(3 * LeadIdFilter::kMinCapacity);
  LeadIdFilter created;
  for (size_t i = 0; i < 1000; ++i) {
    scanned.Add(Id("stored-", i));
    created.Add(Id("created-", i));
  }
  created.Absorb(std::move(scanned));
  created.Add("later");
  EXPECT_EQ(created.ids(), 2001u);
  for (size_t i = 0; i < 1000; ++i) {
    ASSERT_TRUE(created.MayContain(Id("stored-", i))) << i;
    ASSERT_TRUE(created.MayContain(Id("created-", i))) << i;
  }
  EXPECT_TRUE(created.MayContain("later"));
  EXPECT_EQ(created.memory_bytes(), 4 * LeadIdFilter::kMinCapacity * 2);
  // The filter absorbed is left empty, and usable.
  EXPECT_EQ(scanned.memory_bytes(), 0u);  // NOLINT(bugprone-use-after-move)
  EXPECT_FALSE(scanned.MayContain("stored-1"));
  scanned.Add("again");
  EXPECT_TRUE(scanned.MayContain("again"));
}

}  // namespace
}  // namespace handoff
