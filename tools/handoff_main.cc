// handoff: the command-line tool (SPEC 11). main() only picks a subcommand from the table below;
// each subcommand lives in its own tools/*.cc with a testable function.
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "tools/lint.h"

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

constexpr Subcommand kSubcommands[] = {
    {"lint", "check rule files: handoff lint PATH", RunLint},
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
