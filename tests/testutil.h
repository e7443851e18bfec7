// Shared test helpers: status assertions, temp directories, paths to the source tree.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "handoff/status.h"

#define ASSERT_OK(expr)                                       \
  do {                                                        \
    const ::handoff::Status _st = (expr);                     \
    ASSERT_TRUE(_st.ok()) << #expr << ": " << _st.ToString(); \
  } while (0)
#define EXPECT_OK(expr)                                       \
  do {                                                        \
    const ::handoff::Status _st = (expr);                     \
    EXPECT_TRUE(_st.ok()) << #expr << ": " << _st.ToString(); \
  } while (0)

namespace handoff {
struct RuleSet;
}  // namespace handoff

namespace handoff::testing {

// A fresh directory under $TMPDIR, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes `contents` to path()/name and returns the full path.
  std::string WriteFile(const std::string& name, const std::string& contents) const;

 private:
  std::string path_;
};

// The repository root (HANDOFF_SOURCE_DIR, set by CTest) and the build directory.
std::string SourceDir();
std::string BinaryDir();

// Whether every one of the `bytes` bytes at `p` is zero (the zeroed-memory tests).
bool AllZero(const void* p, size_t bytes);
// Pages of [p, p + bytes) resident in memory now (mincore), without touching them; `p` need not
// be page-aligned (the pages holding any of the bytes count). A test failure, and 0, when
// mincore fails.
size_t ResidentPages(const void* p, size_t bytes);
// Whether this kernel has MADV_POPULATE_WRITE (Linux 5.14 on).
bool KernelPopulatesWrites();

// Loads a rule file of one score, `score` (YAML: "e: {kind: event}"), and a rule per condition
// in `whens` (ids r0, r1, ..., one point each, in order). A test failure, and null, when it does
// not load. The conditions go in single quotes: none may hold one.
std::shared_ptr<const RuleSet> RulesOfConditions(const std::string& score,
                                                 const std::vector<std::string>& whens);

}  // namespace handoff::testing
