#include "identity/identity_map.h"

#include <cassert>

namespace handoff {

std::string_view IdentityMap::Resolve(std::string_view id) const {
  auto it = root_of_.find(id);
  return it == root_of_.end() ? id : std::string_view(it->second);
}

void IdentityMap::Link(std::string_view from, std::string_view to) {
  assert(from != to && !root_of_.contains(from) && !root_of_.contains(to));
  std::vector<std::string> moved;
  if (auto it = aliases_.find(from); it != aliases_.end()) {
    moved = std::move(it->second);
    aliases_.erase(it);
  }
  auto& into = aliases_[std::string(to)];
  into.emplace_back(from);
  root_of_[std::string(from)] = std::string(to);
  for (std::string& id : moved) {
    root_of_[id] = std::string(to);
    into.push_back(std::move(id));
  }
}

void IdentityMap::Restore(std::string_view id, std::string_view root) {
  root_of_[std::string(id)] = std::string(root);
  aliases_[std::string(root)].emplace_back(id);
}

const std::vector<std::string>& IdentityMap::Aliases(std::string_view root) const {
  static const std::vector<std::string> kNone;
  auto it = aliases_.find(root);
  return it == aliases_.end() ? kNone : it->second;
}

std::vector<std::string> IdentityMap::Forget(std::string_view root) {
  std::vector<std::string> ids;
  if (auto it = aliases_.find(root); it != aliases_.end()) {
    ids = std::move(it->second);
    aliases_.erase(it);
  }
  for (const std::string& id : ids) {
    root_of_.erase(id);
  }
  return ids;
}

}  // namespace handoff
