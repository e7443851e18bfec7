#include "api/event_stream.h"

#include <algorithm>
#include <charconv>

#include "base/log.h"
#include "net/http_util.h"
#include "outbox/stored_record.h"

namespace handoff {

namespace {

bool ParseSeq(std::string_view text, uint64_t* out) {
  if (text.empty()) {
    return false;
  }
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

void AppendGapEvent(uint64_t oldest, std::string* out) {
  out->append("id: ");
  out->append(std::to_string(oldest - 1));
  out->append("\ndata: {\"error\":\"gap\",\"oldest\":");
  out->append(std::to_string(oldest));
  out->append("}\n\n");
}

}  // namespace

Result<EventStreamRequest> ParseEventStreamRequest(std::string_view query,
                                                   std::string_view last_event_id) {
  Result<QueryParams> params = QueryParams::Parse(query);
  if (!params.ok()) {
    return params.status();
  }
  EventStreamRequest request;
  for (const auto& [name, value] : params.value().params()) {
    if (name == "from") {
      uint64_t from = 0;
      if (!ParseSeq(value, &from)) {
        return Status::InvalidArgument("from must be a non-negative integer seq");
      }
      request.from = from;
    } else if (name == "rep") {
      request.filter.rep = value;
    } else if (name == "team") {
      request.filter.team = value;
    } else if (name == "kinds") {
      std::string_view rest = value;
      while (!rest.empty()) {
        const size_t comma = rest.find(',');
        const std::string_view kind_name = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (kind_name.empty()) {
          continue;
        }
        std::optional<OutboxKind> kind = OutboxKindFromName(kind_name);
        if (!kind) {
          return Status::InvalidArgument(
              "unknown kind " + JsonQuoted(kind_name) +
              " (kinds are stage, routed, reassigned, accepted, rejected, closed, escalated, "
              "unrouted)");
        }
        request.filter.kinds |= 1u << static_cast<unsigned>(*kind);
      }
    } else {
      return Status::InvalidArgument("unknown parameter " + JsonQuoted(name) +
                                     " (parameters are from, rep, team and kinds)");
    }
  }
  if (!last_event_id.empty()) {
    uint64_t last = 0;
    if (!ParseSeq(last_event_id, &last)) {
      return Status::InvalidArgument("Last-Event-ID must be a non-negative integer seq");
    }
    request.from = last;
  }
  return request;
}

EventStreams::EventStreams(const OutboxReader* outbox, EventStreamOptions options)
    : outbox_(outbox), options_(options), registry_(std::make_shared<Registry>()) {}

std::shared_ptr<HttpBodyStream> EventStreams::Open(const EventStreamRequest& request) {
  const uint64_t cursor = request.from ? *request.from + 1 : outbox_->head() + 1;
  return std::make_shared<OutboxEventStream>(outbox_, options_, registry_, request.filter, cursor);
}

void EventStreams::NotifyOutboxHead(uint64_t /*head*/) {
  std::lock_guard<std::mutex> lock(registry_->mu);
  for (OutboxEventStream* stream : registry_->streams) {
    stream->Wake();
  }
}

size_t EventStreams::open_streams() const {
  std::lock_guard<std::mutex> lock(registry_->mu);
  return registry_->streams.size();
}

OutboxEventStream::OutboxEventStream(const OutboxReader* outbox, const EventStreamOptions& options,
                                     std::shared_ptr<EventStreams::Registry> registry,
                                     RecordFilter filter, uint64_t cursor)
    : outbox_(outbox),
      options_(options),
      registry_(std::move(registry)),
      filter_(std::move(filter)),
      cursor_(cursor) {}

OutboxEventStream::~OutboxEventStream() { Leave(); }

void OutboxEventStream::Start(std::function<void()> wake) {
  wake_ = std::move(wake);
  std::lock_guard<std::mutex> lock(registry_->mu);
  registry_->streams.push_back(this);
}

void OutboxEventStream::Closed() { Leave(); }

void OutboxEventStream::Leave() {
  if (!registry_) {
    return;
  }
  {
    std::lock_guard<std::mutex> lock(registry_->mu);
    auto& streams = registry_->streams;
    streams.erase(std::remove(streams.begin(), streams.end(), this), streams.end());
  }
  registry_.reset();
}

void OutboxEventStream::Wake() {
  // Under the registry's mutex: wake_ was set before this stream registered.
  if (waiting_.exchange(false)) {
    wake_();
  }
}

HttpBodyStream::Pull OutboxEventStream::Next(bool idle, std::string* out) {
  waiting_.store(false);
  if (cursor_ > outbox_->head()) {
    // Caught up. Say so before looking again, so a head published in between is not missed:
    // its notice finds waiting_ set, or this second look finds the head.
    waiting_.store(true);
    if (cursor_ > outbox_->head()) {
      if (!idle) {
        return Pull::kWait;
      }
      out->append(": heartbeat ");
      out->append(std::to_string(outbox_->head()));
      out->append("\n\n");
      return Pull::kData;
    }
    waiting_.store(false);
  }
  const uint64_t head = outbox_->head();
  // Stepping over trimmed records costs the store a walk over tombstones: jump straight to the
  // oldest record kept.
  const uint64_t oldest = outbox_->oldest();
  if (oldest > cursor_) {
    AppendGapEvent(oldest, out);
    cursor_ = oldest;
  }
  // Only through `head`: records past it belong to a batch still being written (not durable,
  // not acknowledged, and read by RocksDB while the commit thread inserts them).
  if (Status st = outbox_->Read(cursor_, head, options_.read_chunk_records, &records_); !st.ok()) {
    LogWarning("event stream: cannot read the outbox: " + st.ToString());
    // The client reconnects with Last-Event-ID and loses nothing; end here rather than skip.
    return out->empty() ? Pull::kEnd : Pull::kData;
  }
  if (records_.empty()) {
    // Record `head` was committed, so everything from the cursor through it was trimmed after
    // oldest() was read.
    const uint64_t next = std::max(head + 1, outbox_->oldest());
    AppendGapEvent(next, out);
    cursor_ = next;
    return Pull::kData;
  }
  if (records_.front().first > cursor_) {
    AppendGapEvent(records_.front().first, out);  // trimmed between the two reads
  }
  for (const auto& [seq, stored] : records_) {
    RecordHeader header;
    std::string_view json;
    if (!DecodeStoredRecord(stored, &header, &json)) {
      LogError("event stream: outbox record " + std::to_string(seq) + " does not decode");
    } else if (FilterMatches(filter_, header)) {
      out->append("id: ");
      out->append(std::to_string(seq));
      out->append("\ndata: ");
      out->append(json);
      out->append("\n\n");
    }
    cursor_ = seq + 1;
    if (out->size() >= options_.max_chunk_bytes) {
      break;  // large records: the rest is read next time
    }
  }
  records_.clear();
  if (out->empty()) {
    // A whole chunk matched nothing: go on after other handlers had a turn, so one stream's
    // long scan never holds the io thread.
    wake_();
    return Pull::kWait;
  }
  return Pull::kData;
}

}  // namespace handoff
