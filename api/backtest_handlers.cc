// POST /v1/rules/backtest, GET /v1/rules/backtest/{id} (SPEC 13) and POST /v1/rules/apply.
#include <charconv>
#include <optional>
#include <string>
#include <utility>

#include "api/handlers.h"
#include "backtest/backtest_jobs.h"

namespace handoff {
namespace {

// How long POST /v1/rules/backtest waits for its job before answering 202: by default, a
// backtest of a small store answers at once with its result.
constexpr double kDefaultWaitSeconds = 5;
constexpr double kMaxWaitSeconds = 60;
constexpr size_t kMaxExamples = 1000;

// A job as JSON: id, state, progress; a finished job's report; a failed one's error.
std::string JobJson(const BacktestJobs::View& job) {
  std::string out = "{\"id\":\"" + std::to_string(job.id) + "\",\"state\":\"";
  out += BacktestJobs::StateName(job.state);
  out += "\",\"progress\":";
  AppendJsonNumber(job.progress, &out);
  if (job.state == BacktestJobs::State::kDone || job.state == BacktestJobs::State::kFailed) {
    out += ",\"elapsed_ms\":";
    AppendJsonNumber(job.elapsed_ms, &out);
  }
  if (job.state == BacktestJobs::State::kFailed) {
    out += ",\"error\":";
    AppendJsonString(job.error, &out);
  }
  if (job.state == BacktestJobs::State::kDone && job.result_json.size() > 2) {
    out.push_back(',');
    out.append(job.result_json, 1, std::string::npos);  // the report's fields, its closing brace
  } else {
    out.push_back('}');
  }
  return out;
}

// The {id} of a backtest path; false when it is not a job number.
bool ParseJobId(const PathParams& params, uint64_t* id) {
  const std::string_view text = params.Get("id");
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *id);
  return ec == std::errc() && end == text.data() + text.size();
}

HttpResponse JobResponse(const std::optional<BacktestJobs::View>& job) {
  if (!job.has_value()) {
    return JsonErrorResponse(404, "not_found", "no such backtest (finished ones are kept a while)");
  }
  const bool ended =
      job->state == BacktestJobs::State::kDone || job->state == BacktestJobs::State::kFailed;
  return JsonResponse(ended ? 200 : 202, JobJson(*job));
}

}  // namespace

void PostBacktest(ApiContext& api, const HttpRequest& request, const PathParams&,
                  HttpRespond respond) {
  auto query = QueryParams::Parse(request.query);
  if (!query.ok()) {
    respond(JsonErrorResponse(400, "bad_request", query.status().message()));
    return;
  }
  BacktestRequest backtest;
  backtest.at = api.clock->Now();
  backtest.max_leads_in_memory = api.backtest_max_leads;
  std::optional<EpochSeconds> at;
  if (!ReadTimeParams(*query, {{"since", &backtest.since}, {"at", &at}}, respond)) {
    return;
  }
  backtest.at = at.value_or(backtest.at);
  double wait = kDefaultWaitSeconds;
  if (auto text = query->Get("wait"); text.has_value()) {
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), wait);
    if (ec != std::errc() || end != text->data() + text->size() || !(wait >= 0) ||
        wait > kMaxWaitSeconds) {
      respond(JsonErrorResponse(400, "bad_request", "\"wait\" must be seconds from 0 to 60"));
      return;
    }
  }
  if (auto text = query->Get("examples"); text.has_value()) {
    size_t n = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
    if (ec != std::errc() || end != text->data() + text->size() || n > kMaxExamples) {
      respond(JsonErrorResponse(400, "bad_request", "\"examples\" must be a count from 0 to 1000"));
      return;
    }
    backtest.max_examples = n;
  }
  Engine* engine = api.engine;
  BacktestJobs* jobs = api.backtests;
  engine->ValidateRules(request.body, [engine, jobs, backtest = std::move(backtest), wait,
                                       respond = std::move(respond)](
                                          const LoadResult& candidate) mutable {
    // A bad candidate: the same answer as validate.
    if (!candidate.ok()) {
      respond(JsonResponse(422,
                           RulesAnswerJson(false, engine->rules_info().version, candidate.errors)));
      return;
    }
    backtest.candidate = candidate.rules;
    // The rules in force and the snapshot are taken together on the engine thread, after
    // everything acknowledged before this request is committed.
    engine->RunOnEngine([engine, jobs, backtest = std::move(backtest), wait,
                         respond = std::move(respond)]() mutable {
      backtest.live = engine->scorer().rules_ptr();
      uint64_t id = 0;
      if (Status st = jobs->Start(engine->SnapshotStore(), std::move(backtest), &id); !st.ok()) {
        respond(JsonErrorResponse(503, "unavailable", st.message()));
        return;
      }
      jobs->Await(id, wait,
                  [respond = std::move(respond)](const std::optional<BacktestJobs::View>& job) {
                    respond(JobResponse(job));
                  });
    });
  });
}

