#include "base/zeroed_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>

namespace handoff {
namespace {

std::atomic<bool> huge_pages{false};

}  // namespace

void SetHugePages(bool on) { huge_pages.store(on, std::memory_order_relaxed); }

bool HugePages() { return huge_pages.load(std::memory_order_relaxed); }

void* AllocateZeroed(size_t bytes, ZeroedPages pages) {
  if (bytes == 0) {
    return nullptr;
  }
  if (bytes < kMapAtLeast) {
    void* block = std::calloc(1, bytes);
    if (block == nullptr) {
      std::abort();
    }
    return block;
  }
  const bool huge = HugePages();
  // A mapping is marked for huge pages after mmap returns it, so MAP_POPULATE would fault it in
  // with small ones: populated in a second call instead.
  const int populate = pages == ZeroedPages::kNow && !huge ? MAP_POPULATE : 0;
  void* block =
      mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | populate, -1, 0);
  if (block == MAP_FAILED) {
    std::abort();
  }
  if (huge) {
    // Best effort, both: without them the pages come small, or on first use.
    (void)madvise(block, bytes, MADV_HUGEPAGE);
    if (pages == ZeroedPages::kNow) {
      (void)madvise(block, bytes, MADV_POPULATE_WRITE);
    }
  }
  return block;
}

void PopulateSome(void* block, size_t bytes, size_t step, size_t* populated) {
  if (*populated >= bytes) {
    return;
  }
  if (bytes < kMapAtLeast || block == nullptr) {
    *populated = bytes;
    return;
  }
  const size_t length = std::min(step, bytes - *populated);
  (void)madvise(static_cast<char*>(block) + *populated, length, MADV_POPULATE_WRITE);
  *populated += length;
}

void FreeZeroed(void* block, size_t bytes) {
  if (block == nullptr) {
    return;
  }
  if (bytes < kMapAtLeast) {
    std::free(block);
    return;
  }
  if (munmap(block, bytes) != 0) {
    std::abort();  // only a wrong size or address gets here: a bug, not a condition
  }
}

}  // namespace handoff
