// RulesManager: compiles rule files off the engine thread (SPEC 6 reloads).
//
// Loading a rule file parses YAML and compiles every expression and RE2 pattern: milliseconds for
// a large file, far too long to hold the engine thread, which would stall ingest meanwhile. So
// reloads (an API call, SIGHUP, a file change seen by the watch) run on the manager's own thread;
// only a rule set that compiled is handed to the engine, through `install`, which swaps it in as
// one engine task (so each event is still scored wholly by one version).
//
// Thread safety: RequestReload may be called from any thread. Start and Stop from one thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "rules/rule_loader.h"
#include "rules/rule_set.h"

namespace handoff {

struct ReloadOutcome {
  bool ok = false;
  uint64_t version = 0;           // the version in force after the attempt
  std::vector<LoadError> errors;  // when !ok
  // Leads moved at the swap because their stage is not in the new rules (each goes through the
  // stage machine from the first stage then); the rest are re-evaluated only if asked.
  uint64_t leads_moved = 0;
  // When !ok without errors: what else stopped it (e.g. the rule file could not be written).
  std::string failure;
};
using ReloadDone = std::function<void(const ReloadOutcome&)>;

class RulesManager {
 public:
  // Hands a compiled rule set to the engine. It must install `rules` (on the engine thread) and
  // then call `done` with the outcome (the new version). Called on the manager's thread.
  using Install = std::function<void(std::shared_ptr<const RuleSet> rules, ReloadDone done)>;
  // Reports a rejected file (on the manager's thread); returns the version still in force.
  using Reject = std::function<uint64_t(const std::vector<LoadError>& errors)>;

  // `path`: the rule file or directory. `watch`: reload when its files change (polled twice a
  // second).
  // `empty_file_grace`: how long the watch waits for a rule file it finds empty to be written
  // (a rewrite in place truncates first) before it loads it empty.
  RulesManager(std::string path, bool watch, Install install, Reject reject,
               std::chrono::milliseconds empty_file_grace = std::chrono::seconds(2));
  ~RulesManager();
  RulesManager(const RulesManager&) = delete;
  RulesManager& operator=(const RulesManager&) = delete;

  // Notes the files as they are now (the rules in force were loaded from them) and starts the
  // thread.
  void Start();
  // Finishes the job under way (queued reloads and validations are dropped, their `done` never
  // called) and joins.
  // Idempotent.
  void Stop();

  // Compiles the files on the manager's thread; `done` (may be empty) runs with the outcome: on
  // the engine thread after a successful install, on the manager's thread after a rejection.
  void RequestReload(ReloadDone done);

  // Compiles `yaml` (a candidate rule file, nothing loaded) on the manager's thread and calls
  // `done` there with the result, so a large candidate never holds a network thread.
  void Validate(std::string yaml, std::function<void(const LoadResult&)> done);

  // Replaces the rule file with `yaml` and reloads it, on the manager's thread (`handoff backtest
  // --apply`): `yaml` is compiled first; a file with errors changes nothing (done gets them). The
  // file is written whole (a temporary file renamed over it), so the watch never sees half of
  // it. Only when the rules path is one file: a directory gets a `failure`.
  void Replace(std::string yaml, ReloadDone done);

  // A fingerprint of the rule files: each one's name, what stat says of it (inode, size, times)
  // and a hash of its bytes, so a change that keeps the size and times still shows. With
  // `has_empty`, whether one of the files is empty (0 bytes).
  static std::string Signature(const std::string& path, bool* has_empty = nullptr);

 private:
  void Run();
  void WatchPoll();  // reloads when the files changed (manager thread)
  void Reload(ReloadDone done);

  const std::string path_;
  const bool watch_;
  const Install install_;
  const Reject reject_;
  const std::chrono::milliseconds empty_file_grace_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ReloadDone> requests_;
  std::vector<std::function<void()>> jobs_;  // validations
  bool stopping_ = false;
  std::thread thread_;
  std::string signature_;  // manager thread (and Start, before the thread runs)
  // The watch: when a change first showed a rule file empty (truncated by `>` before the write:
  // loading it would drop every stage for a moment), or none. Manager thread.
  std::optional<std::chrono::steady_clock::time_point> empty_since_;
};

}  // namespace handoff
