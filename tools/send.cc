#include "tools/send.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "tools/net.h"

namespace handoff {

// ---------------------------------------------------------------------------------------------
// Pure parts

void LineCounter::Feed(std::string_view data) {
  const char* p = data.data();
  const char* const end = p + data.size();
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    const char* seg_end = nl != nullptr ? nl : end;
    // Usually the first byte of a line is '{', so this stops at once.
    for (const char* q = p; blank_so_far_ && q < seg_end; ++q) {
      blank_so_far_ = *q == ' ' || *q == '\t' || *q == '\r';
    }
    if (nl == nullptr) {
      partial_ = partial_ || seg_end > p;
      return;
    }
    ++lines_;
    if (blank_so_far_) {
      ++blank_;
    }
    blank_so_far_ = true;
    partial_ = false;
    p = nl + 1;
  }
}

void LineMap::Add(std::string name, uint64_t first_line, uint64_t line_in_input) {
  inputs_.push_back(Input{std::move(name), first_line, line_in_input});
}

bool LineMap::Lookup(uint64_t line, std::string* name, uint64_t* line_in_input) const {
  // The last input starting at or before `line`: inputs with no lines share their start with the
  // next input, which is the one that owns the line.
  auto it = std::upper_bound(inputs_.begin(), inputs_.end(), line,
                             [](uint64_t l, const Input& in) { return l < in.first_line; });
  if (it == inputs_.begin()) {
    return false;
  }
  --it;
  *name = it->name;
  *line_in_input = line - it->first_line + it->line_in_input;
  return true;
}

std::vector<std::vector<InputSpan>> SplitIntoShares(const std::vector<std::string_view>& inputs,
                                                    size_t parts) {
  std::vector<uint64_t> starts;  // global offset of each input's first byte
  uint64_t total = 0;
  for (std::string_view in : inputs) {
    starts.push_back(total);
    total += in.size();
  }
  std::vector<std::vector<InputSpan>> shares;
  if (total == 0 || parts == 0) {
    return shares;
  }
  // The cuts, as global offsets: the first line end (or input end) at or after each k/parts of
  // the bytes.
  std::vector<uint64_t> cuts = {0};
  size_t i = 0;
  for (size_t k = 1; k < parts; ++k) {
    const uint64_t target = static_cast<uint64_t>(static_cast<unsigned __int128>(total) * k /
                                                  parts);  // no overflow for huge inputs
    while (i + 1 < inputs.size() && starts[i] + inputs[i].size() <= target) {
      ++i;
    }
    const std::string_view in = inputs[i];
    const uint64_t p = target - starts[i];
    uint64_t cut = starts[i] + in.size();
    if (p == 0 || in[p - 1] == '\n') {
      cut = target;
    } else if (const void* nl = std::memchr(in.data() + p, '\n', in.size() - p); nl != nullptr) {
      cut = starts[i] + static_cast<uint64_t>(static_cast<const char*>(nl) - in.data()) + 1;
    }
    cuts.push_back(std::max(cut, cuts.back()));
  }
  cuts.push_back(total);

  // Walk the shares in order, counting each input's lines up to every span's start.
  size_t input = 0;
  uint64_t counted_to = 0;  // bytes of inputs[input] whose newlines are in lines_before
  uint64_t lines_before = 0;
  for (size_t k = 0; k + 1 < cuts.size(); ++k) {
    const uint64_t a = cuts[k];
    const uint64_t b = cuts[k + 1];
    if (a == b) {
      continue;
    }
    std::vector<InputSpan> share;
    for (size_t j = 0; j < inputs.size(); ++j) {
      const uint64_t begin = std::max(a, starts[j]);
      const uint64_t end = std::min(b, starts[j] + inputs[j].size());
      if (begin >= end) {
        continue;
      }
      if (j != input) {
        input = j;
        counted_to = 0;
        lines_before = 0;
      }
      const uint64_t local = begin - starts[j];
      lines_before += static_cast<uint64_t>(
          std::count(inputs[j].data() + counted_to, inputs[j].data() + local, '\n'));
      counted_to = local;
      share.push_back(InputSpan{j, local, end - starts[j], lines_before + 1});
    }
    shares.push_back(std::move(share));
  }
  return shares;
}

