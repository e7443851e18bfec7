#include "tools/net.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

#include "base/json_parser.h"

namespace handoff {

namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// TcpConnection

TcpConnection::~TcpConnection() { Close(); }

Status TcpConnection::Connect(const HostPort& address) {
  Close();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* results = nullptr;
  const std::string port = std::to_string(address.port);
  int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &results);
  if (rc != 0) {
    return Status::IoError("cannot resolve " + address.host + ": " + gai_strerror(rc));
  }
  int last_errno = 0;
  for (addrinfo* ai = results; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      fd_ = fd;
      break;
    }
    last_errno = errno;
    ::close(fd);
  }
  freeaddrinfo(results);
  if (fd_ < 0) {
    return Status::IoError("cannot connect to " + FormatHostPort(address) + ": " +
                           ErrnoText(last_errno));
  }
  // Small command lines must go out at once; bulk writes are large anyway.
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  buffer_.clear();
  buffer_pos_ = 0;
  return Status::Ok();
}

Status TcpConnection::WriteAll(std::string_view bytes) {
  if (fd_ < 0) {
    return Status::IoError("not connected");
  }
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Status::IoError("write failed: " + ErrnoText(errno));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status TcpConnection::Fill(std::optional<std::chrono::steady_clock::time_point> deadline,
                           size_t* got) {
  *got = 0;
  if (fd_ < 0) {
    return Status::IoError("not connected");
  }
  if (buffer_pos_ > 0 && buffer_pos_ == buffer_.size()) {
    buffer_.clear();
    buffer_pos_ = 0;
  } else if (buffer_pos_ > (64u << 10)) {
    buffer_.erase(0, buffer_pos_);
    buffer_pos_ = 0;
  }
  while (true) {
    if (deadline.has_value()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          *deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return Status::FailedPrecondition("timed out");
      }
      pollfd p{fd_, POLLIN, 0};
      int rc = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count() + 1, 1 << 30)));
      if (rc < 0 && errno != EINTR) {
        return Status::IoError("poll failed: " + ErrnoText(errno));
      }
      if (rc <= 0) {
        continue;
      }
    }
    const size_t old = buffer_.size();
    constexpr size_t kChunk = 64 << 10;
    buffer_.resize(old + kChunk);
    ssize_t n = ::recv(fd_, buffer_.data() + old, kChunk, 0);
    if (n < 0) {
      buffer_.resize(old);
      if (errno == EINTR) {
        continue;
      }
      return Status::IoError("read failed: " + ErrnoText(errno));
    }
    buffer_.resize(old + static_cast<size_t>(n));
    *got = static_cast<size_t>(n);
    return Status::Ok();
  }
}

Status TcpConnection::ReadLine(std::string* line,
                               std::optional<std::chrono::steady_clock::time_point> deadline) {
  size_t scanned = buffer_pos_;
  while (true) {
    size_t nl = buffer_.find('\n', scanned);
    if (nl != std::string::npos) {
      size_t end = nl;
      if (end > buffer_pos_ && buffer_[end - 1] == '\r') {
        --end;
      }
      line->assign(buffer_, buffer_pos_, end - buffer_pos_);
      buffer_pos_ = nl + 1;
      return Status::Ok();
    }
    scanned = buffer_.size();
    const size_t pos_before = buffer_pos_;
    size_t got = 0;
    Status st = Fill(deadline, &got);
    if (!st.ok()) {
      return st;
    }
    scanned -= pos_before - buffer_pos_;  // Fill may have compacted the buffer
    if (got == 0) {
      if (buffer_pos_ < buffer_.size()) {
        line->assign(buffer_, buffer_pos_, std::string::npos);
        buffer_pos_ = buffer_.size();
        return Status::Ok();
      }
      return Status::Unavailable("connection closed by the server");
    }
  }
}

Status TcpConnection::ReadToEof(std::string* out) {
  out->append(buffer_, buffer_pos_, std::string::npos);
  buffer_.clear();
  buffer_pos_ = 0;
  while (true) {
    size_t got = 0;
    Status st = Fill(std::nullopt, &got);
    if (!st.ok()) {
      return st;
    }
    if (got == 0) {
      return Status::Ok();
    }
    out->append(buffer_);
    buffer_.clear();
  }
}

Status TcpConnection::ReadExactly(size_t n, std::string* out) {
  while (buffer_.size() - buffer_pos_ < n) {
    size_t got = 0;
    Status st = Fill(std::nullopt, &got);
    if (!st.ok()) {
      return st;
    }
    if (got == 0) {
      return Status::Unavailable("connection closed by the server");
    }
  }
  out->append(buffer_, buffer_pos_, n);
  buffer_pos_ += n;
  return Status::Ok();
}

void TcpConnection::ShutdownWrite() {
  if (fd_ >= 0) {
    ::shutdown(fd_, SHUT_WR);
  }
}

void TcpConnection::Abort() {
  if (fd_ >= 0) {
    ::shutdown(fd_, SHUT_RDWR);
  }
}

void TcpConnection::Close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  buffer_.clear();
  buffer_pos_ = 0;
}

// ---------------------------------------------------------------------------------------------
// HTTP

