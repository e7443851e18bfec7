#include "history/history_log.h"

#include <algorithm>
#include <charconv>
#include <unordered_map>

#include "history/event_codec.h"
#include "history/history_entry_codec.h"
#include "storage/coding.h"
#include "storage/store_format.h"

namespace handoff {

using history_internal::AppendEntry;
using history_internal::DecodeEntry;
using history_internal::ParseEntry;
using history_internal::RawEntry;

namespace {

// Meta key: where apply seqs resume after a restart (block numbers: HistoryLog::kMetaNextBlock).
constexpr std::string_view kMetaNextApplySeq = "history.next_apply_seq";

Status ReadCounter(Store* store, std::string_view key, uint64_t* out) {
  std::string text;
  Status st = store->GetMeta(key, &text);
  if (st.IsNotFound()) {
    return Status::Ok();
  }
  if (!st.ok()) {
    return st;
  }
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v == 0) {
    return Status::Corruption("meta " + std::string(key) + " is not a counter: " + text);
  }
  *out = v;
  return Status::Ok();
}

}  // namespace

template <typename Fn>
bool HistoryLog::ForEachEntry(std::string_view bucket, Fn&& fn) {
  while (!bucket.empty()) {
    RawEntry raw;
    if (!ParseEntry(&bucket, &raw)) {
      return false;
    }
    fn(raw);
  }
  return true;
}

HistoryLog::HistoryLog(Store* store, bool enabled)
    : store_(store), enabled_(enabled), pending_(kBuckets) {}

Status HistoryLog::Restore() {
  if (Status st = ReadCounter(store_, kMetaNextBlock, &block_); !st.ok()) {
    return st;
  }
  if (Status st = ReadCounter(store_, kMetaNextApplySeq, &next_apply_seq_); !st.ok()) {
    return st;
  }
  block_written_ = block_;
  apply_seq_written_ = next_apply_seq_;
  return Status::Ok();
}

uint32_t HistoryLog::BucketOf(std::string_view lead) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a, 64 bits
  for (char c : lead) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return static_cast<uint32_t>(h % kBuckets);
}

uint64_t HistoryLog::Append(HistoryChain* chain, EpochSeconds received_at, const Event& event,
                            const LoggedAwards& awards, uint64_t apply_seq) {
  scratch_.clear();
  if (enabled_) {
    EncodeEvent(event, &scratch_);
  }
  return AppendEncoded(chain, received_at, scratch_, awards, apply_seq);
}

uint64_t HistoryLog::AppendEncoded(HistoryChain* chain, EpochSeconds received_at,
                                   std::string_view encoded_event, const LoggedAwards& awards,
                                   uint64_t apply_seq) {
  const uint64_t seq = apply_seq != 0 ? apply_seq : next_apply_seq_;
  next_apply_seq_ = std::max(next_apply_seq_, seq + 1);
  if (!enabled_) {
    return seq;
  }
  // Only the first entry of a lead in a block carries the pointer back (see Read).
  AppendEntry(seq, chain->lead, received_at, chain->head == block_ ? 0 : chain->head, encoded_event,
              awards, &PendingEntries(BucketOf(chain->lead)));
  chain->head = block_;
  return seq;
}

std::string& HistoryLog::PendingEntries(uint32_t bucket) {
  std::string& out = pending_[bucket];
  if (out.empty()) {
    out.resize(store_format::kTimeSize);
    touched_.push_back(bucket);
  }
  return out;
}

std::string_view HistoryLog::PendingView(uint32_t bucket) const {
  std::string_view out = pending_[bucket];
  out.remove_prefix(std::min(out.size(), store_format::kTimeSize));
  return out;
}

