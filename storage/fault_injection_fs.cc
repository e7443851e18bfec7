#include "storage/fault_injection_fs.h"

#include <sys/stat.h>

#include <utility>

namespace handoff {

// A writable file whose writes go through the file system's switch.
class FaultInjectionFileSystem::File final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  File(std::unique_ptr<rocksdb::FSWritableFile> file, FaultInjectionFileSystem* fs, bool wal)
      : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs), wal_(wal) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    return fs_->failing() ? fs_->Fault() : FSWritableFileOwnerWrapper::Append(data, options, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    return fs_->failing() ? fs_->Fault()
                          : FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg) override {
    return fs_->failing()
               ? fs_->Fault()
               : FSWritableFileOwnerWrapper::PositionedAppend(data, offset, options, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     const rocksdb::DataVerificationInfo& info,
                                     rocksdb::IODebugContext* dbg) override {
    return fs_->failing()
               ? fs_->Fault()
               : FSWritableFileOwnerWrapper::PositionedAppend(data, offset, options, info, dbg);
  }
  rocksdb::IOStatus Flush(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    return fs_->failing() ? fs_->Fault() : FSWritableFileOwnerWrapper::Flush(options, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    CountSync();
    return fs_->failing() ? fs_->Fault() : FSWritableFileOwnerWrapper::Sync(options, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    CountSync();
    return fs_->failing() ? fs_->Fault() : FSWritableFileOwnerWrapper::Fsync(options, dbg);
  }
  rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override {
    return fs_->failing() ? fs_->Fault()
                          : FSWritableFileOwnerWrapper::RangeSync(offset, nbytes, options, dbg);
  }

 private:
  void CountSync() {
    if (wal_) {
      fs_->wal_syncs_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  FaultInjectionFileSystem* const fs_;
  const bool wal_;
};

FaultInjectionFileSystem::FaultInjectionFileSystem(std::string trigger_path)
    : FileSystemWrapper(rocksdb::FileSystem::Default()), trigger_path_(std::move(trigger_path)) {}

bool FaultInjectionFileSystem::failing() const {
  if (failing_.load(std::memory_order_relaxed)) {
    return true;
  }
  struct stat st;
  return !trigger_path_.empty() && ::stat(trigger_path_.c_str(), &st) == 0;
}

rocksdb::IOStatus FaultInjectionFileSystem::Fault() const {
  return rocksdb::IOStatus::NoSpace("injected write fault");
}

rocksdb::IOStatus FaultInjectionFileSystem::Wrap(const std::string& name, rocksdb::IOStatus opened,
                                                 std::unique_ptr<rocksdb::FSWritableFile>* result) {
  if (opened.ok()) {
    *result = std::make_unique<File>(std::move(*result), this, name.ends_with(".log"));
  }
  return opened;
}

rocksdb::IOStatus FaultInjectionFileSystem::GetFreeSpace(const std::string& path,
                                                         const rocksdb::IOOptions& options,
                                                         uint64_t* diskfree,
                                                         rocksdb::IODebugContext* dbg) {
  if (failing()) {
    *diskfree = 0;
    return rocksdb::IOStatus::OK();
  }
  return target()->GetFreeSpace(path, options, diskfree, dbg);
}

rocksdb::IOStatus FaultInjectionFileSystem::NewWritableFile(
    const std::string& name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  return Wrap(name, target()->NewWritableFile(name, options, result, dbg), result);
}

rocksdb::IOStatus FaultInjectionFileSystem::ReopenWritableFile(
    const std::string& name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  return Wrap(name, target()->ReopenWritableFile(name, options, result, dbg), result);
}

rocksdb::IOStatus FaultInjectionFileSystem::ReuseWritableFile(
    const std::string& name, const std::string& old_name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  return Wrap(name, target()->ReuseWritableFile(name, old_name, options, result, dbg), result);
}

}  // namespace handoff
