// make_events_tool: bench/make_events.py's event mix, fast enough for tens of millions of events.
//
//   build/make_events_tool --events N --leads L [--seed S] [--out FILE]
//
// Writes N Segment-style events as NDJSON (to standard output without --out): page views (60%),
// track events (30%) and identify calls with traits (10%), every event with a unique messageId,
// a timestamp spread over 30 days and a context.library, shaped as make_events.py writes them.
// Unlike the Python script, the first L events visit every lead exactly once (in a scrambled
// order), so L leads really are L distinct leads once N >= L; later events pick leads at random.
// One pass with a small random generator and one output buffer: about 1-2 s per 10M events.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <string_view>

namespace {

constexpr const char* kPages[] = {"/",           "/pricing",      "/pricing/enterprise",
                                  "/docs/start", "/blog/scoring", "/careers"};
constexpr const char* kTracks[] = {"Webinar Attended", "Whitepaper Downloaded", "Demo Requested",
                                   "Trial Started", "Email Opened"};
constexpr const char* kTitles[] = {"Head of Growth", "VP Marketing", "Engineer",
                                   "Director of Sales", "Intern"};
constexpr int kEmployees[] = {10, 200, 1500, 5000};

// SplitMix64: small, fast, good enough for a benchmark's mix.
struct Rng {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return Next() % n; }
};

void Append(std::string* out, uint64_t v) {
  char digits[24];
  char* end = digits + sizeof(digits);
  char* p = end;
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  out->append(p, static_cast<size_t>(end - p));
}

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "make_events_tool: %s\nusage: make_events_tool --events N --leads L [--seed S] "
               "[--out FILE]\n",
               why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t events = 1'000'000;
  uint64_t leads = 100'000;
  uint64_t seed = 42;
  const char* out_path = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) {
      Usage("missing value");
    }
    const char* value = argv[++i];
    if (flag == "--events") {
      events = std::strtoull(value, nullptr, 10);
    } else if (flag == "--leads") {
      leads = std::strtoull(value, nullptr, 10);
    } else if (flag == "--seed") {
      seed = std::strtoull(value, nullptr, 10);
    } else if (flag == "--out") {
      out_path = value;
    } else {
      Usage("unknown flag");
    }
  }
  if (leads == 0) {
    Usage("--leads must be positive");
  }
  std::FILE* out = out_path != nullptr ? std::fopen(out_path, "wb") : stdout;
  if (out == nullptr) {
    std::fprintf(stderr, "make_events_tool: cannot open %s: %s\n", out_path, std::strerror(errno));
    return 1;
  }

  // Lead of event i < leads: (i * stride + offset) mod leads, a permutation when the stride is
  // coprime with the lead count.
  Rng rng{seed};
  uint64_t stride = (leads / 2 + 1) | 1;
  while (std::gcd(stride, leads) != 1) {
    stride += 2;
  }
  const uint64_t offset = rng.Below(leads);
  constexpr uint64_t kStart = 1'790'000'000;
  const std::string seed_text = std::to_string(seed);

  std::string buf;
  buf.reserve(1 << 22);
  for (uint64_t i = 0; i < events; ++i) {
    const uint64_t lead =
        i < leads
            ? static_cast<uint64_t>((static_cast<unsigned __int128>(i) * stride + offset) % leads)
            : rng.Below(leads);
    const uint64_t ts = kStart + rng.Below(30 * 86400);
    const uint64_t r = rng.Below(100);
    buf.append(r < 60   ? "{\"type\":\"page\""
               : r < 90 ? "{\"type\":\"track\""
                        : "{\"type\":\"identify\"");
    buf.append(",\"userId\":\"user-");
    Append(&buf, lead);
    buf.push_back('"');
    if (r < 60) {
      buf.append(",\"name\":\"Page\",\"properties\":{\"path\":\"");
      buf.append(kPages[rng.Below(6)]);
      buf.append("\",\"referrer\":\"https://example.com\"}");
    } else if (r < 90) {
      buf.append(",\"event\":\"");
      buf.append(kTracks[rng.Below(5)]);
      buf.append("\",\"properties\":{\"plan\":\"pro\",\"value\":");
      Append(&buf, rng.Below(100));
      buf.push_back('}');
    } else {
      buf.append(",\"traits\":{\"email\":\"user-");
      Append(&buf, lead);
      buf.append("@acme");
      Append(&buf, rng.Below(500));
      buf.append(".com\",\"title\":\"");
      buf.append(kTitles[rng.Below(5)]);
      buf.append("\",\"employees\":");
      Append(&buf, static_cast<uint64_t>(kEmployees[rng.Below(4)]));
      buf.push_back('}');
    }
    buf.append(",\"messageId\":\"m-");
    buf.append(seed_text);
    buf.push_back('-');
    Append(&buf, i);
    buf.append("\",\"timestamp\":");
    Append(&buf, ts);
    buf.append(",\"context\":{\"library\":{\"name\":\"analytics.js\",\"version\":\"4.1.0\"}}}\n");
    if (buf.size() >= (1 << 22) - 1024) {
      if (std::fwrite(buf.data(), 1, buf.size(), out) != buf.size()) {
        std::fprintf(stderr, "make_events_tool: write failed: %s\n", std::strerror(errno));
        return 1;
      }
      buf.clear();
    }
  }
  if (std::fwrite(buf.data(), 1, buf.size(), out) != buf.size() || std::fflush(out) != 0) {
    std::fprintf(stderr, "make_events_tool: write failed: %s\n", std::strerror(errno));
    return 1;
  }
  if (out != stdout) {
    std::fclose(out);
  }
  return 0;
}
