#include "outbox/recent_records.h"

#include <algorithm>
#include <utility>

namespace handoff {

void RecentRecords::Add(uint64_t first_seq, std::vector<std::string>* run) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t seq = first_seq;
  for (std::string& record : *run) {
    const size_t cost = Cost(record);
    if (cost > budget_bytes_ || (!records_.empty() && seq != first_seq_ + records_.size())) {
      // Too big to hold (what is held would no longer run up to the newest seq), or out of turn.
      records_.clear();
      bytes_ = 0;
    }
    if (cost <= budget_bytes_) {
      if (records_.empty()) {
        first_seq_ = seq;
      }
      while (bytes_ + cost > budget_bytes_) {
        DropOldestLocked();
      }
      records_.push_back(std::move(record));
      bytes_ += cost;
    }
    ++seq;
  }
  run->clear();
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
  std::lock_guard<std::mutex> lock(mu_);
  while (!records_.empty() && (seq == 0 || first_seq_ < seq)) {
    DropOldestLocked();
  }
}

size_t RecentRecords::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

void RecentRecords::DropOldestLocked() {
  bytes_ -= Cost(records_.front());
  records_.pop_front();
  ++first_seq_;
}

}  // namespace handoff
