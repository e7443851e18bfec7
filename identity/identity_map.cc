#include "identity/identity_map.h"

#include <cassert>

namespace handoff {

std::string_view IdentityMap::Resolve(std::string_view id) const {
  const std::string* root = root_of_.Find(id);
  return root == nullptr ? id : std::string_view(*root);
}

void IdentityMap::Link(std::string_view from, std::string_view to) {
  assert(from != to && !root_of_.Contains(from) && !root_of_.Contains(to));
  std::vector<std::string> moved = aliases_.Take(from).value_or(std::vector<std::string>());
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
  const std::vector<std::string>* ids = aliases_.Find(root);
  return ids == nullptr ? kNone : *ids;
}

std::vector<std::string> IdentityMap::Forget(std::string_view root) {
  std::vector<std::string> ids = aliases_.Take(root).value_or(std::vector<std::string>());
  for (const std::string& id : ids) {
    root_of_.Erase(id);
  }
  return ids;
}

}  // namespace handoff
