#include "daemon/config.h"

#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <functional>
#include <limits>
#include <map>

#include "rules/duration.h"

namespace handoff {
namespace {

enum class Kind { kString, kDuration, kBool, kSize, kList, kEnum };

struct Setting {
  const char* key;   // config-file key (dotted)
  const char* flag;  // command-line flag
  Kind kind;
  const char* help;
  // Applies a textual value; returns an error message or "".
  std::function<std::string(Options*, const std::string&)> apply;
  // kList only: the list the values add to, which a file's or the flags' own list replaces.
  std::vector<std::string> Options::*list = nullptr;
};

std::string SetDuration(double* field, bool allow_zero, const std::string& v) {
  Status st = ParseSettingDuration(v, allow_zero, field);
  return st.ok() ? "" : st.message();
}

std::string SetSize(size_t* field, size_t min, size_t max, const std::string& v) {
  char* end = nullptr;
  unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < min || n > max) {
    return "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  }
  *field = static_cast<size_t>(n);
  return "";
}

std::string SetBool(bool* field, const std::string& v) {
  if (v == "true" || v == "on" || v == "yes" || v == "1") {
    *field = true;
  } else if (v == "false" || v == "off" || v == "no" || v == "0") {
    *field = false;
  } else {
    return "expected true or false";
  }
  return "";
}

std::string SetListen(std::string* field, const std::string& v) {
  if (Result<HostPort> address = ParseListenAddress(v); !address.ok()) {
    return address.status().message();
  }
  *field = v;
  return "";
}

// Each of "nats://a:1,nats://b:2", in order.
std::string AddClusterUrls(std::vector<std::string>* urls, const std::string& v) {
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    const std::string url = v.substr(start, comma == std::string::npos ? comma : comma - start);
    if (url.rfind("nats://", 0) != 0 || url.size() <= 7) {
      return "expected nats://HOST:PORT, got \"" + url + "\"";
    }
    urls->push_back(url);
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
  }
  return "";
}

// The one table of settings.
const std::vector<Setting>& Settings() {
  static const std::vector<Setting> table = {
      {"listen.ingest", "--ingest", Kind::kString, "host:port for tracker NDJSON over TCP",
       [](Options* o, const std::string& v) { return SetListen(&o->ingest_listen, v); }},
      {"listen.subscribe", "--subscribe", Kind::kString, "host:port for outbox subscribers",
       [](Options* o, const std::string& v) { return SetListen(&o->subscribe_listen, v); }},
      {"listen.http", "--http", Kind::kString, "host:port for the HTTP API and Segment ingest",
       [](Options* o, const std::string& v) { return SetListen(&o->http_listen, v); }},
      {"data_dir", "--data-dir", Kind::kString, "directory of the RocksDB state",
       [](Options* o, const std::string& v) {
         o->data_dir = v;
         return v.empty() ? std::string("expected a directory path") : std::string();
       }},
      {"rules", "--rules", Kind::kString, "rule file or directory of *.yaml",
       [](Options* o, const std::string& v) {
         o->rules = v;
         return v.empty() ? std::string("expected a file or directory path") : std::string();
       }},
      {"durability", "--durability", Kind::kEnum, "process (WAL before ack) or fsync",
       [](Options* o, const std::string& v) {
         if (v != "process" && v != "fsync") {
           return std::string("expected process or fsync");
         }
         o->durability = v;
         return std::string();
       }},
      {"admin_token", "--admin-token", Kind::kString, "bearer token required by /v1/ admin calls",
       [](Options* o, const std::string& v) {
         o->admin_token = v;
         return std::string();
       }},
      {"write_keys", "--write-key", Kind::kList, "Segment write key accepted (repeatable)",
       [](Options* o, const std::string& v) {
         if (v.empty()) {
           return std::string("expected a non-empty write key");
         }
         // Basic auth sends "KEY:" and the user name ends at the first colon (RFC 7617), so a key
         // holding one could never be sent that way.
         if (v.find(':') != std::string::npos) {
           return std::string(
               "a write key cannot contain ':' (HTTP Basic auth ends the key there)");
         }
         o->write_keys.push_back(v);
         return std::string();
       },
       &Options::write_keys},
      {"stage_check_interval", "--stage-check-interval", Kind::kDuration,
       "wall-clock re-check of stage exits (0 turns it off)",
       [](Options* o, const std::string& v) {
         return SetDuration(&o->stage_check_interval, true, v);
       }},
      {"dedupe_window", "--dedupe-window", Kind::kDuration, "how long a messageId is remembered",
       [](Options* o, const std::string& v) { return SetDuration(&o->dedupe_window, false, v); }},
      {"outbox_retention", "--outbox-retention", Kind::kDuration,
       "how long outbox records are kept",
       [](Options* o, const std::string& v) {
         return SetDuration(&o->outbox_retention, false, v);
       }},
      {"history_retention", "--history-retention", Kind::kDuration,
       "how long each lead's applied events are kept (0: forever)",
       [](Options* o, const std::string& v) {
         return SetDuration(&o->history_retention, true, v);
       }},
      {"history", "--history", Kind::kBool,
       "keep each lead's applied events (identity merges replay them)",
       [](Options* o, const std::string& v) { return SetBool(&o->history, v); }},
      {"watch", "--watch", Kind::kBool, "reload the rules when their files change",
       [](Options* o, const std::string& v) { return SetBool(&o->watch, v); }},
      {"heartbeat_interval", "--heartbeat-interval", Kind::kDuration,
       "idle time before a subscriber gets a heartbeat",
       [](Options* o, const std::string& v) {
         return SetDuration(&o->heartbeat_interval, false, v);
       }},
      {"http.read_timeout", "--http-read-timeout", Kind::kDuration,
       "time an HTTP request may take to arrive",
       [](Options* o, const std::string& v) {
         return SetDuration(&o->http_read_timeout, false, v);
       }},
      {"http.idle_timeout", "--http-idle-timeout", Kind::kDuration,
       "time an idle keep-alive HTTP connection is kept",
       [](Options* o, const std::string& v) {
         return SetDuration(&o->http_idle_timeout, false, v);
       }},
      {"http.max_inflight_body_bytes", "--http-max-inflight-body-bytes", Kind::kSize,
       "bytes of HTTP request bodies under way at once, across connections (more: 503)",
       [](Options* o, const std::string& v) {
         return SetSize(&o->http_max_inflight_body_bytes, 1u << 20, size_t{1} << 36, v);
       }},
      {"max_line_bytes", "--max-line-bytes", Kind::kSize, "longest NDJSON line accepted",
       [](Options* o, const std::string& v) {
         return SetSize(&o->max_line_bytes, 1024, 64u << 20, v);
       }},
      {"max_inflight_bytes", "--max-inflight-bytes", Kind::kSize,
       "input bytes one connection may have in flight before reading pauses",
       [](Options* o, const std::string& v) {
         return SetSize(&o->max_inflight_bytes, 64u << 10, 1u << 30, v);
       }},
      {"max_connections", "--max-connections", Kind::kSize,
       "open connections per listener (ingest, subscribe, http); more are refused at once",
       [](Options* o, const std::string& v) {
         return SetSize(&o->max_connections, 1, 1'000'000, v);
       }},
      {"max_total_inflight_bytes", "--max-total-inflight-bytes", Kind::kSize,
       "input bytes all TCP ingest connections together may have in flight before reading pauses",
       [](Options* o, const std::string& v) {
         return SetSize(&o->max_total_inflight_bytes, 1u << 20, size_t{1} << 36, v);
       }},
      {"lead_cache", "--lead-cache", Kind::kSize,
       "leads held in memory besides the staged and owned ones (the rest are read on demand)",
       [](Options* o, const std::string& v) {
         return SetSize(&o->lead_cache, 1000, 1'000'000'000, v);
       }},
      {"lead_journal_bytes", "--lead-journal-bytes", Kind::kSize,
       "bytes of changed leads journaled before they are checkpointed (memory; 0: no journal)",
       [](Options* o, const std::string& v) {
         return SetSize(&o->lead_journal_bytes, 0, size_t{1} << 36, v);
       }},
      {"huge_pages", "--huge-pages", Kind::kBool,
       "the heap and large tables on transparent huge pages (more events/s, longer tail)",
       [](Options* o, const std::string& v) { return SetBool(&o->huge_pages, v); }},
      {"populate_heap", "--populate-heap", Kind::kBool,
       "fault the heap's new memory in as it grows, not a page per first write (faster, ~15 MB)",
       [](Options* o, const std::string& v) { return SetBool(&o->populate_heap, v); }},
      {"backtest_max_leads", "--backtest-max-leads", Kind::kSize,
       "leads a backtest replays in memory at once (~1 KB each); more take more history passes",
       [](Options* o, const std::string& v) {
         return SetSize(&o->backtest_max_leads, 1000, 1'000'000'000, v);
       }},
      {"cluster.urls", "--cluster", Kind::kList,
       "cluster mode: NATS JetStream server URLs, nats://HOST:PORT (comma-separated or repeated)",
       [](Options* o, const std::string& v) { return AddClusterUrls(&o->cluster_urls, v); },
       &Options::cluster_urls},
      {"cluster.node_id", "--node-id", Kind::kString,
       "cluster mode: this node's name, unique in the cluster (default: the host name)",
       [](Options* o, const std::string& v) {
         o->cluster_node_id = v;
         return v.empty() ? std::string("expected a node name") : std::string();
       }},
      {"cluster.partitions", "--cluster-partitions", Kind::kSize,
       "cluster mode: partitions of the event stream, fixed when the stream is first created",
       [](Options* o, const std::string& v) {
         return SetSize(&o->cluster_partitions, 1, 1024, v);
       }},
      {"cluster.lease", "--cluster-lease", Kind::kDuration,
       "cluster mode: a partition lease not renewed for this long is taken over (1s to 10m)",
       [](Options* o, const std::string& v) {
         double seconds = 0;
         std::string error = SetDuration(&seconds, false, v);
         if (error.empty() && (seconds < 1 || seconds > 600)) {
           error = "expected a duration from 1s to 10m";
         }
         if (error.empty()) {
           o->cluster_lease = seconds;
         }
         return error;
       }},
      {"cluster.hand_overs", "--cluster-hand-overs", Kind::kBool,
       "cluster mode: merges across partitions hand the older lead over through the log",
       [](Options* o, const std::string& v) { return SetBool(&o->cluster_hand_overs, v); }},
      {"cluster.global_router", "--cluster-global-router", Kind::kBool,
       "cluster mode: one router for the cluster, the same outbox seq on every node",
       [](Options* o, const std::string& v) { return SetBool(&o->cluster_global_router, v); }},
      {"testing.fault_file", "--fault-file", Kind::kString,
       "testing only: while this path exists every store write fails (a full disk)",
       [](Options* o, const std::string& v) {
         o->fault_file = v;
         return std::string();
       }},
  };
  return table;
}

void Flatten(const YAML::Node& node, const std::string& prefix,
             std::vector<std::pair<std::string, YAML::Node>>* out) {
  for (const auto& kv : node) {
    std::string key =
        prefix.empty() ? kv.first.as<std::string>() : prefix + "." + kv.first.as<std::string>();
    if (kv.second.IsMap()) {
      Flatten(kv.second, key, out);
    } else {
      out->emplace_back(key, kv.second);
    }
  }
}

}  // namespace

Status ParseSettingDuration(const std::string& text, bool allow_zero, double* seconds) {
  // Where zero turns a feature off, any spelling of zero does: "0", "0s", "0m", ...
  if (allow_zero && !text.empty() && text.find_first_not_of('0') != 0 &&
      (text.find_first_not_of('0') == std::string::npos ||
       (text.find_first_not_of('0') == text.size() - 1 &&
        std::string_view("smhdw").find(text.back()) != std::string_view::npos))) {
    *seconds = 0;
    return Status::Ok();
  }
  std::string error;
  if (!ParseDuration(text, seconds, &error)) {
    return Status::InvalidArgument(error + (allow_zero ? " (or 0 to turn it off)" : ""));
  }
  return Status::Ok();
}

Result<HostPort> ParseListenAddress(std::string_view text) {
  return ParseHostPort(
      text, {.default_host = "127.0.0.1", .allow_empty_host = true, .allow_port_zero = true});
}

Status ApplyConfigFile(const std::string& path, Options* options) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(path + ": " + e.what());
  }
  if (root.IsNull()) {
    return Status::Ok();
  }
  if (!root.IsMap()) {
    return Status::InvalidArgument(path + ": expected a map of settings");
  }
  std::vector<std::pair<std::string, YAML::Node>> entries;
  try {
    Flatten(root, "", &entries);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(path + ": " + e.what());
  }
  std::vector<const Setting*> cleared_lists;
  for (const auto& [key, node] : entries) {
    const Setting* setting = nullptr;
    for (const Setting& s : Settings()) {
      if (key == s.key) {
        setting = &s;
      }
    }
    std::string where = path + ":" + std::to_string(node.Mark().line + 1) + ": ";
    if (setting == nullptr) {
      return Status::InvalidArgument(where + "unknown setting \"" + key + "\"");
    }
    std::vector<std::string> values;
    if (node.IsSequence()) {
      if (setting->kind != Kind::kList) {
        return Status::InvalidArgument(where + key + " takes one value, not a list");
      }
      for (const auto& item : node) {
        values.push_back(item.as<std::string>());
      }
    } else if (node.IsScalar()) {
      values.push_back(node.as<std::string>());
    } else if (!node.IsNull()) {
      return Status::InvalidArgument(where + key + ": expected a value");
    }
    if (setting->kind == Kind::kList &&
        std::find(cleared_lists.begin(), cleared_lists.end(), setting) == cleared_lists.end()) {
      (options->*setting->list).clear();  // the file's list replaces the default
      cleared_lists.push_back(setting);
    }
    for (const std::string& v : values) {
      std::string error = setting->apply(options, v);
      if (!error.empty()) {
        return Status::InvalidArgument(where + key + ": " + error);
      }
    }
  }
  return Status::Ok();
}

