#pragma once

// Zero-filled blocks for the large open-addressing tables (base/keyed_table.h, storage's
// DedupeIndex) whose pages should be touched by the inserts that use them, not all at once when
// the table grows.
//
// Why not calloc: whether calloc writes the block depends on the malloc the process links.
// glibc's knows a block it just mapped is zero and leaves it untouched; tcmalloc's (which
// handoffd links, docs/architecture.md) writes every byte, so a 64 MiB slot array would fault in
// all its pages inside one insert (~10 us a page in a VM). A block of kMapAtLeast bytes or more is
// therefore mapped straight from the kernel: anonymous pages read as zero until first written.
//
// Thread safety: free functions, callable from any thread. Errors: none returned; both abort when
// the kernel refuses (as operator new would: no exceptions on the engine's path).

#include <cstddef>

namespace handoff {

// From this size on, a block is its own anonymous mapping; below it, calloc.
inline constexpr size_t kMapAtLeast = size_t{256} << 10;

// When a mapped block's pages are faulted in.
enum class ZeroedPages {
  // By the writes that use them, one fault a page, spread over the inserts (the engine's path:
  // no insert pays for the whole block).
  kOnUse,
  // All of them now, by the kernel in one call (MAP_POPULATE): for a table about to be filled
  // at once, as at a start's restore. A fault taken one page at a time cost ~9 us in this VM,
  // ~17 us when the page was read before it was written (the shared zero page, then a copy); 512
  // MiB populated took 73 ms where touching it page by page took 1.1 s (2.5 s read first).
  kNow,
};

// A block of `bytes` zero bytes (null for 0 bytes).
void* AllocateZeroed(size_t bytes, ZeroedPages pages = ZeroedPages::kOnUse);

// The step the tables pass to PopulateSome: 16 pages an insert, so a 16 MiB array is in after 256
// inserts and 256 MiB (10M dedupe ids) after 4,096. A MiB a step cost ~0.15 ms when measured
// first, but up to 4-6 ms in one insert on a busier day of this VM (a traced 6 ms loop pass).
inline constexpr size_t kPopulateStep = size_t{64} << 10;

// For a block from AllocateZeroed(bytes, kOnUse) that a table fills at random (a page per fault,
// each taken twice when a lookup reads the page before an insert writes it): faults in the next
// `step` bytes from `*populated` on in one call, and advances `*populated` (to `bytes` at most).
// Called a step an insert, the whole block is in after bytes/step inserts, at a bounded cost
// each (1 MiB: ~0.15 ms here) instead of ~17 us a page across the inserts that hit it first. A
// block below kMapAtLeast (calloc's) counts as in at once. Best effort: a kernel without
// MADV_POPULATE_WRITE (before 5.14) leaves the pages to their first use.
void PopulateSome(void* block, size_t bytes, size_t step, size_t* populated);

// Whether mapped blocks ask the kernel for transparent huge pages (MADV_HUGEPAGE): one fault of
// 2 MiB where 512 faults of a page each cost ~9 us in this VM, and fewer TLB misses for the
// tables' random lookups. A kernel whose transparent_hugepage setting is "never" ignores it.
// Process-wide, off until set: handoffd sets it from its `huge_pages` setting at start, before
// any table grows; blocks mapped before a change keep what they had.
void SetHugePages(bool on);
bool HugePages();

// Returns a block from AllocateZeroed; `bytes` must be what it was allocated with. Null is
// ignored.
void FreeZeroed(void* block, size_t bytes);

}  // namespace handoff
