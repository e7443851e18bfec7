#include "daemon/config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/testutil.h"

namespace handoff {
namespace {

Status Parse(std::vector<std::string> args, Options* options) {
  args.insert(args.begin(), "handoffd");
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  bool help = false;
  std::string text;
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data(), options, &help, &text);
}

TEST(ConfigTest, DefaultsAreTheContractsDefaults) {
  Options o;
  ASSERT_OK(Parse({}, &o));
  EXPECT_EQ(o.ingest_listen, "127.0.0.1:7400");
  EXPECT_EQ(o.subscribe_listen, "127.0.0.1:7401");
  EXPECT_EQ(o.http_listen, "127.0.0.1:7402");
  EXPECT_EQ(o.data_dir, "./data");
  EXPECT_EQ(o.rules, "rules/examples/default.yaml");
  EXPECT_EQ(o.durability, "process");
  EXPECT_EQ(o.stage_check_interval, 60);
  EXPECT_EQ(o.dedupe_window, 86400);
  EXPECT_TRUE(o.write_keys.empty());
  EXPECT_EQ(o.heartbeat_interval, 10);
  EXPECT_FALSE(o.huge_pages);
  EXPECT_TRUE(o.populate_heap);
}

TEST(ConfigTest, FlagsOverrideTheConfigFile) {
  testing::TempDir dir;
  std::string path = dir.WriteFile("handoff.yaml",
                                   "listen:\n"
                                   "  ingest: 127.0.0.1:9400\n"
                                   "  http: 127.0.0.1:9402\n"
                                   "durability: fsync\n"
                                   "write_keys: [a, b]\n"
                                   "stage_check_interval: 0\n"
                                   "dedupe_window: 2h\n"
                                   "huge_pages: true\n"
                                   "populate_heap: false\n");
  Options o;
  ASSERT_OK(Parse({"--config", path, "--http", "127.0.0.1:0", "--write-key", "c"}, &o));
  EXPECT_EQ(o.ingest_listen, "127.0.0.1:9400");
  EXPECT_EQ(o.http_listen, "127.0.0.1:0");
  EXPECT_EQ(o.durability, "fsync");
  EXPECT_EQ(o.write_keys, std::vector<std::string>{"c"});  // flags replace the file's list
  EXPECT_EQ(o.stage_check_interval, 0);
  EXPECT_EQ(o.dedupe_window, 7200);
  EXPECT_TRUE(o.huge_pages);
  EXPECT_FALSE(o.populate_heap);
  ASSERT_OK(Parse({"--config", path, "--huge-pages", "false", "--populate-heap", "true"}, &o));
  EXPECT_FALSE(o.huge_pages);
  EXPECT_TRUE(o.populate_heap);
}

TEST(ConfigTest, ClusterSettings) {
  Options o;
  ASSERT_OK(Parse({}, &o));
  EXPECT_TRUE(o.cluster_urls.empty());  // the single daemon
  EXPECT_EQ(o.cluster_partitions, 16u);
  EXPECT_EQ(o.cluster_lease, 10);

  testing::TempDir dir;
  std::string path = dir.WriteFile("handoff.yaml",
                                   "write_keys: [a]\n"
                                   "cluster:\n"
                                   "  urls: [nats://10.0.0.1:4222, nats://10.0.0.2:4222]\n"
                                   "  node_id: n1\n"
                                   "  partitions: 8\n"
                                   "  lease: 30s\n");
  ASSERT_OK(Parse({"--config", path}, &o));
  EXPECT_EQ(o.cluster_urls,
            (std::vector<std::string>{"nats://10.0.0.1:4222", "nats://10.0.0.2:4222"}));
  EXPECT_EQ(o.write_keys, std::vector<std::string>{"a"});  // one list does not clear another
  EXPECT_EQ(o.cluster_node_id, "n1");
  EXPECT_EQ(o.cluster_partitions, 8u);
  EXPECT_EQ(o.cluster_lease, 30);
  // Flags replace the file's list; one flag may hold several URLs.
  Options f;
  ASSERT_OK(Parse(
      {"--config", path, "--cluster", "nats://127.0.0.1:1,nats://127.0.0.1:2", "--node-id", "n2"},
      &f));
  EXPECT_EQ(f.cluster_urls, (std::vector<std::string>{"nats://127.0.0.1:1", "nats://127.0.0.1:2"}));
  EXPECT_EQ(f.cluster_node_id, "n2");

  Options bad;
  EXPECT_FALSE(Parse({"--cluster", "127.0.0.1:4222"}, &bad).ok());
  EXPECT_FALSE(Parse({"--cluster", "nats://a:1,,nats://b:2"}, &bad).ok());
  EXPECT_FALSE(Parse({"--cluster-partitions", "0"}, &bad).ok());
  EXPECT_FALSE(Parse({"--cluster-lease", "500ms"}, &bad).ok());
  EXPECT_FALSE(Parse({"--cluster-lease", "11m"}, &bad).ok());
  EXPECT_FALSE(Parse({"--cluster-partitions", "1025"}, &bad).ok());
}

TEST(ConfigTest, BadValuesAreErrorsNamingTheSetting) {
  Options o;
  Status st = Parse({"--durability", "sometimes"}, &o);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--durability"), std::string::npos) << st.message();
  EXPECT_FALSE(Parse({"--dedupe-window", "0"}, &o).ok());  // zero only where it turns off
  ASSERT_OK(Parse({"--stage-check-interval", "0s"}, &o));
  EXPECT_EQ(o.stage_check_interval, 0);
  EXPECT_FALSE(Parse({"--stage-check-interval", "0x"}, &o).ok());
  EXPECT_FALSE(Parse({"--stage-check-interval", "1.5h"}, &o).ok());
  EXPECT_FALSE(Parse({"--ingest", "nonsense"}, &o).ok());
  EXPECT_FALSE(Parse({"--ingest", "127.0.0.1:99999"}, &o).ok());
  // Basic auth could never send a write key with a colon (the user name ends there).
  st = Parse({"--write-key", "key:2"}, &o);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--write-key"), std::string::npos) << st.message();

  testing::TempDir dir;
  std::string path = dir.WriteFile("bad.yaml", "listen:\n  ingset: 127.0.0.1:1\n");
  st = Parse({"--config", path}, &o);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("listen.ingset"), std::string::npos) << st.message();
}

