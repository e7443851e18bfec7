// handoffd: parse the settings, start the daemon, serve until SIGTERM/SIGINT.
// `handoffd --check-config [settings...]` validates the settings, the rule files and the data
// directory, prints a report and exits (0: the daemon would start; 1: it would not).
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/zeroed_memory.h"
#include "daemon/config.h"
#include "daemon/config_check.h"
#include "daemon/daemon.h"
#include "daemon/heap_source.h"

int main(int argc, char** argv) {
  // --check-config is an action, not a setting: take it out before the settings are parsed.
  bool check_config = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && std::strcmp(argv[i], "--check-config") == 0) {
      check_config = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  argc = static_cast<int>(args.size());
  argv = args.data();

  handoff::Options options;
  bool show_help = false;
  std::string help;
  if (handoff::Status st = handoff::ParseCommandLine(argc, argv, &options, &show_help, &help);
      !st.ok()) {
    std::fprintf(stderr, "handoffd: %s\n", st.message().c_str());
    return 2;
  }
  if (show_help) {
    std::fputs(help.c_str(), stdout);
    return 0;
  }
  if (check_config) {
    std::string report;
    const handoff::Status st = handoff::CheckConfig(options, &report);
    std::fputs(report.c_str(), stdout);
    return st.ok() ? 0 : 1;
  }
  // Before the daemon starts: every heap block (and, with huge pages, every table) from here on
  // comes the configured way.
  if (options.huge_pages) {
    handoff::SetHugePages(true);
  }
  (void)handoff::InstallHeapSource(
      handoff::HeapSource{.populate = options.populate_heap, .huge_pages = options.huge_pages});
  for (const std::string& warning : handoff::ConfigWarnings(options)) {
    handoff::LogWarning("WARNING: " + warning);
  }
  handoff::Daemon daemon(options);
  if (handoff::Status st = daemon.Start(); !st.ok()) {
    handoff::LogError("cannot start: " + st.ToString());
    return 1;
  }
  daemon.Run();
  return 0;
}
