#include "daemon/heap_source.h"

#ifdef HANDOFF_TCMALLOC
#include <gperftools/malloc_extension.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#endif

namespace handoff {

#ifdef HANDOFF_TCMALLOC
namespace {

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older headers lack it, older kernels refuse it
#endif

constexpr size_t kHugePage = size_t{2} << 20;

// tcmalloc's own source (sbrk, else mmap) underneath. With huge pages, asked for whole huge
// pages on huge-page boundaries: the kernel backs a huge page only where 2 MiB of one mapping
// are aligned.
class HeapSourceAllocator : public SysAllocator {
 public:
  HeapSourceAllocator(SysAllocator* system, HeapSource source) : system_(system), source_(source) {}

  void* Alloc(size_t size, size_t* actual_size, size_t alignment) override {
    void* block = nullptr;
    if (source_.huge_pages) {
      const size_t rounded = (size + kHugePage - 1) & ~(kHugePage - 1);
      block = system_->Alloc(rounded, actual_size, std::max(alignment, kHugePage));
      if (block != nullptr) {
        (void)madvise(block, *actual_size, MADV_HUGEPAGE);  // advice: ignored under "never"
      }
    } else {
      block = system_->Alloc(size, actual_size, alignment);
    }
    if (block != nullptr && source_.populate) {
      // Best effort: refused by a kernel before 5.14, and then pages come on first use.
      (void)madvise(block, *actual_size, MADV_POPULATE_WRITE);
    }
    return block;
  }

 private:
  SysAllocator* system_;
  HeapSource source_;
};

}  // namespace

bool InstallHeapSource(const HeapSource& source) {
  if (!source.populate && !source.huge_pages) {
    return false;
  }
  MallocExtension* extension = MallocExtension::instance();
  SysAllocator* system = extension->GetSystemAllocator();
  if (system == nullptr) {
    return false;
  }
  static HeapSourceAllocator installed(system, source);  // lives as long as the heap
  extension->SetSystemAllocator(&installed);
  return true;
}

#else

bool InstallHeapSource(const HeapSource& /*source*/) { return false; }

#endif

}  // namespace handoff
