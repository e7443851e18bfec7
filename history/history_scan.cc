#include "history/history_scan.h"

#include <algorithm>
#include <charconv>

#include "history/history_entry_codec.h"
#include "storage/store_format.h"

namespace handoff {
namespace {

// Where the log's blocks end (HistoryLog keeps the next block number in meta); 0 when unknown.
uint64_t NextBlock(const StoreSnapshot& snapshot) {
  std::string text;
  uint64_t v = 0;
  if (snapshot.GetMeta(HistoryLog::kMetaNextBlock, &text).ok()) {
    std::from_chars(text.data(), text.data() + text.size(), v);
  }
  return v;
}

}  // namespace

Status HistoryScan::ForEach(const std::function<bool(const HistoryEntry&)>& fn,
                            const std::function<void(double)>& progress,
                            const std::function<bool(std::string_view)>& accept) {
  const uint64_t end_block = NextBlock(*snapshot_);
  uint64_t first_block = 0;
  uint64_t block = 0;
  bool stopped = false;
  buckets_used_ = 0;
  pending_.clear();
  auto finish_block = [&] {
    if (buckets_used_ == 0) {
      return;
    }
    ++stats_.blocks;
    if (!EmitBlock(fn)) {
      stopped = true;
    }
    if (progress && end_block > first_block) {
      progress(std::min(1.0, static_cast<double>(block + 1 - first_block) /
                                 static_cast<double>(end_block - first_block)));
    }
  };
  Status st = snapshot_->ScanHistory([&](std::string_view key, std::string_view value) {
    uint64_t key_block = 0;
    if (key.size() != store_format::kHistoryKeySize ||
        !store_format::DecodeSeqKey(key.substr(0, store_format::kSeqKeySize), &key_block) ||
        value.size() < store_format::kTimeSize) {
      ++stats_.undecodable;
      return true;
    }
    if (key_block != block) {
      finish_block();
      if (stopped) {
        return false;
      }
      if (first_block == 0) {
        first_block = key_block;
      }
      block = key_block;
    }
    if (buckets_used_ == buckets_.size()) {
      buckets_.emplace_back();
    }
    std::string& bytes = buckets_[buckets_used_];
    bytes.assign(value.substr(store_format::kTimeSize));
    std::string_view rest = bytes;
    while (!rest.empty()) {
      history_internal::RawEntry raw;
      const size_t offset = bytes.size() - rest.size();
      if (!history_internal::ParseEntry(&rest, &raw)) {
        ++stats_.undecodable;  // the rest of this bucket cannot be framed
        break;
      }
      if (accept && !accept(raw.lead)) {
        continue;
      }
      pending_.push_back({raw.apply_seq, static_cast<uint32_t>(buckets_used_),
                          static_cast<uint32_t>(offset), static_cast<uint32_t>(raw.bytes.size())});
    }
    ++buckets_used_;
    return true;
  });
  if (!stopped) {
    finish_block();
  }
  return st;
}

bool HistoryScan::EmitBlock(const std::function<bool(const HistoryEntry&)>& fn) {
  std::sort(pending_.begin(), pending_.end(),
            [](const Pending& a, const Pending& b) { return a.apply_seq < b.apply_seq; });
  bool go_on = true;
  for (const Pending& p : pending_) {
    std::string_view bytes = std::string_view(buckets_[p.bucket]).substr(p.offset, p.size);
    history_internal::RawEntry raw;
    if (!history_internal::ParseEntry(&bytes, &raw) ||
        !history_internal::DecodeEntry(raw, &entry_)) {
      ++stats_.undecodable;
      continue;
    }
    ++stats_.entries;
    if (!fn(entry_)) {
      go_on = false;
      break;
    }
  }
  pending_.clear();
  buckets_used_ = 0;
  return go_on;
}

}  // namespace handoff
