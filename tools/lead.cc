#include "tools/lead.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "tools/net.h"

namespace handoff {

namespace {

// An empty id would name the lead list (/v1/leads/), not a lead: a usage error instead.
std::string NonEmptyId(const std::string& id) {
  return id.empty() ? std::string("the lead id is empty") : std::string();
}

// A value on one line: strings bare, everything else as JSON.
std::string Plain(const Value& v) {
  if (v.is_string()) {
    return v.as_string();
  }
  return v.ToJson();
}

void FlattenTraits(const Value& v, const std::string& prefix,
                   std::vector<std::pair<std::string, std::string>>* rows) {
  for (const auto& [key, child] : v.as_object()) {
    std::string name = prefix.empty() ? key : prefix + "." + key;
    if (child.is_object() && !child.as_object().empty()) {
      FlattenTraits(child, name, rows);
    } else {
      rows->emplace_back(std::move(name), Plain(child));
    }
  }
}

std::string Pad(std::string_view s, size_t width) {
  std::string out(s);
  if (out.size() < width) {
    out.append(width - out.size(), ' ');
  }
  return out;
}

// Right-aligns `s` in `width` columns.
std::string PadLeft(std::string_view s, size_t width) {
  std::string out;
  if (s.size() < width) {
    out.append(width - s.size(), ' ');
  }
  out.append(s);
  return out;
}

}  // namespace

std::string FormatScore(double value) {
  if (!std::isfinite(value)) {
    return "null";
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2f", value);
  std::string s = buf;
  while (s.back() == '0') {
    s.pop_back();
  }
  if (s.back() == '.') {
    s.pop_back();
  }
  if (s == "-0") {
    s = "0";
  }
  return s;
}

std::string LeadTarget(std::string_view id, std::string_view at) {
  std::string target = "/v1/leads/" + PercentEncode(id);
  if (!at.empty()) {
    target += "?at=" + PercentEncode(at);
  }
  return target;
}

Status FormatLead(std::string_view json, std::string_view at, std::string* out) {
  Value lead;
  Status st = ParseJsonLine(json, &lead);
  if (!st.ok()) {
    return st;
  }
  if (!lead.is_object()) {
    return Status::InvalidArgument("the lead is not a JSON object");
  }
  std::string& o = *out;
  o += "lead " + JsonText(lead, "id") + "\n";

  std::vector<std::pair<std::string, std::string>> head;
  head.emplace_back("stage", JsonText(lead, "stage"));
  const Value* owner = lead.Find("owner");
  if (owner != nullptr && owner->is_object()) {
    std::string text = JsonText(*owner, "rep");
    const std::string team = JsonText(*owner, "team");
    std::vector<std::string> notes;
    if (!team.empty()) {
      notes.push_back("team " + team);
    }
    if (std::optional<uint64_t> seq = JsonUint(*owner, "seq"); seq.has_value()) {
      notes.push_back("record " + std::to_string(*seq));
    }
    const Value* accepted = owner->Find("accepted");
    if (accepted != nullptr && accepted->is_bool()) {
      notes.push_back(accepted->as_bool() ? "accepted" : "not accepted yet");
    }
    // A closed lead keeps its last holder in the answer, marked closed with its outcome.
    if (const Value* closed = owner->Find("closed");
        closed != nullptr && closed->is_bool() && closed->as_bool()) {
      const std::string outcome = JsonText(*owner, "outcome");
      notes.push_back(outcome.empty() ? std::string("closed") : "closed " + outcome);
    }
    for (size_t i = 0; i < notes.size(); ++i) {
      text += (i == 0 ? " (" : ", ") + notes[i];
    }
    if (!notes.empty()) {
      text += ")";
    }
    head.emplace_back("owner", text);
  } else {
    head.emplace_back("owner", "none");
  }
  // The other ids linked to this lead (SPEC 8), so `handoff lead ANON` shows why it answered
  // the merged lead.
  if (const Value* aliases = lead.Find("aliases"); aliases != nullptr && aliases->is_array()) {
    std::string ids;
    for (const Value& alias : aliases->as_array()) {
      ids += (ids.empty() ? "" : ", ") + Plain(alias);
    }
    if (!ids.empty()) {
      head.emplace_back("aliases", ids);
    }
  }
  head.emplace_back("first seen", JsonText(lead, "first_seen"));
  head.emplace_back("last seen", JsonText(lead, "last_seen"));
  if (const Value* events = lead.Find("events"); events != nullptr) {
    head.emplace_back("events", Plain(*events));
  }
  for (const auto& [k, v] : head) {
    o += "  " + Pad(k, 12) + v + "\n";
  }

  // Scores, each followed by its parts. Names and numbers line up in two columns.
  const Value* scores = lead.Find("scores");
  const Value* breakdown = lead.Find("breakdown");
  o += "\nscores";
  o += at.empty() ? std::string(" (now)") : " (at " + std::string(at) + ")";
  o += ":\n";
  if (scores == nullptr || !scores->is_object() || scores->as_object().empty()) {
    o += "  (none)\n";
  } else {
    struct Row {
      std::string name;
      std::string value;
      bool part;
    };
    std::vector<Row> rows;
    for (const auto& [name, value] : scores->as_object()) {
      rows.push_back(
          Row{name, value.is_number() ? FormatScore(value.as_number()) : Plain(value), false});
      const Value* parts = breakdown != nullptr ? breakdown->Find(name) : nullptr;
      if (parts == nullptr || !parts->is_array()) {
        continue;
      }
      for (const Value& part : parts->as_array()) {
        if (!part.is_object()) {
          continue;
        }
        const Value* points = part.Find("points");
        std::string text = points != nullptr && points->is_number()
                               ? FormatScore(points->as_number())
                               : (points != nullptr ? Plain(*points) : "");
        if (points != nullptr && points->is_number() && points->as_number() >= 0) {
          text = "+" + text;
        }
        rows.push_back(Row{JsonText(part, "rule"), text, true});
      }
    }
    size_t name_width = 0;
    size_t value_width = 0;
    for (const Row& r : rows) {
      name_width = std::max(name_width, r.name.size() + (r.part ? 2 : 0));
      value_width = std::max(value_width, r.value.size());
    }
    for (const Row& r : rows) {
      o += "  " + Pad((r.part ? "  " : "") + r.name, name_width) + "  " +
           PadLeft(r.value, value_width) + "\n";
    }
  }

  o += "\ntraits:\n";
  const Value* traits = lead.Find("traits");
  std::vector<std::pair<std::string, std::string>> rows;
  if (traits != nullptr && traits->is_object()) {
    FlattenTraits(*traits, "", &rows);
  }
  if (rows.empty()) {
    o += "  (none)\n";
  }
  size_t width = 0;
  for (const auto& [k, v] : rows) {
    width = std::max(width, k.size());
  }
  for (const auto& [k, v] : rows) {
    o += "  " + Pad(k, width) + "  " + v + "\n";
  }
  return Status::Ok();
}

namespace {

// 0 when the answer is a 200; else says why on `err` and returns the exit code (1: no such
// lead, 2: any other failure).
int CheckReply(std::string_view command, std::string_view id, const HttpReply& reply,
               std::ostream& err) {
  if (reply.status == 200) {
    return 0;
  }
  if (reply.status == 404) {
    err << "handoff " << command << ": no lead \"" << id << "\"\n";
    return 1;
  }
  Value body;
  std::string why = reply.body;
  if (ParseJsonLine(reply.body, &body).ok() && body.is_object() &&
      !JsonText(body, "message").empty()) {
    why = JsonText(body, "message");
  }
  while (!why.empty() && (why.back() == '\n' || why.back() == '\r')) {
    why.pop_back();
  }
  err << "handoff " << command << ": HTTP " << reply.status << ": " << why << "\n";
  if (reply.status == 401) {
    err << "(pass the daemon's admin token with --token or $HANDOFF_TOKEN)\n";
  }
  return 2;
}

// Prints every page of GET /v1/leads/ID/history, starting with `first_page`: one line per event
// (or the events as JSON lines with `json`).
int PrintHistory(const HostPort& address, const std::string& id, const std::string& token,
                 std::string page, bool json, std::ostream& out, std::ostream& err) {
  for (;;) {
    Value body;
    const Value* events = nullptr;
    if (!ParseJsonLine(page, &body).ok() || !body.is_object() ||
        (events = body.Find("events")) == nullptr || !events->is_array()) {
      err << "handoff lead: cannot read the daemon's answer\n";
      return 2;
    }
    for (const Value& e : events->as_array()) {
      if (json) {
        out << e.ToJson() << "\n";
        continue;
      }
      out << JsonText(e, "timestamp") << "  " << Pad(JsonText(e, "type"), 8) << " "
          << Pad(JsonText(e, "event"), 22) << " " << Pad(JsonText(e, "messageId"), 16);
      if (const Value* points = e.Find("points"); points != nullptr && points->is_array()) {
        for (const Value& p : points->as_array()) {
          out << " " << JsonText(p, "rule") << "="
              << FormatScore(p.Find("points") != nullptr && p.Find("points")->is_number()
                                 ? p.Find("points")->as_number()
                                 : 0);
        }
      }
      out << "\n";
    }
    std::optional<uint64_t> next = JsonUint(body, "next");
    if (!next.has_value()) {
      return 0;
    }
    HttpReply reply;
    Status st = HttpCall(
        address, "GET",
        "/v1/leads/" + PercentEncode(id) + "/history?limit=1000&after=" + std::to_string(*next),
        token, "", &reply);
    if (!st.ok()) {
      err << "handoff lead: " << st.message() << "\n";
      return 2;
    }
    if (int code = CheckReply("lead", id, reply, err); code != 0) {
      return code;
    }
    page = std::move(reply.body);
  }
}

}  // namespace

int ForgetCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CLI::App app{
      "Erases a lead (right to erasure): the lead, its history and every id linked to it. "
      "Outbox records are not rewritten. Exit code: 0 erased, 1 no such lead, 2 usage or "
      "connection error.",
      "handoff forget"};
  std::string id;
  std::string host;
  std::string http;
  std::string token;
  app.add_option("ID", id, "any id of the lead")->required()->check(NonEmptyId);
  AddHostOption(app, &host);
  AddAddressOption(app, "-p,--port,--http", &http, kDefaultHttpPort, "the HTTP listener");
  AddTokenOption(app, &token);
  if (std::optional<int> code = ParseCommandLine(app, args, out, err); code.has_value()) {
    return *code;
  }
  std::optional<HostPort> address = ResolveAddressOption("forget", http, host, err);
  if (!address.has_value()) {
    return 2;
  }
  HttpReply reply;
  if (Status st = HttpCall(*address, "DELETE", "/v1/leads/" + PercentEncode(id), token, "", &reply);
      !st.ok()) {
    err << "handoff forget: " << st.message() << "\n";
    return 2;
  }
  if (int code = CheckReply("forget", id, reply, err); code != 0) {
    return code;
  }
  Value body;
  if (!ParseJsonLine(reply.body, &body).ok() || !body.is_object()) {
    err << "handoff forget: cannot read the daemon's answer\n";
    return 2;
  }
  out << "erased lead " << JsonText(body, "deleted");
  if (std::optional<uint64_t> events = JsonUint(body, "events"); events.has_value()) {
    out << " (" << *events << " events of history)";
  }
  out << "; ids removed:";
  if (const Value* ids = body.Find("ids"); ids != nullptr && ids->is_array()) {
    for (const Value& v : ids->as_array()) {
      out << " " << (v.is_string() ? v.as_string() : v.ToJson());
    }
  }
  out << "\n";
  return 0;
}

int LeadCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CLI::App app{
      "Shows one lead: stage, owner, every score with the rules that make it up, and traits. "
      "Exit code: 0 shown, 1 no such lead, 2 usage or connection error.",
      "handoff lead"};
  std::string id;
  std::string at;
  std::string host;
  std::string http;
  std::string token;
  bool json = false;
  bool history = false;
  app.add_option("ID", id, "the lead id (userId, or anonymousId before identify)")
      ->required()
      ->check(NonEmptyId);
  app.add_flag("--history", history, "list the lead's applied events, oldest first");
  app.add_option("--at", at, "read scores at this time (RFC 3339 or epoch seconds); default now");
  app.add_flag("--json", json, "print the daemon's JSON answer as is");
  AddHostOption(app, &host);
  AddAddressOption(app, "-p,--port,--http", &http, kDefaultHttpPort, "the HTTP listener");
  AddTokenOption(app, &token);
  if (std::optional<int> code = ParseCommandLine(app, args, out, err); code.has_value()) {
    return *code;
  }
  std::optional<HostPort> address = ResolveAddressOption("lead", http, host, err);
  if (!address.has_value()) {
    return 2;
  }
  HttpReply reply;
  const std::string target =
      history ? "/v1/leads/" + PercentEncode(id) + "/history?limit=1000" : LeadTarget(id, at);
  Status st = HttpCall(*address, "GET", target, token, "", &reply);
  if (!st.ok()) {
    err << "handoff lead: " << st.message() << "\n";
    return 2;
  }
  if (int code = CheckReply("lead", id, reply, err); code != 0) {
    return code;
  }
  if (history) {
    return PrintHistory(*address, id, token, reply.body, json, out, err);
  }
  if (json) {
    out << reply.body;
    if (reply.body.empty() || reply.body.back() != '\n') {
      out << "\n";
    }
    return 0;
  }
  std::string text;
  st = FormatLead(reply.body, at, &text);
  if (!st.ok()) {
    err << "handoff lead: cannot read the daemon's answer: " << st.message() << "\n";
    return 2;
  }
  out << text;
  return 0;
}

}  // namespace handoff
