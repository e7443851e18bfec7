// LatencyHistogram: a sparse log-scale histogram of durations in milliseconds, for the funnel's
// speed-to-lead percentiles (SPEC 12).
//
// Buckets grow by 1% from 1 microsecond, so a percentile read back is within 0.5% of a sample
// it stands for, whatever the scale (0.4 ms routing or two days to accept). Only buckets that
// hold samples take memory: a sorted array of (bucket, count), 16 bytes a bucket, read in order
// by Encode (the funnel encodes its hour's histograms at every group commit: walking a std::map
// of ~1,000 buckets there was 6% of the engine thread at 16k routed leads a second). Histograms
// add up (Merge), which is what lets the funnel keep one per hour and answer any window. Not
// thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace handoff {

class LatencyHistogram {
 public:
  // Records one duration; negative values count as 0.
  void Add(double ms);
  void Merge(const LatencyHistogram& other);
  uint64_t count() const { return count_; }
  // The nearest-rank q-quantile (0 < q <= 1): the value of the bucket holding the sample of
  // rank ceil(q * count). nullopt when empty.
  std::optional<double> Quantile(double q) const;

  void Encode(std::string* out) const;
  // False (and the histogram unchanged) on bytes Encode did not make.
  [[nodiscard]] bool Decode(std::string_view* in);

  bool operator==(const LatencyHistogram& other) const = default;

 private:
  static int32_t BucketOf(double ms);
  static double ValueOf(int32_t bucket);
  // The count of `bucket`, added (at 0) in its place when absent.
  uint64_t& CountOf(int32_t bucket);

  std::vector<std::pair<int32_t, uint64_t>> buckets_;  // sorted by bucket, each bucket once
  uint64_t count_ = 0;
};

}  // namespace handoff
