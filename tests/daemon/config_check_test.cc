#include "daemon/config_check.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/testutil.h"

namespace handoff {
namespace {

bool AnyContains(const std::vector<std::string>& lines, const std::string& part) {
  for (const std::string& line : lines) {
    if (line.find(part) != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST(ConfigCheckTest, TheDefaultsWarnOfNothing) { EXPECT_TRUE(ConfigWarnings(Options()).empty()); }

TEST(ConfigCheckTest, ListenersBeyondLoopbackWithoutAuthenticationWarnLoudly) {
  Options o;
  o.ingest_listen = "0.0.0.0:7400";
  o.subscribe_listen = "[::]:7401";
  o.http_listen = "10.0.0.5:7402";
  const std::vector<std::string> warnings = ConfigWarnings(o);
  EXPECT_TRUE(AnyContains(warnings, "ingest listens on 0.0.0.0:7400")) << warnings.size();
  EXPECT_TRUE(AnyContains(warnings, "outbox stream has no authentication"));
  EXPECT_TRUE(AnyContains(warnings, "without admin_token"));
  EXPECT_TRUE(AnyContains(warnings, "without write_keys"));

  o.admin_token = "secret-token";
  o.write_keys = {"wk"};
  const std::vector<std::string> with_auth = ConfigWarnings(o);
  EXPECT_FALSE(AnyContains(with_auth, "admin_token"));
  EXPECT_FALSE(AnyContains(with_auth, "write_keys"));
  for (const std::string& w : with_auth) {
    EXPECT_EQ(w.find("secret-token"), std::string::npos) << "a warning shows the token: " << w;
  }
}

TEST(ConfigCheckTest, LoopbackSpellingsDoNotWarn) {
  Options o;
  o.ingest_listen = "localhost:7400";
  o.subscribe_listen = "[::1]:7401";
  o.http_listen = "127.0.0.2:7402";
  EXPECT_TRUE(ConfigWarnings(o).empty());
}

TEST(ConfigCheckTest, ReportsRuleErrorsWithPositionsAndABadDataDirectory) {
  testing::TempDir dir;
  Options o;
  o.rules = dir.WriteFile("rules.yaml", "rules:\n  - id: x\n    points: nope\n");
  o.data_dir = dir.WriteFile("a-file", "") + "/data";
  std::string report;
  Status st = CheckConfig(o, &report);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(report.find("rules.yaml:"), std::string::npos) << report;
  EXPECT_NE(report.find("is not a directory"), std::string::npos) << report;
  EXPECT_NE(report.find("configuration has errors"), std::string::npos) << report;
}

TEST(ConfigCheckTest, AGoodConfigurationIsOk) {
  testing::TempDir dir;
  Options o;
  o.rules = dir.WriteFile("rules.yaml", "scores:\n  fit: {kind: profile}\n");
  o.data_dir = dir.path() + "/not/yet/created";
  o.admin_token = "secret-token";
  std::string report;
  ASSERT_OK(CheckConfig(o, &report));
  EXPECT_NE(report.find("configuration OK"), std::string::npos) << report;
  EXPECT_EQ(report.find("secret-token"), std::string::npos) << report;
}

}  // namespace
}  // namespace handoff