void GetBacktest(ApiContext& api, const HttpRequest&, const PathParams& params,
                 HttpRespond respond) {
  uint64_t id = 0;
  if (!ParseJobId(params, &id)) {
    respond(JsonErrorResponse(404, "not_found", "no such backtest"));
    return;
  }
  // 200 whatever the job's state: this is where its state is read.
  std::optional<BacktestJobs::View> job = api.backtests->Get(id);
  HttpRespond answer = std::move(respond);
  answer(job.has_value() ? JsonResponse(200, JobJson(*job)) : JobResponse(job));
}

void CancelBacktest(ApiContext& api, const HttpRequest&, const PathParams& params,
                    HttpRespond respond) {
  uint64_t id = 0;
  HttpRespond answer = std::move(respond);
  if (!ParseJobId(params, &id) || !api.backtests->Cancel(id).ok()) {
    answer(JsonErrorResponse(404, "not_found", "no such backtest"));
    return;
  }
  // A running job stops at its next progress check: answer once it has (it is quick).
  api.backtests->Await(id, kMaxWaitSeconds,
                       [answer = std::move(answer)](const std::optional<BacktestJobs::View>& job) {
                         answer(JobResponse(job));
                       });
}

void ApplyRules(ApiContext& api, const HttpRequest& request, const PathParams&,
                HttpRespond respond) {
  // An empty file is valid rules (no scores, no stages) but never what an apply means: it is a
  // request sent without its body, and applying it would drop every lead to "new".
  if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    respond(JsonErrorResponse(400, "bad_request",
                              "the body is empty: send the rule file to apply as the body"));
    return;
  }
  Engine* engine = api.engine;
  engine->ReplaceRules(
      request.body, [admin = api.admin, engine, yaml = request.body,
                     respond = std::move(respond)](const ReloadOutcome& outcome) mutable {
        if (!outcome.ok) {
          if (!outcome.failure.empty()) {
            respond(JsonErrorResponse(409, "cannot_apply", outcome.failure));
          } else {
            respond(JsonResponse(422, RulesAnswerJson(false, outcome.version, outcome.errors)));
          }
          return;
        }
        // On the engine thread, right after the swap: every lead's stage under the new rules.
        // `changed` counts the leads the swap moved out of stages the file no longer has too: their
        // re-evaluation happened at the swap, so the walk finds them unchanged.
        const uint64_t version = outcome.version;
        const uint64_t moved = outcome.leads_moved;
        engine->ReevaluateStages(
            [admin, version, moved, yaml = std::move(yaml), respond = std::move(respond)](
                uint64_t leads, uint64_t changed) mutable {
              HttpResponse ok =
                  JsonResponse(200, "{\"ok\":true,\"version\":" + std::to_string(version) +
                                        ",\"leads\":" + std::to_string(leads) +
                                        ",\"changed\":" + std::to_string(moved + changed) + "}");
              if (admin == nullptr) {
                respond(std::move(ok));
                return;
              }
              // Cluster mode: every node takes the file and evaluates its own leads again.
              ShareRules(admin, yaml, /*reevaluate=*/true, std::move(ok), std::move(respond));
            });
      });
}

}  // namespace handoff
