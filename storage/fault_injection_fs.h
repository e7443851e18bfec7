// FaultInjectionFileSystem: RocksDB's file system with writes that fail on demand, so the
// daemon's handling of a disk that cannot be written (full, read-only, failing) is tested against
// RocksDB's real error paths (LevelDB's ErrorEnv, at RocksDB's FileSystem layer).
//
// While failing, every write to a file opened for writing (append, positioned append, flush,
// sync, range sync) returns IOStatus::NoSpace, as on a full disk; creating, reading, renaming
// and deleting files pass through (on a full disk creating an empty file still works, and
// RocksDB treats a failed creation of its next log as fatal, which no full disk causes). The fault
// is on while set_failing(true) says so, or, when a trigger path is given, while that path exists
// (so a test can switch the daemon's disk off and on from outside, `--fault-file`). It is off by
// default and never installed unless asked for.
//
// Thread-safe: RocksDB calls it from many threads; the switch and counter are atomics.
#pragma once

#include <rocksdb/file_system.h>

#include <atomic>
#include <memory>
#include <string>

namespace handoff {

class FaultInjectionFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  // `trigger_path` empty: only set_failing switches faults on.
  explicit FaultInjectionFileSystem(std::string trigger_path = "");

  const char* Name() const override { return "HandoffFaultInjectionFileSystem"; }

  void set_failing(bool failing) { failing_.store(failing, std::memory_order_relaxed); }
  // True while writes fail (the switch, or the trigger path exists).
  bool failing() const;
  // Syncs (Sync and Fsync) of write-ahead-log files (*.log) so far, failed ones included.
  int wal_syncs() const { return wal_syncs_.load(std::memory_order_relaxed); }

  // 0 bytes while failing, as a full disk reports: RocksDB's own recovery from a full disk then
  // waits for space instead of retrying into the fault (a retry that fails is fatal in 7.8).
  rocksdb::IOStatus GetFreeSpace(const std::string& path, const rocksdb::IOOptions& options,
                                 uint64_t* diskfree, rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;

 private:
  class File;
  friend class File;

  // The error every failed write returns.
  rocksdb::IOStatus Fault() const;
  rocksdb::IOStatus Wrap(const std::string& name, rocksdb::IOStatus opened,
                         std::unique_ptr<rocksdb::FSWritableFile>* result);

  const std::string trigger_path_;
  std::atomic<bool> failing_{false};
  std::atomic<int> wal_syncs_{0};
};

}  // namespace handoff
