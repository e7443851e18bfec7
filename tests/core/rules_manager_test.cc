#include "core/rules_manager.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/testutil.h"

namespace handoff {
namespace {

using testing::TempDir;

// The watch compares signatures: a rule file rewritten with the same size, its modification time
// then set back (cp -p, rsync -t, or two writes within one tick of the clock), is still a change.
TEST(RulesManagerTest, TheSignatureSeesAChangeThatKeepsTheSizeAndTheModificationTime) {
  TempDir dir;
  const std::string path = dir.WriteFile("rules.yaml", "scores:\n  x: {kind: event}\n");
  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  const std::string signature = RulesManager::Signature(path);
  EXPECT_EQ(RulesManager::Signature(path), signature);

  dir.WriteFile("rules.yaml", "scores:\n  y: {kind: event}\n");
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  struct stat after {};
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  ASSERT_EQ(after.st_size, before.st_size);
  EXPECT_NE(RulesManager::Signature(path), signature);
}

// A directory's signature covers each *.yaml file, and a file added or removed.
TEST(RulesManagerTest, ADirectorysSignatureFollowsItsFiles) {
  TempDir dir;
  dir.WriteFile("rules/a.yaml", "scores:\n  x: {kind: event}\n");
  const std::string root = dir.path() + "/rules";
  const std::string one = RulesManager::Signature(root);
  dir.WriteFile("rules/notes.txt", "ignored");
  EXPECT_EQ(RulesManager::Signature(root), one);
  dir.WriteFile("rules/b.yaml", "stages: []\n");
  EXPECT_NE(RulesManager::Signature(root), one);
}

constexpr char kTwoStages[] =
    "scores:\n  x: {kind: event}\nstages:\n  - name: a\n    enter: score.x >= 1\n"
    "  - name: b\n    enter: score.x >= 2\n";
constexpr char kOneStage[] =
    "scores:\n  x: {kind: event}\nstages:\n  - name: a\n    enter: score.x >= 1\n";

// A watching manager over one rule file in a temporary directory, first kTwoStages, recording
// the stage count of every file it installs ("new" included).
class WatchedRules {
 public:
  explicit WatchedRules(std::chrono::milliseconds empty_file_grace)
      : manager_(
            dir_.WriteFile("rules.yaml", kTwoStages), /*watch=*/true,
            [this](std::shared_ptr<const RuleSet> rules, ReloadDone done) {
              {
                std::lock_guard<std::mutex> lock(mu_);
                installed_.push_back(rules->stages.size());
              }
              cv_.notify_all();
              if (done) {  // none for the watch's own reloads
                ReloadOutcome outcome;
                outcome.ok = true;
                done(outcome);
              }
            },
            [](const std::vector<LoadError>&) { return uint64_t{0}; }, empty_file_grace) {
    manager_.RequestReload([](const ReloadOutcome&) {});  // the first load, as at start
    manager_.Start();
  }
  // Writes the rule file over (truncating it first, as `>` does).
  void Rewrite(const std::string& text) { dir_.WriteFile("rules.yaml", text); }
  // Waits (up to 30 s) until `count` files were installed; their stage counts.
  std::vector<size_t> WaitForInstalls(size_t count) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(30), [&] { return installed_.size() >= count; });
    return installed_;
  }

 private:
  TempDir dir_;  // outlives manager_
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<size_t> installed_;
  RulesManager manager_;
};

// `>` truncates a file before it writes it: the watch must not load the empty file in between
// (every lead would leave its stage for a moment). It waits for the write, however many polls
// pass (here the grace never ends), and loads what was written.
TEST(RulesManagerTest, TheWatchWaitsForAnEmptiedFileToBeWritten) {
  WatchedRules watched(std::chrono::hours(1));
  ASSERT_EQ(watched.WaitForInstalls(1), std::vector<size_t>({3}));
  watched.Rewrite("");
  std::this_thread::sleep_for(std::chrono::milliseconds(1600));  // three polls see it empty
  watched.Rewrite(kOneStage);
  EXPECT_EQ(watched.WaitForInstalls(2), std::vector<size_t>({3, 2}));
}

// A file left empty past the grace is loaded as it is: emptying it is then meant.
TEST(RulesManagerTest, AFileLeftEmptyPastTheGraceIsLoaded) {
  WatchedRules watched(std::chrono::milliseconds(0));
  ASSERT_EQ(watched.WaitForInstalls(1), std::vector<size_t>({3}));
  watched.Rewrite("");
  EXPECT_EQ(watched.WaitForInstalls(2), std::vector<size_t>({3, 1}));
}

}  // namespace
}  // namespace handoff
