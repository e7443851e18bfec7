#include "funnel/latency_histogram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>

#include "storage/coding.h"

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

TEST(LatencyHistogramTest, MergeOfInterleavedBucketsKeepsThemInOrderAndEncodesAsOne) {
  // a and b share some buckets and each has buckets the other lacks, on both sides.
  LatencyHistogram a;
  LatencyHistogram b;
  LatencyHistogram both;
  for (int i = 0; i < 400; ++i) {
    const double ms = 0.01 * std::pow(1.03, i);
    (i % 3 == 0 ? a : b).Add(ms);
    if (i % 5 == 0) {
      a.Add(ms);
      both.Add(ms);
    }
    both.Add(ms);
  }
  a.Add(0);
  both.Add(0);
  a.Merge(b);
  EXPECT_EQ(a, both);
  std::string merged_bytes;
  std::string both_bytes;
  a.Encode(&merged_bytes);
  both.Encode(&both_bytes);
  EXPECT_EQ(merged_bytes, both_bytes);
  EXPECT_EQ(a.Quantile(0.5), both.Quantile(0.5));
}

TEST(LatencyHistogramTest, DecodeTakesBucketsInAnyOrder) {
  // Encode writes buckets in order; bytes with them out of order (or repeated) still decode to
  // the histogram of their samples.
  LatencyHistogram h;
  h.Add(5);
  h.Add(5);
  h.Add(0.2);
  std::string in_order;
  h.Encode(&in_order);
  std::string reversed;
  coding::PutVarint(3, &reversed);
  std::string_view parts = in_order;
  uint64_t size = 0;
  ASSERT_TRUE(coding::GetVarint(&parts, &size));
  ASSERT_EQ(size, 2u);
  uint64_t low_code = 0, low_n = 0, high_code = 0, high_n = 0;
  ASSERT_TRUE(coding::GetVarint(&parts, &low_code) && coding::GetVarint(&parts, &low_n));
  ASSERT_TRUE(coding::GetVarint(&parts, &high_code) && coding::GetVarint(&parts, &high_n));
  for (auto [code, n] : {std::pair{high_code, uint64_t{1}}, std::pair{low_code, low_n},
                         std::pair{high_code, high_n - 1}}) {
    coding::PutVarint(code, &reversed);
    coding::PutVarint(n, &reversed);
  }
  std::string_view in = reversed;
  LatencyHistogram back;
  ASSERT_TRUE(back.Decode(&in));
  EXPECT_EQ(back, h);
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
