#include "tools/backtest.h"

#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "tools/lead.h"
#include "tools/net.h"

namespace handoff {

namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(200);

std::string FormatFixed(const char* format, double a) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, a);
  return buf;
}

// A number for people (FormatScore: at most two decimals), "-" when absent or not a number.
std::string Number(const Value* v) {
  if (v == nullptr || !v->is_number()) {
    return "-";
  }
  return FormatScore(v->as_number());
}

double NumberOr0(const Value* v) { return v != nullptr && v->is_number() ? v->as_number() : 0; }

// A difference with its sign: "+412", "-5", "0".
std::string Delta(double d) {
  std::string s = FormatScore(d);
  return d > 0 && s != "0" ? "+" + s : s;
}

// Appends `rows` as a table: two spaces of indent, the first `text_columns` columns (names)
// left-aligned, the others (numbers) right-aligned, two spaces between columns.
void AppendTable(const std::vector<std::vector<std::string>>& rows, std::string* out,
                 size_t text_columns = 1) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line = " ";
    for (size_t i = 0; i < row.size(); ++i) {
      const std::string pad(widths[i] - row[i].size(), ' ');
      line += " ";
      line += i < text_columns ? row[i] + pad : pad + row[i];
      if (i + 1 < row.size()) {
        line += " ";
      }
    }
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    *out += line + "\n";
  }
}

const Value* ObjectAt(const Value& v, std::string_view key) {
  const Value* found = v.Find(key);
  return found != nullptr && found->is_object() ? found : nullptr;
}

// A job id as text, whether the daemon sends it as a string or a number.
std::string JobId(const Value& body) {
  const Value* id = body.Find("id");
  if (id == nullptr) {
    return "";
  }
  return id->is_string() ? id->as_string() : id->ToJson();
}

void AppendStages(const Value& result, std::string* o) {
  const Value* stages = ObjectAt(result, "stages");
  const Value* now = stages != nullptr ? ObjectAt(*stages, "now") : nullptr;
  const Value* candidate = stages != nullptr ? ObjectAt(*stages, "candidate") : nullptr;
  // The daemon's order (the rules' stage order); a stage only the candidate has comes last.
  std::vector<std::string> names;
  for (const Value* side : {now, candidate}) {
    if (side == nullptr) {
      continue;
    }
    for (const auto& [name, count] : side->as_object()) {
      if (std::find(names.begin(), names.end(), name) == names.end()) {
        names.push_back(name);
      }
    }
  }
  *o += "\nleads per stage:\n";
  if (names.empty()) {
    *o += "  (none)\n";
    return;
  }
  std::vector<std::vector<std::string>> rows = {{"stage", "now", "candidate", "change"}};
  for (const std::string& name : names) {
    const Value* a = now != nullptr ? now->Find(name) : nullptr;
    const Value* b = candidate != nullptr ? candidate->Find(name) : nullptr;
    rows.push_back({name, Number(a), Number(b), Delta(NumberOr0(b) - NumberOr0(a))});
  }
  AppendTable(rows, o);
}

void AppendChanges(const Value& result, std::string* o) {
  *o += "\nleads that would change stage:\n";
  const Value* changes = ObjectAt(result, "changes");
  if (changes == nullptr || changes->as_object().empty()) {
    *o += "  (none)\n";
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [key, count] : changes->as_object()) {
    std::string move = key;
    if (size_t gt = move.find('>'); gt != std::string::npos) {
      move.replace(gt, 1, " -> ");
    }
    rows.push_back({move, Number(&count)});
  }
  AppendTable(rows, o);
}

