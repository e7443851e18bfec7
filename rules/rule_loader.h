// Loading rule files (SPEC 5 and 7): YAML in, a validated and compiled RuleSet out.
//
// A load either succeeds whole or fails whole: on any error the result has no RuleSet and lists
// every error found (the loader keeps going after an error, so one bad rule does not hide the
// next). Errors read `FILE:LINE:COL: message` with 1-based lines and columns (columns count
// characters) pointing at the first character of the offending key, value or expression token.
//
// What the loader accepts (the reference for admins is rules/examples/default.yaml):
// - Top level: a map with the sections `scores` (map), `rules` (list), `stages` (list) and
//   `routing` (map), all optional. An empty file is an empty rule set.
// - A directory: every regular `*.yaml` file directly in it whose name does not start with '.',
//   in byte-wise lexical order of the names. The list sections `rules` and `stages` are
//   concatenated in that order (so stages across files still go lowest first); the map sections
//   `scores` and `routing` may each appear in one file only (routing's `teams` list lives inside
//   `routing`, so all teams are in that one file). A directory without such files is an error.
// - Names: score names are identifiers `[a-z_][a-z0-9_]*` that are not expression keywords (they
//   are written `score.NAME` in expressions); rule ids, stage names and team ids are
//   `[a-z0-9_-]+`; rep ids are `[A-Za-z0-9._@-]+` (so a CRM user id or an email works).
// - Values are typed as YAML types them: `points: "10"` (a quoted string) is not a number.
//   Booleans are true/True/TRUE/false/False/FALSE. Where an expression is expected, an unquoted
//   boolean, number or null (`~`, `null`) is that constant; anything else is compiled as
//   expression text (quoted or block scalars are always compiled).
// - See rules/duration.h for durations and rules/working_hours.h for `hours`.
//
// Thread-safe: loads share no state.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rules/rule_set.h"

namespace handoff {

struct LoadError {
  std::string file;
  int line = 0;  // 1-based; 0 when the error has no position (an unreadable file)
  int col = 0;   // 1-based, in characters
  std::string message;
  // "FILE:LINE:COL: message", or "FILE: message" when there is no position.
  std::string ToString() const;
};

struct LoadResult {
  std::shared_ptr<const RuleSet> rules;  // null on any error
  std::vector<LoadError> errors;         // in file order, then line and column
  bool ok() const { return rules != nullptr; }
};

// Loads `path`, a file or a directory (see above). RuleSet::path is `path`; RuleSet::sha256 is the
// digest of the file's bytes, or for a directory of each loaded file's name, a NUL byte and its
// bytes, in load order.
LoadResult LoadRules(const std::string& path);

// Loads rules from memory (POST /v1/rules/validate): `file_name` names the text in errors and is
// RuleSet::path; sha256 is the digest of `yaml`.
LoadResult LoadRulesFromString(std::string_view yaml, std::string_view file_name);

}  // namespace handoff
