#include "storage/rocks_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <system_error>

#include "storage/crc32c.h"
#include "storage/dedupe_filter.h"
#include "storage/fault_injection_fs.h"
#include "storage/store_format.h"

namespace handoff {
namespace {

namespace fmt = store_format;

// Column families in handle order. The default one must be opened too; it stays empty.
enum ColumnFamily : size_t {
  kDefault = 0,
  kLeads,
  kDedupe,
  kOutbox,
  kMeta,
  kLinks,
  kHistory,
  kDedupeLog,
  kPinned,
  kFunnel,
  kLeadJournal,
  kNumColumnFamilies
};
constexpr const char* kColumnFamilyNames[kNumColumnFamilies] = {
    "default",     fmt::kLeads,     fmt::kDedupe, fmt::kOutbox, fmt::kMeta,       fmt::kLinks,
    fmt::kHistory, fmt::kDedupeLog, fmt::kPinned, fmt::kFunnel, fmt::kLeadJournal};

// Sizing for a 2-core machine: one flush at a time and one compaction (two when level 0 piles
// up; see Open), memtables large enough that a burst of commits does not stall on flushes.
constexpr size_t kBlockCacheBytes = 64 << 20;
constexpr size_t kLeadsWriteBuffer = 32 << 20;
constexpr size_t kDedupeWriteBuffer = 4 << 20;     // the per-id form: read at start, not written
constexpr size_t kDedupeLogWriteBuffer = 8 << 20;  // 12 bytes an id: ~700k ids a memtable
constexpr size_t kOutboxWriteBuffer = 16 << 20;
constexpr size_t kMetaWriteBuffer = 4 << 20;
constexpr size_t kHistoryWriteBuffer = 32 << 20;
// A fact per outbox record and an hour total per commit: at 16k routed leads a second a 4 MB
// memtable flushed twice a second.
constexpr size_t kFunnelWriteBuffer = 16 << 20;
// Journal blocks are deleted (a range) soon after they are written: most of a memtable is
// covered by that deletion when it flushes, and the flush drops what it covers.
constexpr size_t kLeadJournalWriteBuffer = 64 << 20;
// Journal every lead while a generation's lead writes are at least this many times its leads;
// below, only leads the journal holds, and again every lead (a trial) after this many times
// lead_journal_bytes of leads written in place.
constexpr double kJournalPaysAt = 1.5;
constexpr uint64_t kTrialAfter = 4;
// Leads a checkpoint copies after a commit: at least this many, and twice the commit's own, so
// the copying outpaces the journal's growth.
constexpr size_t kMinCheckpointSlice = 2048;
// The meta column family is written rarely; without a cap its memtable would keep old log files
// alive forever. Past this total, RocksDB flushes the column families holding the oldest log.
constexpr uint64_t kMaxTotalWalBytes = 256 << 20;
constexpr int kBloomBitsPerKey = 10;

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) {
    return Status::Ok();
  }
  std::string msg = "store: ";
  msg.append(what);
  msg.append(": ");
  msg.append(s.ToString());
  if (s.IsNotFound()) {
    return Status::NotFound(std::move(msg));
  }
  if (s.IsCorruption()) {
    return Status::Corruption(std::move(msg));
  }
  if (s.IsInvalidArgument()) {
    return Status::InvalidArgument(std::move(msg));
  }
  if (s.IsNotSupported()) {
    return Status::FailedPrecondition(std::move(msg));
  }
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut() || s.IsShutdownInProgress() || s.IsAborted()) {
    return Status::Unavailable(std::move(msg));
  }
  return Status::IoError(std::move(msg));  // IOError, NoSpace, and anything else
}

rocksdb::Slice ToSlice(std::string_view s) { return {s.data(), s.size()}; }
std::string_view ToView(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

// A lead's slot in the lead journal as GetLead answers it: the state, or NotFound when the
// journal holds its deletion.
Status ReadSlot(const LeadJournal::Slot& slot, std::string* encoded) {
  if (slot.deleted) {
    return Status::NotFound("store: get lead: not found");
  }
  encoded->assign(slot.state);
  return Status::Ok();
}

// fn(key, value) for every key of `family` that starts with `prefix`, in key order.
Status ScanPrefix(rocksdb::DB* db, const rocksdb::ReadOptions& options,
                  rocksdb::ColumnFamilyHandle* family, std::string_view prefix,
                  const std::function<void(std::string_view, std::string_view)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(options, family));
  for (it->Seek(ToSlice(prefix)); it->Valid() && ToView(it->key()).starts_with(prefix);
       it->Next()) {
    fn(ToView(it->key()), ToView(it->value()));
  }
  return FromRocks(it->status(), "scan meta");
}

// LZ4 is cheap on CPU, which is the scarce resource here; fall back to what the library has.
rocksdb::CompressionType PickCompression() {
  const std::vector<rocksdb::CompressionType> supported = rocksdb::GetSupportedCompressions();
  for (auto want : {rocksdb::kLZ4Compression, rocksdb::kSnappyCompression}) {
    if (std::find(supported.begin(), supported.end(), want) != supported.end()) {
      return want;
    }
  }
  return rocksdb::kNoCompression;
}

rocksdb::ColumnFamilyOptions BaseColumnFamilyOptions(const std::shared_ptr<rocksdb::Cache>& cache,
                                                     bool bloom, size_t write_buffer);

// Values that start with a time (dedupe ids, dedupe-log blocks) leave when the window has passed
// them: the compaction filter drops them, and periodic compaction makes RocksDB revisit files no
// write pressure would touch.
void ExpireByDedupeWindow(const Clock* clock, double window, rocksdb::ColumnFamilyOptions* cf) {
  cf->compaction_filter_factory = NewDedupeFilterFactory(clock, window);
  cf->periodic_compaction_seconds = static_cast<uint64_t>(std::clamp(window, 3600.0, 30.0 * 86400));
}

