#include "history/event_codec.h"

#include "storage/coding.h"
#include "storage/lead_codec.h"

namespace handoff {

using coding::GetByte;
using coding::GetDouble;
using coding::GetString;
using coding::PutDouble;
using coding::PutString;

namespace {

constexpr uint8_t kHasTimestamp = 1;
constexpr uint8_t kHasName = 2;

}  // namespace

// u8 type, u8 flags, f64 timestamp, str user_id, str anonymous_id, str message_id, str name,
// str group_id, str previous_id, value properties, value traits, value context.
void EncodeEvent(const Event& e, std::string* out) {
  out->push_back(static_cast<char>(e.type));
  out->push_back(
      static_cast<char>((e.has_timestamp ? kHasTimestamp : 0) | (e.has_name ? kHasName : 0)));
  PutDouble(e.timestamp, out);
  PutString(e.user_id, out);
  PutString(e.anonymous_id, out);
  PutString(e.message_id, out);
  PutString(e.name, out);
  PutString(e.group_id, out);
  PutString(e.previous_id, out);
  EncodeValue(e.properties, out);
  EncodeValue(e.traits, out);
  EncodeValue(e.context, out);
}

bool DecodeEvent(std::string_view* in, Event* e) {
  uint8_t type = 0;
  uint8_t flags = 0;
  if (!GetByte(in, &type) || type >= kEventTypeCount || !GetByte(in, &flags) ||
      !GetDouble(in, &e->timestamp) || !GetString(in, &e->user_id) ||
      !GetString(in, &e->anonymous_id) || !GetString(in, &e->message_id) ||
      !GetString(in, &e->name) || !GetString(in, &e->group_id) || !GetString(in, &e->previous_id) ||
      !DecodeValue(in, &e->properties) || !DecodeValue(in, &e->traits) ||
      !DecodeValue(in, &e->context)) {
    return false;
  }
  e->type = static_cast<EventType>(type);
  e->has_timestamp = (flags & kHasTimestamp) != 0;
  e->has_name = (flags & kHasName) != 0;
  return true;
}

}  // namespace handoff
