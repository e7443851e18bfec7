// LeadExchange: how cluster mode's log applier moves a lead between two nodes' engines for a
// merge across partitions (docs/cluster.md "Several nodes"); the engine implements it with
// Engine::ExportLead, ImportLead and HandOverLead, each queued as a task behind every
// batch submitted before it (IngestSink::Submit), so it sees them applied.
//
// Thread-safe; the callbacks run on the engine's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace handoff {

class LeadExchange {
 public:
  virtual ~LeadExchange() = default;
  // The lead `id` belongs to, as LeadHandOver bytes (history/lead_hand_over.h), or "" when no
  // lead has that id; given to `done`. Its events applied before `link_order` (the link's place
  // in the log, an apply order) are its history; the later ones go to be applied after the link.
  // The bytes also say the lead goes `into` that lead, and that they cover its home partition up
  // to log sequence `covered_seq` (LeadHandOver::into, covered_seq).
  virtual void QueueExport(std::string id, uint64_t link_order, std::string into,
                           uint64_t covered_seq, std::function<void(std::string bytes)> done) = 0;
  // Takes in a lead exported by another node (the bytes ExportLead gave); bytes that do not
  // decode are logged and dropped. From then on its ids are also seen as moved into the lead it
  // goes into, after the sequence the bytes cover (IdentityView::HandedOverAfter).
  virtual void QueueImport(std::string bytes) = 0;
  // The lead `id` belongs to has gone into `into` on another node, answering the request at log
  // sequence `after_seq`: drop it here, and see its ids as `into`'s from now on
  // (IdentityView::MergedInto, HandedOverAfter); `done` runs once they are.
  virtual void QueueHandOver(std::string id, std::string into, uint64_t after_seq,
                             std::function<void()> done) = 0;
  // Runs `done` once everything submitted or queued before it is applied (not necessarily
  // durable): the engine's links (IdentityView::MergedInto) then include every batch and import
  // handed to it so far.
  virtual void QueueAfterApplied(std::function<void()> done) = 0;
};

}  // namespace handoff
