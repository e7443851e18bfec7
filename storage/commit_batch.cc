#include "storage/commit_batch.h"

#include <cassert>
#include <cstring>

#include "storage/store_format.h"

namespace handoff {
namespace {

void PutU32(uint32_t v, std::string* out) {
  char buf[sizeof v];
  std::memcpy(buf, &v, sizeof v);
  out->append(buf, sizeof v);
}

}  // namespace

namespace fmt = store_format;

void CommitBatch::Append(Op op, std::string_view key, std::string_view value_head,
                         std::string_view value_tail) {
  rep_.push_back(static_cast<char>(op));
  PutU32(static_cast<uint32_t>(key.size()), &rep_);
  PutU32(static_cast<uint32_t>(value_head.size() + value_tail.size()), &rep_);
  rep_.append(key);
  rep_.append(value_head);
  rep_.append(value_tail);
  ++count_;
}

void CommitBatch::PutLead(std::string_view lead_id, std::string_view encoded_state) {
  Append(Op::kPutLead, lead_id, encoded_state, {});
  lead_bytes_ += lead_id.size() + encoded_state.size();
}

void CommitBatch::DeleteLead(std::string_view lead_id) {
  Append(Op::kDeleteLead, lead_id, {}, {});
  lead_bytes_ += lead_id.size();
}

void CommitBatch::PutPinned(std::string_view lead_id, std::string_view record) {
  Append(Op::kPutPinned, lead_id, record, {});
}

void CommitBatch::DeletePinned(std::string_view lead_id) {
  Append(Op::kDeletePinned, lead_id, {}, {});
}

void CommitBatch::PutDedupe(std::string_view message_id, EpochSeconds received_at) {
  std::string time;
  time.reserve(fmt::kTimeSize);  // fits the small-string buffer: no allocation
  fmt::AppendTime(received_at, &time);
  Append(Op::kPutDedupe, message_id, time, {});
}

void CommitBatch::PutDedupeBlock(uint64_t block, EpochSeconds at, std::string_view hashes) {
  std::string key;
  fmt::AppendSeqKey(block, &key);
  std::string time;
  fmt::AppendTime(at, &time);
  Append(Op::kPutDedupeBlock, key, time, hashes);
}

void CommitBatch::PutOutbox(uint64_t seq, EpochSeconds at, std::string_view record_json) {
  assert(seq > 0 && "outbox seqs start at 1");
  std::string key;
  fmt::AppendSeqKey(seq, &key);
  std::string time;
  fmt::AppendTime(at, &time);
  Append(Op::kPutOutbox, key, time, record_json);
  if (min_outbox_seq_ == 0 || seq < min_outbox_seq_) {
    min_outbox_seq_ = seq;
  }
}

void CommitBatch::PutMeta(std::string_view key, std::string_view value) {
  Append(Op::kPutMeta, key, value, {});
}

void CommitBatch::DeleteMeta(std::string_view key) { Append(Op::kDeleteMeta, key, {}, {}); }

void CommitBatch::PutLink(std::string_view id, std::string_view root) {
  Append(Op::kPutLink, id, root, {});
}

void CommitBatch::DeleteLink(std::string_view id) { Append(Op::kDeleteLink, id, {}, {}); }

void CommitBatch::PutHistory(std::string_view key, std::string_view value) {
  Append(Op::kPutHistory, key, value, {});
}

void CommitBatch::DeleteHistory(std::string_view key) { Append(Op::kDeleteHistory, key, {}, {}); }

void CommitBatch::PutFunnel(std::string_view key, std::string_view value) {
  Append(Op::kPutFunnel, key, value, {});
}

void CommitBatch::DeleteFunnel(std::string_view key) { Append(Op::kDeleteFunnel, key, {}, {}); }

void CommitBatch::DeleteFunnelRange(std::string_view begin, std::string_view end) {
  Append(Op::kDeleteFunnelRange, begin, end, {});
}

void CommitBatch::Clear() {
  rep_.clear();
  count_ = 0;
  lead_bytes_ = 0;
  min_outbox_seq_ = 0;
}

}  // namespace handoff
