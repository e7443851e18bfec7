#include "tools/sales.h"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>

#include "tools/net.h"
#include "tools/tail.h"

namespace handoff {

std::string SalesCommandLine(std::string_view action, uint64_t seq, std::string_view text,
                             std::optional<double> amount) {
  std::string line = "{";
  AppendJsonString(action, &line);
  line.append(":").append(std::to_string(seq));
  if (!text.empty()) {
    line.append(action == "close" ? ",\"outcome\":" : ",\"reason\":");
    AppendJsonString(text, &line);
  }
  if (amount.has_value()) {
    line.append(",\"amount\":");
    AppendJsonNumber(*amount, &line);
  }
  line.push_back('}');
  return line;
}

SalesReply InterpretSalesReply(std::string_view line, uint64_t seq, std::string* message) {
  Value v;
  switch (ClassifyStreamLine(line, &v)) {
    case StreamLineKind::kOk: {
      std::optional<uint64_t> ok = JsonUint(v, "ok");
      return ok == seq ? SalesReply::kOk : SalesReply::kIgnore;
    }
    case StreamLineKind::kError: {
      const std::string code = JsonText(v, "error");
      if (code == "gap") {
        return SalesReply::kIgnore;
      }
      const Value* about = v.Find("seq");
      if (about != nullptr && JsonUint(v, "seq") != seq) {
        return SalesReply::kIgnore;
      }
      *message = code.empty() ? std::string(line) : code;
      if (std::string text = JsonText(v, "message"); !text.empty()) {
        *message += ": " + text;
      }
      return SalesReply::kFailed;
    }
    default:
      return SalesReply::kIgnore;
  }
}

namespace {

// A deal value (SPEC 9: a non-negative number). CLI11's NonNegativeNumber let "nan" through (no
// comparison with NaN holds), which JSON cannot carry: the close went out without its amount.
CLI::Validator FiniteNonNegative() {
  return CLI::Validator(
      [](const std::string& text) -> std::string {
        char* end = nullptr;
        errno = 0;
        const double value = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE ||
            !std::isfinite(value) || value < 0) {
          return "a finite number of 0 or more, not " + text;
        }
        return {};
      },
      "NUMBER >= 0");
}

}  // namespace

int SalesCommand(std::string_view action, const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err) {
  const std::string name(action);
  std::string description;
  if (action == "accept") {
    description = "Accepts the lead routed by record SEQ (the rep takes it; the SLA stops).";
  } else if (action == "reject") {
    description = "Rejects the lead routed by record SEQ: it goes to another rep of the team.";
  } else {
    description =
        "Closes the lead routed by record SEQ with an outcome (recycled: back to stage new).";
  }
  CLI::App app{description +
                   " Exit code: 0 done, 1 refused by the daemon, 2 usage or connection "
                   "error.",
               "handoff " + name};
  uint64_t seq = 0;
  std::string reason;
  std::string outcome;
  std::optional<double> amount;
  std::string rep;
  double timeout = 30;
  std::string host;
  std::string subscribe;
  app.add_option("SEQ", seq,
                 "the seq of the lead's routed record (after a reassignment: of its latest "
                 "reassigned record)")
      ->required();
  if (action == "reject") {
    app.add_option("--reason", reason, "why (shown in the rejected record)");
  }
  if (action == "close") {
    app.add_option("--outcome", outcome, "won, lost or recycled")
        ->required()
        ->check(CLI::IsMember({"won", "lost", "recycled"}));
    app.add_option("--amount", amount, "the deal value (a non-negative number), kept in the record")
        ->check(FiniteNonNegative());
  }
  app.add_option("--rep", rep,
                 "subscribe with this rep's filter (records only: the action applies to the "
                 "lead's holder whoever asks; the protocol does not identify reps)");
  app.add_option("--timeout", timeout, "seconds to wait for the answer")->capture_default_str();
  AddHostOption(app, &host);
  AddAddressOption(app, "-p,--port,--subscribe", &subscribe, kDefaultSubscribePort,
                   "the subscribe listener");
  if (std::optional<int> code = ParseCommandLine(app, args, out, err); code.has_value()) {
    return *code;
  }
  std::optional<HostPort> address = ResolveAddressOption(name, subscribe, host, err);
  if (!address.has_value()) {
    return 2;
  }
  SubscribeRequest request;
  request.rep = rep;
  TcpConnection conn;
  Status st = conn.Connect(*address);
  if (st.ok()) {
    st = conn.WriteAll(SubscribeLine(request) + "\n" +
                       SalesCommandLine(action, seq, action == "close" ? outcome : reason, amount) +
                       "\n");
  }
  if (!st.ok()) {
    err << "handoff " << name << ": " << st.message() << "\n";
    return 2;
  }
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000));
  std::string line;
  std::string message;
  while (true) {
    st = conn.ReadLine(&line, deadline);
    if (!st.ok()) {
      if (st.code() == Status::Code::kFailedPrecondition) {
        err << "handoff " << name << ": no answer within " << timeout << " s\n";
      } else {
        err << "handoff " << name << ": " << st.message() << " before answering\n";
      }
      return 2;
    }
    switch (InterpretSalesReply(line, seq, &message)) {
      case SalesReply::kIgnore:
        break;
      case SalesReply::kOk:
        if (action == "close") {
          out << "closed " << seq << " (" << outcome;
          if (amount.has_value()) {
            std::string text;
            AppendJsonNumber(*amount, &text);  // as the record holds it (no 6-digit rounding)
            out << ", amount " << text;
          }
          out << ")\n";
        } else {
          out << (action == "accept" ? "accepted " : "rejected ") << seq << "\n";
        }
        return 0;
      case SalesReply::kFailed:
        err << "handoff " << name << " " << seq << ": " << message << "\n";
        return 1;
    }
  }
}

}  // namespace handoff