TEST(ConfigTest, MaxConnectionsHasBounds) {
  Options o;
  EXPECT_EQ(o.max_connections, 1024u);
  ASSERT_OK(Parse({"--max-connections", "1"}, &o));
  EXPECT_EQ(o.max_connections, 1u);
  ASSERT_OK(Parse({"--max-connections", "1000000"}, &o));
  EXPECT_EQ(o.max_connections, 1'000'000u);
  for (const char* bad : {"0", "1000001", "-1", "many", ""}) {
    const Status st = Parse({"--max-connections", bad}, &o);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_NE(st.message().find("--max-connections"), std::string::npos) << st.message();
  }
  testing::TempDir dir;
  ASSERT_OK(Parse({"--config", dir.WriteFile("c.yaml", "max_connections: 20000\n")}, &o));
  EXPECT_EQ(o.max_connections, 20000u);
}

TEST(ConfigTest, HttpMaxInflightBodyBytesHasBounds) {
  Options o;
  EXPECT_EQ(o.http_max_inflight_body_bytes, 128u << 20);
  ASSERT_OK(Parse({"--http-max-inflight-body-bytes", "1048576"}, &o));
  EXPECT_EQ(o.http_max_inflight_body_bytes, 1u << 20);
  EXPECT_FALSE(Parse({"--http-max-inflight-body-bytes", "1048575"}, &o).ok());  // under 1 MiB
  EXPECT_FALSE(Parse({"--http-max-inflight-body-bytes", "68719476737"}, &o).ok());
  testing::TempDir dir;
  ASSERT_OK(Parse(
      {"--config", dir.WriteFile("c.yaml", "http:\n  max_inflight_body_bytes: 2097152\n")}, &o));
  EXPECT_EQ(o.http_max_inflight_body_bytes, 2u << 20);
}

TEST(ConfigTest, MaxTotalInflightBytesHasBounds) {
  Options o;
  EXPECT_EQ(o.max_total_inflight_bytes, 16u << 20);
  ASSERT_OK(Parse({"--max-total-inflight-bytes", "1048576"}, &o));
  EXPECT_EQ(o.max_total_inflight_bytes, 1u << 20);
  EXPECT_FALSE(Parse({"--max-total-inflight-bytes", "1048575"}, &o).ok());
  EXPECT_FALSE(Parse({"--max-total-inflight-bytes", "68719476737"}, &o).ok());
}

TEST(ConfigTest, ListenAddressParsing) {
  Result<HostPort> a = ParseListenAddress("[::1]:7400");
  ASSERT_OK(a.status());
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 7400);
  a = ParseListenAddress(":7401");
  ASSERT_OK(a.status());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 7401);
  a = ParseListenAddress("127.0.0.1:0");  // any free port
  ASSERT_OK(a.status());
  EXPECT_EQ(a->port, 0);
  EXPECT_FALSE(ParseListenAddress("127.0.0.1:99999").ok());
}

}  // namespace
}  // namespace handoff
