#include "cluster/event_log.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>

#include "base/log.h"
#include "history/event_codec.h"
#include "storage/coding.h"

namespace handoff {
namespace {

// Reads the stream's layout into `layout` and what it holds into `state` (may be null); NotFound
// when there is no stream.
Status ReadEventStream(jsCtx* js, EventLogLayout* layout, EventStreamState* state);
// Makes the stream (EnsureEventStream found none).
Status CreateEventStream(jsCtx* js, EventLogLayout* layout, EventStreamState* state);

using coding::GetByte;
using coding::GetDouble;
using coding::GetString;
using coding::GetStringView;
using coding::GetVarint;
using coding::PutDouble;
using coding::PutString;
using coding::PutVarint;

// Version 1: one event per message (the first cluster release). Version 2: one or more.
// Version 5: one or more, each with its index in the ingest message (version 6) holding it.
constexpr uint8_t kSingleEventVersion = 1;
constexpr uint8_t kPayloadVersion = 2;
constexpr uint8_t kPlacedPayloadVersion = 5;
constexpr uint8_t kIngestVersion = 6;
constexpr size_t kHeaderBytes = 1 + sizeof(uint32_t);  // versions 2 and 5: version, record count
constexpr std::string_view kPartitionsTag = "partitions=";
constexpr int64_t kNanosPerSecond = 1'000'000'000;

// The partition count a stream was made with, from its description ("handoff events,
// partitions=16"); 0 if it has none.
uint32_t PartitionsOf(const jsStreamInfo* info) {
  if (info == nullptr || info->Config == nullptr || info->Config->Description == nullptr) {
    return 0;
  }
  std::string_view description = info->Config->Description;
  size_t at = description.find(kPartitionsTag);
  if (at == std::string_view::npos) {
    return 0;
  }
  description.remove_prefix(at + kPartitionsTag.size());
  uint32_t n = 0;
  std::from_chars(description.data(), description.data() + description.size(), n);
  return n;
}

}  // namespace

int StreamCopies(const jsStreamInfo& info) {
  if (info.Config == nullptr) {
    return 0;
  }
  int copies = static_cast<int>(info.Config->Replicas);
  const jsClusterInfo* cluster = info.Cluster;
  if (cluster == nullptr) {
    return copies;
  }
  const int named = std::max(cluster->ReplicasLen, 0);
  if (cluster->Leader != nullptr && cluster->Leader[0] != '\0') {
    // The leader and the others it names, online or not: what the stream's group holds.
    copies = std::min(copies, 1 + named);
  } else if (named > 0) {
    // No leader (an election, or the answer to the request that made it): the server that
    // answers names every member, itself included.
    copies = std::min(copies, named);
  }
  return copies;
}

uint32_t PartitionOf(std::string_view lead_id, uint32_t partitions) {
  uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : lead_id) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return static_cast<uint32_t>(h % partitions);
}

std::string PartitionSubject(uint32_t partition) {
  return std::string(kEventSubjectPrefix) + std::to_string(partition);
}

int64_t PartitionOfSubject(std::string_view subject) {
  if (subject.substr(0, kEventSubjectPrefix.size()) != kEventSubjectPrefix) {
    return -1;
  }
  subject.remove_prefix(kEventSubjectPrefix.size());
  uint32_t n = 0;
  auto [end, ec] = std::from_chars(subject.data(), subject.data() + subject.size(), n);
  if (ec != std::errc() || end != subject.data() + subject.size()) {
    return -1;
  }
  return n;
}

Status EnsureEventStream(jsCtx* js, EventLogLayout* layout, EventStreamState* state) {
  if (state != nullptr) {
    *state = EventStreamState();
  }
  Status st = ReadEventStream(js, layout, state);
  if (!st.IsNotFound()) {
    return st;
  }
  // A node's threads (log publisher, applier, leases) each make the stream when they find none,
  // and may find none at once: one makes it at a time, and the next finds it made. Otherwise one
  // asked three copies while another had settled on two, and nats-server 2.9.10 made a stream
  // asking three with two (StreamCopies). Nodes starting at once can still race; the buckets
  // take the copies the group holds either way.
  static std::mutex making;
  std::lock_guard<std::mutex> lock(making);
  st = ReadEventStream(js, layout, state);
  if (!st.IsNotFound()) {
    return st;
  }
  return CreateEventStream(js, layout, state);
}

Status EventStreamReplicas(jsCtx* js, int* replicas) {
  const std::string name(kEventStream);
  jsStreamInfo* info = nullptr;
  jsErrCode error = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, js, name.c_str(), nullptr, &error);
  if (s != NATS_OK) {
    return error == JSStreamNotFoundErr ? Status::NotFound("no stream " + name)
                                        : NatsStatus(s, "stream " + name, error);
  }
  *replicas = std::max(StreamCopies(*info), 1);
  jsStreamInfo_Destroy(info);
  return Status::Ok();
}

