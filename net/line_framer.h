// LineFramer: splits a byte stream into newline-delimited lines (SPEC 3 framing).
//
// Lines may arrive split across reads or many to a read. A line is handed over without its
// newline, "\n" or "\r\n" (a CR ending the input's last, unterminated line goes too: JSON reads
// it as whitespace, and the limit never counts it). A line longer than `max_line_bytes` (counted
// without its newline) is reported as too long once its length passes the limit, and its remaining
// bytes are skipped up to the next newline, so memory stays bounded whatever the client sends. Line
// numbers are 1-based and count every line, blank or not. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace handoff {

class LineFramer {
 public:
  explicit LineFramer(size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

  // Feeds `data`, calling on_line(line_number, line, too_long) for every line it completes.
  // `line` is valid only during the call (empty when too_long).
  template <typename OnLine>
  void Feed(std::string_view data, OnLine&& on_line);

  // End of stream: a final line without a newline counts as a line. Calls on_line at most once.
  template <typename OnLine>
  void Finish(OnLine&& on_line);

  // Lines completed so far.
  uint64_t lines() const { return lines_; }
  // Bytes buffered for the line in progress.
  size_t buffered() const { return partial_.size(); }

 private:
  // `line` without its last byte when that is a CR (the CR of a CRLF newline).
  static std::string_view WithoutCr(std::string_view line) {
    return !line.empty() && line.back() == '\r' ? line.substr(0, line.size() - 1) : line;
  }

  size_t max_line_bytes_;
  std::string partial_;
  bool skipping_ = false;  // the current line is too long: drop bytes until the newline
  uint64_t lines_ = 0;
};

template <typename OnLine>
void LineFramer::Feed(std::string_view data, OnLine&& on_line) {
  while (!data.empty()) {
    size_t nl = data.find('\n');
    std::string_view chunk = data.substr(0, nl == std::string_view::npos ? data.size() : nl);
    if (!skipping_) {
      // A CR ending the line so far counts as part of a CRLF newline, not of the line (SPEC 3:
      // the limit counts the line without its newline); if more follows, it counts then.
      const bool ends_in_cr =
          !chunk.empty() ? chunk.back() == '\r' : !partial_.empty() && partial_.back() == '\r';
      if (partial_.size() + chunk.size() - (ends_in_cr ? 1 : 0) > max_line_bytes_) {
        skipping_ = true;
        partial_.clear();
        ++lines_;
        on_line(lines_, std::string_view(), true);
      } else if (nl != std::string_view::npos && partial_.empty()) {
        ++lines_;
        on_line(lines_, WithoutCr(chunk), false);  // the common case: no copy
      } else {
        partial_.append(chunk);
        if (nl != std::string_view::npos) {
          ++lines_;
          on_line(lines_, WithoutCr(partial_), false);
          partial_.clear();
        }
      }
    }
    if (nl == std::string_view::npos) {
      return;
    }
    skipping_ = false;
    data.remove_prefix(nl + 1);
  }
}

template <typename OnLine>
void LineFramer::Finish(OnLine&& on_line) {
  if (!skipping_ && !partial_.empty()) {
    ++lines_;
    on_line(lines_, WithoutCr(partial_), false);
  }
  partial_.clear();
  skipping_ = false;
}

}  // namespace handoff
