// Dedupe expiry done by RocksDB itself: a compaction filter on the dedupe column family drops
// messageIds whose receive time is outside the window, whenever RocksDB rewrites the file holding
// them (flush, compaction, recovery). No scan, no delete tombstones.
//
// Until a file is rewritten an expired id stays on disk; lookups therefore apply the same rule
// (store_format::DedupeExpired) and report it as unseen.
#pragma once

#include <memory>

#include "handoff/clock.h"

namespace rocksdb {
class CompactionFilterFactory;
}  // namespace rocksdb

namespace handoff {

// `clock` must outlive every DB the factory is installed in. Each table-file job reads the clock
// once when it starts, so one job applies one consistent cut-off. Values that do not decode as a
// time are kept (the store reports them as Corruption on lookup rather than losing evidence).
std::shared_ptr<rocksdb::CompactionFilterFactory> NewDedupeFilterFactory(const Clock* clock,
                                                                         double window_seconds);

}  // namespace handoff
