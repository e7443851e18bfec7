#include "tools/send.h"

#include <fcntl.h>
#include <sys/ioctl.h>
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

void LineMap::Add(std::string name, uint64_t first_line) {
  inputs_.push_back(Input{std::move(name), first_line});
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
  *line_in_input = line - it->first_line + 1;
  return true;
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

std::string FormatSendSummary(uint64_t lines, double seconds, uint64_t rejected, uint64_t blank) {
  const uint64_t applied = lines >= rejected + blank ? lines - rejected - blank : 0;
  const double rate = seconds > 0 ? lines / seconds : 0;
  std::string s = "sent " + std::to_string(lines) + " lines in " + Printf("%.2f", seconds) +
                  " s (" + std::to_string(static_cast<uint64_t>(rate)) + " lines/s), " +
                  std::to_string(applied) + " applied-or-duplicate, " + std::to_string(rejected) +
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

// ---------------------------------------------------------------------------------------------
// The session

namespace {

using SteadyClock = std::chrono::steady_clock;

struct Input {
  std::string name;  // as shown in messages
  int fd = -1;
  uint64_t size = 0;  // 0 when unknown
};

int TerminalWidth() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    return ws.ws_col;
  }
  return 80;
}

class SendSession {
 public:
  SendSession(std::ostream& out, std::ostream& err, bool progress, uint64_t total_bytes)
      : out_(out), err_(err), progress_(progress), total_bytes_(total_bytes) {}

  int Run(const HostPort& address, std::vector<Input>& inputs) {
    Status st = conn_.Connect(address);
    if (!st.ok()) {
      err_ << "handoff send: " << st.message() << "\n";
      return 2;
    }
    start_ = SteadyClock::now();
    std::thread reader([this] { ReadReplies(); });
    std::thread progress;
    if (progress_) {
      progress = std::thread([this] { ShowProgress(); });
    }

    Status sent = SendAll(inputs);
    bool acked_all = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (sent.ok()) {
        ack_cv_.wait(lock, [&] { return acked_ >= total_lines_ || reader_done_; });
        acked_all = acked_ >= total_lines_;
      }
      finished_ = true;
    }
    const double seconds = std::chrono::duration<double>(SteadyClock::now() - start_).count();
    conn_.Abort();  // wakes the reader
    reader.join();
    progress_cv_.notify_all();
    if (progress.joinable()) {
      progress.join();
    }
    std::lock_guard<std::mutex> lock(mu_);
    ClearProgressLocked();
    if (!sent.ok() || !acked_all) {
      std::string why = !sent.ok() ? sent.message() : reader_status_;
      err_ << "handoff send: " << why << "; " << acked_ << " of " << lines_sent_
           << " lines sent were acknowledged (resending is safe: messageIds make events "
              "idempotent)\n";
      return 2;
    }
    out_ << FormatSendSummary(total_lines_, seconds, rejected_, blank_lines_) << "\n";
    out_.flush();
    return rejected_ > 0 ? 1 : 0;
  }

 private:
  Status SendAll(std::vector<Input>& inputs) {
    constexpr size_t kChunk = 4 << 20;  // few, large writes: no per-line syscalls
    std::string buf;
    uint64_t line_base = 0;  // connection lines before the current input
    for (Input& in : inputs) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        map_.Add(in.name, line_base + 1);
      }
      LineCounter counter;
      while (true) {
        buf.resize(kChunk);
        ssize_t n = ::read(in.fd, buf.data(), kChunk);
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
        counter.Feed(buf);
        Status st = conn_.WriteAll(buf);
        if (!st.ok()) {
          return st;
        }
        bytes_sent_.fetch_add(buf.size(), std::memory_order_relaxed);
        lines_sent_.store(line_base + counter.lines(), std::memory_order_relaxed);
      }
      if (counter.partial()) {
        counter.FinishLine();
        Status st = conn_.WriteAll("\n");
        if (!st.ok()) {
          return st;
        }
        bytes_sent_.fetch_add(1, std::memory_order_relaxed);
      }
      line_base += counter.lines();
      lines_sent_.store(line_base, std::memory_order_relaxed);
      blank_lines_ += counter.blank_lines();
      if (in.fd != STDIN_FILENO) {
        ::close(in.fd);
        in.fd = -1;
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    total_lines_ = line_base;
    return Status::Ok();
  }

  void ReadReplies() {
    std::string line;
    Value reply;
    while (true) {
      Status st = conn_.ReadLine(&line);
      if (!st.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        reader_done_ = true;
        reader_status_ = st.message();
        if (!server_error_.empty()) {
          reader_status_ = server_error_;
        }
        ack_cv_.notify_all();
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
        std::lock_guard<std::mutex> lock(mu_);
        acked_ = std::max(acked_, *ack);
        ack_cv_.notify_all();
        continue;
      }
      const std::string code = JsonText(reply, "error");
      const std::string message = JsonText(reply, "message");
      std::lock_guard<std::mutex> lock(mu_);
      ClearProgressLocked();
      if (std::optional<uint64_t> l = JsonUint(reply, "line"); l.has_value()) {
        ++rejected_;
        std::string name = "<connection>";
        uint64_t in_line = *l;
        map_.Lookup(*l, &name, &in_line);
        out_ << FormatRejectedLine(name, in_line, code, message) << "\n";
      } else {
        // Not about one line (e.g. "unavailable": the daemon could not make events durable and
        // drops the connection).
        server_error_ = "the daemon answered " + (code.empty() ? line : code + ": " + message);
        err_ << "handoff send: " << server_error_ << "\n";
      }
    }
  }

  void ShowProgress() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!finished_) {
      progress_cv_.wait_for(lock, std::chrono::milliseconds(200));
      if (finished_) {
        break;
      }
      SendProgress p;
      p.lines = lines_sent_.load(std::memory_order_relaxed);
      p.bytes = bytes_sent_.load(std::memory_order_relaxed);
      p.acked = acked_;
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
  TcpConnection conn_;
  SteadyClock::time_point start_;

  std::atomic<uint64_t> lines_sent_{0};
  std::atomic<uint64_t> bytes_sent_{0};
  uint64_t blank_lines_ = 0;  // sender thread until it is done

  std::mutex mu_;  // guards everything below and the output streams
  std::condition_variable ack_cv_;
  std::condition_variable progress_cv_;
  LineMap map_;
  uint64_t total_lines_ = UINT64_MAX;  // known once everything is sent
  uint64_t acked_ = 0;
  uint64_t rejected_ = 0;
  bool reader_done_ = false;
  bool finished_ = false;
  bool progress_shown_ = false;
  std::string reader_status_;
  std::string server_error_;
};

}  // namespace

int SendCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                bool out_is_terminal) {
  CLI::App app{
      "Streams NDJSON events (one JSON object per line) to the daemon's TCP ingest port over one "
      "connection, waits until every line is acknowledged, and prints each rejected line as "
      "FILE:LINE: error_code: message. Exit code: 0 all accepted, 1 some line rejected, 2 "
      "usage or connection error.",
      "handoff send"};
  std::vector<std::string> files;
  std::string host;
  std::string ingest;
  bool no_progress = false;
  app.add_option("FILE", files, "NDJSON files to send in order; - reads standard input")
      ->required();
  AddHostOption(app, &host);
  AddAddressOption(app, "-p,--port,--ingest", &ingest, kDefaultIngestPort, "the ingest listener");
  app.add_flag("-q,--no-progress", no_progress, "no progress line, even on a terminal");
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
  SendSession session(out, err, out_is_terminal && !no_progress, sizes_known ? total_bytes : 0);
  int code = session.Run(*address, inputs);
  close_all();
  return code;
}

}  // namespace handoff
