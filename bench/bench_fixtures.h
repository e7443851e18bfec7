// Fixtures shared by the micro-benchmarks (bench/*_bench.cc): the answer check every benchmark
// runs before it times, a temporary data directory and a store on it, and the 50-rule scoring
// model with a typical event, lead and outbox record.
//
// Two kinds of failure: a wrong answer fails that benchmark (Verify: SkipWithError, and the
// benchmark returns before timing anything; the others still run); a fixture that cannot be built
// (the store does not open, the model does not load) ends the process (Require).
#pragma once

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "handoff/event.h"
#include "ingest/event_parser.h"
#include "outbox/outbox_record.h"
#include "rules/rule_loader.h"
#include "scoring/scorer.h"
#include "storage/rocks_store.h"

namespace handoff::bench {

// Fails the benchmark with `what` unless `ok`; the caller then returns before its timing loop:
//   if (!Verify(state, parsed, "event parses")) { return; }
inline bool Verify(benchmark::State& state, bool ok, const char* what) {
  if (!ok) {
    state.SkipWithError(what);
  }
  return ok;
}

// Ends the process with `what` unless `ok`: for fixtures, not answers.
inline void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "benchmark fixture failed: %s\n", what);
    std::abort();
  }
}

// A fresh directory under $TMPDIR (default /tmp), removed with everything in it when the object
// dies. Unique per run, so benchmarks running at the same time do not share a RocksDB lock.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base != nullptr ? base : "/tmp") + "/handoff-bench-XXXXXX";
    Require(::mkdtemp(templ.data()) != nullptr, "mkdtemp");
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A RocksStore opened with `options`; aborts the benchmark when it does not open.
inline std::unique_ptr<RocksStore> OpenStore(const StoreOptions& options) {
  Result<std::unique_ptr<RocksStore>> store = RocksStore::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "open %s: %s\n", options.path.c_str(), store.status().ToString().c_str());
  }
  Require(store.ok(), "store opens");
  return std::move(store).value();
}

// A RocksStore at `path` (created), with the daemon's defaults but `durability`.
inline std::unique_ptr<RocksStore> OpenStore(const std::string& path,
                                             Durability durability = Durability::kProcess) {
  StoreOptions options;
  options.path = path;
  options.durability = durability;
  return OpenStore(options);
}

// 50 rules: 10 profile rules and 40 event rules of the shapes admins write (event names, page
// paths, property checks, caps, once, score thresholds), over three scores.
inline std::string FiftyRuleModel() {
  std::string y =
      "scores:\n"
      "  fit: {kind: profile}\n"
      "  engagement: {kind: event, half_life: 14d}\n"
      "  intent: {kind: event, half_life: 7d}\n"
      "rules:\n";
  const char* titles[] = {"vp", "head", "chief", "director", "manager"};
  for (int i = 0; i < 5; ++i) {
    y += "  - {id: title-" + std::to_string(i) +
         ", score: fit, when: 'traits.title matches \"(?i)\\\\b" + titles[i] +
         "\\\\b\"', points: " + std::to_string(5 + i) + "}\n";
  }
  for (int i = 0; i < 5; ++i) {
    y += "  - {id: size-" + std::to_string(i) +
         ", score: fit, when: 'traits.company.employees >= " + std::to_string((i + 1) * 200) +
         "', points: 5}\n";
  }
  for (int i = 0; i < 20; ++i) {
    y += "  - {id: track-" + std::to_string(i) + ", score: engagement, when: 'event == \"Event " +
         std::to_string(i) + "\"', points: " + std::to_string(i % 7 + 1) +
         (i % 4 == 0 ? ", once: true" : "") + "}\n";
  }
  for (int i = 0; i < 15; ++i) {
    y += "  - {id: page-" + std::to_string(i) +
         ", score: intent, when: 'type == \"page\" && properties.path starts_with \"/p" +
         std::to_string(i) + "\"', points: 3, cap: {points: 9, per: 1d}}\n";
  }
  for (int i = 0; i < 5; ++i) {
    y += "  - {id: plan-" + std::to_string(i) +
         ", score: intent, when: 'properties.plan == \"tier" + std::to_string(i) +
         "\" && score.engagement >= " + std::to_string(i * 10) + "', points: 4}\n";
  }
  y += "stages:\n"
       "  - {name: mql, enter: 'score.engagement >= 40 || score.fit >= 50'}\n"
       "  - {name: sql, enter: 'score.engagement >= 80 && score.intent >= 20', "
       "exit: 'score.engagement < 60'}\n";
  return y;
}

