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
# Usage: awk -f tools/tsan_filter.awk FILE...   (prints kept reports; on the last line of stderr,
# "tsan_filter: K kept, D RocksDB-only (L of them with the other stack lost)")
function flush_report() {
  if (in_report) {
    if (access_open && !decided) ours = 1
    if (!is_race || ours || (lost && !rocksdb)) {
      printf "%s", buf
      kept++
    } else {
      dropped++
      if (lost) dropped_lost++
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
  ours = 0
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
  if (access_open && !decided) ours = 1
  access_open = 1
  decided = 0
  next
}
/^$/ || /^  [A-Z]/ {
  if (access_open && !decided) ours = 1
  access_open = 0
  next
}
access_open && !decided && /\[failed to restore the stack\]/ {
  lost = 1
  decided = 1
  next
}
access_open && !decided && /^    #[0-9]+ / {
  line = $0
  module = ""
  if (match(line, /\([^()]*\+0x[0-9a-f]+\)$/)) {
    module = substr(line, RSTART + 1, RLENGTH - 2)
  }
  if (module ~ /^libtsan/) next
  if (module ~ /^librocksdb\.so/) {
    decided = 1  # RocksDB's (also a std:: template instantiated inside librocksdb)
    rocksdb = 1
    next
  }
  fn = line
  sub(/^    #[0-9]+ /, "", fn)
  if (fn ~ /^([A-Za-z_:0-9]+[*&]? )?(std::|__gnu_cxx::)/) next
  decided = 1
  ours = 1
  next
}
END {
  flush_report()
  printf "tsan_filter: %d kept, %d RocksDB-only (%d of them with the other stack lost)\n", kept,
         dropped, dropped_lost > "/dev/stderr"
}
