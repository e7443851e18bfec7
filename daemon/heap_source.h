#pragma once

// Where handoffd's heap gets its memory from the system: tcmalloc asks a SysAllocator for large
// blocks as the heap grows, and this one can (1) fault each block in as it is taken
// (`populate`), and (2) take blocks 2 MiB-aligned and marked MADV_HUGEPAGE (`huge_pages`).
//
// Why populate: in the benchmark's VM a page's first write costs ~9 us when faulted alone, ~4.4
// us when the kernel faults a range in one MADV_POPULATE_WRITE call. A fresh daemon took ~150k
// such faults per million events (RocksDB's memtables, the lead journal, new leads), spread over
// the engine and commit threads and inside single events; populated at growth, the 1M-event send
// ran ~10 % faster and the event-to-routed p99 at 50k events/s fell from ~8 to ~5 ms
// (bench/README.md). The cost: memory tcmalloc reserved but had not written yet is resident
// (~15 MB more after the send).
//
// Built into handoffd only (it needs tcmalloc's MallocExtension, which the tests and tools do not
// link; tests/daemon/heap_source_test.cc links it on its own). Thread safety: call once, at start,
// before the threads. Errors: none; a kernel without MADV_POPULATE_WRITE (before 5.14) leaves
// pages to their first use, and one whose transparent_hugepage setting is "never" ignores the
// huge-page advice.

namespace handoff {

struct HeapSource {
  bool populate = false;    // fault each block in when tcmalloc takes it
  bool huge_pages = false;  // 2 MiB-aligned blocks marked MADV_HUGEPAGE
};

// Installs `source` under tcmalloc's allocator. Returns false when there is nothing to install
// (both off) or handoffd was built without tcmalloc (HANDOFF_TCMALLOC off, or a sanitizer build).
bool InstallHeapSource(const HeapSource& source);

}  // namespace handoff
