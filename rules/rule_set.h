// RuleSet: a loaded, validated, compiled rule file (SPEC 5 and 7), immutable once built.
//
// The daemon holds the rules in force as std::shared_ptr<const RuleSet> and swaps the pointer on a
// reload, so each event is scored wholly by one version. Everything here is read-only after load
// and safe to share between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/expression.h"

namespace date {
class time_zone;
}

namespace handoff {

// Where a definition came from, for messages.
struct SourcePos {
  std::string file;
  int line = 0;  // 1-based
  int col = 0;   // 1-based
};

enum class ScoreKind : uint8_t { kEvent, kProfile };

struct ScoreDef {
  std::string name;
  ScoreKind kind = ScoreKind::kEvent;
  double half_life = 0;  // seconds; 0 = no decay (event scores only)
  SourcePos pos{};
};

struct CapDef {
  double points = 0;  // at most this many absolute raw points per window
  double per = 0;     // window length in seconds; window = floor(t / per)
};

struct RuleDef {
  std::string id;  // unique, [a-z0-9_-]+
  int score = 0;   // index into RuleSet::scores
  Expression when;
  double points = 0;
  std::optional<CapDef> cap;  // event scores only
  bool once = false;          // event scores only
  SourcePos pos;
};

struct StageDef {
  std::string name;
  Expression enter{};  // stage 0 ("new") has none
  Expression exit{};   // when has_exit is false, exit is !(enter)
  bool has_exit = false;
  SourcePos pos{};  // stage 0 ("new"): empty
};

// A weekly schedule in a rep's local time: half-open [start, end) minute-of-week intervals,
// Monday 00:00 = 0. Empty with `always` set: no restriction.
struct WorkingHours {
  bool always = true;
  std::vector<std::pair<int, int>> intervals;
  std::string text;  // as written, for display
  // True when `minute_of_week` (Monday 00:00 = 0, in the rep's local time) is inside the schedule.
  // Defined in rules/working_hours.cc, which also parses the syntax.
  bool Contains(int minute_of_week) const;
};

enum class RoutingStrategy : uint8_t { kRoundRobin, kWeightedRoundRobin, kLeastLoaded };
std::string_view RoutingStrategyName(RoutingStrategy s);  // "round_robin", ...

struct RepDef {
  std::string id;
  int weight = 1;        // >= 1
  int max_open = -1;     // -1: unlimited
  int max_per_day = -1;  // -1: unlimited
  std::string timezone = "UTC";
  const date::time_zone* tz = nullptr;  // resolved from the system tz database; never null
  WorkingHours hours;
  // Typed as YAML reads them (SPEC 7's "in the rep's skills" compares values, as `in` does):
  // `[en, 1, true]` holds a string, a number and a boolean.
  std::vector<Value> skills;
  SourcePos pos;
};

struct TeamDef {
  std::string id;
  Expression when;
  RoutingStrategy strategy = RoutingStrategy::kRoundRobin;
  std::optional<Expression> skill;
  std::vector<RepDef> reps;
  SourcePos pos;
};

struct SlaDef {
  double accept_within = 0;  // seconds; 0 = no SLA timer
  int max_reassign = 2;
};

struct RoutingDef {
  bool enabled = false;  // false when the file has no routing section
  std::string stage;     // the routing stage's name
  int stage_index = -1;  // index into RuleSet::stages
  bool account_match = false;
  SlaDef sla;
  std::vector<TeamDef> teams;
};

struct RuleSet {
  // Stage 0 is always "new"; the file's stages follow, lowest first.
  std::vector<ScoreDef> scores;
  std::vector<RuleDef> rules;
  std::vector<StageDef> stages;
  RoutingDef routing;

  // Derived indexes, filled by Finalize().
  std::vector<int> event_rules;    // rules of event scores, file order
  std::vector<int> profile_rules;  // rules of profile scores, file order

  std::string path;    // what was loaded (a file or a directory)
  std::string sha256;  // hex digest of the loaded bytes (a directory: each file's name and bytes)

  int FindScore(std::string_view name) const;  // -1 when absent
  int FindStage(std::string_view name) const;
  int FindRule(std::string_view id) const;
  // Fills the derived indexes. Called by the loader once every definition is in place.
  void Finalize();
};

}  // namespace handoff