void HistoryLog::Flush(CommitBatch* batch, EpochSeconds now) {
  // A bucket this large came from one huge commit: give its memory back rather than keep it.
  constexpr size_t kKeepCapacity = 256 << 10;
  std::sort(touched_.begin(), touched_.end());  // keys in order for the memtable
  scratch_.clear();
  store_format::AppendTime(now, &scratch_);
  bool wrote = false;
  for (uint32_t bucket : touched_) {
    std::string& entries = pending_[bucket];
    if (entries.size() > store_format::kTimeSize) {
      entries.replace(0, store_format::kTimeSize, scratch_);
      batch->PutHistory(store_format::HistoryKey(block_, bucket), entries);
      wrote = true;
    }
    entries.clear();
    if (entries.capacity() > kKeepCapacity) {
      std::string().swap(entries);
    }
  }
  touched_.clear();
  edited_.clear();  // in `batch` now, and readable from the store once it is committed
  if (wrote) {
    ++block_;
  }
  if (block_ != block_written_) {
    batch->PutMeta(kMetaNextBlock, std::to_string(block_));
    block_written_ = block_;
  }
  if (next_apply_seq_ != apply_seq_written_) {
    batch->PutMeta(kMetaNextApplySeq, std::to_string(next_apply_seq_));
    apply_seq_written_ = next_apply_seq_;
  }
}

Status HistoryLog::Bucket(uint64_t block, uint32_t bucket, std::string* bytes, std::string* time) {
  bytes->clear();
  if (time != nullptr) {
    time->clear();
  }
  if (block == block_) {
    *bytes = PendingView(bucket);
    return Status::Ok();
  }
  const std::string key = store_format::HistoryKey(block, bucket);
  if (auto it = edited_.find(key); it != edited_.end()) {
    *bytes = it->second;
    return SplitBucketTime(Status::Ok(), bytes, time);
  }
  return SplitBucketTime(store_->GetHistory(key, bytes), bytes, time);
}

Status HistoryLog::SplitBucketTime(Status got, std::string* bytes, std::string* time) {
  if (got.IsNotFound()) {
    bytes->clear();
    return Status::Ok();
  }
  if (!got.ok()) {
    return got;
  }
  if (bytes->size() < store_format::kTimeSize) {
    return Status::Corruption("history bucket too short");
  }
  if (time != nullptr) {
    time->assign(*bytes, 0, store_format::kTimeSize);
  }
  bytes->erase(0, store_format::kTimeSize);
  return Status::Ok();
}

Status HistoryLog::Read(const std::vector<HistoryChain>& chains, std::vector<HistoryEntry>* out,
                        std::vector<bool>* cut) {
  return ReadChains([this](uint64_t block, uint32_t bucket,
                           std::string* bytes) { return Bucket(block, bucket, bytes); },
                    chains, out, cut);
}

Status HistoryLog::ReadAt(const StoreSnapshot& snapshot, const std::vector<HistoryChain>& chains,
                          std::vector<HistoryEntry>* out) {
  return ReadChains(
      [&snapshot](uint64_t block, uint32_t bucket, std::string* bytes) {
        return SplitBucketTime(snapshot.GetHistory(store_format::HistoryKey(block, bucket), bytes),
                               bytes, nullptr);
      },
      chains, out, nullptr);
}

template <typename BucketFn>
Status HistoryLog::ReadChains(const BucketFn& read_bucket, const std::vector<HistoryChain>& chains,
                              std::vector<HistoryEntry>* out, std::vector<bool>* cut) {
  out->clear();
  if (cut != nullptr) {
    cut->assign(chains.size(), false);
  }
  std::string bytes;
  for (size_t i = 0; i < chains.size(); ++i) {
    const HistoryChain& chain = chains[i];
    const uint32_t bucket = BucketOf(chain.lead);
    uint64_t block = chain.head;
    // Blocks only get older along a chain; the bound stops a corrupt pointer from looping.
    while (block != 0) {
      if (Status st = read_bucket(block, bucket, &bytes); !st.ok()) {
        return st;
      }
      bool first = true;
      uint64_t prev = 0;
      const bool ok = ForEachEntry(bytes, [&](const RawEntry& raw) {
        if (raw.lead != chain.lead) {
          return;
        }
        if (first) {
          prev = raw.prev;
          first = false;
        }
        HistoryEntry entry;
        if (DecodeEntry(raw, &entry)) {
          out->push_back(std::move(entry));
        }
      });
      if (!ok) {
        return Status::Corruption("history bucket does not decode");
      }
      if (first && cut != nullptr) {
        (*cut)[i] = true;  // trimmed (or no entry of this lead): the chain ends here
      }
      if (first || prev >= block) {
        break;
      }
      block = prev;
    }
  }
  SortByApplySeq(out);
  return Status::Ok();
}

