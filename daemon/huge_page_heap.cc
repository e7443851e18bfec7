#include "daemon/huge_page_heap.h"

#ifdef HANDOFF_TCMALLOC
#include <gperftools/malloc_extension.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#endif

namespace handoff {

#ifdef HANDOFF_TCMALLOC
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

// tcmalloc's own source (sbrk, else mmap), asked for whole huge pages on huge-page boundaries:
// the kernel backs a huge page only where 2 MiB of one mapping are aligned.
class HugePageSysAllocator : public SysAllocator {
 public:
  explicit HugePageSysAllocator(SysAllocator* system) : system_(system) {}

  void* Alloc(size_t size, size_t* actual_size, size_t alignment) override {
    const size_t rounded = (size + kHugePage - 1) & ~(kHugePage - 1);
    void* block = system_->Alloc(rounded, actual_size, std::max(alignment, kHugePage));
    if (block != nullptr) {
      (void)madvise(block, *actual_size, MADV_HUGEPAGE);  // advice: ignored under "never"
    }
    return block;
  }

 private:
  SysAllocator* system_;
};

}  // namespace

bool BackHeapWithHugePages() {
  MallocExtension* extension = MallocExtension::instance();
  SysAllocator* system = extension->GetSystemAllocator();
  if (system == nullptr) {
    return false;
  }
  static HugePageSysAllocator huge(system);  // lives as long as the heap
  extension->SetSystemAllocator(&huge);
  return true;
}

#else

bool BackHeapWithHugePages() { return false; }

#endif

}  // namespace handoff