namespace {

Status ReadEventStream(jsCtx* js, EventLogLayout* layout, EventStreamState* state) {
  const std::string name(kEventStream);
  jsStreamInfo* info = nullptr;
  jsErrCode error = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, js, name.c_str(), nullptr, &error);
  if (s == NATS_OK) {
    const uint32_t partitions = PartitionsOf(info);
    const int copies = StreamCopies(*info);
    if (state != nullptr && info->State.Msgs > 0) {
      state->first_seq = info->State.FirstSeq;
      state->last_seq = info->State.LastSeq;
    }
    jsStreamInfo_Destroy(info);
    if (partitions == 0) {
      return Status::FailedPrecondition("stream " + name +
                                        " exists but does not say its partitions");
    }
    layout->partitions = partitions;
    if (copies > 0) {
      layout->replicas = copies;
    }
    return Status::Ok();
  }
  if (error == JSStreamNotFoundErr) {
    return Status::NotFound("no stream " + name);
  }
  return NatsStatus(s, "stream " + name, error);
}

Status CreateEventStream(jsCtx* js, EventLogLayout* layout, EventStreamState* state) {
  const std::string name(kEventStream);
  jsStreamInfo* info = nullptr;
  jsErrCode error = static_cast<jsErrCode>(0);
  const std::string description =
      "handoff events, " + std::string(kPartitionsTag) + std::to_string(layout->partitions);
  const std::string subjects = std::string(kEventSubjectPrefix) + "*";
  const char* subject_list[] = {subjects.c_str()};
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = name.c_str();
  config.Description = description.c_str();
  config.Subjects = subject_list;
  config.SubjectsLen = 1;
  config.Storage = js_FileStorage;
  config.Replicas = layout->replicas;
  config.MaxAge = static_cast<int64_t>(layout->max_age_seconds * kNanosPerSecond);
  config.Duplicates = static_cast<int64_t>(layout->duplicate_window_seconds * kNanosPerSecond);
  natsStatus s = js_AddStream(&info, js, &config, nullptr, &error);
  if (s == NATS_OK) {
    // The copies the stream was made with (its group's), which the buckets take.
    if (const int copies = info != nullptr ? StreamCopies(*info) : 0; copies > 0) {
      layout->replicas = copies;
    }
    jsStreamInfo_Destroy(info);
    return Status::Ok();
  }
  jsStreamInfo_Destroy(info);
  if (error == JSStreamNameExistErr) {
    // Another node made it first.
    Status st = ReadEventStream(js, layout, state);
    return st.IsNotFound() ? Status::Unavailable("stream " + name + " was made and is gone") : st;
  }
  if (error == JSStreamReplicasNotSupportedErr && layout->replicas > 1) {
    // One NATS server without a cluster keeps one copy; the buckets follow the stream.
    LogWarning("stream " + name + ": the NATS server is not clustered, so the log has one copy");
    layout->replicas = 1;
    return CreateEventStream(js, layout, state);
  }
  if ((error == JSInsufficientResourcesErr || error == JSClusterNoPeersErr) &&
      layout->replicas > 1) {
    // Fewer servers than copies (two servers, three copies): as many copies as there are
    // servers. The buckets follow the stream. Said, since a copy fewer is less safety.
    --layout->replicas;
    LogWarning("stream " + name + ": the NATS servers cannot place " +
               std::to_string(layout->replicas + 1) + " copies (" +
               NatsStatus(s, "creating it", error).ToString() + "), so the log has " +
               std::to_string(layout->replicas) + " copies");
    return CreateEventStream(js, layout, state);
  }
  return NatsStatus(s, "creating stream " + name, error);
}

void StartCountedMessage(uint8_t version, std::string* out) {
  out->clear();
  out->push_back(static_cast<char>(version));
  out->append(sizeof(uint32_t), '\0');  // the record count, kept by AppendRecord
}

// One more record in a version 2 or 5 message: counts it; its bytes follow.
void CountRecord(uint8_t version, std::string* out) {
  assert(out->size() >= kHeaderBytes && static_cast<uint8_t>((*out)[0]) == version);
  (void)version;
  uint32_t count = 0;
  std::memcpy(&count, out->data() + 1, sizeof count);
  ++count;
  std::memcpy(out->data() + 1, &count, sizeof count);
}

void AppendRecord(const Event& event, const EventOrigin& origin, std::string* out) {
  out->push_back(static_cast<char>(origin.transport));
  char t[sizeof(double)];
  std::memcpy(t, &origin.received_at, sizeof t);
  out->append(t, sizeof t);
  EncodeEvent(event, out);
}

}  // namespace

void StartLogMessage(std::string* out) { StartCountedMessage(kPayloadVersion, out); }

void AppendLoggedEvent(const Event& event, const EventOrigin& origin, std::string* out) {
  CountRecord(kPayloadVersion, out);
  AppendRecord(event, origin, out);
}

void StartPlacedLogMessage(std::string* out) { StartCountedMessage(kPlacedPayloadVersion, out); }

