#include "outbox/record_filter.h"

namespace handoff {

bool FilterMatches(const RecordFilter& filter, const RecordHeader& header) {
  if (filter.kinds != 0 && (filter.kinds & (1u << static_cast<unsigned>(header.kind))) == 0) {
    return false;
  }
  // The contract's filter is on the record's `rep` field, exactly; a rep's tool that wants to
  // hear of leads reassigned away from it subscribes to its team (from_rep says who lost it).
  if (!filter.rep.empty() && header.rep != filter.rep) {
    return false;
  }
  if (!filter.team.empty() && header.team != filter.team) {
    return false;
  }
  return true;
}

}  // namespace handoff
