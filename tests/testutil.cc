#include "tests/testutil.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "rules/rule_loader.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older headers lack it
#endif

namespace handoff::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base != nullptr ? base : "/tmp") + "/handoff-test-XXXXXX";
  char* made = mkdtemp(templ.data());
  if (made == nullptr) {
    std::abort();
  }
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::WriteFile(const std::string& name, const std::string& contents) const {
  std::string full = path_ + "/" + name;
  std::filesystem::create_directories(std::filesystem::path(full).parent_path());
  std::ofstream out(full, std::ios::binary);
  out << contents;
  return full;
}

std::string SourceDir() {
  const char* dir = std::getenv("HANDOFF_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

std::string BinaryDir() {
  const char* dir = std::getenv("HANDOFF_BINARY_DIR");
  return dir != nullptr ? dir : "build";
}

bool AllZero(const void* p, size_t bytes) {
  const auto* byte = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < bytes; ++i) {
    if (byte[i] != 0) {
      return false;
    }
  }
  return true;
}

size_t ResidentPages(const void* p, size_t bytes) {
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t offset = reinterpret_cast<uintptr_t>(p) & (page - 1);
  char* start = static_cast<char*>(const_cast<void*>(p)) - offset;  // mincore wants a page start
  const size_t length = offset + bytes;
  std::vector<unsigned char> in((length + page - 1) / page);
  if (mincore(start, length, in.data()) != 0) {
    ADD_FAILURE() << "mincore: " << std::strerror(errno);
    return 0;
  }
  size_t resident = 0;
  for (unsigned char c : in) {
    resident += c & 1;
  }
  return resident;
}

bool KernelPopulatesWrites() {
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* probe = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (probe == MAP_FAILED) {
    return false;
  }
  const bool ok = madvise(probe, page, MADV_POPULATE_WRITE) == 0;
  munmap(probe, page);
  return ok;
}

std::shared_ptr<const RuleSet> RulesOfConditions(const std::string& score,
                                                 const std::vector<std::string>& whens) {
  std::string text = "scores:\n  " + score + "\nrules:\n";
  const std::string score_name = score.substr(0, score.find(':'));
  for (size_t i = 0; i < whens.size(); ++i) {
    text += "  - id: r" + std::to_string(i) + "\n    score: " + score_name + "\n    when: '" +
            whens[i] + "'\n    points: 1\n";
  }
  LoadResult loaded = LoadRulesFromString(text, "rules.yaml");
  EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].message);
  return loaded.rules;
}

}  // namespace handoff::testing