void AppendPlacedEvent(const Event& event, const EventOrigin& origin, uint32_t index,
                       std::string* out) {
  assert(index < kMaxIngestEvents);
  CountRecord(kPlacedPayloadVersion, out);
  PutVarint(index, out);
  AppendRecord(event, origin, out);
}

void EncodeIngestMessage(const std::vector<std::pair<uint32_t, std::string>>& sections,
                         std::string* out) {
  out->clear();
  out->push_back(static_cast<char>(kIngestVersion));
  for (const auto& [partition, events] : sections) {
    PutVarint(partition, out);
    PutString(events, out);
  }
}

bool DecodeIngestMessage(std::string_view in, std::vector<IngestSection>* sections) {
  sections->clear();
  uint8_t version = 0;
  if (!GetByte(&in, &version) || version != kIngestVersion) {
    return false;
  }
  while (!in.empty()) {
    uint64_t partition = 0;
    IngestSection section;
    if (!GetVarint(&in, &partition) || partition > std::numeric_limits<uint32_t>::max() ||
        !GetStringView(&in, &section.events) || section.events.empty() ||
        static_cast<uint8_t>(section.events[0]) != kPlacedPayloadVersion ||
        (!sections->empty() && partition <= sections->back().partition)) {
      sections->clear();
      return false;
    }
    section.partition = static_cast<uint32_t>(partition);
    sections->push_back(section);
  }
  return !sections->empty();
}

void EncodeClockMessage(EpochSeconds at, bool reevaluate, std::string* out) {
  out->clear();
  out->push_back(static_cast<char>(kClockMessageVersion));
  out->push_back(static_cast<char>(reevaluate ? 1 : 0));
  char t[sizeof(double)];
  std::memcpy(t, &at, sizeof t);
  out->append(t, sizeof t);
}

bool DecodeClockMessage(std::string_view in, EpochSeconds* at, bool* reevaluate) {
  if (in.size() != 2 + sizeof(double) || static_cast<uint8_t>(in[0]) != kClockMessageVersion ||
      static_cast<uint8_t>(in[1]) > 1) {
    return false;
  }
  *reevaluate = in[1] == 1;
  std::memcpy(at, in.data() + 2, sizeof(double));
  return std::isfinite(*at);
}

void EncodeStageResetMessage(std::string_view lead, std::string_view reset_id, EpochSeconds at,
                             std::string* out) {
  out->clear();
  out->push_back(static_cast<char>(kStageResetMessageVersion));
  PutDouble(at, out);
  PutString(reset_id, out);
  PutString(lead, out);
}

bool DecodeStageResetMessage(std::string_view in, std::string* lead, std::string* reset_id,
                             EpochSeconds* at) {
  uint8_t version = 0;
  return GetByte(&in, &version) && version == kStageResetMessageVersion && GetDouble(&in, at) &&
         GetString(&in, reset_id) && GetString(&in, lead) && in.empty() && std::isfinite(*at) &&
         !lead->empty() && !reset_id->empty();
}

bool DecodeLogMessage(std::string_view in, std::vector<Event>* events,
                      std::vector<EventOrigin>* origins, std::vector<uint32_t>* indexes) {
  if (in.empty()) {
    return false;
  }
  uint32_t count = 1;
  const bool placed = static_cast<uint8_t>(in[0]) == kPlacedPayloadVersion;
  if (static_cast<uint8_t>(in[0]) == kPayloadVersion || placed) {
    if (in.size() < kHeaderBytes) {
      return false;
    }
    std::memcpy(&count, in.data() + 1, sizeof count);
    in.remove_prefix(kHeaderBytes);
  } else if (static_cast<uint8_t>(in[0]) == kSingleEventVersion) {
    in.remove_prefix(1);
  } else {
    return false;
  }
  const size_t events_before = events->size();
  const size_t origins_before = origins->size();
  const size_t indexes_before = indexes != nullptr ? indexes->size() : 0;
  bool ok = count > 0;
  for (uint32_t i = 0; ok && i < count; ++i) {
    uint64_t index = i;
    if (placed) {
      ok = GetVarint(&in, &index) && index < kMaxIngestEvents;
    }
    if (indexes != nullptr) {
      indexes->push_back(static_cast<uint32_t>(index));
    }
    ok = ok && in.size() >= 1 + sizeof(double) &&
         static_cast<uint8_t>(in[0]) <= static_cast<uint8_t>(Transport::kHttp);
    if (!ok) {
      break;
    }
    EventOrigin origin;
    origin.transport = static_cast<Transport>(in[0]);
    std::memcpy(&origin.received_at, in.data() + 1, sizeof(double));
    in.remove_prefix(1 + sizeof(double));
    events->emplace_back();
    origins->push_back(origin);
    ok = DecodeEvent(&in, &events->back());
  }
  ok = ok && in.empty();
  if (!ok) {
    events->resize(events_before);
    origins->resize(origins_before);
    if (indexes != nullptr) {
      indexes->resize(indexes_before);
    }
  }
  return ok;
}

}  // namespace handoff
