// handoffd: parse the settings, start the daemon, serve until SIGTERM/SIGINT.
#include <cstdio>

#include "base/log.h"
#include "daemon/config.h"
#include "daemon/daemon.h"

int main(int argc, char** argv) {
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
  handoff::Daemon daemon(options);
  if (handoff::Status st = daemon.Start(); !st.ok()) {
    handoff::LogError("cannot start: " + st.ToString());
    return 1;
  }
  daemon.Run();
  return 0;
}
