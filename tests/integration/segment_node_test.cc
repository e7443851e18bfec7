// Segment's official Node.js library, @segment/analytics-node installed from the npm registry,
// pointed at the real daemon (SPEC 4: "Segment's official libraries must work unchanged").
//
// The package is installed once into <build dir>/segment_node_modules/<version> (a stamp file
// marks a finished install, a lock file serializes concurrent test runs) and reused afterwards.
// A machine without node/npm, or an install that fails, fails the test loudly: run
// tools/setup.sh, which installs nodejs and npm. The client runs
// tests/integration/segment_node/send_events.js.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/daemon_harness.h"
#include "tests/integration/segment_http_client.h"
#include "tests/testutil.h"

namespace handoff::testing {
namespace {

// 3.x needs Node.js 20 or newer; Debian 12's own nodejs is 18, which 2.2.x (the last release
// for Node 18) serves. Both post the same /v1/batch requests. HANDOFF_SEGMENT_NODE_VERSION in the
// environment picks another release.
constexpr char kVersionForNode20[] = "3.1.0";
constexpr char kVersionForNode18[] = "2.2.1";
constexpr int kInstallTimeoutSeconds = 300;

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `command` through sh, stdout into *out; the exit status (-1: could not run).
int RunShell(const std::string& command, std::string* out) {
  out->clear();
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return -1;
  }
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), pipe)) > 0;) {
    out->append(buf, n);
  }
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Installs the package (once) and returns the node_modules directory for NODE_PATH.
Status InstallAnalyticsNode(std::string* node_modules) {
  std::string out;
  if (RunShell("node --version 2>&1", &out) != 0 || out.size() < 2 || out[0] != 'v') {
    return Status::NotFound("`node` is not installed (tools/setup.sh installs nodejs and npm): " +
                            out);
  }
  const int major = std::atoi(out.c_str() + 1);
  if (RunShell("npm --version 2>&1", &out) != 0) {
    return Status::NotFound("`npm` is not installed (tools/setup.sh installs it): " + out);
  }
  std::string version = major >= 20 ? kVersionForNode20 : kVersionForNode18;
  if (const char* wanted = std::getenv("HANDOFF_SEGMENT_NODE_VERSION"); wanted != nullptr) {
    version = wanted;  // to try another release of the library
  }
  const std::filesystem::path root =
      std::filesystem::absolute(BinaryDir()) / "segment_node_modules";
  const std::filesystem::path dir = root / version;
  const std::string stamp = (dir / "installed.stamp").string();
  *node_modules = (dir / "node_modules").string();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status::IoError("cannot create " + dir.string() + ": " + ec.message());
  }
  // One installer at a time (ctest -j may run several test processes).
  const std::string lock_path = (root / (version + ".lock")).string();
  const int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0 || ::flock(lock, LOCK_EX) != 0) {
    return Status::IoError("cannot lock " + lock_path);
  }
  Status result = Status::Ok();
  if (::access(stamp.c_str(), F_OK) != 0) {
    std::ofstream(dir / "package.json") << R"({"name":"handoff-segment-node-test","private":true})"
                                        << "\n";
    const std::string log = (dir / "npm-install.log").string();
    const std::string install =
        "cd " + Quote(dir.string()) + " && timeout " + std::to_string(kInstallTimeoutSeconds) +
        " npm install --no-audit --no-fund --no-package-lock --loglevel=error " +
        "@segment/analytics-node@" + version + " > " + Quote(log) + " 2>&1";
    const int rc = RunShell(install, &out);
    const int check = RunShell("NODE_PATH=" + Quote(*node_modules) +
                                   " node -e \"require('@segment/analytics-node')\" 2>&1",
                               &out);
    if (rc != 0 || check != 0) {
      result = Status::Unavailable("npm install @segment/analytics-node@" + version +
                                   " failed (exit " + std::to_string(rc) + "), in " + dir.string() +
                                   ":\n" + ReadFile(log) + out);
    } else {
      std::ofstream(stamp) << version << "\n";
    }
  }
  ::flock(lock, LOCK_UN);
  ::close(lock);
  return result;
}

struct ClientRun {
  int exit_code = -1;
  Value result;  // {"statuses":[...],"delivered":N,"failed":N,"errors":[...]}
  std::string output;
};

class SegmentNodeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    install_status_ = new Status(InstallAnalyticsNode(&node_modules_));
  }
  static void TearDownTestSuite() {
    delete install_status_;
    install_status_ = nullptr;
  }

  void SetUp() override {
    ASSERT_OK(*install_status_);  // a failed install fails every test, loudly
    daemon_.WriteRules(kSegmentTestRules);
    daemon_.options().extra_args = {"--write-key", "node-key"};
    ASSERT_OK(daemon_.Start());
  }
  void TearDown() override {
    if (daemon_.running()) {
      EXPECT_OK(daemon_.Stop());
    }
  }

  // Runs send_events.js with the given write key, extra Analytics options (a JSON object's
  // members, may be empty) and calls (a JSON array).
  ClientRun RunClient(const std::string& write_key, const std::string& options,
                      const std::string& calls) {
    const std::string config = R"({"host":"http://127.0.0.1:)" +
                               std::to_string(daemon_.http_port()) + R"(","writeKey":")" +
                               write_key + R"(","options":{)" + options + R"(},"calls":)" + calls +
                               "}";
    const std::string config_path = daemon_.temp().WriteFile("client.json", config);
    const std::string script = SourceDir() + "/tests/integration/segment_node/send_events.js";
    const std::string err_path = daemon_.temp().path() + "/client.stderr";
    ClientRun run;
    run.exit_code = RunShell("NODE_PATH=" + Quote(node_modules_) + " timeout 120 node " +
                                 Quote(script) + " " + Quote(config_path) + " 2>" + Quote(err_path),
                             &run.output);
    run.output += ReadFile(err_path);
    const size_t line_end = run.output.find('\n');
    if (!ParseJson(run.output.substr(0, line_end), &run.result).ok()) {
      ADD_FAILURE() << "send_events.js printed no result:\n" << run.output;
    }
    return run;
  }

  Value Lead(const std::string& id) {
    HttpResult r =
        HttpClient(daemon_.http_port()).Get("/v1/leads/" + id + "?at=2026-11-20T10:00:00Z");
    if (r.status == 404) {
      return Value();
    }
    EXPECT_EQ(r.status, 200) << r.body;
    return r.Json();
  }

  static Status* install_status_;
  static std::string node_modules_;
  DaemonProcess daemon_{DaemonOptions{}};
};

Status* SegmentNodeTest::install_status_ = nullptr;
std::string SegmentNodeTest::node_modules_;

// {"method":..,"params":{..,"messageId":..,"timestamp":"2026-11-20T10:00:00Z"}}
std::string Call(const std::string& method, const std::string& params, const std::string& id) {
  return R"({"method":")" + method + R"(","params":{)" + params + R"(,"messageId":")" + id +
         R"(","timestamp":"2026-11-20T10:00:00Z"}})";
}

std::string EveryCall(const std::string& prefix) {
  return "[" +
         Call("identify",
              R"("userId":"ann","anonymousId":"anon-ann","traits":{"title":"VP Marketing",)"
              R"("email":"ann@acme.com"})",
              prefix + "1") +
         "," + Call("track", R"("userId":"ann","event":"Demo Requested")", prefix + "2") + "," +
         Call("page", R"("userId":"ann","name":"Pricing","properties":{"path":"/pricing"})",
              prefix + "3") +
         "," + Call("screen", R"("userId":"ann","name":"Dashboard")", prefix + "4") + "," +
         Call("group", R"("userId":"ann","groupId":"acme","traits":{"employees":2500})",
              prefix + "5") +
         "," +
         Call("track", R"("userId":"ann","event":"Click","properties":{"n":1})", prefix + "6") +
         "," + Call("alias", R"("userId":"ann","previousId":"ann-old")", prefix + "7") + "]";
}

TEST_F(SegmentNodeTest, OfficialClientDeliversEveryCall) {
  ClientRun run = RunClient("node-key", R"("path":"/v1/batch","flushAt":20)", EveryCall("n-"));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(JsonNumber(run.result, "delivered"), 7) << run.output;
  const Value* statuses = run.result.Find("statuses");
  ASSERT_NE(statuses, nullptr);
  ASSERT_EQ(statuses->as_array().size(), 1u) << run.output;  // one batch of seven
  EXPECT_EQ(statuses->as_array()[0].as_number(), 200);
  EXPECT_EQ(run.result.Find("paths")->as_array()[0].as_string(), "/v1/batch");

  Value lead = Lead("ann");
  SCOPED_TRACE(lead.ToJson());
  EXPECT_EQ(JsonString(lead, "traits.title"), "VP Marketing");
  EXPECT_EQ(JsonString(lead, "traits.email"), "ann@acme.com");
  EXPECT_EQ(JsonNumber(lead, "traits.company.employees"), 2500);
  EXPECT_EQ(JsonString(lead, "traits.company.id"), "acme");
  EXPECT_EQ(JsonNumber(lead, "scores.fit"), 35);
  // Demo 50 + pricing 10 + screen 3 + click 1.
  EXPECT_EQ(JsonNumber(lead, "scores.engagement"), 64);
  EXPECT_EQ(JsonString(lead, "stage"), "mql");
}

