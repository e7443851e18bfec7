#include "api/admin_changes.h"

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <utility>

#include "base/ascii.h"
#include "base/hex.h"
#include "rules/sha256.h"

namespace handoff {
namespace {

constexpr std::string_view kRepPrefix = "rep.";
constexpr std::string_view kAccountPrefix = "account.";
constexpr std::string_view kOnline = "online";
constexpr std::string_view kAway = "away";
constexpr auto kEngineWait = std::chrono::seconds(60);
constexpr std::string_view kReload = "reload";
constexpr std::string_view kApply = "apply";

// Waits for a promise's answer, at most kEngineWait.
template <typename T>
std::optional<T> Await(std::future<T>* answer) {
  if (answer->wait_for(kEngineWait) != std::future_status::ready) {
    return std::nullopt;
  }
  return answer->get();
}

// Runs `change` on the engine thread and waits until the commit holding it is durable.
Status RunAndCommit(Engine* engine, std::function<Status(Engine*)> change) {
  auto result = std::make_shared<std::promise<Status>>();
  std::future<Status> answer = result->get_future();
  engine->RunOnEngine([engine, result, change = std::move(change)] {
    Status st = change(engine);
    if (!st.ok()) {
      result->set_value(std::move(st));
      return;
    }
    engine->AfterCommit([result] { result->set_value(Status::Ok()); });
  });
  std::optional<Status> st = Await(&answer);
  return st.has_value()
             ? std::move(*st)
             : Status::Unavailable("the engine did not apply the change within a minute");
}

// The rules value: "<reload|apply>\n<sha256 of the file>\n<the file>".
struct RulesChange {
  std::string_view kind;
  std::string_view sha;
  std::string_view yaml;
};

// False when `value` is no rules value.
bool ParseRulesValue(std::string_view value, RulesChange* change) {
  const size_t kind_end = value.find('\n');
  const size_t sha_end =
      kind_end == std::string_view::npos ? kind_end : value.find('\n', kind_end + 1);
  if (sha_end == std::string_view::npos) {
    return false;
  }
  change->kind = value.substr(0, kind_end);
  change->sha = value.substr(kind_end + 1, sha_end - kind_end - 1);
  change->yaml = value.substr(sha_end + 1);
  return true;
}

Status ApplyRules(Engine* engine, std::string_view value) {
  RulesChange change;
  if (!ParseRulesValue(value, &change)) {
    return Status::InvalidArgument("unreadable rules value");
  }
  const std::string_view kind = change.kind;
  const std::string_view sha = change.sha;
  if (kind != kReload && kind != kApply) {
    return Status::InvalidArgument("unknown rules change " + std::string(kind));
  }
  if (engine->rules_info().sha256 == sha) {
    return Status::Ok();  // in force here already (the node it came from, or applied before)
  }
  auto loaded = std::make_shared<std::promise<ReloadOutcome>>();
  std::future<ReloadOutcome> load_answer = loaded->get_future();
  engine->ReplaceRules(std::string(change.yaml),
                       [loaded](const ReloadOutcome& outcome) { loaded->set_value(outcome); });
  std::optional<ReloadOutcome> outcome = Await(&load_answer);
  if (!outcome.has_value()) {
    return Status::Unavailable("the rules did not load within a minute");
  }
  if (!outcome->ok) {
    return Status::FailedPrecondition(
        "the cluster's rules (sha256 " + std::string(sha) + ") do not load here: " +
        (outcome->failure.empty() && !outcome->errors.empty() ? outcome->errors[0].message
                                                              : outcome->failure));
  }
  if (kind == kApply) {
    auto evaluated = std::make_shared<std::promise<bool>>();
    std::future<bool> evaluate_answer = evaluated->get_future();
    engine->RunOnEngine([engine, evaluated] {
      engine->ReevaluateStages([evaluated](uint64_t, uint64_t) { evaluated->set_value(true); });
    });
    if (!Await(&evaluate_answer).has_value()) {
      return Status::Unavailable("the stages were not evaluated again within a minute");
    }
  }
  return Status::Ok();
}

// The rules value into the routing log (kRules), at once: no answer is waited for.
void LogRulesForTheRouter(Engine* engine, std::string_view value, uint64_t revision) {
  RulesChange change;
  if (!ParseRulesValue(value, &change)) {
    return;  // ApplyRules said so
  }
  RoutingInput input;
  input.kind = RoutingInputKind::kRules;
  input.rules_sha256 = std::string(change.sha);
  input.rules_revision = revision;
  input.rules_yaml = std::string(change.yaml);
  engine->SubmitRoutingChange(std::move(input), nullptr);
}

}  // namespace

std::string RulesValue(std::string_view yaml, bool reevaluate) {
  std::string out(reevaluate ? kApply : kReload);
  out += '\n';
  out += Sha256Hex(yaml);
  out += '\n';
  out.append(yaml);
  return out;
}

std::string RepAvailabilityKey(std::string_view rep) {
  return std::string(kRepPrefix) + HexEncode(rep);
}

std::string RepAvailabilityValue(bool online) { return std::string(online ? kOnline : kAway); }

std::string AccountOwnerKey(std::string_view domain) {
  return std::string(kAccountPrefix) + HexEncode(AsciiLowerCopy(domain));
}

Status ApplyAdminChange(Engine* engine, std::string_view key, std::string_view value,
                        uint64_t revision) {
  if (engine->global_router() && (key.substr(0, kRepPrefix.size()) == kRepPrefix ||
                                  key.substr(0, kAccountPrefix.size()) == kAccountPrefix)) {
    // The cluster's one router takes these from the routing log, at one place for every node
    // (docs/cluster.md, "The router and the outbox"); a value stored by a node without it is
    // not applied.
    return Status::Ok();
  }
  if (key.substr(0, kRepPrefix.size()) == kRepPrefix) {
    std::optional<std::string> rep = HexDecode(key.substr(kRepPrefix.size()));
    if (!rep.has_value() || (value != kOnline && value != kAway)) {
      return Status::InvalidArgument("unknown admin value " + std::string(value) + " of " +
                                     std::string(key));
    }
    return RunAndCommit(engine, [rep = std::move(*rep), online = value == kOnline](Engine* e) {
      return e->router().SetOnline(rep, online);
    });
  }
  if (key.substr(0, kAccountPrefix.size()) == kAccountPrefix) {
    std::optional<std::string> domain = HexDecode(key.substr(kAccountPrefix.size()));
    if (!domain.has_value() || value.empty()) {
      return Status::InvalidArgument("unknown admin value of " + std::string(key));
    }
    return RunAndCommit(engine, [domain = std::move(*domain), rep = std::string(value)](Engine* e) {
      return e->router().SetAccountOwner(domain, rep);
    });
  }
  if (key == kRulesKey) {
    Status st = ApplyRules(engine, value);
    if (engine->global_router()) {
      // Whether or not they load here: they are the cluster's rules, and the routers load them
      // from the log themselves.
      LogRulesForTheRouter(engine, value, revision);
    }
    return st;
  }
  return Status::InvalidArgument("unknown admin key " + std::string(key));
}

}  // namespace handoff