// Leads are written by checkpoints (a slice after each commit, on the engine's commit thread,
// keys in order), or by commits when journaling does not pay, and read by point lookups when a lead
// is not in the engine's cache or the journal in memory, a new lead being a miss. So a skiplist
// memtable (a vector one would sort itself on every read) with a bloom filter on it as well as on
// the files: a miss costs a few hashes, not a search.
rocksdb::ColumnFamilyOptions LeadsColumnFamilyOptions(
    const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions cf =
      BaseColumnFamilyOptions(cache, /*bloom=*/true, kLeadsWriteBuffer);
  cf.memtable_prefix_bloom_size_ratio = 0.1;
  cf.memtable_whole_key_filtering = true;
  // Both writers put keys in order (a checkpoint's slice; a commit sorts the leads it writes in
  // place), so each insert starts its skiplist search from where the previous one ended (one hint
  // for every key: the empty prefix) instead of from the head. RocksDB's own hint for writes
  // without one is only used while each key lands right after the previous one.
  cf.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(0));
  return cf;
}

rocksdb::ColumnFamilyOptions BaseColumnFamilyOptions(const std::shared_ptr<rocksdb::Cache>& cache,
                                                     bool bloom, size_t write_buffer) {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = write_buffer;
  // One memtable being flushed, one being written, one spare: a commit stalls only when a flush
  // falls two memtables behind.
  cf.max_write_buffer_number = 3;
  cf.compression = PickCompression();
  // Flushes write level 0 uncompressed (but see CompressAtFlush); the compactions below it
  // compress. A flush runs at normal priority beside the engine (see Open: a starved flush stalls
  // commits), and LZ4 was a quarter of its CPU; compactions run at a lower priority. (With
  // dynamic level bytes the second entry is for the level L0 merges into and every level below
  // it.)
  cf.compression_per_level = {rocksdb::kNoCompression, cf.compression};
  cf.level_compaction_dynamic_level_bytes = true;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  if (bloom) {
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(kBloomBitsPerKey));
  }
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return cf;
}

// For column families whose keys only grow (a sequence number first): each flushed file then lies
// past every file before it, and RocksDB moves it down the levels whole (a trivial move) instead
// of rewriting it, but only when it is compressed as the level below it wants. So these compress
// at the flush, once, and are never rewritten (10M new leads: 1.9 GB of history, 0.35 GB of
// outbox, 0.12 GB of dedupe log not compacted; level 0 stalls 10/4 -> 1/2 in two sends).
void CompressAtFlush(rocksdb::ColumnFamilyOptions* cf) { cf->compression_per_level.clear(); }

Status CheckOptions(const StoreOptions& options) {
  if (options.path.empty()) {
    return Status::InvalidArgument("store: empty data directory path");
  }
  // Written so that NaN fails too.
  if (!(options.dedupe_window >= 0)) {
    return Status::InvalidArgument("store: dedupe_window must be >= 0 seconds");
  }
  if (!(options.outbox_retention >= 0)) {
    return Status::InvalidArgument("store: outbox_retention must be >= 0 seconds");
  }
  return Status::Ok();
}

}  // namespace

// ---- Store ----

