// IdentityMap: which lead every id belongs to (SPEC 8).
//
// Trackers see a visitor first under an anonymousId; an `alias` or an `identify` carrying both
// ids later links the older id to the userId's lead. Every id belongs to exactly one lead: an id
// is a root (its own lead, which may not exist yet) or linked to a root. Links are kept flat: an
// id always points straight at its root (a chain a -> b -> c is stored as a -> c, b -> c), so a
// lookup is one hash probe on the event path.
//
// Not thread-safe: the engine thread owns it.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/incremental_map.h"

namespace handoff {

class IdentityMap {
 public:
  // The root `id` belongs to: itself unless linked.
  std::string_view Resolve(std::string_view id) const;

  // Links root `from` (and every id linked to it) to root `to`. Both must be roots and differ.
  // The moved ids are appended to Aliases(to), `from` first, so a caller can tell them apart.
  void Link(std::string_view from, std::string_view to);

  // Restores one stored link (`id` -> `root`, already flat) at start.
  void Restore(std::string_view id, std::string_view root);

  // The ids linked to `root`, in the order they were linked; empty when none.
  const std::vector<std::string>& Aliases(std::string_view root) const;

  // Forgets `root` and every id linked to it; returns those ids (root not included).
  std::vector<std::string> Forget(std::string_view root);

  // Ids linked to some other id.
  size_t size() const { return root_of_.size(); }

  // Calls fn(id, root) for every linked id (for persisting and checking).
  template <typename Fn>
  void ForEachLink(Fn&& fn) const {
    root_of_.ForEach(fn);
  }

 private:
  // Both grow with every link: maps that never rehash them all in one call.
  StringIncrementalMap<std::string> root_of_;               // linked id -> its root
  StringIncrementalMap<std::vector<std::string>> aliases_;  // root -> ids linked to it
};

}  // namespace handoff
