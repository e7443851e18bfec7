#include "rules/routing_loader.h"

#include <date/tz.h>

#include <map>

#include "rules/suggest.h"
#include "rules/working_hours.h"

namespace handoff::rules_internal {
namespace {

const std::vector<std::string_view> kRoutingKeys = {"stage", "account_match", "sla", "teams"};
const std::vector<std::string_view> kSlaKeys = {"accept_within", "max_reassign"};
const std::vector<std::string_view> kTeamKeys = {"id", "when", "strategy", "skill", "reps"};
const std::vector<std::string_view> kRepKeys = {"id",       "weight", "max_open", "max_per_day",
                                                "timezone", "hours",  "skills"};
const std::vector<std::string_view> kStrategies = {"round_robin", "weighted_round_robin",
                                                   "least_loaded"};

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool IsRepId(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.' || c == '@')) {
      return false;
    }
  }
  return true;
}

// Resolves an IANA time zone name; null with `*error` set when unknown.
const date::time_zone* LocateZone(const std::string& name, std::string* error) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
  }
  std::vector<std::string_view> names;
  try {
    for (const date::time_zone& zone : date::get_tzdb().zones) {
      names.push_back(zone.name());
    }
  } catch (const std::exception& e) {
    *error = "cannot read the time zone database: " + std::string(e.what());
    return nullptr;
  }
  std::string hint = DidYouMean(name, names);
  if (hint.empty()) {
    hint = " (expected an IANA time zone name such as America/New_York, Europe/Berlin or UTC)";
  }
  *error = "unknown time zone " + Quoted(name) + hint;
  return nullptr;
}

class RoutingLoader {
 public:
  RoutingLoader(YamlReader& reader, const std::vector<std::string>& score_names, RuleSet* rules)
      : reader_(reader), score_names_(score_names), rules_(rules) {}

  void Load(const Field& section) {
    const YAML::Node& node = section.value;
    if (node.IsNull()) {
      return;  // an empty section: no routing
    }
    std::optional<MapFields> fields = reader_.ReadMap(node, "routing", kRoutingKeys);
    if (!fields) {
      return;
    }
    RoutingDef& routing = rules_->routing;
    routing.enabled = true;
    reader_.Require(*fields, "routing", {"stage", "teams"});
    if (const Field* f = fields->Find("stage")) {
      LoadStage(*f);
    }
    if (const Field* f = fields->Find("account_match")) {
      routing.account_match = reader_.Bool(*f).value_or(false);
    }
    if (const Field* f = fields->Find("sla")) {
      LoadSla(*f);
    }
    if (const Field* f = fields->Find("teams")) {
      LoadTeams(*f);
    }
  }

 private:
  void LoadStage(const Field& f) {
    std::optional<std::string> name = reader_.String(f);
    if (!name) {
      return;
    }
    RoutingDef& routing = rules_->routing;
    routing.stage = *name;
    const int index = rules_->FindStage(*name);
    if (index == 0) {
      reader_.Error(f.value,
                    "routing cannot start at stage \"new\" (every lead starts there); "
                    "name a stage defined under stages:");
      return;
    }
    if (index < 0) {
      std::vector<std::string_view> names;
      for (size_t i = 1; i < rules_->stages.size(); ++i) {
        names.push_back(rules_->stages[i].name);
      }
      std::string hint = DidYouMean(*name, names);
      if (names.empty()) {
        hint = " (no stages are defined: add them under stages:)";
      }
      reader_.Error(f.value, "unknown stage " + Quoted(*name) + hint);
      return;
    }
    routing.stage_index = index;
  }

  void LoadSla(const Field& f) {
    std::optional<MapFields> fields = reader_.ReadMap(f.value, "sla", kSlaKeys);
    if (!fields) {
      return;
    }
    SlaDef& sla = rules_->routing.sla;
    if (const Field* g = fields->Find("accept_within")) {
      sla.accept_within = reader_.Duration(*g).value_or(0);
    }
    if (const Field* g = fields->Find("max_reassign")) {
      sla.max_reassign = static_cast<int>(reader_.Integer(*g, 0).value_or(sla.max_reassign));
    }
  }

  void LoadTeams(const Field& f) {
    if (!f.value.IsSequence() || f.value.size() == 0) {
      const YAML::Node& at = f.value.IsNull() ? f.key : f.value;
      reader_.Error(at,
                    "teams must be a list of at least one team, each starting with "
                    "\"- id:\", got " +
                        reader_.Describe(f.value));
      return;
    }
    for (const YAML::Node& item : f.value) {
      LoadTeam(item);
    }
  }