Result<std::unique_ptr<RocksStore>> RocksStore::Open(const StoreOptions& options) {
  if (Status s = CheckOptions(options); !s.ok()) {
    return s;
  }
  std::error_code ec;
  std::filesystem::create_directories(options.path, ec);
  if (ec) {
    return Status::IoError("store: cannot create " + options.path + ": " + ec.message());
  }

  std::unique_ptr<RocksStore> store(new RocksStore());
  store->options_ = options;
  if (store->options_.clock == nullptr) {
    store->options_.clock = &SystemClock::Instance();
  }
  store->block_cache_ = rocksdb::NewLRUCache(kBlockCacheBytes);
  if (store->options_.env == nullptr && !store->options_.fault_file.empty()) {
    store->fault_fs_ = std::make_shared<FaultInjectionFileSystem>(store->options_.fault_file);
    store->fault_env_ = rocksdb::NewCompositeEnv(store->fault_fs_);
    store->options_.env = store->fault_env_.get();
  }

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  // One flush at a time, and a second compaction beside the first once RocksDB wants to speed
  // compactions up (a column family's level 0 at 8 files, or writes being delayed): with one, a
  // long compaction of the leads (each new lead lands at a random key, so every level-0 file of
  // a stream of new leads spans every key and a compaction rewrites the level below whole: up
  // to 4-7 s of CPU at 10M leads) held back the others' level-0 files until they reached the
  // write stall (20 files): the 10M-lead send spent ~10 s at 60-80k events/s (bench/README.md,
  // 2026-12-06).
  db_options.max_background_jobs = 3;
  db_options.bytes_per_sync = 1 << 20;  // smooth out SST write-back instead of one big burst
  // One writer at a time (the engine's commit): no concurrent memtable inserts.
  db_options.allow_concurrent_memtable_write = false;
  // Compactions run at a lower CPU priority than the engine and network threads: on a small
  // machine they would otherwise steal the cores that acknowledge events. Flushes do not: a
  // commit waits for one whenever a column family's memtables are all full, so a starved flush
  // (seen: 2-10 s each with the cores busy elsewhere) stalls every acknowledgment behind it.
  {
    rocksdb::Env* env =
        store->options_.env != nullptr ? store->options_.env : rocksdb::Env::Default();
    env->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::LOW);
  }
  db_options.max_total_wal_size = kMaxTotalWalBytes;
  db_options.keep_log_file_num = 4;  // RocksDB's own info LOG files, not the WAL
  db_options.max_log_file_size = 16 << 20;
  if (store->options_.env != nullptr) {
    db_options.env = store->options_.env;
  }

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.reserve(kNumColumnFamilies);
  const auto& cache = store->block_cache_;
  descriptors.emplace_back(kColumnFamilyNames[kDefault],
                           BaseColumnFamilyOptions(cache, /*bloom=*/false, kMetaWriteBuffer));
  // Leads: point lookups for leads not in memory; new leads (misses) are common, so a bloom
  // filter pays.
  descriptors.emplace_back(kColumnFamilyNames[kLeads], LeadsColumnFamilyOptions(cache));
  {
    // Dedupe: nearly every lookup is a miss (a new messageId), so bloom filters on the files and
    // on the memtable answer most lookups without reading a block. optimize_filters_for_hits
    // stays off for the same reason. Expiry by the compaction filter; periodic compaction makes
    // RocksDB revisit files that no write pressure would touch, so expired ids do leave the disk.
    auto cf = BaseColumnFamilyOptions(cache, /*bloom=*/true, kDedupeWriteBuffer);
    cf.memtable_prefix_bloom_size_ratio = 0.1;
    cf.memtable_whole_key_filtering = true;
    ExpireByDedupeWindow(store->options_.clock, options.dedupe_window, &cf);
    descriptors.emplace_back(kColumnFamilyNames[kDedupe], std::move(cf));
  }
  {
    // Outbox: read by seeks only (no bloom); keys only grow, so compaction is trivial moves.
    auto cf = BaseColumnFamilyOptions(cache, /*bloom=*/false, kOutboxWriteBuffer);
    CompressAtFlush(&cf);
    descriptors.emplace_back(kColumnFamilyNames[kOutbox], std::move(cf));
  }
  descriptors.emplace_back(kColumnFamilyNames[kMeta],
                           BaseColumnFamilyOptions(cache, /*bloom=*/false, kMetaWriteBuffer));
  // Links: read once, at start; written only by identity links.
  descriptors.emplace_back(kColumnFamilyNames[kLinks],
                           BaseColumnFamilyOptions(cache, /*bloom=*/false, kMetaWriteBuffer));
  // History: point reads of one bucket when a lead's history is walked (merges, the history
  // API); keys only grow, and trims delete a prefix. Bloom filters would answer only misses,
  // which are rare (a walk follows pointers to buckets that exist). (A merge rewrites entries in
  // older blocks, so a flushed file may overlap older ones and be compacted after all.)
  {
    auto cf = BaseColumnFamilyOptions(cache, /*bloom=*/false, kHistoryWriteBuffer);
    CompressAtFlush(&cf);
    descriptors.emplace_back(kColumnFamilyNames[kHistory], std::move(cf));
  }
  {
    // Dedupe log: one block per commit, read whole at start, never looked up by id. Blocks
    // expire by their time, through the same compaction filter as the per-id form.
    auto cf = BaseColumnFamilyOptions(cache, /*bloom=*/false, kDedupeLogWriteBuffer);
    CompressAtFlush(&cf);
    ExpireByDedupeWindow(store->options_.clock, options.dedupe_window, &cf);
    descriptors.emplace_back(kColumnFamilyNames[kDedupeLog], std::move(cf));
  }
  // Pinned: read once, at start; written when a lead is staged or owned, or stops being so.
  descriptors.emplace_back(kColumnFamilyNames[kPinned],
                           BaseColumnFamilyOptions(cache, /*bloom=*/false, kMetaWriteBuffer));
  // Funnel: hour totals read whole at start, facts read by time range (the edges of a window)
  // and trimmed as a prefix.
  descriptors.emplace_back(kColumnFamilyNames[kFunnel],
                           BaseColumnFamilyOptions(cache, /*bloom=*/false, kFunnelWriteBuffer));
  // Lead journal: one block a commit, read whole at start only, deleted as a prefix.
  descriptors.emplace_back(
      kColumnFamilyNames[kLeadJournal],
      BaseColumnFamilyOptions(cache, /*bloom=*/false, kLeadJournalWriteBuffer));

  rocksdb::DB* raw_db = nullptr;
  const uint64_t checksums_before = RocksDbCrc32cCalls();
  rocksdb::Status rs =
      rocksdb::DB::Open(db_options, options.path, descriptors, &store->handles_, &raw_db);
  if (!rs.ok()) {
    return FromRocks(rs, "open " + options.path);
  }
  // The open checksummed the MANIFEST it read or wrote: through storage/crc32c.cc's definition
  // only if the library's calls reach it.
  store->checksums_in_hardware_ = Crc32cHasHardware() && RocksDbCrc32cCalls() > checksums_before;
  store->db_.reset(raw_db);
  store->write_batch_ = std::make_unique<rocksdb::WriteBatch>();

  // The oldest outbox record, for OldestOutboxSeq. Cached because after trims the head of the
  // outbox is a range tombstone every seek would have to step over.
  std::unique_ptr<rocksdb::Iterator> it(
      store->db_->NewIterator(rocksdb::ReadOptions(), store->cf(kOutbox)));
  it->SeekToFirst();
  if (it->Valid()) {
    uint64_t seq = 0;
    if (!fmt::DecodeSeqKey(ToView(it->key()), &seq)) {
      return Status::Corruption("store: bad outbox key");
    }
    store->oldest_outbox_seq_.store(seq, std::memory_order_release);
  } else if (!it->status().ok()) {
    return FromRocks(it->status(), "read outbox head");
  }
  if (Status st = store->ReadLeadJournal(); !st.ok()) {
    return st;
  }
  return store;
}

