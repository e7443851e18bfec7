#include "subscribe/subscription.h"

#include <array>
#include <cmath>
#include <utility>

namespace handoff {

namespace {

// Seqs travel as JSON numbers, which Value holds as doubles: every integer up to 2^53 is exact.
constexpr double kMaxExactInteger = 9007199254740992.0;

// A non-negative integral number no larger than 2^53, as uint64.
bool AsCount(const Value& v, uint64_t* out) {
  if (!v.is_number()) {
    return false;
  }
  const double d = v.as_number();
  if (!(d >= 0) || d > kMaxExactInteger || std::floor(d) != d) {
    return false;
  }
  *out = static_cast<uint64_t>(d);
  return true;
}

void Fail(ClientLineError* err, std::string code, std::string message, uint64_t seq = 0) {
  err->code = std::move(code);
  err->message = std::move(message);
  err->seq = seq;
}

// An optional string filter: absent, null or "" leave *out empty.
bool ReadStringFilter(const Value& subscribe, std::string_view key, std::string* out,
                      ClientLineError* err) {
  const Value* v = subscribe.Find(key);
  if (v == nullptr || v->is_null()) {
    return true;
  }
  if (!v->is_string()) {
    Fail(err, "bad_request", "subscribe: " + std::string(key) + " must be a string");
    return false;
  }
  *out = v->as_string();
  return true;
}

bool ParseSubscribe(const Value& line, ClientLine* out, ClientLineError* err) {
  for (const auto& [key, unused] : line.as_object()) {
    if (key != "subscribe" && key != "from") {
      Fail(err, "bad_request", "unknown key " + JsonQuoted(key) + " in a subscribe line");
      return false;
    }
  }
  const Value& subscribe = *line.Find("subscribe");
  if (!subscribe.is_object()) {
    Fail(err, "bad_request", "subscribe must be an object of filters ({} for everything)");
    return false;
  }
  SubscribeRequest& req = out->subscribe;
  req = SubscribeRequest();
  for (const auto& [key, value] : subscribe.as_object()) {
    if (key != "kinds" && key != "rep" && key != "team") {
      Fail(err, "bad_request",
           "unknown filter " + JsonQuoted(key) + " (filters are kinds, rep and team)");
      return false;
    }
  }
  if (const Value* kinds = subscribe.Find("kinds"); kinds != nullptr && !kinds->is_null()) {
    if (!kinds->is_array()) {
      Fail(err, "bad_request", "subscribe: kinds must be an array of kind names");
      return false;
    }
    if (kinds->as_array().empty()) {
      Fail(err, "bad_request", "subscribe: kinds is empty (leave it out for every kind)");
      return false;
    }
    for (const Value& name : kinds->as_array()) {
      if (!name.is_string()) {
        Fail(err, "bad_request", "subscribe: kinds must be an array of kind names");
        return false;
      }
      std::optional<OutboxKind> kind = OutboxKindFromName(name.as_string());
      if (!kind) {
        Fail(err, "bad_request",
             "subscribe: unknown kind " + JsonQuoted(name.as_string()) +
                 " (kinds are stage, routed, reassigned, accepted, rejected, closed, "
                 "escalated, unrouted)");
        return false;
      }
      req.filter.kinds |= 1u << static_cast<unsigned>(*kind);
    }
  }
  if (!ReadStringFilter(subscribe, "rep", &req.filter.rep, err) ||
      !ReadStringFilter(subscribe, "team", &req.filter.team, err)) {
    return false;
  }
  if (const Value* from = line.Find("from"); from != nullptr && !from->is_null()) {
    uint64_t seq = 0;
    if (!AsCount(*from, &seq)) {
      Fail(err, "bad_request", "from must be an integer seq from 0 to 2^53");
      return false;
    }
    req.from = seq;
  }
  out->command = ClientCommand::kSubscribe;
  return true;
}

}  // namespace

ClientLineParser::ClientLineParser(size_t max_bytes) : json_(max_bytes) {}

bool ClientLineParser::Parse(std::string_view line, ClientLine* out, ClientLineError* err) {
  if (Status st = json_.Parse(line, &value_); !st.ok()) {
    Fail(err, "bad_request", "not JSON: " + st.message());
    return false;
  }
  if (!value_.is_object()) {
    Fail(err, "bad_request", "a line must be a JSON object");
    return false;
  }
  static constexpr std::array<std::string_view, 4> kCommands = {"subscribe", "accept", "reject",
                                                                "close"};
  int found = -1;
  for (size_t i = 0; i < kCommands.size(); ++i) {
    if (value_.Find(kCommands[i]) != nullptr) {
      if (found >= 0) {
        Fail(err, "bad_request", "one command per line");
        return false;
      }
      found = static_cast<int>(i);
    }
  }
  switch (found) {
    case 0:
      return ParseSubscribe(value_, out, err);
    case 1:
    case 2:
    case 3:
      if (!ParseSalesAction(value_, &out->action, err)) {
        return false;
      }
      out->command = ClientCommand::kSalesAction;
      return true;
    default:
      Fail(err, "bad_request", "expected subscribe, accept, reject or close");
      return false;
  }
}

void AppendOkReply(uint64_t seq, std::string* out) {
  out->append("{\"ok\":");
  out->append(std::to_string(seq));
  out->append("}\n");
}

void AppendErrorReply(std::string_view code, std::string_view message, uint64_t seq,
                      std::string* out) {
  out->append("{\"error\":");
  AppendJsonString(code, out);
  out->append(",\"message\":");
  AppendJsonString(message, out);
  if (seq != 0) {
    out->append(",\"seq\":");
    out->append(std::to_string(seq));
  }
  out->append("}\n");
}

void AppendHeartbeat(uint64_t head, std::string* out) {
  out->append("{\"heartbeat\":");
  out->append(std::to_string(head));
  out->append("}\n");
}

void AppendGap(uint64_t oldest, std::string* out) {
  out->append("{\"error\":\"gap\",\"oldest\":");
  out->append(std::to_string(oldest));
  out->append("}\n");
}

}  // namespace handoff
