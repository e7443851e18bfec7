#include "daemon/config_check.h"

#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "base/host_port.h"
#include "daemon/config.h"
#include "rules/rule_loader.h"

namespace handoff {
namespace {

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// The listen setting's host is beyond loopback (an unparsable setting is parsing's to report).
bool ListensBeyondLoopback(const std::string& setting) {
  Result<HostPort> address = ParseListenAddress(setting);
  return address.ok() && !IsLoopbackHost(address->host);
}

// Empty when `dir` is (or can be created as) a directory this process may write.
std::string DataDirProblem(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path path(dir);
  // The nearest part of the path that exists decides.
  while (!path.empty() && !fs::exists(path, ec)) {
    const fs::path parent = path.parent_path();
    if (parent == path) {
      break;
    }
    path = parent.empty() ? fs::path(".") : parent;
  }
  if (!fs::is_directory(path, ec)) {
    return path.string() + " is not a directory";
  }
  if (::access(path.c_str(), W_OK | X_OK) != 0) {
    return path.string() + " is not writable by this user";
  }
  return "";
}

}  // namespace

std::vector<std::string> ConfigWarnings(const Options& options) {
  std::vector<std::string> warnings;
  if (ListensBeyondLoopback(options.ingest_listen)) {
    warnings.push_back("ingest listens on " + options.ingest_listen +
                       ", beyond loopback: TCP ingest has no authentication, so anyone who can "
                       "reach the port can send events; keep it behind a firewall or a private "
                       "network");
  }
  if (ListensBeyondLoopback(options.subscribe_listen)) {
    warnings.push_back("subscribers listen on " + options.subscribe_listen +
                       ", beyond loopback: the outbox stream has no authentication, so anyone "
                       "who can reach the port reads every routed lead (traits such as emails) "
                       "and can accept, reject or close it; keep it behind a firewall or a "
                       "private network");
  }
  if (ListensBeyondLoopback(options.http_listen)) {
    if (options.admin_token.empty()) {
      warnings.push_back("the HTTP API listens on " + options.http_listen +
                         ", beyond loopback, without admin_token: anyone who can reach it can "
                         "read leads, reload rules and change reps; set admin_token");
    }
    if (options.write_keys.empty()) {
      warnings.push_back("the HTTP API listens on " + options.http_listen +
                         " without write_keys: Segment ingest answers loopback clients only "
                         "(403 to others) until write keys are set");
    }
  }
  if (!options.fault_file.empty()) {
    warnings.push_back("testing.fault_file is set (" + options.fault_file +
                       "): every store write fails while that path exists; a setting for tests "
                       "only");
  }
  return warnings;
}

Status CheckConfig(const Options& options, std::string* report) {
  bool ok = true;
  LoadResult rules = LoadRules(options.rules);
  if (rules.ok()) {
    report->append("rules: " + options.rules + " loads (sha256 " + rules.rules->sha256 + ")\n");
  } else {
    ok = false;
    report->append("rules: " + options.rules + " does not load:\n");
    for (const LoadError& e : rules.errors) {
      report->append("  " + e.ToString() + "\n");
    }
  }
  if (std::string problem = DataDirProblem(options.data_dir); problem.empty()) {
    report->append("data_dir: " + options.data_dir + " is usable\n");
  } else {
    ok = false;
    report->append("data_dir: " + options.data_dir + ": " + problem + "\n");
  }
  report->append("listen: ingest " + options.ingest_listen + ", subscribe " +
                 options.subscribe_listen + ", http " + options.http_listen + "\n");
  report->append(std::string("admin_token: ") + (options.admin_token.empty() ? "none" : "set") +
                 ", write_keys: " + std::to_string(options.write_keys.size()) + "\n");
  for (const std::string& warning : ConfigWarnings(options)) {
    report->append("WARNING: " + warning + "\n");
  }
  report->append(ok ? "configuration OK\n" : "configuration has errors\n");
  return ok ? Status::Ok() : Status::InvalidArgument("configuration has errors");
}

}  // namespace handoff