Status RocksStore::ReadLeadJournal() {
  // A lead write is ~190-210 bytes of block (bench/README.md: ~320k of them a 64 MiB
  // generation); 256 leaves room for shorter ones before the table would grow. A generation
  // holds each lead once, however often it was written, so a big generation need not hold as
  // many leads as writes: the first is made for at most 2^18 leads (a 21 MiB table, ~5k pages
  // faulted in), and each later one for a quarter more than the one before held (LeadJournal).
  // Later generations reuse the memory dropped ones freed.
  constexpr uint64_t kBlockBytesPerLead = 256;
  constexpr uint64_t kFirstGenerationLeads = uint64_t{1} << 18;
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, cf(kLeadJournal)));
  std::unique_lock<std::shared_mutex> lock(journal_mu_);
  journal_.ExpectLeadsPerGeneration(static_cast<size_t>(
      std::min(options_.lead_journal_bytes / kBlockBytesPerLead, kFirstGenerationLeads)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    uint64_t block = 0;
    if (!fmt::DecodeSeqKey(ToView(it->key()), &block) || block < next_journal_block_ ||
        !journal_.Apply(block, std::string(ToView(it->value())), /*check=*/true)) {
      return Status::Corruption("store: bad lead journal block");
    }
    next_journal_block_ = block + 1;
  }
  if (!it->status().ok()) {
    return FromRocks(it->status(), "read lead journal");
  }
  // What the last run had not copied yet is copied from the first commits on.
  journal_.Freeze();
  lock.unlock();
  if (options_.lead_journal_bytes == 0) {
    std::lock_guard<std::mutex> write_lock(write_mu_);
    return Checkpoint(std::numeric_limits<size_t>::max());
  }
  return Status::Ok();
}

Status RocksStore::Checkpoint(size_t budget) {
  rocksdb::WriteBatch& wb = *write_batch_;
  while (budget > 0) {
    LeadJournal::FrozenGeneration oldest;
    {
      std::shared_lock<std::shared_mutex> lock(journal_mu_);
      if (journal_.frozen().empty()) {
        return Status::Ok();
      }
      oldest = journal_.frozen().front();
    }
    const std::vector<LeadJournal::Entry>& entries = oldest->entries();
    assert(checkpoint_pos_ <= entries.size());
    const size_t n = std::min(budget, entries.size() - checkpoint_pos_);
    // Keys in order: the memtable inserts run faster when each lands next to the one before.
    checkpoint_slice_.assign(entries.begin() + static_cast<std::ptrdiff_t>(checkpoint_pos_),
                             entries.begin() + static_cast<std::ptrdiff_t>(checkpoint_pos_ + n));
    std::sort(
        checkpoint_slice_.begin(), checkpoint_slice_.end(),
        [](const LeadJournal::Entry& a, const LeadJournal::Entry& b) { return a.first < b.first; });
    wb.Clear();
    rocksdb::Status rs;
    for (const auto& [id, slot] : checkpoint_slice_) {
      rs = slot->deleted ? wb.Delete(cf(kLeads), ToSlice(id))
                         : wb.Put(cf(kLeads), ToSlice(id), ToSlice(slot->state));
      if (!rs.ok()) {
        return FromRocks(rs, "build checkpoint");
      }
    }
    const bool last = checkpoint_pos_ + n == entries.size();
    if (last) {
      // The blocks this generation (and every older one) came from are no longer needed.
      rs = wb.DeleteRange(cf(kLeadJournal), fmt::SeqKey(0), fmt::SeqKey(oldest->last_block() + 1));
      if (!rs.ok()) {
        return FromRocks(rs, "build checkpoint");
      }
    }
    // Not synced, whatever the durability: until this is written the journal still holds every
    // state in it, and a later synced commit syncs it along with itself.
    rs = db_->Write(rocksdb::WriteOptions(), &wb);
    wb.Clear();
    if (!rs.ok()) {
      return FromRocks(rs, "checkpoint leads");
    }
    budget -= n;
    if (!last) {
      checkpoint_pos_ += n;
      return Status::Ok();
    }
    checkpoint_pos_ = 0;
    oldest.reset();  // ours was the last reference but the journal's: its blocks can be reused
    std::unique_lock<std::shared_mutex> lock(journal_mu_);
    journal_.DropOldest();
  }
  return Status::Ok();
}

std::vector<LeadJournal::FrozenGeneration> RocksStore::FreezeForRead() const {
  std::unique_lock<std::shared_mutex> lock(journal_mu_);
  journal_.Freeze();
  return {journal_.frozen().begin(), journal_.frozen().end()};
}

RocksStore::~RocksStore() {
  // Nothing to do with an error here: the write-ahead log already holds every committed batch.
  (void)Close();
}

Status RocksStore::Close() {
  if (db_ == nullptr) {
    return Status::Ok();
  }
  Status checkpointed = Status::Ok();
  {
    // Everything in `leads`, so the next open reads no journal.
    std::lock_guard<std::mutex> lock(write_mu_);
    {
      std::unique_lock<std::shared_mutex> journal_lock(journal_mu_);
      journal_.Freeze();
    }
    checkpointed = Checkpoint(std::numeric_limits<size_t>::max());
  }
  rocksdb::FlushOptions flush;
  flush.wait = true;
  // Nothing writes any more: flush now rather than wait for compactions to take level 0 under
  // its stall trigger first (after many kill -9 restarts on a busy machine that wait held the
  // exit for over 30 s).
  flush.allow_write_stall = true;
  rocksdb::Status flushed = db_->Flush(flush, handles_);
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    (void)db_->DestroyColumnFamilyHandle(handle);
  }
  handles_.clear();
  rocksdb::Status closed = db_->Close();
  db_.reset();
  if (!checkpointed.ok()) {
    return checkpointed;
  }
  if (!flushed.ok()) {
    return FromRocks(flushed, "flush on close");
  }
  return FromRocks(closed, "close");
}

