#include "backtest/backtest_jobs.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "base/log.h"

namespace handoff {
namespace {

int64_t SteadyNanos(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

BacktestJobs::BacktestJobs(BacktestJobsOptions options)
    : options_(options), next_id_(options.first_id) {
  thread_ = std::thread([this] { Run(); });
}

BacktestJobs::~BacktestJobs() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& [id, job] : jobs_) {
      job->cancel.store(true);
    }
  }
  cv_.notify_all();
  thread_.join();
  // Jobs that never ran, and waiters still waiting: answered as failed.
  std::vector<Waiter> waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (uint64_t id : queue_) {
      Job& job = *jobs_[id];
      job.state = State::kFailed;
      job.error = "the daemon is stopping";
    }
    waiters.swap(waiters_);
  }
  for (Waiter& w : waiters) {
    w.fn(Get(w.id));
  }
}

const char* BacktestJobs::StateName(State state) {
  switch (state) {
    case State::kQueued:
      return "queued";
    case State::kRunning:
      return "running";
    case State::kDone:
      return "done";
    case State::kFailed:
      return "failed";
  }
  return "failed";
}

Status BacktestJobs::Start(std::unique_ptr<StoreSnapshot> snapshot, BacktestRequest request,
                           uint64_t* id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= options_.max_queued) {
      return Status::Unavailable("too many backtests waiting (" +
                                 std::to_string(options_.max_queued) + "); try again later");
    }
    auto job = std::make_unique<Job>();
    job->id = next_id_++;
    job->snapshot = std::move(snapshot);
    job->request = std::move(request);
    *id = job->id;
    queue_.push_back(job->id);
    jobs_[job->id] = std::move(job);
  }
  cv_.notify_all();
  return Status::Ok();
}

BacktestJobs::View BacktestJobs::ViewOf(const Job& job) const {
  View v;
  v.id = job.id;
  v.state = job.state;
  v.progress = job.state == State::kDone ? 1.0 : job.progress.load(std::memory_order_relaxed);
  v.result_json = job.result_json;
  v.error = job.error;
  v.elapsed_ms = job.elapsed_ms;
  return v;
}

std::optional<BacktestJobs::View> BacktestJobs::Get(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) {
    return std::nullopt;
  }
  return ViewOf(*it->second);
}

void BacktestJobs::Await(uint64_t id, double seconds, std::function<void(std::optional<View>)> fn) {
  std::optional<View> now;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it != jobs_.end()) {
      now = ViewOf(*it->second);
    }
    const bool ended =
        !now.has_value() || now->state == State::kDone || now->state == State::kFailed;
    if (!ended && seconds > 0) {
      const auto deadline = std::chrono::steady_clock::now() +
                            std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                std::chrono::duration<double>(seconds));
      waiters_.push_back({id, deadline, std::move(fn)});
      const int64_t ns = SteadyNanos(deadline);
      if (ns < next_deadline_ns_.load(std::memory_order_relaxed)) {
        next_deadline_ns_.store(ns, std::memory_order_relaxed);
      }
      return;
    }
  }
  fn(std::move(now));
}

void BacktestJobs::Notify(uint64_t id, bool ended) {
  std::vector<Waiter> due;
  std::optional<View> view;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    int64_t next = INT64_MAX;
    std::vector<Waiter> keep;
    for (Waiter& w : waiters_) {
      if ((ended && w.id == id) || w.deadline <= now) {
        due.push_back(std::move(w));
      } else {
        next = std::min(next, SteadyNanos(w.deadline));
        keep.push_back(std::move(w));
      }
    }
    waiters_.swap(keep);
    next_deadline_ns_.store(next, std::memory_order_relaxed);
  }
  for (Waiter& w : due) {
    w.fn(Get(w.id));
  }
}

void BacktestJobs::NotifyExpired() {
  if (SteadyNanos(std::chrono::steady_clock::now()) >=
      next_deadline_ns_.load(std::memory_order_relaxed)) {
    Notify(0, /*ended=*/false);
  }
}

Status BacktestJobs::Cancel(uint64_t id) {
  bool ended_now = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) {
      return Status::NotFound("no such backtest");
    }
    Job& job = *it->second;
    job.cancel.store(true, std::memory_order_relaxed);
    if (job.state == State::kQueued) {
      queue_.erase(std::find(queue_.begin(), queue_.end(), id));
      job.state = State::kFailed;
      job.error = "cancelled";
      job.snapshot.reset();
      ended_now = true;
    }
  }
  if (ended_now) {
    Notify(id, /*ended=*/true);
  }
  return Status::Ok();
}

void BacktestJobs::Run() {
  // This thread runs only on CPU time nothing else wants: SCHED_IDLE (Linux, per thread), under
  // which the kernel counts a CPU running only such threads as idle, so a waking engine, commit
  // or network thread takes it at once. A nice value alone is not enough: measured, a nice-19
  // thread still took 40-50% of a core from a busy engine (its threads sleep and wake at every
  // group commit, and each wake-up waited behind it). Nice 19 as well, for kernels without it.
  sched_param idle{};
  if (options_.idle_priority && pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle) != 0) {
    LogWarning("backtest: cannot move the thread to SCHED_IDLE");
  }
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), options_.nice) != 0) {
    LogWarning("backtest: cannot lower the thread's priority");
  }
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) {
      return;
    }
    const uint64_t id = queue_.front();
    queue_.pop_front();
    Job* job = jobs_[id].get();
    job->state = State::kRunning;
    lock.unlock();

    const auto started = std::chrono::steady_clock::now();
    BacktestControl control;
    control.cancel = &job->cancel;
    control.progress = [&](double fraction) {
      job->progress.store(fraction, std::memory_order_relaxed);
      NotifyExpired();
    };
    BacktestReport report;
    Status st = RunBacktest(*job->snapshot, job->request, control, &report);
    std::string json;
    if (st.ok()) {
      json = BacktestReportJson(report);
    }
    const double elapsed_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();

    lock.lock();
    job->snapshot.reset();  // lets RocksDB drop what only this snapshot kept
    job->elapsed_ms = elapsed_ms;
    if (st.ok()) {
      job->state = State::kDone;
      job->result_json = std::move(json);
      job->progress.store(1.0, std::memory_order_relaxed);
    } else {
      job->state = State::kFailed;
      job->error = job->cancel.load(std::memory_order_relaxed) ? "cancelled" : st.ToString();
    }
    // Forget the oldest finished jobs past the bound.
    size_t finished = 0;
    for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) {
      if (it->second->state == State::kDone || it->second->state == State::kFailed) {
        ++finished;
      }
    }
    for (auto it = jobs_.begin(); it != jobs_.end() && finished > options_.kept;) {
      if (it->second->state == State::kDone || it->second->state == State::kFailed) {
        it = jobs_.erase(it);
        --finished;
      } else {
        ++it;
      }
    }
    lock.unlock();
    Notify(id, /*ended=*/true);
    lock.lock();
  }
}

}  // namespace handoff