void AppendRules(const Value& result, std::string* o) {
  *o += "\npoints awarded per rule:\n";
  const Value* rules = result.Find("rules");
  if (rules == nullptr || !rules->is_array() || rules->as_array().empty()) {
    *o += "  (none)\n";
    return;
  }
  std::vector<std::vector<std::string>> rows = {{"rule", "score", "now", "candidate", "change"}};
  for (const Value& r : rules->as_array()) {
    if (!r.is_object()) {
      continue;
    }
    const Value* now = r.Find("now");
    const Value* candidate = r.Find("candidate");
    rows.push_back({JsonText(r, "rule"), JsonText(r, "score"), Number(now), Number(candidate),
                    Delta(NumberOr0(candidate) - NumberOr0(now))});
  }
  AppendTable(rows, o, /*text_columns=*/2);
}

void AppendRouting(const Value& result, std::string* o) {
  const Value* routing = ObjectAt(result, "routing");
  if (routing == nullptr) {
    return;
  }
  const std::string stage = JsonText(*routing, "stage");
  *o += "\nrouting under the candidate";
  *o += stage.empty() ? std::string() : " (leads in stage " + stage + ")";
  *o += ":\n";
  bool any = false;
  for (const auto& [key, label] : {std::pair{"teams", "team"}, std::pair{"reps", "rep"}}) {
    const Value* group = ObjectAt(*routing, key);
    if (group == nullptr || group->as_object().empty()) {
      continue;
    }
    std::vector<std::vector<std::string>> rows = {{label, "leads"}};
    for (const auto& [name, count] : group->as_object()) {
      rows.push_back({name, Number(&count)});
    }
    AppendTable(rows, o);
    any = true;
  }
  std::vector<std::string> notes;
  for (const char* key : {"queued", "unrouted"}) {
    if (const Value* n = routing->Find(key); n != nullptr && n->is_number()) {
      notes.push_back(std::string(key) + " " + Number(n));
    }
  }
  if (!notes.empty()) {
    *o += "  ";
    for (size_t i = 0; i < notes.size(); ++i) {
      *o += (i == 0 ? "" : ", ") + notes[i];
    }
    *o += "\n";
  } else if (!any) {
    *o += "  (none)\n";
  }
}

// One example: `  u1: mql -> sql`, then a row per score, now -> candidate, with the candidate's
// rule parts.
void AppendExample(const Value& e, std::string* o) {
  *o += "  " + JsonText(e, "lead") + ": " + JsonText(e, "from") + " -> " + JsonText(e, "to") + "\n";
  const Value* scores = ObjectAt(e, "scores");
  const Value* now = scores != nullptr ? ObjectAt(*scores, "now") : nullptr;
  const Value* candidate = scores != nullptr ? ObjectAt(*scores, "candidate") : nullptr;
  const Value* breakdown = ObjectAt(e, "breakdown");
  const Value* parts = breakdown != nullptr ? ObjectAt(*breakdown, "candidate") : nullptr;
  std::vector<std::string> names;
  for (const Value* side : {now, candidate}) {
    if (side == nullptr) {
      continue;
    }
    for (const auto& [name, v] : side->as_object()) {
      if (std::find(names.begin(), names.end(), name) == names.end()) {
        names.push_back(name);
      }
    }
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> whys;  // the candidate's rule parts, read left to right after the table
  for (const std::string& name : names) {
    std::string why;
    const Value* list = parts != nullptr ? parts->Find(name) : nullptr;
    if (list != nullptr && list->is_array()) {
      for (const Value& p : list->as_array()) {
        why += (why.empty() ? "" : ", ") + JsonText(p, "rule") + " " +
               Delta(NumberOr0(p.Find("points")));
      }
    }
    rows.push_back({"  " + name, Number(now != nullptr ? now->Find(name) : nullptr), "->",
                    Number(candidate != nullptr ? candidate->Find(name) : nullptr)});
    whys.push_back(why.empty() ? "" : "  (" + why + ")");
  }
  std::string table;
  AppendTable(rows, &table);
  std::istringstream lines(table);
  size_t i = 0;
  for (std::string line; std::getline(lines, line); ++i) {
    *o += line + (i < whys.size() ? whys[i] : "") + "\n";
  }
}

int StderrColumns() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    return ws.ws_col;
  }
  return 80;
}

}  // namespace

