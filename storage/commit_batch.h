// CommitBatch: everything one group commit writes, recorded without a database.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "handoff/clock.h"

namespace handoff {

// Everything one group commit writes. The batch only records operations (in one flat buffer, so
// adding an event allocates nothing once the buffer has grown); Store::Commit applies them in one
// atomic write. A later operation on the same key wins. Reusable: Commit clears it.
//
// It deliberately does not depend on RocksDB or on an open Store, so engine code can build batches
// without either.
class CommitBatch {
 public:
  CommitBatch() = default;
  CommitBatch(CommitBatch&&) = default;
  CommitBatch& operator=(CommitBatch&&) = default;

  void PutLead(std::string_view lead_id, std::string_view encoded_state);
  void DeleteLead(std::string_view lead_id);
  // The index of leads the engine tracks without reading them (staged or owned); `record` is an
  // encoded PinRecord (storage/pin_record.h).
  void PutPinned(std::string_view lead_id, std::string_view record);
  void DeletePinned(std::string_view lead_id);
  // Remembers `message_id` as received at `received_at` (replacing an earlier time).
  void PutDedupe(std::string_view message_id, EpochSeconds received_at);
  // One group commit's block of the dedupe log (storage/dedupe_index.h): `hashes` recorded by
  // the commit at `at`. Blocks are numbered in commit order.
  void PutDedupeBlock(uint64_t block, EpochSeconds at, std::string_view hashes);
  // `seq` >= 1 (SPEC 9: the first record is 1); `at` is the record's time, used by TrimOutbox.
  void PutOutbox(uint64_t seq, EpochSeconds at, std::string_view record_json);
  // Small named values: rule version, next outbox seq, routing state, ...
  void PutMeta(std::string_view key, std::string_view value);
  void DeleteMeta(std::string_view key);
  // Identity links (SPEC 8): `id` belongs to lead `root`.
  void PutLink(std::string_view id, std::string_view root);
  void DeleteLink(std::string_view id);
  // A history bucket (storage/store_format.h); `value` starts with the block time.
  void PutHistory(std::string_view key, std::string_view value);
  void DeleteHistory(std::string_view key);
  // Funnel figures (funnel/): opaque keys and values of the funnel column family; a range
  // deletion removes keys in [begin, end).
  void PutFunnel(std::string_view key, std::string_view value);
  void DeleteFunnel(std::string_view key);
  void DeleteFunnelRange(std::string_view begin, std::string_view end);

  bool empty() const { return count_ == 0; }
  size_t count() const { return count_; }
  // Bytes of keys and values recorded (plus a few bytes of framing each).
  size_t size_bytes() const { return rep_.size(); }
  // Bytes of the lead ids and states among them.
  size_t lead_bytes() const { return lead_bytes_; }
  // Forgets every operation but keeps the buffer's capacity.
  void Clear();

  enum class Op : uint8_t {
    kPutLead,
    kDeleteLead,
    kPutDedupe,
    kPutDedupeBlock,
    kPutPinned,
    kDeletePinned,
    kPutOutbox,
    kPutMeta,
    kDeleteMeta,
    kPutLink,
    kDeleteLink,
    kPutHistory,
    kDeleteHistory,
    kPutFunnel,
    kDeleteFunnel,
    kDeleteFunnelRange,  // key: begin, value: end
  };
  struct Entry {
    Op op;
    std::string_view key;
    std::string_view value;  // empty for deletes
  };
  // Calls fn(const Entry&) for each operation in order. False if the buffer is malformed (a bug).
  template <typename Fn>
  bool ForEach(Fn&& fn) const;
  // The lowest outbox seq in the batch; 0 when it has no outbox record.
  uint64_t min_outbox_seq() const { return min_outbox_seq_; }

 private:
  void Append(Op op, std::string_view key, std::string_view value_head,
              std::string_view value_tail);
  // Per operation: u8 op, u32 key size, u32 value size (host order; never persisted), key, value.
  std::string rep_;
  size_t count_ = 0;
  size_t lead_bytes_ = 0;
  uint64_t min_outbox_seq_ = 0;  // 0: no outbox record in the batch
};

namespace commit_batch_internal {
inline uint32_t GetU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
}  // namespace commit_batch_internal

template <typename Fn>
bool CommitBatch::ForEach(Fn&& fn) const {
  constexpr size_t kHeader = 1 + 2 * sizeof(uint32_t);
  std::string_view in = rep_;
  while (!in.empty()) {
    if (in.size() < kHeader) {
      return false;
    }
    Entry entry;
    entry.op = static_cast<Op>(in[0]);
    const size_t key_size = commit_batch_internal::GetU32(in.data() + 1);
    const size_t value_size = commit_batch_internal::GetU32(in.data() + 1 + sizeof(uint32_t));
    in.remove_prefix(kHeader);
    if (in.size() < key_size + value_size) {
      return false;
    }
    entry.key = in.substr(0, key_size);
    entry.value = in.substr(key_size, value_size);
    in.remove_prefix(key_size + value_size);
    fn(entry);
  }
  return true;
}

}  // namespace handoff
