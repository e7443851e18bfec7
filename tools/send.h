// `handoff send FILE...`: stream NDJSON events to the daemon's TCP ingest (SPEC 3, 11).
//
// Every file (or `-`, standard input) is sent in order over one connection, in large writes; a
// reader thread takes the replies as they come, so neither side blocks the other. A file whose
// last line has no newline gets one, so the connection's line count is the sum of the files'.
// The command waits for {"ack":N} covering every line sent, prints each rejected line as
// `FILE:LINE: error_code: message`, and a summary:
//   sent N lines in X s (R lines/s), A applied-or-duplicate, E rejected[, B blank]
// Exit code: 0 all accepted, 1 some line rejected, 2 usage, file or connection error.
//
// `--connections N` (N > 1, files only) cuts the files, taken end to end, into N contiguous
// shares of about equal size at line boundaries and sends each share over its own connection,
// all at once; each connection waits for its own final ack, and the summary gives the total
// (`... (R lines/s) over N connections, ...`). Lines keep their order within a share only: the
// daemon may apply two shares' events in any interleaving. `--max-ack-gap` also reports the
// longest wait between two acknowledgments of one connection (from the first byte sent), the
// figure an ingest stall (a rules reload, a slow commit) shows up in.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace handoff {

// Counts the lines of a byte stream fed in pieces, as the daemon's framer counts them: every
// '\n' ends a line; a line of only ' ', '\t' and '\r' is blank (skipped by the daemon, but
// counted). Costs O(1) per line beyond finding the newlines.
class LineCounter {
 public:
  void Feed(std::string_view data);
  // Complete lines so far (newline-terminated).
  uint64_t lines() const { return lines_; }
  // Blank lines among them.
  uint64_t blank_lines() const { return blank_; }
  // Bytes after the last newline: the stream needs a '\n' to end its last line.
  bool partial() const { return partial_; }
  // Counts the partial last line as if a '\n' had been fed.
  void FinishLine() { Feed("\n"); }

 private:
  uint64_t lines_ = 0;
  uint64_t blank_ = 0;
  bool partial_ = false;
  bool blank_so_far_ = true;  // the current line has only blank characters so far
};

// Maps the connection's 1-based line numbers back to (input, line in input). Inputs are added in
// the order they are sent, each when its first byte is about to go out; an input with no lines
// owns no line number.
class LineMap {
 public:
  // `first_line` is the connection line number of the input's first line sent, which is line
  // `line_in_input` of the input (1 unless the connection carries a later share of it).
  void Add(std::string name, uint64_t first_line, uint64_t line_in_input = 1);
  // False when `line` precedes every input.
  bool Lookup(uint64_t line, std::string* name, uint64_t* line_in_input) const;

 private:
  struct Input {
    std::string name;
    uint64_t first_line;
    uint64_t line_in_input;
  };
  std::vector<Input> inputs_;
};

// A byte range of one input, sent over one connection.
struct InputSpan {
  size_t input = 0;         // index into the inputs
  uint64_t begin = 0;       // first byte
  uint64_t end = 0;         // one past the last byte
  uint64_t first_line = 1;  // line number, in the input, of the line starting at `begin`

  bool operator==(const InputSpan&) const = default;
};

// Cuts `inputs`, taken end to end, into at most `parts` shares of about equal size, each cut
// just after a '\n' (a line is never split; an input without a final newline ends its last
// line). Shares are in input order and none is empty, so there are fewer than `parts` when the
// inputs hold fewer lines or a line is longer than a share. Counts the lines before every cut,
// one pass over the bytes.
std::vector<std::vector<InputSpan>> SplitIntoShares(const std::vector<std::string_view>& inputs,
                                                    size_t parts);

struct SendProgress {
  uint64_t lines = 0;
  uint64_t bytes = 0;
  uint64_t acked = 0;
  uint64_t total_bytes = 0;  // 0: unknown (standard input), no percentage
  double seconds = 0;
};

// One progress line, without '\r' or '\n', at most `width` columns:
// ` 42% [=====>      ] 1234567 lines  123.4 MB  456789 lines/s  45.6 MB/s  acked 1200000`.
std::string FormatSendProgress(const SendProgress& p, int width);

// `sent N lines in X s (R lines/s), A applied-or-duplicate, E rejected` (+ `, B blank` if any);
// with more than one connection `(R lines/s) over C connections, ...`.
std::string FormatSendSummary(uint64_t lines, double seconds, uint64_t rejected, uint64_t blank,
                              size_t connections = 1);

// One reply of the daemon, rendered for the user: `FILE:LINE: error_code: message`.
std::string FormatRejectedLine(const std::string& input, uint64_t line, std::string_view code,
                               std::string_view message);

// The daemon's summary of error lines it did not send one by one (SPEC 3's replies to a client
// that reads too slowly): `FILE:A-B: replies_dropped: N rejected lines in this range, ...`, or
// `FILE:A-FILE2:B: ...` when the range spans inputs.
std::string FormatDroppedReplies(const std::string& first_input, uint64_t first_line,
                                 const std::string& last_input, uint64_t last_line, uint64_t count);

// The subcommand: `args` are the words after "send". Progress goes to `out` only when
// `out_is_terminal`.
int SendCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                bool out_is_terminal);

}  // namespace handoff