namespace {

std::string Printf(const char* format, double a) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, a);
  return buf;
}

std::string FormatProgressParts(const SendProgress& p, bool with_bar) {
  const double secs = p.seconds > 0 ? p.seconds : 0;
  std::string s;
  if (p.total_bytes > 0) {
    const double frac = std::min(1.0, static_cast<double>(p.bytes) / p.total_bytes);
    s += Printf("%3.0f%% ", frac * 100);
    if (with_bar) {
      constexpr int kBar = 20;
      const int filled = static_cast<int>(frac * kBar);
      s += "[";
      s += std::string(filled, '=');
      if (filled < kBar) {
        s += ">";
        s += std::string(kBar - filled - 1, ' ');
      }
      s += "] ";
    }
  }
  s += std::to_string(p.lines) + " lines  " + Printf("%.1f MB", p.bytes / 1e6);
  if (secs > 0) {
    s += "  " + std::to_string(static_cast<uint64_t>(p.lines / secs)) + " lines/s  " +
         Printf("%.1f MB/s", p.bytes / 1e6 / secs);
  }
  s += "  acked " + std::to_string(p.acked);
  return s;
}

}  // namespace

std::string FormatSendProgress(const SendProgress& p, int width) {
  std::string s = FormatProgressParts(p, /*with_bar=*/true);
  if (static_cast<int>(s.size()) > width) {
    s = FormatProgressParts(p, /*with_bar=*/false);
  }
  if (width > 0 && static_cast<int>(s.size()) > width) {
    s.resize(static_cast<size_t>(width));
  }
  return s;
}

std::string FormatSendSummary(uint64_t lines, double seconds, uint64_t rejected, uint64_t blank,
                              size_t connections) {
  const uint64_t applied = lines >= rejected + blank ? lines - rejected - blank : 0;
  const double rate = seconds > 0 ? lines / seconds : 0;
  std::string s = "sent " + std::to_string(lines) + " lines in " + Printf("%.2f", seconds) +
                  " s (" + std::to_string(static_cast<uint64_t>(rate)) + " lines/s)";
  if (connections > 1) {
    s += " over " + std::to_string(connections) + " connections";
  }
  s += ", " + std::to_string(applied) + " applied-or-duplicate, " + std::to_string(rejected) +
       " rejected";
  if (blank > 0) {
    s += ", " + std::to_string(blank) + " blank";
  }
  return s;
}

std::string FormatRejectedLine(const std::string& input, uint64_t line, std::string_view code,
                               std::string_view message) {
  std::string s = input + ":" + std::to_string(line) + ": ";
  s.append(code.empty() ? "error" : code);
  if (!message.empty()) {
    s.append(": ").append(message);
  }
  return s;
}

std::string FormatDroppedReplies(const std::string& first_input, uint64_t first_line,
                                 const std::string& last_input, uint64_t last_line,
                                 uint64_t count) {
  std::string s = first_input + ":" + std::to_string(first_line);
  if (last_input != first_input) {
    s += "-" + last_input + ":" + std::to_string(last_line);
  } else if (last_line != first_line) {
    s += "-" + std::to_string(last_line);
  }
  s += ": replies_dropped: " + std::to_string(count) +
       (count == 1 ? " rejected line" : " rejected lines") +
       " in this range, not reported one by one (the replies were not read fast enough)";
  return s;
}

// ---------------------------------------------------------------------------------------------
// The session

namespace {

using SteadyClock = std::chrono::steady_clock;

struct Input {
  std::string name;  // as shown in messages
  int fd = -1;
  uint64_t size = 0;        // 0 when unknown
  std::string_view mapped;  // the whole file, when mapped (--connections)
};

// What one connection sends, in order: whole inputs read from their descriptors to the end, or
// byte ranges of mapped inputs.
struct Piece {
  Input* input = nullptr;
  bool stream = false;  // read input->fd to its end
  uint64_t begin = 0;   // else the range [begin, end) of input->mapped
  uint64_t end = 0;
  uint64_t first_line = 1;  // the input's line number at `begin`
};

int TerminalWidth() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    return ws.ws_col;
  }
  return 80;
}

