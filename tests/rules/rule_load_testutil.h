// Helpers for tests that load rule text: every error as a line, or the rules with any error a
// test failure.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rules/rule_loader.h"

namespace handoff::testing {

// Every error of loading `yaml` as "r.yaml", as FILE:LINE:COL: message lines.
inline std::vector<std::string> Errors(std::string_view yaml) {
  LoadResult r = LoadRulesFromString(yaml, "r.yaml");
  EXPECT_EQ(r.rules == nullptr, !r.errors.empty());
  std::vector<std::string> out;
  for (const LoadError& e : r.errors) {
    out.push_back(e.ToString());
  }
  return out;
}

// The rules of `yaml`; each load error is a test failure (and the result null).
inline std::shared_ptr<const RuleSet> Load(std::string_view yaml) {
  LoadResult r = LoadRulesFromString(yaml, "r.yaml");
  for (const LoadError& e : r.errors) {
    ADD_FAILURE() << e.ToString();
  }
  return r.rules;
}

}  // namespace handoff::testing
