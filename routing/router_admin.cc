// Router: what the admin API reads and sets (reps, availability, account owners).
#include <set>

#include "base/ascii.h"
#include "routing/rep_calendar.h"
#include "routing/router.h"

namespace handoff {

bool Router::IsFreeMailDomain(std::string_view domain) {
  static const std::set<std::string_view> kFree = {
      "gmail.com",   "googlemail.com", "yahoo.com",   "yahoo.co.uk",   "yahoo.fr",
      "hotmail.com", "hotmail.co.uk",  "hotmail.fr",  "outlook.com",   "live.com",
      "msn.com",     "icloud.com",     "me.com",      "mac.com",       "aol.com",
      "proton.me",   "protonmail.com", "gmx.com",     "gmx.de",        "gmx.net",
      "web.de",      "mail.com",       "yandex.com",  "yandex.ru",     "mail.ru",
      "zoho.com",    "qq.com",         "163.com",     "126.com",       "fastmail.com",
      "hey.com",     "tutanota.com",   "free.fr",     "orange.fr",     "libero.it",
      "comcast.net", "att.net",        "verizon.net", "btinternet.com"};
  return kFree.contains(domain);
}

Status Router::CheckRep(std::string_view rep) const {
  auto it = reps_.find(std::string(rep));
  if (it == reps_.end() || it->second.def_index < 0) {
    return Status::NotFound("no rep \"" + std::string(rep) + "\" in the routing rules");
  }
  return Status::Ok();
}

Status Router::SetOnline(std::string_view rep, bool online) {
  if (Status st = CheckRep(rep); !st.ok()) {
    return st;
  }
  auto it = reps_.find(std::string(rep));
  if (it->second.online != online) {
    it->second.online = online;
    MarkRepsDirty();
    drain_needed_ = true;
    if (online) {
      Wake(it->second.team);
    }
  }
  return Status::Ok();
}

std::vector<RepView> Router::Reps() {
  std::vector<RepView> out;
  if (scorer_ == nullptr) {
    return out;
  }
  const EpochSeconds now = clock_->Now();
  const RoutingDef& routing = rules().routing;
  for (const TeamDef& team : routing.teams) {
    auto q = queues_.find(team.id);
    for (const RepDef& def : team.reps) {
      RepState& s = StateOf(def.id);
      RepView v;
      v.id = def.id;
      v.team = team.id;
      v.online = s.online;
      v.in_hours = def.hours.Contains(LocalMomentOf(def.tz, now).minute_of_week);
      v.open = s.open;
      v.today = TodayCount(def, s, now);
      v.weight = def.weight;
      v.current_weight = s.current_weight;
      v.eligible = RepAvailable(def, s, now, &v.why_not);
      if (v.eligible) {
        v.why_not.clear();
      }
      v.queued_in_team = q == queues_.end() ? 0 : q->second.size();
      out.push_back(std::move(v));
    }
  }
  for (const auto& [id, s] : reps_) {
    if (s.def_index < 0 && s.open > 0) {
      RepView v;
      v.id = id;
      v.team = s.team;
      v.configured = false;
      v.online = s.online;
      v.open = s.open;
      v.today = s.today;
      v.current_weight = s.current_weight;
      v.why_not = "removed";
      out.push_back(std::move(v));
    }
  }
  return out;
}

Status Router::SetAccountOwner(std::string_view domain, std::string_view rep) {
  if (Status st = CheckRep(rep); !st.ok()) {
    return st;
  }
  SetAccount(AsciiLowerCopy(domain), std::string(rep));
  return Status::Ok();
}

std::string Router::AccountOwner(std::string_view domain) const {
  auto it = accounts_.find(AsciiLowerCopy(domain));
  return it == accounts_.end() ? "" : it->second;
}

}  // namespace handoff
