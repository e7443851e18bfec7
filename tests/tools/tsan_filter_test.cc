// tools/tsan_filter.awk, which decides which ThreadSanitizer reports fail the TSan stage of CI
// (tools/dev.sh test --sanitize=thread): run on the reports in tests/tools/tsan_reports/, real
// ones from TSan runs of the daemon with the boost frames cut, and variants of them.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>

#include "tests/testutil.h"

namespace handoff {
namespace {

struct Filtered {
  std::string kept;     // the reports printed (stdout)
  std::string summary;  // the count line (stderr)
};

std::string Capture(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "cannot run " << command;
    return out;
  }
  std::array<char, 4096> chunk;
  size_t n = 0;
  while ((n = fread(chunk.data(), 1, chunk.size(), pipe)) > 0) {
    out.append(chunk.data(), n);
  }
  EXPECT_EQ(pclose(pipe), 0) << command;
  return out;
}

Filtered Filter(const std::string& report) {
  const std::string command = "awk -f '" + testing::SourceDir() + "/tools/tsan_filter.awk' '" +
                              testing::SourceDir() + "/tests/tools/tsan_reports/" + report + "'";
  return {Capture(command + " 2>/dev/null"), Capture(command + " 2>&1 >/dev/null")};
}

// The filter's count line for a file whose reports were all dropped.
std::string DroppedSummary(int dropped, int lost, int freed) {
  return "tsan_filter: 0 kept, " + std::to_string(dropped) + " RocksDB-only (" +
         std::to_string(lost) + " of them with the other stack lost, " + std::to_string(freed) +
         " a free against our read)\n";
}

void ExpectAllDropped(const std::string& report, int dropped, int lost, int freed) {
  const Filtered f = Filter(report);
  EXPECT_EQ(f.kept, "") << report;
  EXPECT_EQ(f.summary, DroppedSummary(dropped, lost, freed)) << report;
}

// One report kept, and it holds `needle`.
void ExpectOneKept(const std::string& report, const std::string& needle) {
  const Filtered f = Filter(report);
  EXPECT_NE(f.kept.find(needle), std::string::npos) << report;
  EXPECT_EQ(f.summary.rfind("tsan_filter: 1 kept, 0 RocksDB-only", 0), 0u) << f.summary;
}

TEST(TsanFilterTest, DropsARaceBetweenTwoRocksDbAccesses) {
  ExpectAllDropped("rocksdb_seek_against_memtable_add.txt", 1, 0, 0);
}

// The report that failed CI at stop 30: an event stream copied an outbox value out of a live
// iterator; the flush thread freed that memtable's arena later, after the iterator's reference was
// dropped (an atomic TSan cannot see in the uninstrumented library).
TEST(TsanFilterTest, DropsRocksDbFreeingItsMemoryAgainstOurReadOfIt) {
  ExpectAllDropped("rocksdb_free_against_our_read.txt", 1, 0, 1);
}

TEST(TsanFilterTest, KeepsRocksDbFreeingMemoryOurCodeWrote) {
  ExpectOneKept("rocksdb_free_against_our_write.txt", "Previous write of size 1");
}

// The shape of the one race of ours TSan found: reading outbox bytes the commit thread was still
// inserting into the memtable.
TEST(TsanFilterTest, KeepsOurReadAgainstRocksDbWritingTheMemtable) {
  ExpectOneKept("our_read_against_memtable_add.txt", "handoff::RocksStore::ReadOutbox");
}

// clang's runtime (the sanitized CI stages build with clang) is linked into the executable: its
// interceptors show as frames of handoffd with no line, each frame names its module's BuildId,
// and inlined standard-library frames lose their std:: prefix.
TEST(TsanFilterTest, DropsARaceBetweenTwoRocksDbAccessesInClangsFormat) {
  ExpectAllDropped("clang_rocksdb_seek_against_memtable_add.txt", 1, 0, 0);
}

TEST(TsanFilterTest, KeepsOurReadAgainstRocksDbWritingTheMemtableInClangsFormat) {
  ExpectOneKept("clang_our_read_against_memtable_add.txt", "handoff::RocksStore::ReadOutbox");
}

TEST(TsanFilterTest, KeepsAnAccessOfOursWhoseOtherStackIsLost) {
  ExpectOneKept("our_free_against_lost_stack.txt", "handoff::JsonParser::~JsonParser");
}

TEST(TsanFilterTest, KeepsEveryReportThatIsNotADataRace) {
  ExpectOneKept("lock_order_inversion_inside_rocksdb.txt", "lock-order-inversion");
}

// A whole report file of one daemon: memtable reads against inserts, arena frees against reads
// inside RocksDB, two with the reader's stack lost, one against our copy of a value.
TEST(TsanFilterTest, CountsEachKindOfDroppedReportInAWholeFile) {
  ExpectAllDropped("daemon_run_six_rocksdb_reports.txt", 6, 2, 1);
}

}  // namespace
}  // namespace handoff
