// SHA-256 digests (OpenSSL libcrypto), for the version fingerprint of loaded rule files.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace handoff {

// Incremental SHA-256. Not thread-safe; one digest per object.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view data);
  // The lowercase hex digest of everything passed to Update. Call once.
  std::string HexDigest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

}  // namespace handoff
