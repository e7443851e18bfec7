#include "tools/lint.h"

#include "rules/rule_loader.h"

namespace handoff {

int Lint(const std::string& path, std::ostream& out) {
  const LoadResult result = LoadRules(path);
  if (!result.ok()) {
    for (const LoadError& e : result.errors) {
      out << e.ToString() << "\n";
    }
    out.flush();
    return 1;
  }
  const RuleSet& rules = *result.rules;
  const size_t stages = rules.stages.empty() ? 0 : rules.stages.size() - 1;
  out << path << ": ok (" << rules.scores.size() << " scores, " << rules.rules.size() << " rules, "
      << stages << " stages, " << rules.routing.teams.size() << " teams)\n";
  out.flush();
  return 0;
}

int LintCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() == 1 && (args[0] == "-h" || args[0] == "--help")) {
    out << "usage: handoff lint PATH\n"
           "Checks a rule file, or a directory of *.yaml rule files, as handoffd would load it.\n"
           "Prints each error as FILE:LINE:COL: message and exits 1; exits 0 when clean.\n";
    return 0;
  }
  if (args.size() != 1 || args[0].empty() || args[0][0] == '-') {
    err << "usage: handoff lint PATH\n";
    return 2;
  }
  return Lint(args[0], out);
}

}  // namespace handoff
