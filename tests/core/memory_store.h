// MemoryStore: the Store interface over std::maps, for tests of the code above the store (the
// engine loop, the outbox) without RocksDB. Commits can be made to fail, to test what is (not)
// acknowledged then.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "storage/store.h"
#include "storage/store_format.h"

namespace handoff::testing {

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(double outbox_retention = 7 * 86400) : outbox_retention_(outbox_retention) {}

  Status Commit(CommitBatch* batch) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++commits_;
    if (fail_commits_) {
      return Status::IoError("injected commit failure");
    }
    ++written_commits_;
    const bool ok = batch->ForEach([&](const CommitBatch::Entry& e) {
      std::string key(e.key);
      std::string value(e.value);
      switch (e.op) {
        case CommitBatch::Op::kPutLead:
          leads_[key] = value;
          break;
        case CommitBatch::Op::kDeleteLead:
          leads_.erase(key);
          break;
        case CommitBatch::Op::kPutDedupe:
          dedupe_[key] = value;
          break;
        case CommitBatch::Op::kPutPinned:
          pinned_[key] = value;
          break;
        case CommitBatch::Op::kDeletePinned:
          pinned_.erase(key);
          break;
        case CommitBatch::Op::kPutDedupeBlock: {
          uint64_t block = 0;
          store_format::DecodeSeqKey(e.key, &block);
          dedupe_log_[block] = value;
          break;
        }
        case CommitBatch::Op::kPutOutbox: {
          uint64_t seq = 0;
          store_format::DecodeSeqKey(e.key, &seq);
          outbox_[seq] = value;
          break;
        }
        case CommitBatch::Op::kPutMeta:
          meta_[key] = value;
          break;
        case CommitBatch::Op::kDeleteMeta:
          meta_.erase(key);
          break;
        case CommitBatch::Op::kPutLink:
          links_[key] = value;
          ++link_puts_;
          break;
        case CommitBatch::Op::kDeleteLink:
          links_.erase(key);
          break;
        case CommitBatch::Op::kPutHistory:
          history_[key] = value;
          break;
        case CommitBatch::Op::kDeleteHistory:
          history_.erase(key);
          break;
        case CommitBatch::Op::kPutFunnel:
          funnel_[key] = value;
          break;
        case CommitBatch::Op::kDeleteFunnel:
          funnel_.erase(key);
          break;
        case CommitBatch::Op::kDeleteFunnelRange:
          funnel_.erase(funnel_.lower_bound(key), funnel_.lower_bound(value));
          break;
      }
    });
    if (!ok) {
      return Status::Corruption("malformed batch");
    }
    batch->Clear();
    return Status::Ok();
  }

  Status GetLead(std::string_view lead_id, std::string* encoded) const override {
    std::lock_guard<std::mutex> lock(mu_);
    ++lead_reads_;
    return Get(leads_, lead_id, encoded);
  }

  Status ScanLeads(
      std::string_view after,
      const std::function<bool(std::string_view, std::string_view)>& fn) const override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = leads_.upper_bound(std::string(after)); it != leads_.end(); ++it) {
      if (!fn(it->first, it->second)) {
        break;
      }
    }
    return Status::Ok();
  }

  Status GetMeta(std::string_view key, std::string* value) const override {
    std::lock_guard<std::mutex> lock(mu_);
    return Get(meta_, key, value);
  }
  Status ScanMeta(
      std::string_view prefix,
      const std::function<void(std::string_view, std::string_view)>& fn) const override {
    std::lock_guard<std::mutex> lock(mu_);
    ScanPrefix(meta_, prefix, fn);
    return Status::Ok();
  }

  Status ReadOutbox(uint64_t from_seq, uint64_t last_seq, size_t max_records,
                    std::vector<std::pair<uint64_t, std::string>>* out) const override {
    std::lock_guard<std::mutex> lock(mu_);
    out->clear();
    for (auto it = outbox_.lower_bound(from_seq);
         it != outbox_.end() && it->first <= last_seq && out->size() < max_records; ++it) {
      // Stored values carry the record time in front (store_format); hand back the rest.
      out->emplace_back(it->first, it->second.substr(store_format::kTimeSize));
    }
    return Status::Ok();
  }

  uint64_t OldestOutboxSeq() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return outbox_.empty() ? 0 : outbox_.begin()->first;
  }

  Status TrimOutbox(EpochSeconds now) override {
    std::lock_guard<std::mutex> lock(mu_);
    while (!outbox_.empty()) {
      EpochSeconds at = 0;
      store_format::DecodeTimePrefix(outbox_.begin()->second, &at);
      if (now - at <= outbox_retention_) {
        break;
      }
      outbox_.erase(outbox_.begin());
    }
    return Status::Ok();
  }

  Status ScanPinned(
      const std::function<void(std::string_view, std::string_view)>& fn) const override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, record] : pinned_) {
      fn(id, record);
    }
    return Status::Ok();
  }

  Status ScanDedupe(const std::function<void(std::string_view, EpochSeconds)>& id_fn,
                    const std::function<void(uint64_t, EpochSeconds, std::string_view)>& block_fn)
      const override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, time] : dedupe_) {
      EpochSeconds at = 0;
      store_format::DecodeTimePrefix(time, &at);
      id_fn(id, at);
    }
    for (const auto& [block, value] : dedupe_log_) {
      EpochSeconds at = 0;
      store_format::DecodeTimePrefix(value, &at);
      block_fn(block, at, std::string_view(value).substr(store_format::kTimeSize));
    }
    return Status::Ok();
  }

  Status ScanLinks(
      const std::function<void(std::string_view, std::string_view)>& fn) const override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, root] : links_) {
      fn(id, root);
    }
    return Status::Ok();
  }

  Status ScanFunnel(
      std::string_view begin, std::string_view end,
      const std::function<bool(std::string_view key, std::string_view value)>& fn) const override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = funnel_.lower_bound(begin); it != funnel_.end(); ++it) {
      if (!end.empty() && it->first >= end) {
        break;
      }
      if (!fn(it->first, it->second)) {
        break;
      }
    }
    return Status::Ok();
  }

  Status GetHistory(std::string_view key, std::string* value) const override {
    std::lock_guard<std::mutex> lock(mu_);
    return Get(history_, key, value);
  }

  Status LastHistoryKey(std::string* key) const override {
    std::lock_guard<std::mutex> lock(mu_);
    *key = history_.empty() ? "" : history_.rbegin()->first;
    return Status::Ok();
  }

  Status TrimHistory(EpochSeconds cutoff) override {
    std::lock_guard<std::mutex> lock(mu_);
    while (!history_.empty()) {
      EpochSeconds at = 0;
      store_format::DecodeTimePrefix(history_.begin()->second, &at);
      if (!(at < cutoff)) {
        break;
      }
      history_.erase(history_.begin());  // buckets of one block share its time
    }
    return Status::Ok();
  }

  Status CompactAll() override { return Status::Ok(); }
  std::string Stats() const override { return "memory store"; }

  // A copy of the maps a snapshot reads.
  std::unique_ptr<StoreSnapshot> Snapshot() const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto snapshot = std::make_unique<Copy>();
    snapshot->leads = leads_;
    snapshot->links = links_;
    snapshot->meta = meta_;
    snapshot->history = history_;
    return snapshot;
  }
  // Writes fail while set_fail_commits(true), whatever Recover says; it counts the calls.
  Status Recover() override {
    std::lock_guard<std::mutex> lock(mu_);
    ++recovers_;
    return fail_commits_ ? Status::IoError("injected commit failure") : Status::Ok();
  }

  // Counts the calls.
  void AfterCommit() override {
    std::lock_guard<std::mutex> lock(mu_);
    ++after_commits_;
  }

  // Test controls and views.
  void set_fail_commits(bool fail) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_commits_ = fail;
  }
  int recovers() const {
    std::lock_guard<std::mutex> lock(mu_);
    return recovers_;
  }
  int commits() const {
    std::lock_guard<std::mutex> lock(mu_);
    return commits_;
  }
  // Commits that succeeded (commits() counts the failed calls too).
  int written_commits() const {
    std::lock_guard<std::mutex> lock(mu_);
    return written_commits_;
  }
  int after_commits() const {
    std::lock_guard<std::mutex> lock(mu_);
    return after_commits_;
  }
  // Calls of GetLead, found or not.
  int lead_reads() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lead_reads_;
  }
  size_t lead_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return leads_.size();
  }
  size_t history_buckets() const {
    std::lock_guard<std::mutex> lock(mu_);
    return history_.size();
  }
  size_t link_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return links_.size();
  }
  // Links written, counting an id written again.
  size_t link_puts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return link_puts_;
  }
  size_t pinned_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return pinned_.size();
  }
  size_t dedupe_blocks() const {
    std::lock_guard<std::mutex> lock(mu_);
    return dedupe_log_.size();
  }

 private:
  using Map = std::map<std::string, std::string, std::less<>>;

  struct Copy final : StoreSnapshot {
    Map leads, links, meta, history;
    Status GetLead(std::string_view id, std::string* encoded) const override {
      return Get(leads, id, encoded);
    }
    Status ScanLeads(
        const std::function<bool(std::string_view, std::string_view)>& fn) const override {
      for (const auto& [k, v] : leads) {
        if (!fn(k, v)) {
          break;
        }
      }
      return Status::Ok();
    }
    Status ScanLinks(
        const std::function<void(std::string_view, std::string_view)>& fn) const override {
      for (const auto& [k, v] : links) {
        fn(k, v);
      }
      return Status::Ok();
    }
    Status GetMeta(std::string_view key, std::string* value) const override {
      return Get(meta, key, value);
    }
    Status ScanMeta(
        std::string_view prefix,
        const std::function<void(std::string_view, std::string_view)>& fn) const override {
      ScanPrefix(meta, prefix, fn);
      return Status::Ok();
    }
    Status GetHistory(std::string_view key, std::string* value) const override {
      return Get(history, key, value);
    }
    Status ScanHistory(
        const std::function<bool(std::string_view, std::string_view)>& fn) const override {
      for (const auto& [k, v] : history) {
        if (!fn(k, v)) {
          break;
        }
      }
      return Status::Ok();
    }
  };

  static Status Get(const Map& map, std::string_view key, std::string* value) {
    auto it = map.find(key);
    if (it == map.end()) {
      return Status::NotFound(std::string(key));
    }
    *value = it->second;
    return Status::Ok();
  }
  static void ScanPrefix(const Map& map, std::string_view prefix,
                         const std::function<void(std::string_view, std::string_view)>& fn) {
    for (auto it = map.lower_bound(prefix); it != map.end() && it->first.starts_with(prefix);
         ++it) {
      fn(it->first, it->second);
    }
  }

  const double outbox_retention_;
  mutable std::mutex mu_;
  Map leads_;
  Map dedupe_;
  std::map<uint64_t, std::string> dedupe_log_;
  std::map<std::string, std::string> pinned_;
  std::map<uint64_t, std::string> outbox_;
  Map meta_;
  Map links_;
  size_t link_puts_ = 0;
  Map history_;
  Map funnel_;
  bool fail_commits_ = false;
  int recovers_ = 0;
  int commits_ = 0;
  int after_commits_ = 0;
  int written_commits_ = 0;
  mutable int lead_reads_ = 0;
};

}  // namespace handoff::testing
