// BacktestJobs: backtests run as jobs on one thread of their own, on CPU time nothing else wants
// (SCHED_IDLE), so a backtest does not slow ingest (SPEC 13: POST /v1/rules/backtest, GET
// /v1/rules/backtest/{id}).
//
// Jobs run one at a time, first in first out; each has an id, a state and a progress 0..1 readable
// at any time, and, once done, its answer (the report's JSON). The newest `kept` finished jobs
// are kept; older ones are forgotten (their id then reads as unknown). A caller may wait for a
// job a bounded time (Await): it is called back when the job ends or when the time is up,
// whichever comes first, so an HTTP answer can be the result when the job is quick and a `202`
// with the job's id when it is not.
//
// Thread safety: every method may be called from any thread. Callbacks run on the jobs' thread,
// or on the caller's when the answer is already known; they must not block.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backtest/backtest.h"
#include "storage/store.h"

namespace handoff {

struct BacktestJobsOptions {
  // Finished jobs kept for GET; older ones are forgotten. Default 16.
  size_t kept = 16;
  // Jobs waiting to run at most; past it Start refuses. Default 4.
  size_t max_queued = 4;
  // The jobs' thread runs under SCHED_IDLE: only on CPU time no other thread wants. Default on.
  bool idle_priority = true;
  // ... and at this nice value (19: the lowest priority). Default 19.
  int nice = 19;
  // The first job's id; the next ones count up from it. The daemon starts at its start time in
  // microseconds, so that an id handed out before a restart names no job of the new run (a
  // client polling it gets 404, not another job's report) while the wall clock moves forward
  // between runs. Default 1.
  uint64_t first_id = 1;
};

class BacktestJobs {
 public:
  enum class State { kQueued, kRunning, kDone, kFailed };

  struct View {
    uint64_t id = 0;
    State state = State::kQueued;
    double progress = 0;
    std::string result_json;  // kDone: the report's JSON
    std::string error;        // kFailed: why
    double elapsed_ms = 0;    // kDone / kFailed: how long it ran
  };

  explicit BacktestJobs(BacktestJobsOptions options = {});
  // Cancels what runs, drops what waits (their waiters are called with kFailed) and joins.
  ~BacktestJobs();
  BacktestJobs(const BacktestJobs&) = delete;
  BacktestJobs& operator=(const BacktestJobs&) = delete;

  // Queues a backtest of `snapshot` (owned from here on). Unavailable when max_queued jobs wait.
  Status Start(std::unique_ptr<StoreSnapshot> snapshot, BacktestRequest request, uint64_t* id);

  // The job, or nothing when the id is unknown or forgotten.
  std::optional<View> Get(uint64_t id) const;

  // Calls fn once with the job's view: when it ends, or after `seconds` (then as it is), or at
  // once when it has already ended, `seconds` is 0 or the id is unknown (nothing: fn(nullopt)).
  void Await(uint64_t id, double seconds, std::function<void(std::optional<View>)> fn);

  // Cancels the job: a queued one never runs, a running one stops at its next progress check
  // (within a block of history or 4,096 leads); either ends as kFailed "cancelled". NotFound when
  // the id is unknown; OK (nothing to do) when it has already ended.
  Status Cancel(uint64_t id);

  static const char* StateName(State state);

 private:
  struct Job {
    uint64_t id = 0;
    std::unique_ptr<StoreSnapshot> snapshot;
    BacktestRequest request;
    State state = State::kQueued;
    std::atomic<double> progress{0};
    std::atomic<bool> cancel{false};
    std::string result_json;
    std::string error;
    double elapsed_ms = 0;
  };
  struct Waiter {
    uint64_t id;
    std::chrono::steady_clock::time_point deadline;
    std::function<void(std::optional<View>)> fn;
  };

  void Run();
  View ViewOf(const Job& job) const;  // under mu_
  // Calls the waiters of job `id` (all of them when `ended`, else those past their deadline).
  void Notify(uint64_t id, bool ended);
  // Calls every waiter past its deadline. Cheap when none is.
  void NotifyExpired();

  const BacktestJobsOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, std::unique_ptr<Job>> jobs_;
  std::deque<uint64_t> queue_;
  std::vector<Waiter> waiters_;
  std::atomic<int64_t> next_deadline_ns_{INT64_MAX};  // earliest waiter deadline, steady clock
  uint64_t next_id_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace handoff
