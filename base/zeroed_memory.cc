#include "base/zeroed_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>

namespace handoff {

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
  const int populate = pages == ZeroedPages::kNow ? MAP_POPULATE : 0;
  void* block =
      mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | populate, -1, 0);
  if (block == MAP_FAILED) {
    std::abort();
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
