#include "storage/lead_journal.h"

#include <algorithm>
#include <cassert>

#include "storage/coding.h"

namespace handoff {

namespace {

bool ByKey(const LeadJournal::Entry& a, const LeadJournal::Entry& b) { return a.first < b.first; }

}  // namespace

const LeadJournal::Slot* LeadJournal::Generation::Find(std::string_view id) const {
  auto it = slots_.find(id);
  return it == slots_.end() ? nullptr : &it->second;
}

const std::vector<LeadJournal::Entry>& LeadJournal::Generation::Sorted() const {
  std::call_once(sorted_once_, [this] {
    sorted_ = entries_;
    std::sort(sorted_.begin(), sorted_.end(), ByKey);
  });
  return sorted_;
}

LeadJournal::LeadJournal() : active_(std::make_shared<Generation>()) {}

void LeadJournal::AppendPut(std::string_view id, std::string_view state, std::string* block) {
  block->push_back(static_cast<char>(kPut));
  coding::PutString(id, block);
  coding::PutString(state, block);
}

void LeadJournal::AppendDelete(std::string_view id, std::string* block) {
  block->push_back(static_cast<char>(kDelete));
  coding::PutString(id, block);
}

bool LeadJournal::Apply(uint64_t block, std::string&& bytes, bool check) {
  assert(block > active_->last_block_);
  if (check && !ForEachInBlock(bytes, [](std::string_view, std::string_view, bool) {})) {
    return false;
  }
  Generation& g = *active_;
  if (g.blocks_.empty()) {
    // The generation's first block: its table is made big enough now, not before (an idle
    // store holds no table).
    g.slots_.reserve(next_room_);
  }
  g.blocks_.push_back(std::move(bytes));
  const std::string& kept = g.blocks_.back();
  const bool decoded =
      ForEachInBlock(kept, [&g](std::string_view id, std::string_view state, bool deleted) {
        g.slots_.insert_or_assign(id, Slot{state, deleted});
        ++g.writes_;
      });
  assert(decoded && "a journal block built by this process does not decode");
  (void)decoded;
  g.last_block_ = block;
  g.bytes_ += kept.capacity();
  active_block_bytes_ += kept.size();
  return true;
}

std::string LeadJournal::TakeSpareBlock() {
  if (spare_blocks_.empty()) {
    return {};
  }
  std::string block = std::move(spare_blocks_.back());
  spare_blocks_.pop_back();
  spare_bytes_ -= block.capacity();
  block.clear();
  return block;
}

void LeadJournal::Freeze() {
  if (active_->size() == 0) {
    return;
  }
  Generation& g = *active_;
  g.entries_.reserve(g.slots_.size());
  for (const auto& [id, slot] : g.slots_) {
    g.entries_.emplace_back(id, &slot);
  }
  frozen_.push_back(std::move(active_));
  active_ = std::make_shared<Generation>();
  // The next generation is about as big: room for it and a quarter more, so that it does not
  // grow (see ExpectLeadsPerGeneration).
  const size_t last = frozen_.back()->size();
  next_room_ = std::max(expected_leads_, last + last / 4);
  active_->last_block_ = frozen_.back()->last_block_;
  active_block_bytes_ = 0;
}

void LeadJournal::ExpectLeadsPerGeneration(size_t leads) {
  expected_leads_ = leads;
  next_room_ = std::max(next_room_, leads);
  if (!active_->blocks_.empty()) {
    active_->slots_.reserve(leads);  // no-op when it has room already
  }
}

const LeadJournal::Slot* LeadJournal::Find(std::string_view id) const {
  if (const Slot* slot = active_->Find(id); slot != nullptr) {
    return slot;
  }
  for (auto it = frozen_.rbegin(); it != frozen_.rend(); ++it) {
    if (const Slot* slot = (*it)->Find(id); slot != nullptr) {
      return slot;
    }
  }
  return nullptr;
}

void LeadJournal::DropOldest() {
  assert(!frozen_.empty());
  if (frozen_.front().use_count() == 1) {
    // Nobody else reads it: a few of its blocks are reused (each commit takes one).
    constexpr uint64_t kMaxSpareBytes = 8 << 20;
    auto& g = const_cast<Generation&>(*frozen_.front());
    for (std::string& block : g.blocks_) {
      if (spare_bytes_ + block.capacity() > kMaxSpareBytes) {
        break;
      }
      spare_bytes_ += block.capacity();
      spare_blocks_.push_back(std::move(block));
    }
  }
  frozen_.pop_front();
}

uint64_t LeadJournal::bytes() const { return active_->bytes() + spare_bytes_ + frozen_bytes(); }

uint64_t LeadJournal::frozen_bytes() const {
  uint64_t total = 0;
  for (const FrozenGeneration& g : frozen_) {
    total += g->bytes();
  }
  return total;
}

LeadOverlayScan::LeadOverlayScan(std::vector<LeadJournal::FrozenGeneration> generations)
    : generations_(std::move(generations)) {}

const LeadJournal::Slot* LeadOverlayScan::Find(std::string_view id) const {
  for (auto it = generations_.rbegin(); it != generations_.rend(); ++it) {
    if (const LeadJournal::Slot* slot = (*it)->Find(id); slot != nullptr) {
      return slot;
    }
  }
  return nullptr;
}

std::vector<LeadJournal::Entry> LeadOverlayScan::Merged(std::string_view after) const {
  std::vector<LeadJournal::Entry> merged;
  for (const LeadJournal::FrozenGeneration& g : generations_) {
    const auto& sorted = g->Sorted();
    auto from = after.empty() ? sorted.begin()
                              : std::upper_bound(sorted.begin(), sorted.end(),
                                                 LeadJournal::Entry{after, nullptr}, ByKey);
    merged.insert(merged.end(), from, sorted.end());
  }
  // Newest generation wins: a stable sort keeps generations in order (oldest first) within an
  // id, so the last of each run of equal ids is the newest.
  std::stable_sort(merged.begin(), merged.end(), ByKey);
  std::vector<LeadJournal::Entry> newest;
  newest.reserve(merged.size());
  for (size_t i = 0; i < merged.size(); ++i) {
    if (i + 1 < merged.size() && merged[i + 1].first == merged[i].first) {
      continue;
    }
    newest.push_back(merged[i]);
  }
  return newest;
}

}  // namespace handoff
