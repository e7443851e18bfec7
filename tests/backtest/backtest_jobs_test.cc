#include "backtest/backtest_jobs.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <optional>

#include "rules/rule_loader.h"
#include "tests/core/memory_store.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

using handoff::testing::MemoryStore;

BacktestRequest Request() {
  LoadResult rules = LoadRulesFromString("scores:\n  e: {kind: event}\n", "t.yaml");
  EXPECT_TRUE(rules.ok());
  BacktestRequest request;
  request.live = rules.rules;
  request.candidate = rules.rules;
  request.at = 1'800'000'000;
  return request;
}

// Waits for Await's one call.
struct Answer {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<std::optional<BacktestJobs::View>> view;
  void Set(std::optional<BacktestJobs::View> v) {
    std::lock_guard<std::mutex> lock(mu);
    view = std::move(v);
    cv.notify_all();
  }
  std::optional<BacktestJobs::View> Wait() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return view.has_value(); });
    return *view;
  }
};

TEST(BacktestJobsTest, AJobRunsAndItsAnswerIsKept) {
  MemoryStore store;
  BacktestJobs jobs;
  uint64_t id = 0;
  ASSERT_OK(jobs.Start(store.Snapshot(), Request(), &id));
  Answer answer;
  jobs.Await(id, 60, [&](std::optional<BacktestJobs::View> v) { answer.Set(std::move(v)); });
  std::optional<BacktestJobs::View> view = answer.Wait();
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->state, BacktestJobs::State::kDone);
  EXPECT_EQ(view->progress, 1.0);
  EXPECT_NE(view->result_json.find("\"leads\":0"), std::string::npos);
  std::optional<BacktestJobs::View> again = jobs.Get(id);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->result_json, view->result_json);
  EXPECT_FALSE(jobs.Get(id + 100).has_value());
}

TEST(BacktestJobsTest, AwaitWithNoTimeAnswersAtOnce) {
  BacktestJobs jobs;
  Answer unknown;
  jobs.Await(42, 0, [&](std::optional<BacktestJobs::View> v) { unknown.Set(std::move(v)); });
  EXPECT_FALSE(unknown.Wait().has_value());
  MemoryStore store;
  uint64_t id = 0;
  ASSERT_OK(jobs.Start(store.Snapshot(), Request(), &id));
  Answer now;
  jobs.Await(id, 0, [&](std::optional<BacktestJobs::View> v) { now.Set(std::move(v)); });
  ASSERT_TRUE(now.Wait().has_value());  // queued, running or done: whatever it is now
}

TEST(BacktestJobsTest, IdsCountFromTheFirstId) {
  MemoryStore store;
  BacktestJobs jobs(BacktestJobsOptions{.first_id = 1'800'000'000'000'000});
  uint64_t first = 0;
  uint64_t second = 0;
  ASSERT_OK(jobs.Start(store.Snapshot(), Request(), &first));
  ASSERT_OK(jobs.Start(store.Snapshot(), Request(), &second));
  EXPECT_EQ(first, 1'800'000'000'000'000u);
  EXPECT_EQ(second, first + 1);
  EXPECT_TRUE(jobs.Get(first).has_value());
  EXPECT_FALSE(jobs.Get(1).has_value());
}

TEST(BacktestJobsTest, OnlyTheNewestFinishedJobsAreKept) {
  MemoryStore store;
  BacktestJobs jobs(BacktestJobsOptions{.kept = 2});
  uint64_t last = 0;
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK(jobs.Start(store.Snapshot(), Request(), &last));
    Answer answer;
    jobs.Await(last, 60, [&](std::optional<BacktestJobs::View> v) { answer.Set(std::move(v)); });
    answer.Wait();
  }
  EXPECT_TRUE(jobs.Get(last).has_value());
  EXPECT_TRUE(jobs.Get(last - 1).has_value());
  EXPECT_FALSE(jobs.Get(last - 3).has_value());
}

TEST(BacktestJobsTest, ACancelledJobEndsAsCancelled) {
  MemoryStore store;
  BacktestJobs jobs;
  // The first job keeps the thread busy only briefly; the second is cancelled while it waits or
  // runs: either way it ends as cancelled, never done.
  uint64_t first = 0;
  uint64_t second = 0;
  ASSERT_OK(jobs.Start(store.Snapshot(), Request(), &first));
  ASSERT_OK(jobs.Start(store.Snapshot(), Request(), &second));
  const bool ended_before = jobs.Get(second)->state == BacktestJobs::State::kDone;
  ASSERT_OK(jobs.Cancel(second));
  Answer answer;
  jobs.Await(second, 60, [&](std::optional<BacktestJobs::View> v) { answer.Set(std::move(v)); });
  std::optional<BacktestJobs::View> view = answer.Wait();
  ASSERT_TRUE(view.has_value());
  if (!ended_before && view->state != BacktestJobs::State::kDone) {
    EXPECT_EQ(view->state, BacktestJobs::State::kFailed);
    EXPECT_EQ(view->error, "cancelled");
  }
  EXPECT_FALSE(jobs.Cancel(second + 100).ok());
}

}  // namespace
}  // namespace handoff
