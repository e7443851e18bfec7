#include "tools/tail.h"

#include <CLI/CLI.hpp>

#include "tools/net.h"

namespace handoff {

std::string SubscribeLine(const SubscribeRequest& request) {
  std::string line = "{\"subscribe\":{";
  bool first = true;
  auto key = [&](const char* name) {
    if (!first) {
      line.push_back(',');
    }
    first = false;
    AppendJsonString(name, &line);
    line.push_back(':');
  };
  if (!request.kinds.empty()) {
    key("kinds");
    line.push_back('[');
    for (size_t i = 0; i < request.kinds.size(); ++i) {
      if (i > 0) {
        line.push_back(',');
      }
      AppendJsonString(request.kinds[i], &line);
    }
    line.push_back(']');
  }
  if (!request.rep.empty()) {
    key("rep");
    AppendJsonString(request.rep, &line);
  }
  if (!request.team.empty()) {
    key("team");
    AppendJsonString(request.team, &line);
  }
  line.push_back('}');
  if (request.from.has_value()) {
    line.append(",\"from\":").append(std::to_string(*request.from));
  }
  line.push_back('}');
  return line;
}

StreamLineKind ClassifyStreamLine(std::string_view line, Value* parsed) {
  *parsed = Value();
  if (line.starts_with("{\"seq\":")) {
    return StreamLineKind::kRecord;
  }
  if (!ParseJsonLine(line, parsed).ok() || !parsed->is_object()) {
    return StreamLineKind::kOther;
  }
  if (parsed->Find("heartbeat") != nullptr) {
    return StreamLineKind::kHeartbeat;
  }
  if (parsed->Find("error") != nullptr) {
    return StreamLineKind::kError;
  }
  if (parsed->Find("ok") != nullptr) {
    return StreamLineKind::kOk;
  }
  if (parsed->Find("seq") != nullptr && parsed->Find("kind") != nullptr) {
    return StreamLineKind::kRecord;
  }
  return StreamLineKind::kOther;
}

int TailCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CLI::App app{
      "Subscribes to the daemon's outbox (stage changes, routing decisions, sales actions) and "
      "prints each record as one JSON line as it happens. Runs until interrupted.",
      "handoff tail"};
  SubscribeRequest request;
  uint64_t from = 0;
  uint64_t limit = 0;
  bool heartbeats = false;
  std::string host;
  std::string subscribe;
  app.add_option("--kinds", request.kinds,
                 "only these kinds, comma-separated: stage, routed, reassigned, accepted, "
                 "rejected, closed, escalated, unrouted")
      ->delimiter(',');
  app.add_option("--rep", request.rep, "only records about this rep");
  app.add_option("--team", request.team, "only records about this team");
  CLI::Option* from_opt = app.add_option(
      "--from", from, "replay records with seq > N first (default: only new records)");
  app.add_flag("--heartbeats", heartbeats, "print heartbeat lines too");
  app.add_option("-n,--limit", limit, "exit after printing N records");
  AddHostOption(app, &host);
  AddAddressOption(app, "-p,--port,--subscribe", &subscribe, kDefaultSubscribePort,
                   "the subscribe listener");
  if (std::optional<int> code = ParseCommandLine(app, args, out, err); code.has_value()) {
    return *code;
  }
  if (from_opt->count() > 0) {
    request.from = from;
  }
  std::optional<HostPort> address = ResolveAddressOption("tail", subscribe, host, err);
  if (!address.has_value()) {
    return 2;
  }
  TcpConnection conn;
  Status st = conn.Connect(*address);
  if (st.ok()) {
    st = conn.WriteAll(SubscribeLine(request) + "\n");
  }
  if (!st.ok()) {
    err << "handoff tail: " << st.message() << "\n";
    return 2;
  }
  std::string line;
  Value parsed;
  uint64_t printed = 0;
  while (true) {
    st = conn.ReadLine(&line);
    if (!st.ok()) {
      out.flush();
      if (st.code() == Status::Code::kUnavailable) {
        err << "handoff tail: the daemon closed the connection\n";
        return 0;
      }
      err << "handoff tail: " << st.message() << "\n";
      return 2;
    }
    switch (ClassifyStreamLine(line, &parsed)) {
      case StreamLineKind::kRecord:
        out << line << '\n';
        ++printed;
        break;
      case StreamLineKind::kHeartbeat:
        if (heartbeats) {
          out << line << '\n';
        }
        break;
      case StreamLineKind::kError: {
        out.flush();
        const std::string code = JsonText(parsed, "error");
        if (code == "gap") {
          std::optional<uint64_t> oldest = JsonUint(parsed, "oldest");
          err << "handoff tail: gap: records before "
              << (oldest.has_value() ? std::to_string(*oldest) : "?")
              << " are gone (past the outbox retention); going on from there\n";
          break;
        }
        err << "handoff tail: the daemon refused: " << code << ": " << JsonText(parsed, "message")
            << "\n";
        return 2;
      }
      case StreamLineKind::kOk:
      case StreamLineKind::kOther:
        if (!line.empty()) {
          out << line << '\n';
        }
        break;
    }
    if (limit > 0 && printed >= limit) {
      out.flush();
      return 0;
    }
    if (!conn.HasBufferedLine()) {
      out.flush();
    }
  }
}

}  // namespace handoff