// The answer window of `handoff send` (SendSession::NextWrite): lines a connection may have
// unanswered after a rejection, and at most.
constexpr uint64_t kAnswerWindow = 4096;
constexpr uint64_t kLargestWindow = uint64_t{1} << 20;

// One connection: its pieces, a sender thread and a reader thread.
struct Lane {
  std::vector<Piece> pieces;
  TcpConnection conn;
  std::atomic<uint64_t> lines_sent{0};
  std::atomic<uint64_t> bytes_sent{0};
  uint64_t blank_lines = 0;  // sender thread until send_done

  // Guarded by SendSession::mu_.
  LineMap map;
  bool send_done = false;
  Status sent;                        // the sender's outcome, once send_done
  uint64_t total_lines = UINT64_MAX;  // known once everything is sent
  uint64_t acked = 0;
  // The last connection line acked or rejected: no error reply is due for any line up to it
  // (a line before a rejected one is rejected already or valid, and then only its ack is due).
  uint64_t answered = 0;
  uint64_t rejected = 0;
  uint64_t rejected_at_last_ack = 0;
  uint64_t window = kAnswerWindow;  // lines that may be unanswered (SendSession::NextWrite)
  bool sender_waiting = false;      // the sender waits for room in the window
  bool complete = false;            // every line acknowledged: the connection is closed on purpose
  bool reader_done = false;
  std::string reader_status;
  std::string server_error;
  SteadyClock::time_point last_ack;
  double max_gap = 0;  // seconds between two acks (or the first byte and the first ack)
  double gap_end = 0;  // when that gap ended, seconds after the start

  // Lines sent and neither acked nor rejected yet. An ack may arrive before the sender has
  // counted the lines it covers. Needs SendSession::mu_.
  uint64_t Unanswered() const {
    const uint64_t sent = lines_sent.load(std::memory_order_relaxed);
    return sent - std::min(answered, sent);
  }

  // Nothing more will happen that the session waits for.
  bool Finished() const { return send_done && (!sent.ok() || complete || reader_done); }
};

class SendSession {
 public:
  SendSession(std::ostream& out, std::ostream& err, bool progress, uint64_t total_bytes)
      : out_(out), err_(err), progress_(progress), total_bytes_(total_bytes) {}