Status RocksStore::Commit(CommitBatch* batch) {
  if (batch->empty()) {
    return Status::Ok();
  }
  std::lock_guard<std::mutex> lock(write_mu_);
  rocksdb::WriteBatch& wb = *write_batch_;
  wb.Clear();
  rocksdb::Status rs;
  const bool journaled = options_.lead_journal_bytes > 0;
  // A lead the journal holds is journaled again (its newest state must be the one reads find
  // first); any other lead too while journaling pays (journal_all_), else it is written in place.
  std::shared_lock<std::shared_mutex> journal_lock(journal_mu_, std::defer_lock);
  if (journaled && !journal_all_) {
    journal_lock.lock();
  }
  auto journal_this = [&](std::string_view id) {
    return journaled && (journal_all_ || journal_.Find(id) != nullptr);
  };
  size_t in_place_bytes = 0;
  journal_block_.clear();
  if (journaled) {
    // The journal holds these blocks by capacity: no more than the leads need (plus a few bytes
    // of framing each).
    journal_block_.reserve(batch->lead_bytes() + batch->lead_bytes() / 16);
  }
  size_t lead_writes = 0;
  in_place_.clear();
  const bool decoded = batch->ForEach([&](const CommitBatch::Entry& e) {
    if (!rs.ok()) {
      return;
    }
    const rocksdb::Slice key = ToSlice(e.key);
    const rocksdb::Slice value = ToSlice(e.value);
    switch (e.op) {
      case CommitBatch::Op::kPutLead:
        if (journal_this(e.key)) {
          ++lead_writes;
          LeadJournal::AppendPut(e.key, e.value, &journal_block_);
        } else {
          in_place_bytes += e.key.size() + e.value.size();
          in_place_.push_back({e.key, e.value, /*deleted=*/false});
        }
        break;
      case CommitBatch::Op::kDeleteLead:
        if (journal_this(e.key)) {
          ++lead_writes;
          LeadJournal::AppendDelete(e.key, &journal_block_);
        } else {
          in_place_.push_back({e.key, {}, /*deleted=*/true});
        }
        break;
      case CommitBatch::Op::kPutDedupe:
        rs = wb.Put(cf(kDedupe), key, value);
        break;
      case CommitBatch::Op::kPutPinned:
        rs = wb.Put(cf(kPinned), key, value);
        break;
      case CommitBatch::Op::kDeletePinned:
        rs = wb.Delete(cf(kPinned), key);
        break;
      case CommitBatch::Op::kPutDedupeBlock:
        rs = wb.Put(cf(kDedupeLog), key, value);
        break;
      case CommitBatch::Op::kPutOutbox:
        rs = wb.Put(cf(kOutbox), key, value);
        break;
      case CommitBatch::Op::kPutMeta:
        rs = wb.Put(cf(kMeta), key, value);
        break;
      case CommitBatch::Op::kDeleteMeta:
        rs = wb.Delete(cf(kMeta), key);
        break;
      case CommitBatch::Op::kPutLink:
        rs = wb.Put(cf(kLinks), key, value);
        break;
      case CommitBatch::Op::kDeleteLink:
        rs = wb.Delete(cf(kLinks), key);
        break;
      case CommitBatch::Op::kPutHistory:
        rs = wb.Put(cf(kHistory), key, value);
        break;
      case CommitBatch::Op::kDeleteHistory:
        rs = wb.Delete(cf(kHistory), key);
        break;
      case CommitBatch::Op::kPutFunnel:
        rs = wb.Put(cf(kFunnel), key, value);
        break;
      case CommitBatch::Op::kDeleteFunnel:
        rs = wb.Delete(cf(kFunnel), key);
        break;
      case CommitBatch::Op::kDeleteFunnelRange:
        rs = wb.DeleteRange(cf(kFunnel), key, value);
        break;
    }
  });
  if (journal_lock.owns_lock()) {
    journal_lock.unlock();
  }
  assert(decoded && "CommitBatch buffer does not decode");
  if (!decoded) {
    return Status::Corruption("store: commit batch does not decode");
  }
  if (!rs.ok()) {
    return FromRocks(rs, "build write batch");
  }
  // In key order, for the memtable's insert hint (LeadsColumnFamilyOptions). The engine seals
  // its leads in key order already; other writers need not. Stable, so two writes of one lead
  // keep their order.
  auto by_key = [](const InPlaceLead& a, const InPlaceLead& b) { return a.key < b.key; };
  if (!std::is_sorted(in_place_.begin(), in_place_.end(), by_key)) {
    std::stable_sort(in_place_.begin(), in_place_.end(), by_key);
  }
  for (const InPlaceLead& lead : in_place_) {
    rs = lead.deleted ? wb.Delete(cf(kLeads), ToSlice(lead.key))
                      : wb.Put(cf(kLeads), ToSlice(lead.key), ToSlice(lead.value));
    if (!rs.ok()) {
      return FromRocks(rs, "build write batch");
    }
  }
  if (!journal_block_.empty()) {
    rs = wb.Put(cf(kLeadJournal), fmt::SeqKey(next_journal_block_), journal_block_);
    if (!rs.ok()) {
      return FromRocks(rs, "build write batch");
    }
  }

  rocksdb::WriteOptions write_options;
  write_options.sync = options_.durability == Durability::kFsync;
  rs = db_->Write(write_options, &wb);
  if (!rs.ok()) {
    return FromRocks(rs, "commit");
  }
  const uint64_t oldest = oldest_outbox_seq_.load(std::memory_order_relaxed);
  if (batch->min_outbox_seq() != 0 && (oldest == 0 || batch->min_outbox_seq() < oldest)) {
    oldest_outbox_seq_.store(batch->min_outbox_seq(), std::memory_order_release);
  }
  batch->Clear();
  if (!journal_block_.empty()) {
    std::unique_lock<std::shared_mutex> lock(journal_mu_);
    (void)journal_.Apply(next_journal_block_++, std::move(journal_block_), /*check=*/false);
    if (journal_.active_block_bytes() >= options_.lead_journal_bytes) {
      journal_.Freeze();
      // Journaling pays when leads change in several commits of a generation (each is then
      // copied once instead of written per commit); when nearly every lead changed once (new
      // leads streaming in), it only adds a copy: leads the journal does not hold are written in
      // place until a trial generation shows it pays again.
      const LeadJournal::Generation& frozen = *journal_.frozen().back();
      journal_all_ = static_cast<double>(frozen.writes()) >=
                     kJournalPaysAt * static_cast<double>(frozen.size());
      in_place_bytes_ = 0;
    }
    journal_block_ = journal_.TakeSpareBlock();
  }
  if (!journal_all_) {
    in_place_bytes_ += in_place_bytes;
    if (in_place_bytes_ >= kTrialAfter * options_.lead_journal_bytes) {
      journal_all_ = true;  // a trial generation
    }
  }
  checkpoint_budget_ += 2 * lead_writes;
  bool behind = false;
  {
    std::shared_lock<std::shared_mutex> lock(journal_mu_);
    behind = journal_.frozen_bytes() > 2 * options_.lead_journal_bytes;
  }
  if (behind) {
    // The commit is durable whatever happens here: a checkpoint that fails leaves the journal as
    // it was, and the next commit tries again (after RocksDB recovers, when the disk failed).
    (void)Checkpoint(std::max(kMinCheckpointSlice, checkpoint_budget_));
    checkpoint_budget_ = 0;
  }
  return Status::Ok();
}

