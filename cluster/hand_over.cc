#include "cluster/hand_over.h"

#include "cluster/event_log.h"
#include "storage/coding.h"

namespace handoff {

namespace {

// Beside the events' versions 1 and 2 (cluster/event_log.cc).
constexpr uint8_t kRequestVersion = 10;
constexpr uint8_t kAnswerVersion = 11;

using coding::GetByte;
using coding::GetString;
using coding::GetVarint;
using coding::PutString;
using coding::PutVarint;

void PutLink(const LinkPlace& link, std::string* out) {
  PutVarint(link.seq, out);
  PutVarint(link.index, out);
}

bool GetLink(std::string_view* in, LinkPlace* link) {
  uint64_t index = 0;
  if (!GetVarint(in, &link->seq) || !GetVarint(in, &index) || index > UINT32_MAX) {
    return false;
  }
  link->index = static_cast<uint32_t>(index);
  return true;
}

bool GetU32(std::string_view* in, uint32_t* out) {
  uint64_t v = 0;
  if (!GetVarint(in, &v) || v > UINT32_MAX) {
    return false;
  }
  *out = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

LogMessageKind KindOfLogMessage(std::string_view payload) {
  if (!payload.empty() && static_cast<uint8_t>(payload[0]) == kRequestVersion) {
    return LogMessageKind::kHandOverRequest;
  }
  if (!payload.empty() && static_cast<uint8_t>(payload[0]) == kAnswerVersion) {
    return LogMessageKind::kHandOverAnswer;
  }
  if (!payload.empty() && static_cast<uint8_t>(payload[0]) == kClockMessageVersion) {
    return LogMessageKind::kClock;
  }
  if (!payload.empty() && static_cast<uint8_t>(payload[0]) == kStageResetMessageVersion) {
    return LogMessageKind::kStageReset;
  }
  return LogMessageKind::kEvents;
}

void EncodeHandOverRequest(const HandOverRequest& request, std::string* out) {
  out->clear();
  out->push_back(static_cast<char>(kRequestVersion));
  PutLink(request.link, out);
  PutString(request.older_id, out);
  PutString(request.into, out);
  PutVarint(request.partition, out);
}

bool DecodeHandOverRequest(std::string_view in, HandOverRequest* request) {
  uint8_t version = 0;
  return GetByte(&in, &version) && version == kRequestVersion && GetLink(&in, &request->link) &&
         GetString(&in, &request->older_id) && GetString(&in, &request->into) &&
         GetU32(&in, &request->partition) && in.empty();
}

void EncodeHandOverAnswer(const HandOverAnswer& answer, std::string* out) {
  out->clear();
  out->push_back(static_cast<char>(kAnswerVersion));
  PutLink(answer.link, out);
  PutVarint(answer.part, out);
  PutVarint(answer.parts, out);
  PutString(answer.bytes, out);
}

bool DecodeHandOverAnswer(std::string_view in, HandOverAnswer* answer) {
  uint8_t version = 0;
  return GetByte(&in, &version) && version == kAnswerVersion && GetLink(&in, &answer->link) &&
         GetU32(&in, &answer->part) && GetU32(&in, &answer->parts) && answer->parts > 0 &&
         answer->part < answer->parts && GetString(&in, &answer->bytes) && in.empty();
}

std::string HandOverRequestId(const LinkPlace& link) {
  return "handover/" + std::to_string(link.seq) + "/" + std::to_string(link.index);
}

std::string HandOverAnswerId(const LinkPlace& link, uint32_t part) {
  return "handover-answer/" + std::to_string(link.seq) + "/" + std::to_string(link.index) + "/" +
         std::to_string(part);
}

}  // namespace handoff