  // `plan`: the pieces of each connection. `show_gap`: print the longest wait between acks.
  int Run(const HostPort& address, std::vector<std::vector<Piece>> plan, bool show_gap) {
    for (std::vector<Piece>& pieces : plan) {
      lanes_.push_back(std::make_unique<Lane>());
      lanes_.back()->pieces = std::move(pieces);
      Status st = lanes_.back()->conn.Connect(address);
      if (!st.ok()) {
        err_ << "handoff send: " << st.message() << "\n";
        return 2;
      }
    }
    start_ = SteadyClock::now();
    std::vector<std::thread> threads;
    for (auto& lane : lanes_) {
      lane->last_ack = start_;
      threads.emplace_back([this, l = lane.get()] { ReadReplies(*l); });
      threads.emplace_back([this, l = lane.get()] { Send(*l); });
    }
    std::thread progress;
    if (progress_) {
      progress = std::thread([this] { ShowProgress(); });
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] {
        return std::all_of(lanes_.begin(), lanes_.end(),
                           [](const auto& l) { return l->Finished(); });
      });
      finished_ = true;
    }
    const double seconds = std::chrono::duration<double>(SteadyClock::now() - start_).count();
    for (auto& lane : lanes_) {
      lane->conn.Abort();  // wakes its reader
    }
    for (std::thread& t : threads) {
      t.join();
    }
    cv_.notify_all();
    if (progress.joinable()) {
      progress.join();
    }

    std::lock_guard<std::mutex> lock(mu_);
    ClearProgressLocked();
    uint64_t lines = 0;
    uint64_t acked = 0;
    uint64_t sent_lines = 0;
    uint64_t rejected = 0;
    uint64_t blank = 0;
    std::string failure;
    const Lane* gap_lane = lanes_.front().get();
    for (auto& lane : lanes_) {
      acked += lane->acked;
      sent_lines += lane->lines_sent.load();
      rejected += lane->rejected;
      blank += lane->blank_lines;
      if (lane->sent.ok() && lane->complete) {
        lines += lane->total_lines;
      } else if (failure.empty()) {
        failure = !lane->sent.ok() ? lane->sent.message() : lane->reader_status;
      }
      if (lane->max_gap > gap_lane->max_gap) {
        gap_lane = lane.get();
      }
    }
    if (!failure.empty()) {
      err_ << "handoff send: " << failure << "; " << acked << " of " << sent_lines
           << " lines sent were acknowledged (resending is safe: messageIds make events "
              "idempotent)\n";
      return 2;
    }
    out_ << FormatSendSummary(lines, seconds, rejected, blank, lanes_.size()) << "\n";
    if (show_gap) {
      out_ << "longest wait between acks: " << Printf("%.1f", gap_lane->max_gap * 1000)
           << " ms, ending " << Printf("%.3f", gap_lane->gap_end) << " s after the first byte\n";
    }
    out_.flush();
    return rejected > 0 ? 1 : 0;
  }

 private:
  void Send(Lane& lane) {
    Status st = SendAll(lane);
    std::lock_guard<std::mutex> lock(mu_);
    lane.sent = st;
    lane.send_done = true;
    if (st.ok() && lane.acked >= lane.total_lines) {
      Complete(lane);
    }
    cv_.notify_all();
  }

  // Flow control for error replies. The daemon queues at most 1 MiB of unread replies a
  // connection and then sums further rejected lines up in one `replies_dropped` line (README),
  // which a client reading more slowly than the daemon rejects lines meets too: a file of nearly
  // all bad lines sent at full speed named only half of them. So a lane lets at most `window`
  // lines go unanswered (neither acked nor rejected; Lane::window) and sizes each write to the room
  // left: the window starts at kAnswerWindow lines (a few hundred KB of error lines at most,
  // well under the daemon's 1 MiB), grows by the lines each ack covers while none is rejected
  // (a clean file soon goes out in 4 MiB writes), and falls back to kAnswerWindow at a rejection.
  static constexpr size_t kLargestWrite = 4 << 20;  // few, large writes: no per-line syscalls
  static constexpr size_t kSmallestWrite = 16 << 10;
  static constexpr uint64_t kGuessedLineBytes = 32;  // before the first write tells

  // Waits for room in the lane's window; returns how many bytes to write next.
  size_t NextWrite(Lane& lane) {
    std::unique_lock<std::mutex> lock(mu_);
    lane.sender_waiting = true;
    cv_.wait(lock,
             [&] { return lane.reader_done || lane.complete || lane.Unanswered() < lane.window; });
    lane.sender_waiting = false;
    const uint64_t room = lane.window - std::min(lane.Unanswered(), lane.window);
    const uint64_t lines = lane.lines_sent.load(std::memory_order_relaxed);
    const uint64_t line_bytes =
        lines == 0 ? kGuessedLineBytes
                   : std::max<uint64_t>(1, lane.bytes_sent.load(std::memory_order_relaxed) / lines);
    return static_cast<size_t>(
        std::clamp<uint64_t>(room * line_bytes, kSmallestWrite, kLargestWrite));
  }

  Status SendAll(Lane& lane) {
    std::string buf;
    uint64_t line_base = 0;  // connection lines before the current piece
    for (Piece& piece : lane.pieces) {
      Input& in = *piece.input;
      {
        std::lock_guard<std::mutex> lock(mu_);
        lane.map.Add(in.name, line_base + 1, piece.first_line);
      }
      LineCounter counter;
      auto write = [&](std::string_view bytes) {
        counter.Feed(bytes);
        Status st = lane.conn.WriteAll(bytes);
        if (st.ok()) {
          lane.bytes_sent.fetch_add(bytes.size(), std::memory_order_relaxed);
          lane.lines_sent.store(line_base + counter.lines(), std::memory_order_relaxed);
        }
        return st;
      };
      if (piece.stream) {
        while (true) {
          const size_t want = NextWrite(lane);
          buf.resize(want);
          ssize_t n = ::read(in.fd, buf.data(), want);
          if (n < 0) {
            if (errno == EINTR) {
              continue;
            }
            return Status::IoError("cannot read " + in.name + ": " + std::strerror(errno));
          }
          if (n == 0) {
            break;
          }
          buf.resize(static_cast<size_t>(n));
          if (Status st = write(buf); !st.ok()) {
            return st;
          }
        }
        if (in.fd != STDIN_FILENO) {
          ::close(in.fd);
          in.fd = -1;
        }
      } else {
        for (uint64_t at = piece.begin; at < piece.end;) {
          const uint64_t n = std::min<uint64_t>(NextWrite(lane), piece.end - at);
          if (Status st = write(in.mapped.substr(at, n)); !st.ok()) {
            return st;
          }
          at += n;
        }
      }
      if (counter.partial()) {
        counter.FinishLine();
        Status st = lane.conn.WriteAll("\n");
        if (!st.ok()) {
          return st;
        }
        lane.bytes_sent.fetch_add(1, std::memory_order_relaxed);
      }
      line_base += counter.lines();
      lane.lines_sent.store(line_base, std::memory_order_relaxed);
      lane.blank_lines += counter.blank_lines();
    }
    std::lock_guard<std::mutex> lock(mu_);
    lane.total_lines = line_base;
    return Status::Ok();
  }

  // Every line of the lane is acknowledged: close its connection now, so the daemon (or a test's
  // server) sees the end of this client's share while the other lanes go on. Needs mu_.
  void Complete(Lane& lane) {
    if (!lane.complete) {
      lane.complete = true;
      lane.conn.Abort();
    }
  }

  void ReadReplies(Lane& lane) {
    std::string line;
    Value reply;
    while (true) {
      Status st = lane.conn.ReadLine(&line);
      if (!st.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        lane.reader_done = true;
        lane.reader_status = st.message();
        if (!lane.server_error.empty()) {
          lane.reader_status = lane.server_error;
        }
        cv_.notify_all();
        return;
      }
      if (line.empty()) {
        continue;
      }
      if (!ParseJsonLine(line, &reply).ok() || !reply.is_object()) {
        std::lock_guard<std::mutex> lock(mu_);
        ClearProgressLocked();
        err_ << "handoff send: unexpected reply: " << line << "\n";
        continue;
      }
      if (std::optional<uint64_t> ack = JsonUint(reply, "ack"); ack.has_value()) {
        const auto now = SteadyClock::now();
        std::lock_guard<std::mutex> lock(mu_);
        if (lane.complete) {
          continue;
        }
        const double gap = std::chrono::duration<double>(now - lane.last_ack).count();
        if (gap > lane.max_gap) {
          lane.max_gap = gap;
          lane.gap_end = std::chrono::duration<double>(now - start_).count();
        }
        lane.last_ack = now;
        if (*ack > lane.acked && lane.rejected == lane.rejected_at_last_ack) {
          lane.window = std::min(lane.window + (*ack - lane.acked), kLargestWindow);
        }
        lane.rejected_at_last_ack = lane.rejected;
        lane.acked = std::max(lane.acked, *ack);
        lane.answered = std::max(lane.answered, lane.acked);
        if (lane.acked >= lane.total_lines) {
          Complete(lane);
        }
        cv_.notify_all();
        continue;
      }
      const std::string code = JsonText(reply, "error");
      const std::string message = JsonText(reply, "message");
      std::lock_guard<std::mutex> lock(mu_);
      ClearProgressLocked();
      // Connection line -> the input and its line there ("<connection>" when none maps it).
      auto where = [&lane](uint64_t connection_line) {
        std::pair<std::string, uint64_t> at{"<connection>", connection_line};
        lane.map.Lookup(connection_line, &at.first, &at.second);
        return at;
      };
      if (code == "replies_dropped") {
        // The daemon stopped queueing error lines for us (we read too slowly, e.g. stdout
        // blocked): one summary stands for `count` rejected lines, first_line..last_line.
        const uint64_t count = JsonUint(reply, "count").value_or(0);
        const uint64_t first = JsonUint(reply, "first_line").value_or(0);
        const uint64_t last = JsonUint(reply, "last_line").value_or(first);
        lane.rejected += count;
        Answered(lane, last);
        const auto [first_name, first_in] = where(first);
        const auto [last_name, last_in] = where(last);
        out_ << FormatDroppedReplies(first_name, first_in, last_name, last_in, count) << "\n";
        continue;
      }
      if (std::optional<uint64_t> l = JsonUint(reply, "line"); l.has_value()) {
        ++lane.rejected;
        Answered(lane, *l);
        const auto [name, in_line] = where(*l);
        out_ << FormatRejectedLine(name, in_line, code, message) << "\n";
      } else {
        // Not about one line (e.g. "unavailable": the daemon could not make events durable and
        // drops the connection).
        lane.server_error = "the daemon answered " + (code.empty() ? line : code + ": " + message);
        err_ << "handoff send: " << lane.server_error << "\n";
      }
    }
  }

  // Line `line` is rejected, so lines up to it are answered: shrinks the window to
  // kAnswerWindow and wakes a waiting sender. Needs mu_.
  void Answered(Lane& lane, uint64_t line) {
    lane.answered = std::max(lane.answered, line);
    lane.window = kAnswerWindow;
    if (lane.sender_waiting) {
      cv_.notify_all();
    }
  }

  void ShowProgress() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!finished_) {
      cv_.wait_for(lock, std::chrono::milliseconds(200));
      if (finished_) {
        break;
      }
      SendProgress p;
      for (auto& lane : lanes_) {
        p.lines += lane->lines_sent.load(std::memory_order_relaxed);
        p.bytes += lane->bytes_sent.load(std::memory_order_relaxed);
        p.acked += lane->acked;
      }
      p.total_bytes = total_bytes_;
      p.seconds = std::chrono::duration<double>(SteadyClock::now() - start_).count();
      out_ << "\r" << FormatSendProgress(p, TerminalWidth() - 1) << "\033[K";
      out_.flush();
      progress_shown_ = true;
    }
  }

  // Erases the progress line so the next output starts on a clean line. Needs mu_.
  void ClearProgressLocked() {
    if (progress_shown_) {
      out_ << "\r\033[K";
      progress_shown_ = false;
    }
  }

  std::ostream& out_;
  std::ostream& err_;
  const bool progress_;
  const uint64_t total_bytes_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  SteadyClock::time_point start_;

  std::mutex mu_;  // guards the lanes' fields marked so, everything below, and the output streams
  std::condition_variable cv_;
  bool finished_ = false;
  bool progress_shown_ = false;
};

