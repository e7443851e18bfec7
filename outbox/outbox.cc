#include "outbox/outbox.h"

#include <algorithm>
#include <charconv>
#include <string>
#include <utility>

#include "outbox/stored_record.h"

namespace handoff {
namespace {

// The meta key holding the next seq to hand out (the outbox itself may be empty after a trim).
constexpr std::string_view kMetaNextSeq = "outbox.next_seq";

}  // namespace

Outbox::Outbox(Store* store, size_t recent_record_bytes)
    : store_(store), recent_(recent_record_bytes) {}

Status Outbox::Restore() {
  std::string text;
  Status st = store_->GetMeta(kMetaNextSeq, &text);
  if (st.code() == Status::Code::kNotFound) {
    return Status::Ok();
  }
  if (!st.ok()) {
    return st;
  }
  uint64_t next = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), next);
  if (ec != std::errc() || end != text.data() + text.size() || next == 0) {
    return Status::Corruption("meta " + std::string(kMetaNextSeq) + " is not a seq: " + text);
  }
  next_seq_ = next;
  next_seq_written_ = next;
  head_.store(next - 1, std::memory_order_release);
  return Status::Ok();
}

uint64_t Outbox::Append(OutboxRecord* record, CommitBatch* batch) {
  record->seq = next_seq_++;
  json_scratch_.clear();
  AppendOutboxRecordJson(*record, &json_scratch_);
  std::string stored;  // a string of its own: the readers' memory keeps it
  EncodeStoredRecord(*record, json_scratch_, &stored);
  batch->PutOutbox(record->seq, record->at, stored);
  recent_.Stage(record->seq, std::move(stored));
  return record->seq;
}

Status Outbox::Trim(EpochSeconds now) {
  Status st = store_->TrimOutbox(now);
  // Whatever happened, held records the store no longer has must go (0: it has none).
  recent_.DropBefore(store_->OldestOutboxSeq());
  return st;
}

Status Outbox::Read(uint64_t from_seq, uint64_t last_seq, size_t max_records,
                    std::vector<std::pair<uint64_t, std::string>>* out) const {
  if (max_records > 0 && from_seq <= last_seq &&
      recent_.Read(from_seq, last_seq, max_records, out)) {
    return Status::Ok();
  }
  return store_->ReadOutbox(from_seq, last_seq, max_records, out);
}

uint64_t Outbox::Seal(CommitBatch* batch) {
  recent_.Publish();
  if (next_seq_ != next_seq_written_) {
    batch->PutMeta(kMetaNextSeq, std::to_string(next_seq_));
    next_seq_written_ = next_seq_;
  }
  return next_seq_;
}

void Outbox::Committed(uint64_t sealed_next_seq) {
  const uint64_t head = sealed_next_seq - 1;
  if (head <= head_.load(std::memory_order_relaxed)) {
    return;
  }
  head_.store(head, std::memory_order_release);
  if (listener_) {
    listener_(head);
  }
}

}  // namespace handoff
