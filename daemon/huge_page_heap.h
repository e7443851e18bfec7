#pragma once

// handoffd's heap on transparent huge pages: tcmalloc takes its memory from the system in 2 MiB
// blocks, 2 MiB-aligned, marked MADV_HUGEPAGE, so a grown heap faults in 2 MiB at a time instead
// of a page at a time (~9 us a fault in this VM; the commit thread's RocksDB memtables alone took
// ~70k of them per million events, bench/README.md).
//
// Built into handoffd only (it needs tcmalloc's MallocExtension, which the tests and tools do not
// link). Thread safety: call once, at start, before the threads. Errors: none; the kernel may
// ignore the advice ("never"), and then pages come small as before.

namespace handoff {

// Installs the huge-page source under tcmalloc's allocator. Returns false when handoffd was
// built without tcmalloc (HANDOFF_TCMALLOC off, or a sanitizer build): nothing to do then.
bool BackHeapWithHugePages();

}  // namespace handoff
