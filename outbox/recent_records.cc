#include "outbox/recent_records.h"

#include <algorithm>
#include <utility>

namespace handoff {

void RecentRecords::Stage(uint64_t seq, std::string record) {
  if (!staged_.empty() && seq != staged_first_seq_ + staged_.size()) {
    RestartStaging();  // out of turn
  }
  const size_t cost = Cost(record);
  if (cost > budget_bytes_) {
    RestartStaging();  // too big to hold: what is held would no longer run up to the newest seq
    return;
  }
  if (staged_.empty()) {
    staged_first_seq_ = seq;
  }
  staged_.push_back(std::move(record));
  staged_bytes_ += cost;
  while (staged_bytes_ > budget_bytes_) {
    staged_bytes_ -= Cost(staged_.front());
    staged_.pop_front();
    ++staged_first_seq_;
  }
}

void RecentRecords::Publish() {
  if (staged_.empty() && !reset_on_publish_) {
    return;  // a commit without records: nothing to lock for
  }
  std::vector<std::string> dropped;  // freed after the lock is released
  {
    std::lock_guard<std::mutex> lock(mu_);
    const bool follows = !records_.empty() && staged_first_seq_ == first_seq_ + records_.size();
    if (reset_on_publish_ || (!staged_.empty() && !follows)) {
      while (!records_.empty()) {
        DropOldestLocked(&dropped);
      }
    }
    if (!staged_.empty()) {
      if (records_.empty()) {
        first_seq_ = staged_first_seq_;
      }
      while (!records_.empty() && bytes_ + staged_bytes_ > budget_bytes_) {
        DropOldestLocked(&dropped);
      }
      for (std::string& record : staged_) {
        records_.push_back(std::move(record));
      }
      bytes_ += staged_bytes_;
    }
  }
  staged_.clear();
  staged_bytes_ = 0;
  reset_on_publish_ = false;
}

bool RecentRecords::Read(uint64_t from_seq, uint64_t last_seq, size_t max_records,
                         std::vector<std::pair<uint64_t, std::string>>* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (records_.empty() || from_seq < first_seq_ || from_seq > first_seq_ + records_.size()) {
    return false;
  }
  out->clear();
  const uint64_t newest = first_seq_ + records_.size() - 1;
  for (uint64_t seq = from_seq; seq <= std::min(newest, last_seq) && out->size() < max_records;
       ++seq) {
    out->emplace_back(seq, records_[seq - first_seq_]);
  }
  return true;
}

void RecentRecords::DropBefore(uint64_t seq) {
  std::vector<std::string> dropped;  // freed after the lock is released
  std::lock_guard<std::mutex> lock(mu_);
  while (!records_.empty() && (seq == 0 || first_seq_ < seq)) {
    DropOldestLocked(&dropped);
  }
}

size_t RecentRecords::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

void RecentRecords::RestartStaging() {
  staged_.clear();
  staged_bytes_ = 0;
  reset_on_publish_ = true;
}

void RecentRecords::DropOldestLocked(std::vector<std::string>* dropped) {
  bytes_ -= Cost(records_.front());
  dropped->push_back(std::move(records_.front()));
  records_.pop_front();
  ++first_seq_;
}

}  // namespace handoff
