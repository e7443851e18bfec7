#include "cluster/lead_directory.h"

#include "cluster/event_log.h"

namespace handoff {

std::string LeadDirectory::ForwardAddress(std::string_view id) const {
  std::string root;
  if (!identities_->MergedInto(id, &root)) {
    root = std::string(id);
  }
  return leases_->HolderAddress(PartitionOf(root, leases_->partitions()));
}

}  // namespace handoff
