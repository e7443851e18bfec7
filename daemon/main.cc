// handoffd: parse the settings, start the daemon, serve until SIGTERM/SIGINT.
// `handoffd --check-config [settings...]` validates the settings, the rule files and the data
// directory, prints a report and exits (0: the daemon would start; 1: it would not).
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "base/log.h"
#include "daemon/config.h"
#include "daemon/config_check.h"
#include "daemon/daemon.h"

#ifdef HANDOFF_TCMALLOC
#include <gperftools/malloc_extension.h>
#include <sys/mman.h>

namespace {

// tcmalloc's source of memory, wrapped: each block it takes from the system (1 MiB or more) is
// faulted in by the kernel at once (MADV_POPULATE_WRITE) instead of a page per fault on first
// use, which is what the heap's growth cost the engine and commit threads (base/zeroed_memory.h
// has the figures).
class PopulatingSysAllocator : public SysAllocator {
 public:
  explicit PopulatingSysAllocator(SysAllocator* system) : system_(system) {}
  void* Alloc(size_t size, size_t* actual_size, size_t alignment) override {
    void* block = system_->Alloc(size, actual_size, alignment);
    if (block != nullptr) {
      // Best effort: a kernel without it (before 5.14) faults the pages in on use, as before.
      (void)madvise(block, *actual_size, MADV_POPULATE_WRITE);
    }
    return block;
  }

 private:
  SysAllocator* system_;
};

void PopulateHeapGrowth() {
  MallocExtension* malloc = MallocExtension::instance();
  SysAllocator* system = malloc->GetSystemAllocator();
  if (system != nullptr) {
    static PopulatingSysAllocator populating(system);
    malloc->SetSystemAllocator(&populating);
  }
}

}  // namespace
#endif

int main(int argc, char** argv) {
#ifdef HANDOFF_TCMALLOC
  PopulateHeapGrowth();
#endif
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