std::string BacktestTarget(std::string_view since, std::string_view at, int wait_seconds) {
  std::string target = "/v1/rules/backtest?wait=" + std::to_string(wait_seconds);
  if (!since.empty()) {
    target += "&since=" + PercentEncode(since);
  }
  if (!at.empty()) {
    target += "&at=" + PercentEncode(at);
  }
  return target;
}

std::string FormatBacktestProgress(double progress, std::string_view state, double seconds,
                                   int width) {
  const double frac = std::isfinite(progress) ? std::clamp(progress, 0.0, 1.0) : 0.0;
  constexpr int kBar = 20;
  const int filled = static_cast<int>(frac * kBar);
  std::string bar = "[" + std::string(filled, '=');
  if (filled < kBar) {
    bar += ">" + std::string(kBar - filled - 1, ' ');
  }
  bar += "]";
  const std::string head = FormatFixed("%3.0f%%", std::floor(frac * 100));
  const std::string tail = std::string(state) + "  " + FormatFixed("%.1f s", seconds);
  std::string s = head + " " + bar + " " + tail;
  if (width > 0 && static_cast<int>(s.size()) > width) {
    s = head + " " + tail;  // drop the bar before cutting
  }
  if (width > 0 && static_cast<int>(s.size()) > width) {
    s.resize(static_cast<size_t>(width));
  }
  return s;
}

Status FormatBacktestReport(std::string_view json, std::string* out, size_t max_examples) {
  Value result;
  if (Status st = ParseJsonLine(json, &result); !st.ok()) {
    return st;
  }
  if (!result.is_object()) {
    return Status::InvalidArgument("the backtest result is not a JSON object");
  }
  std::string& o = *out;
  o += "backtest";
  if (const std::string id = JobId(result); !id.empty()) {
    o += " " + id;
  }
  o += ": " + Number(result.Find("leads")) + " leads, " + Number(result.Find("events")) +
       " events replayed";
  if (const Value* ms = result.Find("elapsed_ms"); ms != nullptr && ms->is_number()) {
    o += " in " + FormatFixed("%.2f s", ms->as_number() / 1000);
  }
  o += "\n";
  if (const Value* skipped = result.Find("undecodable");
      skipped != nullptr && skipped->is_number() && skipped->as_number() > 0) {
    o += "(" + Number(skipped) + " undecodable history entries skipped)\n";
  }
  const std::string at = JsonText(result, "at");
  const std::string since = JsonText(result, "since");
  o += "scores read at " + (at.empty() ? std::string("now") : at) + "; " +
       (since.empty() ? std::string("all history") : "history since " + since) + "\n";

  AppendStages(result, &o);
  AppendChanges(result, &o);
  AppendRules(result, &o);
  AppendRouting(result, &o);

  const Value* examples = result.Find("examples");
  if (examples != nullptr && examples->is_array() && !examples->as_array().empty()) {
    const size_t total = examples->as_array().size();
    const size_t shown = std::min(total, max_examples);
    o += "\nexamples";
    if (shown < total) {
      o += " (" + std::to_string(shown) + " of " + std::to_string(total) + ")";
    }
    o += ":\n";
    for (size_t i = 0; i < shown; ++i) {
      if (examples->as_array()[i].is_object()) {
        AppendExample(examples->as_array()[i], &o);
      }
    }
  }
  return Status::Ok();
}

Status FormatRuleErrors(std::string_view json, std::string_view path, std::string* out) {
  Value body;
  if (Status st = ParseJsonLine(json, &body); !st.ok()) {
    return st;
  }
  const Value* errors = body.is_object() ? body.Find("errors") : nullptr;
  if (errors == nullptr || !errors->is_array()) {
    return Status::InvalidArgument("the answer has no \"errors\" list");
  }
  for (const Value& e : errors->as_array()) {
    *out += std::string(path) + ":" + Number(e.Find("line")) + ":" + Number(e.Find("col")) + ": " +
            JsonText(e, "message") + "\n";
  }
  return Status::Ok();
}