  void LoadTeam(const YAML::Node& node) {
    std::optional<MapFields> fields = reader_.ReadMap(node, "team", kTeamKeys);
    if (!fields) {
      return;
    }
    TeamDef team;
    team.pos = reader_.Pos(node);
    team.when = Expression::Constant(Value::Bool(true));  // no `when`: takes every lead
    if (const Field* f = fields->Find("id")) {
      if (std::optional<std::string> id = reader_.String(*f)) {
        team.id = *id;
        if (*id == kUnroutedTeam) {
          reader_.Error(f->value,
                        "team id \"unrouted\" is reserved for the queue of leads no "
                        "team takes; choose another id");
        } else if (!IsSlug(*id)) {
          reader_.Error(f->value, "invalid team id " + Quoted(*id) +
                                      ": expected lowercase letters, digits, '-' and '_'");
        } else if (auto first = team_ids_.find(*id); first != team_ids_.end()) {
          reader_.Error(f->value, "duplicate team id " + Quoted(*id) + " (first defined at line " +
                                      std::to_string(first->second.line) + ")");
        } else {
          team_ids_.emplace(*id, reader_.Pos(f->value));
        }
      }
    }
    reader_.Require(*fields, team.id.empty() ? "team" : "team " + Quoted(team.id), {"id", "reps"});
    if (const Field* f = fields->Find("when")) {
      if (std::optional<Expression> when = reader_.Expr(*f, ExpressionScope::kLead, score_names_)) {
        team.when = std::move(*when);
      }
    }
    if (const Field* f = fields->Find("strategy")) {
      if (std::optional<std::string> s = reader_.String(*f)) {
        if (*s == "round_robin") {
          team.strategy = RoutingStrategy::kRoundRobin;
        } else if (*s == "weighted_round_robin") {
          team.strategy = RoutingStrategy::kWeightedRoundRobin;
        } else if (*s == "least_loaded") {
          team.strategy = RoutingStrategy::kLeastLoaded;
        } else {
          std::string hint = DidYouMean(*s, kStrategies);
          reader_.Error(f->value, "unknown strategy " + Quoted(*s) +
                                      ": expected round_robin, weighted_round_robin or "
                                      "least_loaded" +
                                      hint);
        }
      }
    }
    if (const Field* f = fields->Find("skill")) {
      team.skill = reader_.Expr(*f, ExpressionScope::kLead, score_names_);
    }
    if (const Field* f = fields->Find("reps")) {
      if (!f->value.IsSequence() || f->value.size() == 0) {
        const YAML::Node& at = f->value.IsNull() ? f->key : f->value;
        reader_.Error(at,
                      "reps must be a list of at least one rep (e.g. reps: [{id: carol}]), "
                      "got " +
                          reader_.Describe(f->value));
      } else {
        for (const YAML::Node& item : f->value) {
          if (std::optional<RepDef> rep = LoadRep(item, team.id)) {
            team.reps.push_back(std::move(*rep));
          }
        }
      }
    }
    rules_->routing.teams.push_back(std::move(team));
  }

  std::optional<RepDef> LoadRep(const YAML::Node& node, const std::string& team_id) {
    std::optional<MapFields> fields = reader_.ReadMap(node, "rep", kRepKeys);
    if (!fields) {
      return std::nullopt;
    }
    RepDef rep;
    rep.pos = reader_.Pos(node);
    if (const Field* f = fields->Find("id")) {
      if (std::optional<std::string> id = reader_.String(*f)) {
        rep.id = *id;
        if (!IsRepId(*id)) {
          reader_.Error(f->value, "invalid rep id " + Quoted(*id) +
                                      ": expected letters, digits, '.', '@', '-' and '_'");
        } else if (auto first = rep_teams_.find(*id); first != rep_teams_.end()) {
          reader_.Error(f->value, "rep " + Quoted(*id) + " is already in team " +
                                      Quoted(first->second.first) + " (line " +
                                      std::to_string(first->second.second.line) +
                                      "); a rep belongs to one team");
        } else {
          rep_teams_.emplace(*id, std::make_pair(team_id, reader_.Pos(f->value)));
        }
      }
    }
    reader_.Require(*fields, rep.id.empty() ? "rep" : "rep " + Quoted(rep.id), {"id"});
    if (const Field* f = fields->Find("weight")) {
      rep.weight = static_cast<int>(reader_.Integer(*f, 1).value_or(1));
    }
    if (const Field* f = fields->Find("max_open")) {
      rep.max_open = static_cast<int>(reader_.Integer(*f, 1).value_or(-1));
    }
    if (const Field* f = fields->Find("max_per_day")) {
      rep.max_per_day = static_cast<int>(reader_.Integer(*f, 1).value_or(-1));
    }
    std::string tz_error;
    if (const Field* f = fields->Find("timezone")) {
      if (std::optional<std::string> name = reader_.String(*f)) {
        rep.timezone = *name;
        rep.tz = LocateZone(*name, &tz_error);
        if (rep.tz == nullptr) {
          reader_.Error(f->value, tz_error);
        }
      }
    } else {
      rep.tz = LocateZone(rep.timezone, &tz_error);
      if (rep.tz == nullptr) {
        reader_.Error(node, tz_error);
      }
    }
    if (const Field* f = fields->Find("hours")) {
      if (std::optional<std::string> text = reader_.String(*f)) {
        HoursError error;
        if (!ParseWorkingHours(*text, &rep.hours, &error)) {
          reader_.ErrorAtByte(reader_.file().ScalarBytePos(f->value, error.offset),
                              std::move(error.message));
        }
      }
    }
    if (const Field* f = fields->Find("skills")) {
      if (std::optional<std::vector<Value>> skills = reader_.ValueList(*f)) {
        rep.skills = std::move(*skills);
      }
    }
    return rep;
  }

  YamlReader& reader_;
  const std::vector<std::string>& score_names_;
  RuleSet* rules_;
  std::map<std::string, SourcePos, std::less<>> team_ids_;
  std::map<std::string, std::pair<std::string, SourcePos>, std::less<>> rep_teams_;
};

}  // namespace

void LoadRouting(YamlReader& reader, const Field& section,
                 const std::vector<std::string>& score_names, RuleSet* rules) {
  RoutingLoader(reader, score_names, rules).Load(section);
}

}  // namespace handoff::rules_internal
