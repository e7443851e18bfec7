# Reads ThreadSanitizer report files (log_path output) and prints the reports that are ours:
# every report except a data race in which each access was made by RocksDB itself.
#
# Why: Debian's librocksdb is not built with TSan. Its own loads and stores are invisible, and so
# is its synchronisation (the memtable skip list publishes entries with atomics, versions and
# cached blocks are reference counted), but TSan does see the libc and allocator calls it makes
# (memcpy, memcmp, new, delete) and pairs them up without those edges: a memcmp in a reader's
# Seek against MemTable::Add's memcpy, a delete in Version::Unref against such a memcmp. A
# suppression cannot say "both sides are RocksDB's": race:<anything of RocksDB> would also hide a
# race between MemTable::Add and *our* copy of a value read from the memtable too early (the outbox
# reader had exactly that bug), and called_from_lib:librocksdb.so also hides RocksDB's mutex calls,
# which then turns into false reports everywhere.
#
# An access is RocksDB's when the first frame of its stack below the sanitizer's interceptor
# (skipping instantiated std:: templates, which run on behalf of their caller) is in librocksdb.
# TSan's stacks come from the instrumented code's own call records, so a RocksDB frame appears only
# as the direct caller of an interceptor; a callback of ours that RocksDB calls (compaction
# filter, file system) shows our frames and stays ours. A report that is not a data race is kept.
#
# TSan sometimes cannot restore the stack of the earlier access (its per-thread history is
# bounded, and a memtable entry may be read long after it was written). When the other access is
# RocksDB's, such a report is dropped too, and counted apart: in every one seen so far the lost
# access was to RocksDB's own memory (a memtable arena block, an index block RocksDB was
# freeing), which our code never writes and reads only through RocksDB's API. A report with no
# access of RocksDB's is always kept.
#
# One more shape is dropped, and counted apart: RocksDB freeing a block of its own (delete or
# free called from librocksdb: a memtable's arena after its flush, an evicted cache block) against
# a plain read by our code. Our code reads RocksDB's memory only through slices it lends while an
# iterator or a pinned value is held; the hold ends in a reference count (an atomic inside the
# library), so TSan never sees the read happen before the free, and pairs every such read with the
# free, however late it comes. A read of ours *after* the hold ends is a use-after-free: TSan
# reports that as heap-use-after-free (not a data race, so kept) when the free came first, and the
# ASan stage fails on it. A write of ours to memory RocksDB frees is always kept.
#
# Usage: awk -f tools/tsan_filter.awk FILE...   (prints kept reports; on the last line of stderr,
# "tsan_filter: K kept, D RocksDB-only (L of them with the other stack lost, F a free against
# our read)")
# Tested by tests/tools/tsan_filter_test.sh on the reports in tests/tools/tsan_reports/.
# An access whose stack had no frame that decides (only std:: templates) counts as ours, and not
# as a plain read.
function close_access() {
  if (access_open && !decided) ours = 1
  access_open = 0
}
function decide_ours() {
  decided = 1
  if (access_read) ours_reads = 1
  else ours = 1
}
function flush_report() {
  if (in_report) {
    close_access()
    freed_read = rocksdb_free && ours_reads && !ours
    if (!is_race || ours || (ours_reads && !rocksdb_free) || (lost && !rocksdb)) {
      printf "%s", buf
      kept++
    } else {
      dropped++
      if (lost) dropped_lost++
      if (freed_read) dropped_freed++
    }
  }
  in_report = 0
  buf = ""
}
/^==================$/ {
  if (in_report && seen_summary) {
    buf = buf $0 "\n"
    flush_report()
    next
  }
  next
}
/^WARNING: ThreadSanitizer:/ {
  flush_report()
  in_report = 1
  seen_summary = 0
  is_race = ($0 ~ /: data race/)
  ours = 0         # an access of ours that is not a plain read
  ours_reads = 0   # a plain (non-atomic) read of ours
  rocksdb_free = 0 # RocksDB freeing memory (delete or free called from librocksdb)
  lost = 0
  rocksdb = 0
  access_open = 0
  decided = 0
  buf = "==================\n" $0 "\n"
  next
}
!in_report { next }
{ buf = buf $0 "\n" }
/^SUMMARY: ThreadSanitizer/ { seen_summary = 1; next }
/^  (Previous )?([Rr]ead|[Ww]rite|[Aa]tomic)/ {
  close_access()
  access_open = 1
  access_read = ($0 ~ /^  (Previous read|Read) of size/)
  access_free = 0
  decided = 0
  next
}
/^$/ || /^  [A-Z]/ {
  close_access()
  next
}
access_open && !decided && /\[failed to restore the stack\]/ {
  lost = 1
  decided = 1
  next
}
access_open && !decided && /^    #[0-9]+ / {
  line = $0
  sub(/ \(BuildId: [0-9a-f]+\)$/, "", line)  # clang's runtime names each module's build
  module = ""
  if (match(line, /\([^()]*\+0x[0-9a-f]+\)$/)) {
    module = substr(line, RSTART + 1, RLENGTH - 2)
  }
  # The sanitizer's own frames: GCC's runtime is libtsan.so; clang's is linked into the executable
  # and has no line tables (every frame of ours has them: the builds keep -g1).
  if (module ~ /^libtsan/ || (module != "" && module !~ /\.so/ && line ~ / <null> \(/)) {
    if (line ~ /^    #0 (operator delete|free )/) access_free = 1
    next
  }
  if (module ~ /^librocksdb\.so/) {
    decided = 1  # RocksDB's (also a std:: template instantiated inside librocksdb)
    rocksdb = 1
    if (access_free) rocksdb_free = 1
    next
  }
  fn = line
  sub(/^    #[0-9]+ /, "", fn)
  if (fn ~ /^([A-Za-z_:0-9]+[*&]? )?(std::|__gnu_cxx::)/) next
  # clang names an inlined frame without its namespace; the standard library's file tells.
  if (fn ~ /\/include\/c\+\+\/[0-9]+\/[^ ]*:[0-9]+(:[0-9]+)? \(/) next
  decide_ours()
  next
}
END {
  flush_report()
  printf "tsan_filter: %d kept, %d RocksDB-only (%d of them with the other stack lost, %d a free " \
         "against our read)\n", kept, dropped, dropped_lost, dropped_freed > "/dev/stderr"
}
