#include "tests/testutil.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

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

}  // namespace handoff::testing