void RocksStore::AfterCommit() {
  std::lock_guard<std::mutex> lock(write_mu_);
  if (Checkpoint(std::max(kMinCheckpointSlice, checkpoint_budget_)).ok()) {
    checkpoint_budget_ = 0;
  }
}

Status RocksStore::Recover() {
  std::lock_guard<std::mutex> lock(write_mu_);
  return FromRocks(db_->Resume(), "resume writes");
}

Status RocksStore::GetLead(std::string_view lead_id, std::string* encoded) const {
  {
    std::shared_lock<std::shared_mutex> lock(journal_mu_);
    if (const LeadJournal::Slot* slot = journal_.Find(lead_id); slot != nullptr) {
      return ReadSlot(*slot, encoded);
    }
  }
  // Not in the journal: `leads` holds its newest state (a checkpoint writes it there before the
  // generation that held it is dropped).
  return FromRocks(db_->Get(rocksdb::ReadOptions(), cf(kLeads), ToSlice(lead_id), encoded),
                   "get lead");
}

Status RocksStore::ScanLeads(
    std::string_view after,
    const std::function<bool(std::string_view id, std::string_view encoded)>& fn) const {
  // The journal's generations first, then the iterator: a generation dropped before they were
  // taken was copied into `leads` before it was dropped, so the iterator sees it.
  const LeadOverlayScan overlay(FreezeForRead());
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;  // a scan must not evict the hot blocks point lookups use
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, cf(kLeads)));
  overlay.Run(
      after,
      [&](const auto& visit) {
        if (after.empty()) {
          it->SeekToFirst();
        } else {
          it->Seek(ToSlice(after));
          if (it->Valid() && ToView(it->key()) == after) {
            it->Next();
          }
        }
        for (; it->Valid(); it->Next()) {
          if (!visit(ToView(it->key()), ToView(it->value()))) {
            break;
          }
        }
      },
      fn);
  return FromRocks(it->status(), "scan leads");
}

Result<bool> RocksStore::SeenMessage(std::string_view message_id, EpochSeconds now) const {
  rocksdb::PinnableSlice value;
  rocksdb::Status rs = db_->Get(rocksdb::ReadOptions(), cf(kDedupe), ToSlice(message_id), &value);
  if (rs.IsNotFound()) {
    return false;
  }
  if (!rs.ok()) {
    return FromRocks(rs, "get dedupe id");
  }
  EpochSeconds received_at = 0;
  if (value.size() != fmt::kTimeSize || !fmt::DecodeTimePrefix(ToView(value), &received_at)) {
    return Status::Corruption("store: bad dedupe value for messageId " + std::string(message_id));
  }
  return !fmt::DedupeExpired(received_at, now, options_.dedupe_window);
}

Status RocksStore::GetMeta(std::string_view key, std::string* value) const {
  return FromRocks(db_->Get(rocksdb::ReadOptions(), cf(kMeta), ToSlice(key), value), "get meta");
}

Status RocksStore::ScanMeta(
    std::string_view prefix,
    const std::function<void(std::string_view key, std::string_view value)>& fn) const {
  return ScanPrefix(db_.get(), rocksdb::ReadOptions(), cf(kMeta), prefix, fn);
}

