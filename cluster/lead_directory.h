// LeadDirectory: the LeadLocator of a cluster node. A lead lives in the partition of its root id
// (the id it is merged into, as this node's engine knows it), and a partition with the node
// holding its lease as of the last lease round (PartitionLeases::HolderAddress).
//
// Thread-safe; never blocks.
#pragma once

#include <string>
#include <string_view>

#include "cluster/partition_leases.h"
#include "ingest/identity_view.h"
#include "ingest/lead_locator.h"

namespace handoff {

class LeadDirectory final : public LeadLocator {
 public:
  // Both borrowed; they must outlive this object.
  LeadDirectory(const PartitionLeases* leases, const IdentityView* identities)
      : leases_(leases), identities_(identities) {}

  std::string ForwardAddress(std::string_view id) const override;
  std::string MovedAddress(std::string_view id) const override;
  bool HeldHere(std::string_view root) const override;
  bool HoldsPartition(uint32_t partition) const override { return leases_->Holds(partition); }
  std::vector<std::string> OtherNodes() const override;

 private:
  const PartitionLeases* leases_;
  const IdentityView* identities_;
};

}  // namespace handoff