// Maps every input read-only (for --connections); false after printing why.
bool MapInputs(std::vector<Input>& inputs, std::vector<std::string_view>* views,
               std::ostream& err) {
  for (Input& in : inputs) {
    if (in.fd == STDIN_FILENO) {
      err << "handoff send: --connections needs files, not standard input\n";
      return false;
    }
    if (in.size > 0) {
      void* p = ::mmap(nullptr, in.size, PROT_READ, MAP_PRIVATE, in.fd, 0);
      if (p == MAP_FAILED) {
        err << "handoff send: cannot map " << in.name << ": " << std::strerror(errno) << "\n";
        return false;
      }
      ::madvise(p, in.size, MADV_SEQUENTIAL);
      in.mapped = std::string_view(static_cast<const char*>(p), in.size);
    }
    views->push_back(in.mapped);
  }
  return true;
}

}  // namespace

int SendCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                bool out_is_terminal) {
  CLI::App app{
      "Streams NDJSON events (one JSON object per line) to the daemon's TCP ingest port over one "
      "connection (or --connections N, each with a contiguous share of the files' lines), waits "
      "until every line is acknowledged, and prints each rejected line as FILE:LINE: "
      "error_code: message. Exit code: 0 all accepted, 1 some line rejected, 2 usage or "
      "connection error.",
      "handoff send"};
  std::vector<std::string> files;
  std::string host;
  std::string ingest;
  bool no_progress = false;
  size_t connections = 1;
  bool max_ack_gap = false;
  app.add_option("FILE", files, "NDJSON files to send in order; - reads standard input")
      ->required();
  AddHostOption(app, &host);
  AddAddressOption(app, "-p,--port,--ingest", &ingest, kDefaultIngestPort, "the ingest listener");
  app.add_flag("-q,--no-progress", no_progress, "no progress line, even on a terminal");
  app.add_option("-c,--connections", connections,
                 "connections to send over at once, each a contiguous share of the lines (files "
                 "only; order is kept within a share)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_flag("--max-ack-gap", max_ack_gap,
               "also report the longest wait between two acknowledgments of a connection");
  if (std::optional<int> code = ParseCommandLine(app, args, out, err); code.has_value()) {
    return *code;
  }
  std::optional<HostPort> address = ResolveAddressOption("send", ingest, host, err);
  if (!address.has_value()) {
    return 2;
  }

  std::vector<Input> inputs;
  uint64_t total_bytes = 0;
  bool sizes_known = true;
  auto close_all = [&] {
    for (Input& in : inputs) {
      if (in.fd > STDIN_FILENO) {
        ::close(in.fd);
      }
      if (!in.mapped.empty()) {
        ::munmap(const_cast<char*>(in.mapped.data()), in.mapped.size());
      }
    }
  };
  for (const std::string& f : files) {
    Input in;
    if (f == "-") {
      in.name = "<stdin>";
      in.fd = STDIN_FILENO;
    } else {
      in.name = f;
      in.fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
      if (in.fd < 0) {
        err << "handoff send: cannot open " << f << ": " << std::strerror(errno) << "\n";
        close_all();
        return 2;
      }
    }
    struct stat sb {};
    if (::fstat(in.fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
      in.size = static_cast<uint64_t>(sb.st_size);
      total_bytes += in.size;
    } else if (::fstat(in.fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
      err << "handoff send: " << f << " is a directory\n";
      inputs.push_back(in);
      close_all();
      return 2;
    } else {
      sizes_known = false;
    }
    inputs.push_back(in);
  }

  std::vector<std::vector<Piece>> plan;
  if (connections <= 1) {
    // One connection reads every input to its end, standard input and pipes included.
    plan.emplace_back();
    for (Input& in : inputs) {
      plan.back().push_back(Piece{&in, /*stream=*/true});
    }
  } else {
    std::vector<std::string_view> views;
    if (!sizes_known || !MapInputs(inputs, &views, err)) {
      if (!sizes_known) {
        err << "handoff send: --connections needs regular files\n";
      }
      close_all();
      return 2;
    }
    for (const std::vector<InputSpan>& share : SplitIntoShares(views, connections)) {
      plan.emplace_back();
      for (const InputSpan& span : share) {
        plan.back().push_back(
            Piece{&inputs[span.input], /*stream=*/false, span.begin, span.end, span.first_line});
      }
    }
    if (plan.empty()) {
      plan.emplace_back();  // nothing to send: one connection, acknowledged at once
    }
  }
  SendSession session(out, err, out_is_terminal && !no_progress, sizes_known ? total_bytes : 0);
  int code = session.Run(*address, std::move(plan), max_ack_gap);
  close_all();
  return code;
}

}  // namespace handoff