inline std::shared_ptr<const RuleSet> LoadFiftyRuleModel() {
  LoadResult loaded = LoadRulesFromString(FiftyRuleModel(), "bench.yaml");
  for (const LoadError& e : loaded.errors) {
    std::fprintf(stderr, "%s\n", e.ToString().c_str());
  }
  Require(loaded.ok(), "50-rule model loads");
  Require(loaded.rules->rules.size() == 50, "model has 50 rules");
  return loaded.rules;
}

// A ~300-byte track event that one rule of the 50-rule model (track-7, 1 point) awards.
inline constexpr std::string_view kSampleTrackEvent =
    R"({"type":"track","event":"Event 7","userId":"user-48213","messageId":"msg-183",)"
    R"("timestamp":"2026-11-22T10:00:00.123Z","properties":{"plan":"tier2","seats":25,)"
    R"("referrer":"https://www.example.com/blog"},"context":{"ip":"203.0.113.7",)"
    R"("page":{"path":"/pricing"},"userAgent":"Mozilla/5.0"}})";

// A lead after an identify (email, title, company) and 20 page views over 20 hours under the
// 50-rule model: traits, 15 awards (capped, with windows), three scores. ~0.5 KB encoded.
inline Lead TypicalLead(const Scorer& scorer) {
  EventParser parser;
  Event event;
  ParseError err;
  Lead lead;
  lead.id = "user-48213";
  Require(parser.Parse(R"({"type":"identify","userId":"user-48213","traits":{)"
                       R"("email":"ann@acme.com","title":"VP Marketing",)"
                       R"("company":{"name":"Acme","employees":900}}})",
                       &event, &err),
          "identify parses");
  (void)scorer.Apply(event, &lead);
  for (int i = 0; i < 20; ++i) {
    std::string json = R"({"type":"page","userId":"user-48213","properties":{"path":"/p)" +
                       std::to_string(i % 15) + R"("},"timestamp":)" +
                       std::to_string(1795341600 + i * 3600) + "}";
    Require(parser.Parse(json, &event, &err), "page parses");
    (void)scorer.Apply(event, &lead);
  }
  return lead;
}

// A `routed` record for TypicalLead as the engine publishes it (core/engine.cc Publish): the
// lead's scores, traits and stage, a rep and team, the trigger. Views point into this object,
// so it stays where it is built.
class SampleRecord {
 public:
  SampleRecord() : scorer_(LoadFiftyRuleModel()), lead_(TypicalLead(scorer_)) {
    at_ = lead_.last_seen;
    scorer_.ReadScores(&lead_, at_, &scores_);
    record_.kind = OutboxKind::kRouted;
    record_.at = at_;
    record_.lead = lead_.id;
    record_.rep = "alice";
    record_.team = "enterprise";
    record_.reason = "weighted_round_robin";
    record_.stage = lead_.stage;
    record_.score_defs = &scorer_.rules().scores;
    record_.scores = scores_.data();
    record_.traits = &lead_.traits;
    record_.trigger = "msg-2026-11-22-000183";
  }
  SampleRecord(const SampleRecord&) = delete;
  SampleRecord& operator=(const SampleRecord&) = delete;

  const OutboxRecord& record() const { return record_; }
  OutboxRecord* mutable_record() { return &record_; }
  const Lead& lead() const { return lead_; }
  const std::vector<double>& scores() const { return scores_; }
  const Scorer& scorer() const { return scorer_; }

 private:
  Scorer scorer_;
  Lead lead_;
  EpochSeconds at_ = 0;
  std::vector<double> scores_;
  OutboxRecord record_;
};

}  // namespace handoff::bench