Status RocksStore::ReadOutbox(uint64_t from_seq, uint64_t last_seq, size_t max_records,
                              std::vector<std::pair<uint64_t, std::string>>* out) const {
  out->clear();
  if (max_records == 0 || last_seq < from_seq) {
    return Status::Ok();
  }
  // The bound keeps the iterator itself off records past last_seq: their bytes may belong to a
  // Commit still under way on the commit thread (RocksDB shows an entry once its memtable insert
  // is done, before Write returns), and this thread has no happens-before with that write.
  const std::string end = fmt::SeqKey(last_seq + 1);
  const rocksdb::Slice end_slice(end);
  rocksdb::ReadOptions read_options;
  if (last_seq != UINT64_MAX) {
    read_options.iterate_upper_bound = &end_slice;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, cf(kOutbox)));
  const std::string start = fmt::SeqKey(from_seq);
  for (it->Seek(start); it->Valid() && out->size() < max_records; it->Next()) {
    uint64_t seq = 0;
    const std::string_view value = ToView(it->value());
    if (!fmt::DecodeSeqKey(ToView(it->key()), &seq) || value.size() < fmt::kTimeSize) {
      return Status::Corruption("store: bad outbox record");
    }
    out->emplace_back(seq, std::string(value.substr(fmt::kTimeSize)));
  }
  return FromRocks(it->status(), "read outbox");
}

Status RocksStore::TrimOutbox(EpochSeconds now) {
  std::lock_guard<std::mutex> lock(write_mu_);
  const uint64_t first = oldest_outbox_seq_.load(std::memory_order_relaxed);
  if (first == 0) {
    return Status::Ok();
  }
  const EpochSeconds cutoff = now - options_.outbox_retention;
  // Walk from the head while records are expired. This reads only what is about to be deleted
  // (plus one record), so a trim every minute costs in proportion to the records it removes.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kOutbox)));
  uint64_t end = first;  // one past the last expired seq
  uint64_t next_oldest = 0;
  for (it->Seek(fmt::SeqKey(first)); it->Valid(); it->Next()) {
    uint64_t seq = 0;
    EpochSeconds at = 0;
    if (!fmt::DecodeSeqKey(ToView(it->key()), &seq) ||
        !fmt::DecodeTimePrefix(ToView(it->value()), &at)) {
      return Status::Corruption("store: bad outbox record");
    }
    if (!(at < cutoff)) {
      next_oldest = seq;
      break;
    }
    end = seq + 1;
  }
  if (!it->status().ok()) {
    return FromRocks(it->status(), "scan outbox for trim");
  }
  if (end == first) {
    return Status::Ok();
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.durability == Durability::kFsync;
  rocksdb::Status rs =
      db_->DeleteRange(write_options, cf(kOutbox), fmt::SeqKey(first), fmt::SeqKey(end));
  if (!rs.ok()) {
    return FromRocks(rs, "trim outbox");
  }
  oldest_outbox_seq_.store(next_oldest, std::memory_order_release);
  return Status::Ok();
}

Status RocksStore::ScanLinks(
    const std::function<void(std::string_view id, std::string_view root)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kLinks)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    fn(ToView(it->key()), ToView(it->value()));
  }
  return FromRocks(it->status(), "scan links");
}

Status RocksStore::ScanPinned(
    const std::function<void(std::string_view id, std::string_view record)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kPinned)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    fn(ToView(it->key()), ToView(it->value()));
  }
  return FromRocks(it->status(), "scan pinned leads");
}

Status RocksStore::ScanDedupe(
    const std::function<void(std::string_view id, EpochSeconds at)>& id_fn,
    const std::function<void(uint64_t block, EpochSeconds at, std::string_view hashes)>& block_fn)
    const {
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;  // read once, at start
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, cf(kDedupe)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      EpochSeconds at = 0;
      if (it->value().size() != fmt::kTimeSize ||
          !fmt::DecodeTimePrefix(ToView(it->value()), &at)) {
        return Status::Corruption("store: bad dedupe value");
      }
      id_fn(ToView(it->key()), at);
    }
    if (Status st = FromRocks(it->status(), "scan dedupe ids"); !st.ok()) {
      return st;
    }
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, cf(kDedupeLog)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    uint64_t block = 0;
    EpochSeconds at = 0;
    const std::string_view value = ToView(it->value());
    if (!fmt::DecodeSeqKey(ToView(it->key()), &block) || !fmt::DecodeTimePrefix(value, &at)) {
      return Status::Corruption("store: bad dedupe log block");
    }
    block_fn(block, at, value.substr(fmt::kTimeSize));
  }
  return FromRocks(it->status(), "scan dedupe log");
}

Status RocksStore::GetHistory(std::string_view key, std::string* value) const {
  return FromRocks(db_->Get(rocksdb::ReadOptions(), cf(kHistory), ToSlice(key), value),
                   "read history");
}

Status RocksStore::LastHistoryKey(std::string* key) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kHistory)));
  it->SeekToLast();
  key->clear();
  if (it->Valid()) {
    key->assign(ToView(it->key()));
  }
  return FromRocks(it->status(), "read history tail");
}

Status RocksStore::TrimHistory(EpochSeconds cutoff) {
  std::lock_guard<std::mutex> lock(write_mu_);
  // Blocks are written in time order, so the expired ones are a prefix: walk it, reading one
  // bucket per block, and delete it in one range.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kHistory)));
  std::string first;
  std::string end;
  it->SeekToFirst();
  while (it->Valid()) {
    EpochSeconds at = 0;
    uint64_t block = 0;
    if (it->key().size() != fmt::kHistoryKeySize ||
        !fmt::DecodeSeqKey(ToView(it->key()).substr(0, fmt::kSeqKeySize), &block) ||
        !fmt::DecodeTimePrefix(ToView(it->value()), &at)) {
      return Status::Corruption("store: bad history bucket");
    }
    if (!(at < cutoff)) {
      break;
    }
    if (first.empty()) {
      first.assign(ToView(it->key()));
    }
    end = fmt::HistoryKey(block + 1, 0);
    it->Seek(end);  // the next block's first bucket
  }
  if (!it->status().ok()) {
    return FromRocks(it->status(), "scan history for trim");
  }
  if (first.empty()) {
    return Status::Ok();
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.durability == Durability::kFsync;
  return FromRocks(db_->DeleteRange(write_options, cf(kHistory), first, end), "trim history");
}

Status RocksStore::ScanFunnel(
    std::string_view begin, std::string_view end,
    const std::function<bool(std::string_view key, std::string_view value)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kFunnel)));
  for (it->Seek(ToSlice(begin)); it->Valid(); it->Next()) {
    const std::string_view key = ToView(it->key());
    if (!end.empty() && key >= end) {
      break;
    }
    if (!fn(key, ToView(it->value()))) {
      break;
    }
  }
  return FromRocks(it->status(), "scan funnel");
}

