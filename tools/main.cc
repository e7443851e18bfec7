// handoff: the command-line tool (SPEC 11). main() only picks a subcommand from the table below;
// each subcommand lives in its own tools/*.cc with a testable function.
#include <unistd.h>

#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "tools/backtest.h"
#include "tools/lead.h"
#include "tools/lint.h"
#include "tools/loadgen.h"
#include "tools/sales.h"
#include "tools/send.h"
#include "tools/tail.h"

namespace {

struct Subcommand {
  std::string_view name;
  std::string_view summary;
  // The words after the subcommand's name; returns the exit code.
  int (*run)(const std::vector<std::string>& args);
};

int RunLint(const std::vector<std::string>& args) {
  return handoff::LintCommand(args, std::cout, std::cerr);
}

int RunSend(const std::vector<std::string>& args) {
  return handoff::SendCommand(args, std::cout, std::cerr, ::isatty(STDOUT_FILENO) == 1);
}
int RunForget(const std::vector<std::string>& args) {
  return handoff::ForgetCommand(args, std::cout, std::cerr);
}

int RunBacktest(const std::vector<std::string>& args) {
  return handoff::BacktestCommand(args, std::cout, std::cerr, ::isatty(STDERR_FILENO) == 1);
}

int RunLead(const std::vector<std::string>& args) {
  return handoff::LeadCommand(args, std::cout, std::cerr);
}
int RunTail(const std::vector<std::string>& args) {
  return handoff::TailCommand(args, std::cout, std::cerr);
}
int RunAccept(const std::vector<std::string>& args) {
  return handoff::SalesCommand("accept", args, std::cout, std::cerr);
}
int RunReject(const std::vector<std::string>& args) {
  return handoff::SalesCommand("reject", args, std::cout, std::cerr);
}
int RunClose(const std::vector<std::string>& args) {
  return handoff::SalesCommand("close", args, std::cout, std::cerr);
}
int RunLoadgen(const std::vector<std::string>& args) {
  return handoff::LoadgenCommand(args, std::cout, std::cerr);
}

constexpr Subcommand kSubcommands[] = {
    {"lint", "check rule files: handoff lint PATH", RunLint},
    {"backtest", "what a candidate rule file would change: handoff backtest PATH [--apply]",
     RunBacktest},
    {"send", "stream NDJSON events to the daemon: handoff send FILE... (- for stdin)", RunSend},
    {"tail", "print outbox records as they happen: handoff tail [--kinds routed,stage]", RunTail},
    {"lead", "one lead's stage, owner and score breakdown: handoff lead ID [--history]", RunLead},
    {"forget", "erase a lead, its history and linked ids: handoff forget ID", RunForget},
    {"accept", "accept a routed lead: handoff accept SEQ", RunAccept},
    {"reject", "reject a routed lead: handoff reject SEQ [--reason TEXT]", RunReject},
    {"close", "close a lead: handoff close SEQ --outcome won|lost|recycled [--amount N]", RunClose},
    {"loadgen", "synthetic load with latency report: handoff loadgen --rate R --duration S",
     RunLoadgen},
};

int Usage(std::ostream& out, int code) {
  out << "usage: handoff COMMAND [ARGS...]\n\ncommands:\n";
  for (const Subcommand& c : kSubcommands) {
    out << "  " << c.name << std::string(c.name.size() < 10 ? 10 - c.name.size() : 1, ' ')
        << c.summary << "\n";
  }
  out << "\nhandoff COMMAND --help shows a command's options.\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    return Usage(std::cerr, 2);
  }
  const std::string_view name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    return Usage(std::cout, 0);
  }
  for (const Subcommand& c : kSubcommands) {
    if (c.name == name) {
      return c.run(std::vector<std::string>(argv + 2, argv + argc));
    }
  }
  std::cerr << "handoff: unknown command \"" << name << "\"\n\n";
  return Usage(std::cerr, 2);
}
