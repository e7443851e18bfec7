#include "ingest/event_errors.h"

#include "handoff/value.h"

namespace handoff {

void AppendEventErrorFields(const ParseError& err, std::optional<uint64_t> line, std::string* out) {
  out->append("\"error\":");
  AppendJsonString(EventErrorCode(err.code), out);
  out->append(",\"message\":");
  AppendJsonString(err.message, out);
  if (line.has_value()) {
    out->append(",\"line\":");
    out->append(std::to_string(*line));
  }
  if (!err.message_id.empty()) {
    out->append(",\"messageId\":");
    AppendJsonString(err.message_id, out);
  }
}

void AppendEventErrorLine(const ParseError& err, uint64_t line, std::string* out) {
  out->push_back('{');
  AppendEventErrorFields(err, line, out);
  out->append("}\n");
}

void AppendUnavailableLine(std::string_view message, std::string* out) {
  out->append("{\"error\":\"unavailable\",\"message\":");
  AppendJsonString(message, out);
  out->append("}\n");
}

void AppendRepliesDroppedLine(uint64_t count, uint64_t first_line, uint64_t last_line,
                              std::string* out) {
  out->append("{\"error\":\"replies_dropped\",\"count\":");
  out->append(std::to_string(count));
  out->append(",\"first_line\":");
  out->append(std::to_string(first_line));
  out->append(",\"last_line\":");
  out->append(std::to_string(last_line));
  out->append("}\n");
}

}  // namespace handoff