// Small batches (flushAt / maxEventsInBatch) make many requests, over the client's keep-alive
// connection; every event arrives once.
TEST_F(SegmentNodeTest, ManySmallBatches) {
  std::string calls = "[";
  for (int i = 0; i < 30; ++i) {
    calls += (i > 0 ? "," : "") +
             Call("track", R"("userId":"bob","event":"Click")", "many-" + std::to_string(i));
  }
  calls += "]";
  ClientRun run = RunClient("node-key", R"("maxEventsInBatch":3)", calls);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(JsonNumber(run.result, "delivered"), 30);
  EXPECT_GE(run.result.Find("statuses")->as_array().size(), 10u) << run.output;
  for (const Value& status : run.result.Find("statuses")->as_array()) {
    EXPECT_EQ(status.as_number(), 200);
  }
  Value lead = Lead("bob");
  EXPECT_EQ(JsonNumber(lead, "events"), 30) << lead.ToJson();
  EXPECT_EQ(JsonNumber(lead, "scores.engagement"), 30);
}

// The library resends what it is not sure of; the messageIds make that safe.
TEST_F(SegmentNodeTest, ResendingTheSameMessagesIsIdempotent) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    ClientRun run = RunClient("node-key", R"("flushAt":4)", EveryCall("same-"));
    ASSERT_EQ(run.exit_code, 0) << run.output;
  }
  Value lead = Lead("ann");
  EXPECT_EQ(JsonNumber(lead, "scores.engagement"), 64) << lead.ToJson();
}

TEST_F(SegmentNodeTest, WrongWriteKeyIsRefused) {
  ClientRun run = RunClient("not-the-key", R"("flushAt":20)", EveryCall("bad-"));
  EXPECT_NE(run.exit_code, 0) << run.output;
  EXPECT_EQ(JsonNumber(run.result, "delivered"), 0);
  const Value* statuses = run.result.Find("statuses");
  ASSERT_NE(statuses, nullptr);
  ASSERT_FALSE(statuses->as_array().empty());
  for (const Value& status : statuses->as_array()) {
    EXPECT_EQ(status.as_number(), 401);  // 3.x gives up at once, 2.x retries
  }
  EXPECT_TRUE(Lead("ann").is_null());
}

// SPEC 8 through the official client: a visitor's anonymous calls, then identify with both ids,
// then calls as the known user: one lead, by either id, with every event.
TEST_F(SegmentNodeTest, AnonymousCallsThenIdentifyMergeIntoOneLead) {
  const std::string calls =
      "[" +
      Call("page", R"("anonymousId":"anon-z","name":"Pricing","properties":{"path":"/pricing"})",
           "z-1") +
      "," + Call("track", R"("anonymousId":"anon-z","event":"Demo Requested")", "z-2") + "," +
      Call(
          "identify",
          R"("userId":"zoe","anonymousId":"anon-z","traits":{"title":"VP Marketing","email":"zoe@acme.com"})",
          "z-3") +
      "," + Call("track", R"("userId":"zoe","event":"Click","properties":{"n":1})", "z-4") + "]";
  ClientRun run = RunClient("node-key", R"("flushAt":1)", calls);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(JsonNumber(run.result, "delivered"), 4) << run.output;
  Value lead = Lead("anon-z");
  SCOPED_TRACE(lead.ToJson());
  EXPECT_EQ(JsonString(lead, "id"), "zoe");
  EXPECT_EQ(lead.Find("aliases")->ToJson(), R"(["anon-z"])");
  EXPECT_EQ(JsonNumber(lead, "events"), 4);
  // Demo 50 + pricing 10 + click 1, all on the known lead.
  EXPECT_EQ(JsonNumber(lead, "scores.engagement"), 61);
  EXPECT_EQ(JsonString(lead, "traits.title"), "VP Marketing");
  HttpResult history = HttpClient(daemon_.http_port()).Get("/v1/leads/zoe/history");
  ASSERT_EQ(history.status, 200);
  EXPECT_EQ(history.Json().Find("events")->as_array().size(), 4u) << history.body;
}

}  // namespace
}  // namespace handoff::testing
