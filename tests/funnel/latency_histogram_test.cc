#include "funnel/latency_histogram.h"

#include <gtest/gtest.h>

#include <string>

namespace handoff {
namespace {

TEST(LatencyHistogramTest, EmptyHasNoQuantiles) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_FALSE(h.Quantile(0.5).has_value());
}

TEST(LatencyHistogramTest, QuantilesAreWithinHalfAPercentOfTheSample) {
  LatencyHistogram h;
  for (int i = 1; i <= 100; ++i) {
    h.Add(i * 0.1);  // 0.1 .. 10 ms
  }
  EXPECT_EQ(h.count(), 100u);
  EXPECT_NEAR(*h.Quantile(0.5), 5.0, 5.0 * 0.006);
  EXPECT_NEAR(*h.Quantile(0.9), 9.0, 9.0 * 0.006);
  EXPECT_NEAR(*h.Quantile(0.99), 9.9, 9.9 * 0.006);
  EXPECT_NEAR(*h.Quantile(1.0), 10.0, 10.0 * 0.006);
}

TEST(LatencyHistogramTest, ZeroNegativeAndHugeValues) {
  LatencyHistogram h;
  h.Add(0);
  h.Add(-3);
  EXPECT_EQ(*h.Quantile(0.5), 0);
  h.Add(2 * 86400 * 1000.0);  // two days
  EXPECT_NEAR(*h.Quantile(1.0), 2 * 86400 * 1000.0, 2 * 86400 * 1000.0 * 0.006);
}

TEST(LatencyHistogramTest, MergeIsTheHistogramOfBoth) {
  LatencyHistogram a;
  LatencyHistogram b;
  LatencyHistogram both;
  for (int i = 0; i < 50; ++i) {
    a.Add(i);
    both.Add(i);
    b.Add(i * 7.5);
    both.Add(i * 7.5);
  }
  a.Merge(b);
  EXPECT_EQ(a, both);
}

TEST(LatencyHistogramTest, EncodeDecodeRoundTripsAndRejectsGarbage) {
  LatencyHistogram h;
  h.Add(0);
  h.Add(0.4);
  h.Add(12345);
  std::string bytes;
  h.Encode(&bytes);
  std::string_view in = bytes;
  LatencyHistogram back;
  ASSERT_TRUE(back.Decode(&in));
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(back, h);
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string_view cut(bytes.data(), n);
    LatencyHistogram partial;
    EXPECT_FALSE(partial.Decode(&cut)) << n;
  }
}

}  // namespace
}  // namespace handoff