Status FormatApplyResult(std::string_view json, std::string* out) {
  Value body;
  if (Status st = ParseJsonLine(json, &body); !st.ok()) {
    return st;
  }
  if (!body.is_object() || !JsonUint(body, "version").has_value()) {
    return Status::InvalidArgument("the answer has no rules version");
  }
  *out += "applied: rules version " + std::to_string(*JsonUint(body, "version")) + "; " +
          Number(body.Find("changed")) + " of " + Number(body.Find("leads")) +
          " leads changed stage\n";
  return Status::Ok();
}

namespace {

// The daemon's reason for a failed call: its "message", else its "error", else the body.
std::string Reason(const HttpReply& reply) {
  Value body;
  std::string why = reply.body;
  if (ParseJsonLine(reply.body, &body).ok() && body.is_object()) {
    if (std::string m = JsonText(body, "message"); !m.empty()) {
      why = m;
    } else if (std::string e = JsonText(body, "error"); !e.empty()) {
      why = e;
    }
  }
  while (!why.empty() && (why.back() == '\n' || why.back() == '\r')) {
    why.pop_back();
  }
  return why;
}

// Says why an unexpected answer is one (HTTP status and reason); returns 2.
int HttpFailure(std::string_view what, const HttpReply& reply, std::ostream& err) {
  err << "handoff backtest: " << what << ": HTTP " << reply.status << ": " << Reason(reply) << "\n";
  if (reply.status == 401) {
    err << "(pass the daemon's admin token with --token or $HANDOFF_TOKEN)\n";
  }
  return 2;
}

// Prints the errors of a 422 to `out`; returns 1 (2 when the answer cannot be read).
int RejectedRules(const HttpReply& reply, const std::string& path, std::ostream& out,
                  std::ostream& err) {
  std::string text;
  if (Status st = FormatRuleErrors(reply.body, path, &text); !st.ok()) {
    return HttpFailure("the rules were rejected", reply, err);
  }
  out << text;
  out.flush();
  return 1;
}

void PrintJson(const std::string& body, std::ostream& out) {
  out << body;
  if (body.empty() || body.back() != '\n') {
    out << "\n";
  }
}

// Reads the rule file; false (with the reason on `err`) for a directory or an unreadable file.
bool ReadRuleFile(const std::string& path, std::string* yaml, std::ostream& err) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    err << "handoff backtest: " << path
        << " is a directory; backtest takes one rule file (the files of a rules directory "
           "cannot be joined into one YAML document: merge them into one file first)\n";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    err << "handoff backtest: cannot read " << path << "\n";
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  *yaml = std::move(text).str();
  return true;
}

}  // namespace

int BacktestCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                    bool err_is_terminal) {
  CLI::App app{
      "Replays the daemon's stored history under a candidate rule file, without touching live "
      "state, and shows what would change: leads per stage, stage changes, points per rule, "
      "routing, examples. Exit code: 0 done, 1 rules rejected (PATH:LINE:COL: message), 2 usage, "
      "file or connection error, or a failed backtest.",
      "handoff backtest"};
  std::string path;
  std::string since;
  std::string at;
  std::string host;
  std::string http;
  std::string token;
  bool apply = false;
  bool json = false;
  app.add_option("PATH", path, "the candidate rule file (one file, not a directory)")->required();
  app.add_option("--since", since,
                 "replay only history received since this time (RFC 3339 or epoch seconds)");
  app.add_option("--at", at, "read scores at this time, now and under the candidate; default now");
  app.add_flag("--apply", apply,
               "after the report, load the candidate into the daemon (POST /v1/rules/apply: "
               "writes its rules file, reloads, re-stages every lead)");
  app.add_flag("--json", json, "print the daemon's JSON result as is");
  AddHostOption(app, &host);
  AddAddressOption(app, "-p,--port,--http", &http, kDefaultHttpPort, "the HTTP listener");
  AddTokenOption(app, &token);
  if (std::optional<int> code = ParseCommandLine(app, args, out, err); code.has_value()) {
    return *code;
  }
  std::optional<HostPort> address = ResolveAddressOption("backtest", http, host, err);
  if (!address.has_value()) {
    return 2;
  }
  std::string yaml;
  if (!ReadRuleFile(path, &yaml, err)) {
    return 2;
  }

  HttpReply reply;
  if (Status st = HttpCall(*address, "POST", BacktestTarget(since, at, 0), token, yaml, &reply);
      !st.ok()) {
    err << "handoff backtest: " << st.message() << "\n";
    return 2;
  }
  if (reply.status == 422) {
    return RejectedRules(reply, path, out, err);
  }
  if (reply.status != 200 && reply.status != 202) {
    return HttpFailure("POST /v1/rules/backtest", reply, err);
  }

  // Poll until the job is done or failed.
  const auto start = std::chrono::steady_clock::now();
  bool bar_shown = false;
  std::string id;
  for (;;) {
    Value body;
    if (!ParseJsonLine(reply.body, &body).ok() || !body.is_object()) {
      err << "handoff backtest: cannot read the daemon's answer\n";
      return 2;
    }
    if (id.empty()) {
      id = JobId(body);
    }
    const std::string state = JsonText(body, "state");
    if (state == "done" || state == "failed" || id.empty()) {
      if (bar_shown) {
        err << "\r\033[K";
        err.flush();
      }
      if (state == "failed") {
        err << "handoff backtest: the backtest failed: " << JsonText(body, "error") << "\n";
        return 2;
      }
      if (state != "done") {
        err << "handoff backtest: the daemon's answer names no job\n";
        return 2;
      }
      break;
    }
    if (err_is_terminal) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      err << "\r"
          << FormatBacktestProgress(NumberOr0(body.Find("progress")), state, seconds,
                                    StderrColumns() - 1)
          << "\033[K";
      err.flush();
      bar_shown = true;
    }
    std::this_thread::sleep_for(kPollInterval);
    reply = HttpReply{};
    if (Status st =
            HttpCall(*address, "GET", "/v1/rules/backtest/" + PercentEncode(id), token, "", &reply);
        !st.ok()) {
      if (bar_shown) {
        err << "\r\033[K";
      }
      err << "handoff backtest: " << st.message() << "\n";
      return 2;
    }
    if (reply.status != 200) {
      if (bar_shown) {
        err << "\r\033[K";
      }
      return HttpFailure("GET /v1/rules/backtest/" + id, reply, err);
    }
  }

  if (json) {
    PrintJson(reply.body, out);
  } else {
    std::string text;
    if (Status st = FormatBacktestReport(reply.body, &text); !st.ok()) {
      err << "handoff backtest: cannot read the daemon's answer: " << st.message() << "\n";
      return 2;
    }
    out << text;
  }
  out.flush();
  if (!apply) {
    return 0;
  }

  reply = HttpReply{};
  if (Status st = HttpCall(*address, "POST", "/v1/rules/apply", token, yaml, &reply); !st.ok()) {
    err << "handoff backtest: " << st.message() << "\n";
    return 2;
  }
  if (reply.status == 422) {
    return RejectedRules(reply, path, out, err);
  }
  if (reply.status == 409) {
    err << "handoff backtest: cannot apply: " << Reason(reply) << "\n";
    return 2;
  }
  if (reply.status != 200) {
    return HttpFailure("POST /v1/rules/apply", reply, err);
  }
  if (json) {
    PrintJson(reply.body, out);
    return 0;
  }
  std::string text;
  if (Status st = FormatApplyResult(reply.body, &text); !st.ok()) {
    err << "handoff backtest: cannot read the daemon's answer: " << st.message() << "\n";
    return 2;
  }
  out << "\n" << text;
  return 0;
}

}  // namespace handoff
