#include "core/rules_manager.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

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

}  // namespace
}  // namespace handoff
