#pragma once

// BucketArena: the bucket arrays of one IncrementalMap (base/incremental_map.h), each prepared
// before the growth that needs it.
//
// Why: a growth's new bucket array is zeroed by libstdc++ inside one insert, and on memory new to
// the process each first write of a page is a fault (~4-9 us in this VM, whether or not the
// kernel populated the page beforehand: a populated 23 MiB array still took 25 ms to write
// once, 0.35 ms the second time). So while the map fills the second half of its table, each
// insert writes one page of the next array (Prepare), and the growth takes that array (Allocate),
// already in memory: the zeroing is then a plain memset.
//
// Blocks carry their mapped size in a header, so one may be handed out for any request it can
// hold and freed from the request's size alone (FreeBucketBlock), with or without its arena.
//
// Thread safety: none; the owning map's thread.

#include <cstddef>

namespace handoff {

class BucketArena {
 public:
  BucketArena() = default;
  BucketArena(const BucketArena&) = delete;
  BucketArena& operator=(const BucketArena&) = delete;
  ~BucketArena();

  // A zeroed block of at least `bytes`: the prepared one when it holds that many, else a new
  // mapping. Free it with FreeBucketBlock.
  void* Allocate(size_t bytes);

  // Makes sure a block of at least `bytes` is being prepared and writes the next page of it.
  // Called an insert; a no-op once the block is all in memory.
  void Prepare(size_t bytes);

  // Growths that found their array prepared and all in memory (tests, metrics).
  size_t prepared_hits() const { return prepared_hits_; }

 private:
  char* block_ = nullptr;  // the prepared block (header included), or null
  size_t touched_ = 0;     // bytes of it written so far, from its start
  size_t prepared_hits_ = 0;
};

// Frees a block from BucketArena::Allocate. Null is ignored.
void FreeBucketBlock(void* block);

}  // namespace handoff
