#include "funnel/latency_histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "storage/coding.h"

namespace handoff {
namespace {

constexpr double kSmallestMs = 0.001;  // 1 us: anything below is bucket kZero
constexpr double kGrowth = 1.01;
constexpr int32_t kZero = std::numeric_limits<int32_t>::min();
// 1.01^4000 ms is about 6 years: a bound for decoding, far beyond any real duration.
constexpr int32_t kMaxBucket = 4000;

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

}  // namespace

int32_t LatencyHistogram::BucketOf(double ms) {
  if (!(ms >= kSmallestMs)) {  // also NaN
    return kZero;
  }
  const double b = std::floor(std::log(ms / kSmallestMs) / std::log(kGrowth));
  return static_cast<int32_t>(std::min(b, static_cast<double>(kMaxBucket)));
}

double LatencyHistogram::ValueOf(int32_t bucket) {
  if (bucket == kZero) {
    return 0;
  }
  // The geometric middle of [1.01^b, 1.01^(b+1)) microseconds.
  return kSmallestMs * std::pow(kGrowth, bucket + 0.5);
}

uint64_t& LatencyHistogram::CountOf(int32_t bucket) {
  auto it = std::lower_bound(buckets_.begin(), buckets_.end(), bucket,
                             [](const auto& entry, int32_t b) { return entry.first < b; });
  if (it == buckets_.end() || it->first != bucket) {
    it = buckets_.insert(it, {bucket, 0});
  }
  return it->second;
}

void LatencyHistogram::Add(double ms) {
  ++CountOf(BucketOf(ms));
  ++count_;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  // One pass over both sorted arrays (a window's merge adds up hundreds of hours).
  std::vector<std::pair<int32_t, uint64_t>> merged;
  merged.reserve(buckets_.size() + other.buckets_.size());
  auto a = buckets_.begin();
  auto b = other.buckets_.begin();
  while (a != buckets_.end() || b != other.buckets_.end()) {
    if (b == other.buckets_.end() || (a != buckets_.end() && a->first < b->first)) {
      merged.push_back(*a++);
    } else if (a == buckets_.end() || b->first < a->first) {
      merged.push_back(*b++);
    } else {
      merged.emplace_back(a->first, a->second + b->second);
      ++a;
      ++b;
    }
  }
  buckets_ = std::move(merged);
  count_ += other.count_;
}

std::optional<double> LatencyHistogram::Quantile(double q) const {
  if (count_ == 0) {
    return std::nullopt;
  }
  const auto rank =
      static_cast<uint64_t>(std::max(1.0, std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (const auto& [bucket, n] : buckets_) {
    seen += n;
    if (seen >= rank) {
      return ValueOf(bucket);
    }
  }
  return ValueOf(buckets_.rbegin()->first);
}

void LatencyHistogram::Encode(std::string* out) const {
  coding::PutVarint(buckets_.size(), out);
  for (const auto& [bucket, n] : buckets_) {
    coding::PutVarint(bucket == kZero ? 0 : ZigZag(static_cast<int64_t>(bucket)) + 1, out);
    coding::PutVarint(n, out);
  }
}

bool LatencyHistogram::Decode(std::string_view* in) {
  uint64_t size = 0;
  if (!coding::GetVarint(in, &size) || size > in->size()) {
    return false;
  }
  LatencyHistogram h;
  for (uint64_t i = 0; i < size; ++i) {
    uint64_t code = 0;
    uint64_t n = 0;
    if (!coding::GetVarint(in, &code) || !coding::GetVarint(in, &n)) {
      return false;
    }
    int32_t bucket = kZero;
    if (code != 0) {
      const int64_t b = UnZigZag(code - 1);
      if (b < -kMaxBucket || b > kMaxBucket) {
        return false;
      }
      bucket = static_cast<int32_t>(b);
    }
    h.CountOf(bucket) += n;
    h.count_ += n;
  }
  *this = std::move(h);
  return true;
}

}  // namespace handoff
