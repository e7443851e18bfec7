#include "api/admin_changes.h"

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <utility>

#include "base/ascii.h"

namespace handoff {
namespace {

constexpr std::string_view kRepPrefix = "rep.";
constexpr std::string_view kAccountPrefix = "account.";
constexpr std::string_view kOnline = "online";
constexpr std::string_view kAway = "away";
constexpr auto kEngineWait = std::chrono::seconds(60);

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

std::optional<std::string> Unhex(std::string_view hex) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    return -1;
  };
  if (hex.size() % 2 != 0) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = digit(hex[i]);
    const int lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
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
  if (answer.wait_for(kEngineWait) != std::future_status::ready) {
    return Status::Unavailable("the engine did not apply the change within a minute");
  }
  return answer.get();
}

}  // namespace

std::string RepAvailabilityKey(std::string_view rep) { return std::string(kRepPrefix) + Hex(rep); }

std::string RepAvailabilityValue(bool online) { return std::string(online ? kOnline : kAway); }

std::string AccountOwnerKey(std::string_view domain) {
  return std::string(kAccountPrefix) + Hex(AsciiLowerCopy(domain));
}

Status ApplyAdminChange(Engine* engine, std::string_view key, std::string_view value) {
  if (key.substr(0, kRepPrefix.size()) == kRepPrefix) {
    std::optional<std::string> rep = Unhex(key.substr(kRepPrefix.size()));
    if (!rep.has_value() || (value != kOnline && value != kAway)) {
      return Status::InvalidArgument("unknown admin value " + std::string(value) + " of " +
                                     std::string(key));
    }
    return RunAndCommit(engine, [rep = std::move(*rep), online = value == kOnline](Engine* e) {
      return e->router().SetOnline(rep, online);
    });
  }
  if (key.substr(0, kAccountPrefix.size()) == kAccountPrefix) {
    std::optional<std::string> domain = Unhex(key.substr(kAccountPrefix.size()));
    if (!domain.has_value() || value.empty()) {
      return Status::InvalidArgument("unknown admin value of " + std::string(key));
    }
    return RunAndCommit(engine, [domain = std::move(*domain), rep = std::string(value)](Engine* e) {
      return e->router().SetAccountOwner(domain, rep);
    });
  }
  return Status::InvalidArgument("unknown admin key " + std::string(key));
}

}  // namespace handoff
