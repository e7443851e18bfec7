#include "base/bucket_arena.h"

#include <unistd.h>

#include <cstring>

#include "base/zeroed_memory.h"

namespace handoff {
namespace {

// The header in front of each block: its mapped size, on a cache line of its own so the array
// behind it stays 64-byte aligned.
constexpr size_t kHeader = 64;

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

size_t MappedSize(const char* block) {
  size_t mapped = 0;
  std::memcpy(&mapped, block, sizeof(mapped));
  return mapped;
}

char* NewBlock(size_t bytes) {
  const size_t mapped = bytes + kHeader;
  auto* block = static_cast<char*>(AllocateZeroed(mapped, ZeroedPages::kOnUse));
  std::memcpy(block, &mapped, sizeof(mapped));
  return block;
}

}  // namespace

BucketArena::~BucketArena() {
  if (block_ != nullptr) {
    FreeZeroed(block_, MappedSize(block_));
  }
}

void* BucketArena::Allocate(size_t bytes) {
  char* block = nullptr;
  if (block_ != nullptr && MappedSize(block_) >= bytes + kHeader) {
    if (touched_ >= MappedSize(block_)) {
      ++prepared_hits_;
    }
    block = block_;
    block_ = nullptr;
    touched_ = 0;
  } else {
    block = NewBlock(bytes);
  }
  return block + kHeader;
}

void BucketArena::Prepare(size_t bytes) {
  if (block_ != nullptr && MappedSize(block_) < bytes + kHeader) {
    FreeZeroed(block_, MappedSize(block_));
    block_ = nullptr;
  }
  if (block_ == nullptr) {
    block_ = NewBlock(bytes);
    touched_ = PageSize();  // the header's write brought the first page in
    return;
  }
  const size_t mapped = MappedSize(block_);
  if (touched_ >= mapped) {
    return;
  }
  // A write, not MADV_POPULATE_WRITE: in this VM a populated page still faults on its first
  // write from the process (see the head comment). The block is zero; so is what is written.
  reinterpret_cast<volatile char*>(block_)[touched_] = 0;
  touched_ += PageSize();
}

void FreeBucketBlock(void* block) {
  if (block == nullptr) {
    return;
  }
  char* start = static_cast<char*>(block) - kHeader;
  FreeZeroed(start, MappedSize(start));
}

}  // namespace handoff
