#include "storage/pin_record.h"

#include "storage/coding.h"

namespace handoff {
namespace {

constexpr uint8_t kVersion = 1;
constexpr uint8_t kInMemory = 1;

}  // namespace

uint64_t RulesTag(std::string_view sha256_hex) {
  uint64_t tag = 0;
  for (size_t i = 0; i < 16 && i < sha256_hex.size(); ++i) {
    const char c = sha256_hex[i];
    const uint64_t digit = c >= '0' && c <= '9'   ? c - '0'
                           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                  : 0;
    tag = tag << 4 | digit;
  }
  return tag;
}

void EncodePinRecord(const PinRecord& record, std::string* out) {
  out->clear();
  out->push_back(static_cast<char>(kVersion));
  out->push_back(static_cast<char>(record.in_memory ? kInMemory : 0));
  coding::PutDouble(record.next_check, out);
  coding::PutVarint(record.rules_tag, out);
  coding::PutString(record.stage, out);
}

Status DecodePinRecord(std::string_view bytes, PinRecord* record) {
  *record = PinRecord();
  if (bytes.empty()) {
    record->legacy = true;
    return Status::Ok();
  }
  uint8_t version = 0;
  uint8_t flags = 0;
  if (!coding::GetByte(&bytes, &version) || version != kVersion ||
      !coding::GetByte(&bytes, &flags) || !coding::GetDouble(&bytes, &record->next_check) ||
      !coding::GetVarint(&bytes, &record->rules_tag) ||
      !coding::GetString(&bytes, &record->stage) || !bytes.empty()) {
    return Status::Corruption("pinned index: not a pin record");
  }
  record->in_memory = (flags & kInMemory) != 0;
  return Status::Ok();
}

}  // namespace handoff