namespace {

// A RocksDB snapshot and the column families to read through it.
class RocksSnapshot final : public StoreSnapshot {
 public:
  // `journal`: the lead journal's generations, taken before this (see ScanLeads).
  RocksSnapshot(rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> handles,
                std::vector<LeadJournal::FrozenGeneration> journal)
      : db_(db),
        handles_(std::move(handles)),
        journal_(std::move(journal)),
        snapshot_(db->GetSnapshot()) {}
  ~RocksSnapshot() override { db_->ReleaseSnapshot(snapshot_); }
  RocksSnapshot(const RocksSnapshot&) = delete;
  RocksSnapshot& operator=(const RocksSnapshot&) = delete;

  Status GetLead(std::string_view lead_id, std::string* encoded) const override {
    if (const LeadJournal::Slot* slot = journal_.Find(lead_id); slot != nullptr) {
      return ReadSlot(*slot, encoded);
    }
    return FromRocks(db_->Get(Point(), handles_[kLeads], ToSlice(lead_id), encoded), "get lead");
  }
  Status ScanLeads(
      const std::function<bool(std::string_view, std::string_view)>& fn) const override {
    Status st = Status::Ok();
    journal_.Run(
        "", [&](const auto& visit) { st = Scan(kLeads, "scan leads", visit); }, fn);
    return st;
  }
  Status ScanLinks(
      const std::function<void(std::string_view, std::string_view)>& fn) const override {
    return Scan(kLinks, "scan links", [&](std::string_view k, std::string_view v) {
      fn(k, v);
      return true;
    });
  }
  Status GetMeta(std::string_view key, std::string* value) const override {
    return FromRocks(db_->Get(Point(), handles_[kMeta], ToSlice(key), value), "get meta");
  }
  Status ScanMeta(
      std::string_view prefix,
      const std::function<void(std::string_view, std::string_view)>& fn) const override {
    return ScanPrefix(db_, Point(), handles_[kMeta], prefix, fn);
  }
  Status GetHistory(std::string_view key, std::string* value) const override {
    return FromRocks(db_->Get(Point(), handles_[kHistory], ToSlice(key), value), "get history");
  }
  Status ScanHistory(
      const std::function<bool(std::string_view, std::string_view)>& fn) const override {
    return Scan(kHistory, "scan history", fn);
  }

 private:
  rocksdb::ReadOptions Point() const {
    rocksdb::ReadOptions options;
    options.snapshot = snapshot_;
    return options;
  }
  Status Scan(size_t family, const char* what,
              const std::function<bool(std::string_view, std::string_view)>& fn) const {
    rocksdb::ReadOptions options = Point();
    options.fill_cache = false;  // a full scan must not evict the blocks the engine reads
    options.readahead_size = 2 << 20;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, handles_[family]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (!fn(ToView(it->key()), ToView(it->value()))) {
        break;
      }
    }
    return FromRocks(it->status(), what);
  }

  rocksdb::DB* const db_;
  const std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  const LeadOverlayScan journal_;
  const rocksdb::Snapshot* const snapshot_;
};

}  // namespace

std::unique_ptr<StoreSnapshot> RocksStore::Snapshot() const {
  return std::make_unique<RocksSnapshot>(db_.get(), handles_, FreezeForRead());
}

Status RocksStore::CompactAll() {
  rocksdb::CompactRangeOptions compact;
  // Rewrite the last level as well, so the dedupe filter sees every file.
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (size_t i = kLeads; i < kNumColumnFamilies; ++i) {
    rocksdb::Status rs = db_->CompactRange(compact, cf(i), nullptr, nullptr);
    if (!rs.ok()) {
      return FromRocks(rs, std::string("compact ") + kColumnFamilyNames[i]);
    }
  }
  return Status::Ok();
}

Store::Memory RocksStore::MemoryUsage() const {
  Memory m;
  uint64_t value = 0;
  if (db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &value)) {
    m.memtables = value;
  }
  if (db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kEstimateTableReadersMem, &value)) {
    m.table_readers = value;
  }
  if (block_cache_ != nullptr) {
    m.block_cache = block_cache_->GetUsage();
  }
  {
    std::shared_lock<std::shared_mutex> lock(journal_mu_);
    m.lead_journal = journal_.bytes();
  }
  return m;
}

std::string RocksStore::Stats() const {
  std::string out;
  std::string value;
  if (db_->GetProperty(rocksdb::DB::Properties::kDBStats, &value)) {
    out += value;
  }
  for (size_t i = kLeads; i < kNumColumnFamilies; ++i) {
    value.clear();
    if (db_->GetProperty(cf(i), rocksdb::DB::Properties::kCFStatsNoFileHistogram, &value)) {
      out += "** column family ";
      out += kColumnFamilyNames[i];
      out += " **\n";
      out += value;
    }
  }
  return out;
}

}  // namespace handoff