Status ParseCommandLine(int argc, char** argv, Options* options, bool* show_help,
                        std::string* help_text) {
  CLI::App app{"handoffd: real-time lead scoring and routing daemon"};
  app.set_help_flag("-h,--help", "show this help");
  app.footer(
      "handoffd --check-config [settings]: validate the settings, rule files and data directory, "
      "print a report with any warnings, and exit (0: the daemon would start).");
  std::string config_path;
  app.add_option("--config", config_path, "YAML config file (flags override it)");
  std::map<std::string, std::vector<std::string>> values;
  for (const Setting& s : Settings()) {
    auto* opt = app.add_option(s.flag, values[s.flag], std::string(s.help) + " [" + s.key + "]");
    if (s.kind != Kind::kList) {
      opt->expected(1);
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    *show_help = true;
    *help_text = app.help();
    return Status::Ok();
  } catch (const CLI::ParseError& e) {
    return Status::InvalidArgument(e.what());
  }
  *show_help = false;
  if (!config_path.empty()) {
    if (Status st = ApplyConfigFile(config_path, options); !st.ok()) {
      return st;
    }
  }
  for (const Setting& s : Settings()) {
    const std::vector<std::string>& given = values[s.flag];
    if (given.empty()) {
      continue;
    }
    if (s.kind == Kind::kList) {
      (options->*s.list).clear();  // flags replace the file's list
    }
    for (const std::string& v : given) {
      std::string error = s.apply(options, v);
      if (!error.empty()) {
        return Status::InvalidArgument(std::string(s.flag) + " " + v + ": " + error);
      }
    }
  }
  return Status::Ok();
}

}  // namespace handoff
