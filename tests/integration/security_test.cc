// Security of the real daemon (issue 12): a loud warning when a listener is bound beyond
// loopback without authentication, `--check-config` for operators, and no secrets or event
// bodies in the log.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "tests/integration/daemon_harness.h"
#include "tests/testutil.h"

namespace handoff::testing {
namespace {

// Runs handoffd with `args`; its exit code and standard output.
int RunHandoffd(const std::string& args, std::string* out) {
  const std::string command = BinaryDir() + "/handoffd " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return -1;
  }
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    out->append(buffer, n);
  }
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(SecurityTest, BoundBeyondLoopbackWithoutATokenTheDaemonWarnsLoudly) {
  DaemonProcess daemon{DaemonOptions{}};
  daemon.WriteRules(kClickRules);
  daemon.options().http_listen = "0.0.0.0:0";
  ASSERT_OK(daemon.Start());
  EXPECT_NE(daemon.log().find("WARNING: the HTTP API listens on 0.0.0.0:0, beyond loopback, "
                              "without admin_token"),
            std::string::npos)
      << daemon.log();
  EXPECT_OK(daemon.Stop());
}

TEST(SecurityTest, CheckConfigReportsAndExitsWithoutStarting) {
  TempDir dir;
  const std::string good = dir.WriteFile("good.yaml", std::string(kClickRules));
  const std::string bad = dir.WriteFile("bad.yaml", "rules:\n  - id: x\n    when: event ==\n");
  std::string out;
  EXPECT_EQ(
      RunHandoffd("--check-config --rules " + good + " --data-dir " + dir.path() + "/data", &out),
      0)
      << out;
  EXPECT_NE(out.find("configuration OK"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(
      RunHandoffd("--check-config --rules " + bad + " --data-dir " + dir.path() + "/data", &out), 1)
      << out;
  EXPECT_NE(out.find("bad.yaml:3:"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(RunHandoffd("--check-config --max-line-bytes 12", &out), 2) << out;
}

// Tokens, write keys and what events carry never reach the log, whatever the daemon logs about
// them (rejections, auth failures, a reload).
TEST(SecurityTest, NoSecretsOrEventBodiesInTheLog) {
  DaemonProcess daemon{DaemonOptions{}};
  daemon.WriteRules(kClickRules);
  daemon.options().extra_args = {"--admin-token", "tok-SECRET-1", "--write-key", "wk-SECRET-2"};
  ASSERT_OK(daemon.Start());
  IngestClient client;
  ASSERT_OK(client.Connect(daemon.ingest_port()));
  ASSERT_OK(client.SendLines(
      {R"({"type":"track","userId":"u1","event":"Click","properties":{"email":"BODY-SECRET-3"}})",
       R"({"type":"track","userId":"u1","properties":{"email":"BODY-SECRET-4"}})",
       R"({"type":"Track","userId":"BODY-SECRET-5"})", "{not json BODY-SECRET-6"}));
  ASSERT_OK(client.WaitForAck(4));
  HttpClient http(daemon.http_port());
  EXPECT_EQ(http.Get("/v1/rules", {{"Authorization", "Bearer tok-SECRET-wrong"}}).status, 401);
  EXPECT_EQ(http.Post("/v1/rules/reload", "", {{"Authorization", "Bearer tok-SECRET-1"}}).status,
            200);
  EXPECT_EQ(http.Post("/v1/track", R"({"userId":"u2","event":"Click"})",
                      {{"Authorization", "Basic d3JvbmctU0VDUkVULTc6"}})
                .status,
            401);
  EXPECT_OK(daemon.Stop());
  EXPECT_EQ(daemon.log().find("SECRET"), std::string::npos) << daemon.log();
}

}  // namespace
}  // namespace handoff::testing
