#include "storage/dedupe_filter.h"

#include <rocksdb/compaction_filter.h>

#include <string>

#include "storage/store_format.h"

namespace handoff {
namespace {

class DedupeExpiryFilter final : public rocksdb::CompactionFilter {
 public:
  DedupeExpiryFilter(EpochSeconds now, double window) : now_(now), window_(window) {}

  bool Filter(int /*level*/, const rocksdb::Slice& /*key*/, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    EpochSeconds received_at = 0;
    // Per-id values are exactly a time; dedupe-log blocks start with theirs.
    if (!store_format::DecodeTimePrefix(std::string_view(value.data(), value.size()),
                                        &received_at)) {
      return false;
    }
    return store_format::DedupeExpired(received_at, now_, window_);
  }

  const char* Name() const override { return "handoff.DedupeExpiryFilter"; }

 private:
  const EpochSeconds now_;
  const double window_;
};

class DedupeExpiryFilterFactory final : public rocksdb::CompactionFilterFactory {
 public:
  DedupeExpiryFilterFactory(const Clock* clock, double window) : clock_(clock), window_(window) {}

  // Every table file RocksDB writes, not only compactions: an id that expired while still in the
  // memtable is then never written to disk at all.
  bool ShouldFilterTableFileCreation(rocksdb::TableFileCreationReason /*reason*/) const override {
    return true;
  }

  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& /*context*/) override {
    return std::make_unique<DedupeExpiryFilter>(clock_->Now(), window_);
  }

  const char* Name() const override { return "handoff.DedupeExpiryFilterFactory"; }

 private:
  const Clock* const clock_;
  const double window_;
};

}  // namespace

std::shared_ptr<rocksdb::CompactionFilterFactory> NewDedupeFilterFactory(const Clock* clock,
                                                                         double window_seconds) {
  return std::make_shared<DedupeExpiryFilterFactory>(clock, window_seconds);
}

}  // namespace handoff