void HistoryLog::SortByApplySeq(std::vector<HistoryEntry>* entries) {
  // Chains come out newest block first, one chain after another. Sorting the entries themselves
  // swapped whole events (a fifth of a large merge's engine time): sort their places, then move
  // each entry once.
  std::vector<std::pair<uint64_t, uint32_t>> order;
  order.reserve(entries->size());
  for (size_t i = 0; i < entries->size(); ++i) {
    order.emplace_back((*entries)[i].apply_seq, static_cast<uint32_t>(i));
  }
  if (std::is_sorted(order.begin(), order.end())) {
    return;
  }
  std::sort(order.begin(), order.end());
  std::vector<HistoryEntry> sorted;
  sorted.reserve(entries->size());
  for (const auto& [seq, i] : order) {
    sorted.push_back(std::move((*entries)[i]));
  }
  *entries = std::move(sorted);
}

Status HistoryLog::Erase(const std::vector<HistoryChain>& chains, CommitBatch* batch) {
  return EditChains(chains, batch, [](const RawEntry&, std::string*) { return true; });
}

Status HistoryLog::RewriteAwards(const std::vector<HistoryChain>& chains,
                                 const std::unordered_map<uint64_t, LoggedAwards>& awards,
                                 CommitBatch* batch) {
  if (awards.empty()) {
    return Status::Ok();
  }
  return EditChains(chains, batch, [&awards](const RawEntry& raw, std::string* out) {
    auto it = awards.find(raw.apply_seq);
    if (it == awards.end()) {
      out->append(raw.bytes);
      return false;
    }
    AppendEntry(raw.apply_seq, raw.lead, raw.received_at, raw.prev, raw.event, it->second, out);
    return true;
  });
}

template <typename Edit>
Status HistoryLog::EditChains(const std::vector<HistoryChain>& chains, CommitBatch* batch,
                              Edit&& edit) {
  std::string bytes;
  for (const HistoryChain& chain : chains) {
    const uint32_t bucket = BucketOf(chain.lead);
    uint64_t block = chain.head;
    while (block != 0) {
      std::string time;
      if (Status st = Bucket(block, bucket, &bytes, &time); !st.ok()) {
        return st;
      }
      std::string kept;
      bool first = true;
      bool changed = false;
      uint64_t prev = 0;
      const bool ok = ForEachEntry(bytes, [&](const RawEntry& raw) {
        if (raw.lead != chain.lead) {
          kept.append(raw.bytes);
          return;
        }
        if (first) {
          prev = raw.prev;
          first = false;
        }
        changed |= edit(raw, &kept);
      });
      if (!ok) {
        return Status::Corruption("history bucket does not decode");
      }
      if (first) {
        break;
      }
      if (changed) {
        if (block == block_) {
          // Still listed in touched_; an empty bucket is skipped at the Flush.
          std::string& entries = pending_[bucket];
          entries.resize(kept.empty() ? 0 : store_format::kTimeSize);
          entries.append(kept);
        } else {
          const std::string key = store_format::HistoryKey(block, bucket);
          if (kept.empty()) {
            batch->DeleteHistory(key);
          } else {
            batch->PutHistory(key, time + kept);
          }
          edited_[key] = time + kept;
        }
      }
      if (prev >= block) {
        break;
      }
      block = prev;
    }
  }
  return Status::Ok();
}

}  // namespace handoff
