// Daemon: handoffd wired together: store, engine, listeners, signals (SPEC 1).
//
// Start() opens the store (failing there ends start-up with a clear message), loads the rules and
// state, binds every listener and logs one line per listener when it is ready. Run() serves on
// the calling thread until SIGTERM/SIGINT or Stop(); SIGHUP reloads the rules. Shutdown stops
// accepting, lets the engine finish and commit what it has, and closes RocksDB.
#pragma once

#include <memory>
#include <string>

#include "handoff/clock.h"
#include "handoff/options.h"
#include "handoff/status.h"

namespace handoff {

class Daemon {
 public:
  // `clock` is borrowed; null means the system clock.
  explicit Daemon(Options options, const Clock* clock = nullptr);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  Status Start();
  // Serves until stopped. Installs the signal handlers.
  void Run();
  // Thread-safe; Run() returns soon after.
  void Stop();

  unsigned short ingest_port() const;
  unsigned short subscribe_port() const;
  unsigned short http_port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace handoff
