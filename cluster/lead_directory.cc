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

std::string LeadDirectory::MovedAddress(std::string_view id) const {
  std::string root;
  if (!identities_->MergedInto(id, &root)) {
    return "";
  }
  return leases_->HolderAddress(PartitionOf(root, leases_->partitions()));
}

bool LeadDirectory::HeldHere(std::string_view root) const {
  return leases_->Holds(PartitionOf(root, leases_->partitions()));
}

std::vector<std::string> LeadDirectory::OtherNodes() const { return leases_->HolderAddresses(); }

}  // namespace handoff
