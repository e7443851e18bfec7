// Client-side helpers for the Segment HTTP ingest tests: a keep-alive HTTP/1.1 client (the
// harness's HttpClient sends "Connection: close" and opens one connection per request), gzip
// bodies and Basic auth headers, written independently of the daemon's own HTTP code so the tests
// do not check the daemon against itself.
#pragma once

#include <strings.h>
#include <zlib.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "tests/integration/daemon_harness.h"

namespace handoff::testing {

// The rules the Segment ingest tests score with: a profile score from traits (identify, group), an
// event score from track, page and screen rules, with a cap, a once rule and decay, and a stage.
inline constexpr std::string_view kSegmentTestRules = R"(
scores:
  fit: {kind: profile}
  engagement: {kind: event, half_life: 7d}
rules:
  - id: senior-title
    score: fit
    when: traits.title matches "(?i)\\b(vp|head|chief|director)\\b"
    points: 20
  - id: big-company
    score: fit
    when: traits.company.employees >= 1000
    points: 15
  - id: pricing-page
    score: engagement
    when: type == "page" && properties.path starts_with "/pricing"
    points: 10
    cap: {points: 30, per: 1d}
  - id: app-screen
    score: engagement
    when: type == "screen"
    points: 3
  - id: demo-request
    score: engagement
    when: event == "Demo Requested"
    points: 50
    once: true
  - id: click
    score: engagement
    when: event == "Click"
    points: 1
stages:
  - name: mql
    enter: score.engagement >= 40 || score.fit >= 50
)";

// gzip (RFC 1952) of `data`, as `Content-Encoding: gzip` expects.
inline std::string GzipBytes(std::string_view data) {
  z_stream zs{};
  // 15 window bits + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    ADD_FAILURE() << "deflateInit2 failed";
    return {};
  }
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  EXPECT_EQ(rc, Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// "Basic base64(user:password)", as Segment's libraries send it (password empty).
inline std::string BasicAuthHeader(std::string_view user, std::string_view password = "") {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::string in = std::string(user) + ":" + std::string(password);
  std::string out = "Basic ";
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63],
            kAlphabet[v & 63]};
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const unsigned v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
  }
  return out;
}

// The bytes of one HTTP/1.1 request, framed by Content-Length, without "Connection: close".
inline std::string HttpRequestBytes(std::string_view method, std::string_view target,
                                    std::string_view body, const HttpClient::Headers& headers) {
  std::string request;
  request.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  for (const auto& [name, value] : headers) {
    request += name + ": " + value + "\r\n";
  }
  request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  request.append(body);
  return request;
}

// One persistent connection; requests go one after the other (or pipelined with Send + Read).
class KeepAliveClient {
 public:
  Status Connect(uint16_t port) { return conn_.Connect(port); }

  Status Send(std::string_view method, std::string_view target, std::string_view body,
              const HttpClient::Headers& headers = {}) {
    return conn_.SendAll(HttpRequestBytes(method, target, body, headers));
  }

  // Reads one response (every answer of the daemon has a Content-Length, or no body).
  Status Read(HttpResult* out, double timeout_seconds = kDefaultDeadlineSeconds) {
    *out = HttpResult();
    std::string line;
    if (Status st = conn_.ReadLine(&line, timeout_seconds); !st.ok()) {
      return st;
    }
    if (line.rfind("HTTP/1.1 ", 0) != 0 || line.size() < 12) {
      return Status::InvalidArgument("bad status line: " + line);
    }
    out->status = std::atoi(line.c_str() + 9);
    size_t content_length = 0;
    for (;;) {
      if (Status st = conn_.ReadLine(&line, timeout_seconds); !st.ok()) {
        return st;
      }
      if (!line.empty() && line.back() == '\r') {
        line.pop_back();
      }
      if (line.empty()) {
        break;
      }
      const size_t colon = line.find(':');
      if (colon == std::string::npos) {
        return Status::InvalidArgument("bad header line: " + line);
      }
      std::string name = line.substr(0, colon);
      const size_t value_start = line.find_first_not_of(' ', colon + 1);
      std::string value = value_start == std::string::npos ? "" : line.substr(value_start);
      if (strcasecmp(name.c_str(), "Content-Length") == 0) {
        content_length = std::strtoul(value.c_str(), nullptr, 10);
      }
      out->headers.emplace_back(std::move(name), std::move(value));
    }
    return conn_.ReadExactly(content_length, &out->body, timeout_seconds);
  }

  Status Request(std::string_view method, std::string_view target, std::string_view body,
                 const HttpClient::Headers& headers, HttpResult* out) {
    if (Status st = Send(method, target, body, headers); !st.ok()) {
      return st;
    }
    return Read(out);
  }

  LineConnection& connection() { return conn_; }

 private:
  LineConnection conn_;
};

}  // namespace handoff::testing