Status HttpCall(const HostPort& address, std::string_view method, std::string_view target,
                std::string_view bearer_token, std::string_view body, HttpReply* reply) {
  TcpConnection conn;
  Status st = conn.Connect(address);
  if (!st.ok()) {
    return st;
  }
  std::string request;
  request.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  request.append("Host: ").append(FormatHostPort(address)).append("\r\n");
  request.append("User-Agent: handoff\r\nAccept: application/json\r\nConnection: close\r\n");
  if (!bearer_token.empty()) {
    request.append("Authorization: Bearer ").append(bearer_token).append("\r\n");
  }
  if (!body.empty() || method == "POST" || method == "PUT") {
    request.append("Content-Type: application/json\r\nContent-Length: ")
        .append(std::to_string(body.size()))
        .append("\r\n");
  }
  request.append("\r\n").append(body);
  st = conn.WriteAll(request);
  if (!st.ok()) {
    return st;
  }

  // Status line and headers (ReadLine drops the CR of each CRLF).
  std::string line;
  st = conn.ReadLine(&line);
  if (!st.ok()) {
    return Status::IoError("no answer from " + FormatHostPort(address) + ": " + st.message());
  }
  unsigned code = 0;
  if (line.starts_with("HTTP/") && line.size() >= 12 && line[8] == ' ') {
    std::from_chars(line.data() + 9, line.data() + 12, code);
  }
  if (code < 100 || code > 999) {
    return Status::InvalidArgument("the server's answer is not HTTP: " + line.substr(0, 80));
  }
  reply->status = static_cast<int>(code);
  reply->content_type.clear();
  reply->body.clear();
  bool chunked = false;
  std::optional<size_t> content_length;
  while (true) {
    st = conn.ReadLine(&line);
    if (!st.ok()) {
      return Status::IoError("the server closed the connection mid-answer");
    }
    if (line.empty()) {
      break;
    }
    size_t colon = line.find(':');
    if (colon == std::string::npos) {
      continue;
    }
    std::string_view name = Trim(std::string_view(line).substr(0, colon));
    std::string_view value = Trim(std::string_view(line).substr(colon + 1));
    if (EqualsIgnoreCase(name, "content-length")) {
      size_t n = 0;
      if (std::from_chars(value.data(), value.data() + value.size(), n).ec == std::errc()) {
        content_length = n;
      }
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      chunked = value.find("chunked") != std::string_view::npos;
    } else if (EqualsIgnoreCase(name, "content-type")) {
      reply->content_type = std::string(value);
    }
  }

  // The body: framed by chunks or Content-Length, so the answer is complete without waiting for
  // the server to close; read to EOF only when it has neither.
  if (chunked) {
    while (true) {
      st = conn.ReadLine(&line);
      if (!st.ok()) {
        return Status::IoError("the server closed the connection mid-answer");
      }
      std::string_view size_text = std::string_view(line).substr(0, line.find(';'));
      size_text = Trim(size_text);
      size_t size = 0;
      if (size_text.empty() ||
          std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16).ec !=
              std::errc()) {
        return Status::InvalidArgument("bad chunk size in the server's answer");
      }
      if (size == 0) {
        return Status::Ok();  // trailers, if any, are not needed
      }
      st = conn.ReadExactly(size, &reply->body);
      if (st.ok()) {
        st = conn.ReadLine(&line);  // the CRLF after the chunk
      }
      if (!st.ok()) {
        return Status::IoError("the server closed the connection mid-answer");
      }
    }
  }
  if (content_length.has_value()) {
    st = conn.ReadExactly(*content_length, &reply->body);
    if (!st.ok()) {
      return Status::IoError("the server closed the connection mid-answer");
    }
    return Status::Ok();
  }
  return conn.ReadToEof(&reply->body);
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// JSON

Status ParseJsonLine(std::string_view text, Value* out) {
  thread_local JsonParser parser;
  return parser.Parse(text, out);
}

std::optional<uint64_t> JsonUint(const Value& object, std::string_view key) {
  const Value* v = object.Find(key);
  if (v == nullptr || !v->is_number()) {
    return std::nullopt;
  }
  double d = v->as_number();
  if (!(d >= 0) || d > 1.8e19 || std::floor(d) != d) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(d);
}

std::string JsonText(const Value& object, std::string_view key) {
  const Value* v = object.Find(key);
  return v != nullptr && v->is_string() ? v->as_string() : std::string();
}

// ---------------------------------------------------------------------------------------------
// Command line

std::optional<int> ParseCommandLine(CLI::App& app, const std::vector<std::string>& args,
                                    std::ostream& out, std::ostream& err) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 wants them reversed
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::ParseError& e) {
    err << app.get_name() << ": " << e.what() << "\n"
        << "Run `" << app.get_name() << " --help` for the options.\n";
    return 2;
  }
  return std::nullopt;
}

void AddHostOption(CLI::App& app, std::string* host) {
  *host = kDefaultHost;
  app.add_option("--host", *host, "the daemon's host, for addresses given as a bare port")
      ->capture_default_str();
}

void AddAddressOption(CLI::App& app, const std::string& names, std::string* value,
                      uint16_t default_port, const std::string& what) {
  *value = std::to_string(default_port);
  app.add_option(names, *value, what + ": PORT or HOST:PORT")->capture_default_str();
}

void AddTokenOption(CLI::App& app, std::string* token) {
  app.add_option("--token", *token, "admin Bearer token, when the daemon has one")
      ->envname("HANDOFF_TOKEN");
}

std::optional<HostPort> ResolveAddressOption(std::string_view command, const std::string& value,
                                             const std::string& host, std::ostream& err) {
  Result<HostPort> address = ParseHostPort(value, {.default_host = host});
  if (!address.ok()) {
    err << "handoff " << command << ": bad address " << address.status().message() << "\n";
    return std::nullopt;
  }
  return std::move(address).value();
}

}  // namespace handoff
