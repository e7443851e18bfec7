#include "history/event_codec.h"

#include "storage/coding.h"
#include "storage/lead_codec.h"

namespace handoff {

using coding::GetByte;
using coding::GetDouble;
using coding::GetString;

namespace {

constexpr uint8_t kHasTimestamp = 1;
constexpr uint8_t kHasName = 2;

}  // namespace

// u8 type, u8 flags, f64 timestamp, str user_id, str anonymous_id, str message_id, str name,
// str group_id, str previous_id, value properties, value traits, value context.
void EncodeEvent(const Event& e, std::string* out) {
  coding::Writer w(out);
  w.PutByte(static_cast<uint8_t>(e.type));
  w.PutByte((e.has_timestamp ? kHasTimestamp : 0) | (e.has_name ? kHasName : 0));
  w.PutDouble(e.timestamp);
  w.PutString(e.user_id);
  w.PutString(e.anonymous_id);
  w.PutString(e.message_id);
  w.PutString(e.name);
  w.PutString(e.group_id);
  w.PutString(e.previous_id);
  EncodeValue(e.properties, &w);
  EncodeValue(e.traits, &w);
  EncodeValue(e.context, &w);
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
