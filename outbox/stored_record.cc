#include "outbox/stored_record.h"

#include <cstdint>

namespace handoff {
namespace {

constexpr uint8_t kFormat = 1;

void AppendSized(std::string_view s, std::string* out) {
  const auto n = static_cast<uint32_t>(s.size());
  for (int shift = 0; shift < 32; shift += 8) {
    out->push_back(static_cast<char>((n >> shift) & 0xff));
  }
  out->append(s);
}

bool ReadSized(std::string_view* in, std::string_view* s) {
  if (in->size() < 4) {
    return false;
  }
  uint32_t n = 0;
  for (int i = 3; i >= 0; --i) {
    n = (n << 8) | static_cast<uint8_t>((*in)[i]);
  }
  in->remove_prefix(4);
  if (in->size() < n) {
    return false;
  }
  *s = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

}  // namespace

void EncodeStoredRecord(const OutboxRecord& record, std::string_view json, std::string* out) {
  // One allocation for a new string: format, kind, two sizes of four bytes, and the rest.
  out->reserve(out->size() + 2 + 4 + record.rep.size() + 4 + record.team.size() + json.size());
  out->push_back(static_cast<char>(kFormat));
  out->push_back(static_cast<char>(record.kind));
  AppendSized(record.rep, out);
  AppendSized(record.team, out);
  out->append(json);
}

bool DecodeStoredRecord(std::string_view stored, RecordHeader* header, std::string_view* json) {
  if (stored.size() < 2 || static_cast<uint8_t>(stored[0]) != kFormat ||
      static_cast<uint8_t>(stored[1]) >= kOutboxKindCount) {
    return false;
  }
  header->kind = static_cast<OutboxKind>(stored[1]);
  stored.remove_prefix(2);
  if (!ReadSized(&stored, &header->rep) || !ReadSized(&stored, &header->team)) {
    return false;
  }
  *json = stored;
  return true;
}

}  // namespace handoff
