#include "tools/lead.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "tools/net.h"

namespace handoff {

namespace {

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
  app.add_option("ID", id, "the lead id (userId, or anonymousId before identify)")->required();
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
  Status st = HttpCall(*address, "GET", LeadTarget(id, at), token, "", &reply);
  if (!st.ok()) {
    err << "handoff lead: " << st.message() << "\n";
    return 2;
  }
  if (reply.status == 404) {
    err << "handoff lead: no lead \"" << id << "\"\n";
    return 1;
  }
  if (reply.status != 200) {
    Value body;
    std::string why = reply.body;
    if (ParseJsonLine(reply.body, &body).ok() && body.is_object() &&
        !JsonText(body, "message").empty()) {
      why = JsonText(body, "message");
    }
    while (!why.empty() && (why.back() == '\n' || why.back() == '\r')) {
      why.pop_back();
    }
    err << "handoff lead: HTTP " << reply.status << ": " << why << "\n";
    if (reply.status == 401) {
      err << "(pass the daemon's admin token with --token or $HANDOFF_TOKEN)\n";
    }
    return 2;
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
