#include "outbox/recent_records.h"

#include <algorithm>

namespace handoff {

void RecentRecords::Add(uint64_t seq, std::string_view stored) {
  if (stored.size() > budget_bytes_) {
    DropBefore(0);  // too big to hold: what is held would no longer run up to the newest seq
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!records_.empty() && seq != first_seq_ + records_.size()) {
    records_.clear();
    bytes_ = 0;
  }
  if (records_.empty()) {
    first_seq_ = seq;
  }
  while (bytes_ + stored.size() > budget_bytes_) {
    DropOldestLocked();
  }
  records_.emplace_back(stored);
  bytes_ += stored.size();
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
  bytes_ -= records_.front().size();
  records_.pop_front();
  ++first_seq_;
}

}  // namespace handoff
