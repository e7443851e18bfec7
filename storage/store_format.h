// The store's on-disk format: column family names and how keys and values are encoded.
//
// Everything that decides what bytes land in RocksDB is here, so a reader can check the format in
// one place, and so the dedupe compaction filter and the store agree on it. Changing anything here
// is a format change: data written by an older build must still read.
//
//   column family  key                              value
//   leads          lead id (bytes as given)          the encoded LeadState (opaque to the store),
//                                                     as of its last checkpoint
//   lead_journal   block: 8 bytes big-endian         the leads one commit changed: their states
//                                                     or deletions (storage/lead_journal.h);
//                                                     newer than `leads`, read back at start
//   dedupe         messageId (bytes as given)        receive time: 8 bytes, see AppendTime
//                  (the per-id form: still read at start, no longer written)
//   dedupe_log     block: 8 bytes big-endian         commit time (8 bytes) + 12 bytes per id:
//                                                     its keyed hash (storage/dedupe_index.h)
//   outbox         seq: 8 bytes big-endian            record time (8 bytes) + record JSON
//   meta           name (e.g. "rules.version"; the   opaque bytes
//                  router's one record per queued
//                  lead, escalation and account
//                  owner under a prefix:
//                  routing/router_state.cc)
//   links          id (bytes as given)               the id's lead (root) id, bytes as given
//   pinned         lead id (bytes as given)          empty: leads kept in memory (staged, owned)
//   history        block: 8 bytes big-endian, then   block time (8 bytes, see AppendTime) + the
//                  bucket: 4 bytes big-endian         bucket's history entries (history/)
//   funnel         the funnel's own keys (funnel/funnel_store.h: hour totals, facts by time,
//                  per-lead marks); opaque to the store
//
// The default column family exists (RocksDB requires it) and stays empty.
#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

#include "handoff/clock.h"

namespace handoff::store_format {

inline constexpr char kLeads[] = "leads";
inline constexpr char kDedupe[] = "dedupe";
inline constexpr char kDedupeLog[] = "dedupe_log";
inline constexpr char kPinned[] = "pinned";
inline constexpr char kOutbox[] = "outbox";
inline constexpr char kMeta[] = "meta";
inline constexpr char kLinks[] = "links";
inline constexpr char kHistory[] = "history";
inline constexpr char kFunnel[] = "funnel";
inline constexpr char kLeadJournal[] = "lead_journal";

inline constexpr size_t kSeqKeySize = 8;
inline constexpr size_t kHistoryKeySize = 12;
inline constexpr size_t kTimeSize = 8;

// Outbox keys are big-endian so that RocksDB's bytewise order is seq order.
inline void AppendSeqKey(uint64_t seq, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((seq >> shift) & 0xff));
  }
}

inline std::string SeqKey(uint64_t seq) {
  std::string key;
  AppendSeqKey(seq, &key);
  return key;
}

inline bool DecodeSeqKey(std::string_view key, uint64_t* seq) {
  if (key.size() != kSeqKeySize) {
    return false;
  }
  uint64_t v = 0;
  for (char c : key) {
    v = (v << 8) | static_cast<uint8_t>(c);
  }
  *seq = v;
  return true;
}

// History keys: the block (a commit's number) then the bucket, both big-endian, so that
// RocksDB's bytewise order is block order and a trim can delete a prefix of blocks.
inline std::string HistoryKey(uint64_t block, uint32_t bucket) {
  std::string key;
  AppendSeqKey(block, &key);
  for (int shift = 24; shift >= 0; shift -= 8) {
    key.push_back(static_cast<char>((bucket >> shift) & 0xff));
  }
  return key;
}

// A time is the bit pattern of the double, little-endian: exact (no rounding to micros) and fixed
// width, so the dedupe value is always exactly kTimeSize bytes.
inline void AppendTime(EpochSeconds t, std::string* out) {
  const auto bits = std::bit_cast<uint64_t>(t);
  for (int shift = 0; shift < 64; shift += 8) {
    out->push_back(static_cast<char>((bits >> shift) & 0xff));
  }
}

// Reads the time at the front of `in` (which may hold more bytes after it).
inline bool DecodeTimePrefix(std::string_view in, EpochSeconds* t) {
  if (in.size() < kTimeSize) {
    return false;
  }
  uint64_t bits = 0;
  for (int i = static_cast<int>(kTimeSize) - 1; i >= 0; --i) {
    bits = (bits << 8) | static_cast<uint8_t>(in[i]);
  }
  *t = std::bit_cast<EpochSeconds>(bits);
  return true;
}

// The one definition of "forgotten", shared by lookups and the compaction filter so they can never
// disagree: a messageId received at `received_at` is forgotten once `window` seconds have passed.
inline bool DedupeExpired(EpochSeconds received_at, EpochSeconds now, double window) {
  return now - received_at >= window;
}

}  // namespace handoff::store_format
