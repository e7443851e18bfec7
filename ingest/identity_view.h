// IdentityView: which lead an id belongs to, as the engine has applied it so far (SPEC 8), read
// from outside the engine. Cluster mode's publisher routes an event under an older id to the
// partition of the lead it was merged into (docs/cluster.md); the engine implements it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace handoff {

class IdentityView {
 public:
  virtual ~IdentityView() = default;
  // True, with the lead's id in *root, when `id` is linked into another lead; false when `id`
  // is its own lead or unknown. Thread-safe; sees every link applied before the call.
  virtual bool MergedInto(std::string_view id, std::string* root) const = 0;
  // Cluster mode: true when `id`'s lead was handed over to another node (a merge across
  // partitions) in answer to the request at log sequence *after_seq, with the lead it went into
  // in *into: the id's events logged after that are that lead's. Thread-safe.
  virtual bool HandedOverAfter(std::string_view /*id*/, std::string* /*into*/,
                               uint64_t* /*after_seq*/) const {
    return false;
  }
};

// The lead `id` belongs to, following two sources alternately until neither knows more: `recent`,
// links not applied by the engine yet (older id -> the id it went into; they may chain), and
// `identities`, the engine's links (flat: one step to a root). Cluster mode's publisher and
// applier both need it. `scratch` holds the engine's answers: the result may point into it, or
// into `recent`, or be `id` itself. At most kMaxLinkHops steps (links never form a cycle; the
// bound is against a bug).
inline constexpr int kMaxLinkHops = 64;
template <typename RecentLinks>
std::string_view FollowLinks(std::string_view id, const RecentLinks& recent,
                             const IdentityView* identities, std::string (&scratch)[2]) {
  for (int hop = 0; hop < kMaxLinkHops; ++hop) {
    if (auto it = recent.find(id); it != recent.end() && it->second != id) {
      id = it->second;
      continue;
    }
    std::string& answer = scratch[hop % 2];  // `id` may point into the other one
    if (identities != nullptr && identities->MergedInto(id, &answer) && answer != id) {
      id = answer;
      continue;
    }
    break;
  }
  return id;
}

}  // namespace handoff
