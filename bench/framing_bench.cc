// NDJSON framing on the io thread (net/line_framer.h): a TCP ingest stream of typical events cut
// into reads of a given size, as the socket hands them over. Small reads split more lines across
// two reads, and a split line is copied into the framer's buffer; 256 KiB is the daemon's read
// buffer (IngestServer::Options::read_chunk_bytes). Each benchmark checks the lines it gets back
// once before it times.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_fixtures.h"
#include "ingest/event_parser.h"
#include "net/line_framer.h"

namespace handoff {
namespace {

using bench::Verify;

// 4,096 events of 150 to 450 bytes, a mix like a web tracker's (page views, track events,
// identify calls), one per line.
std::vector<std::string> SampleLines() {
  std::vector<std::string> lines;
  for (int i = 0; i < 4096; ++i) {
    const std::string lead = "user-" + std::to_string(i * 7919 % 100'000);
    const std::string tail = R"(,"messageId":"m-42-)" + std::to_string(i) + R"(","timestamp":)" +
                             std::to_string(1'790'000'000 + i * 13) +
                             R"(,"context":{"library":{"name":"analytics.js","version":"4.1.0"}}})";
    switch (i % 10) {
      case 0:
        lines.push_back(R"({"type":"identify","userId":")" + lead + R"(","traits":{"email":")" +
                        lead +
                        R"(@acme.com","title":"VP Marketing","employees":1500,)"
                        R"("company":{"name":"Acme Corporation","industry":"Software"}})" +
                        tail);
        break;
      case 1:
      case 2:
      case 3:
        lines.push_back(R"({"type":"track","userId":")" + lead +
                        R"(","event":"Webinar Attended","properties":{"plan":"pro","value":)" +
                        std::to_string(i % 100) + "}" + tail);
        break;
      default:
        lines.push_back(R"({"type":"page","userId":")" + lead +
                        R"(","name":"Page","properties":{"path":"/pricing/enterprise",)"
                        R"("referrer":"https://example.com/blog/lead-scoring"}})" +
                        tail);
        break;
    }
  }
  return lines;
}

void BM_FrameLines(benchmark::State& state) {
  const size_t read_size = static_cast<size_t>(state.range(0));
  const std::vector<std::string> expected = SampleLines();
  std::string stream;
  for (const std::string& line : expected) {
    stream += line;
    stream += '\n';
  }

  // Check the answer: every line comes back whole, in order, numbered from 1.
  LineFramer framer(kDefaultMaxLineBytes);
  {
    size_t got = 0;
    bool same = true;
    auto check = [&](uint64_t number, std::string_view line, bool too_long) {
      same =
          same && !too_long && number == got + 1 && got < expected.size() && line == expected[got];
      ++got;
    };
    for (size_t at = 0; at < stream.size(); at += read_size) {
      framer.Feed(std::string_view(stream).substr(at, read_size), check);
    }
    if (!Verify(state, same && got == expected.size() && framer.buffered() == 0,
                "framed lines are the lines sent")) {
      return;
    }
  }

  uint64_t lines = 0;
  uint64_t line_bytes = 0;
  auto on_line = [&](uint64_t, std::string_view line, bool) {
    ++lines;
    line_bytes += line.size();
  };
  for (auto _ : state) {
    for (size_t at = 0; at < stream.size(); at += read_size) {
      framer.Feed(std::string_view(stream).substr(at, read_size), on_line);
    }
    benchmark::DoNotOptimize(line_bytes);
  }
  if (lines != static_cast<uint64_t>(state.iterations()) * expected.size()) {
    state.SkipWithError("lost lines while timing");
    return;
  }
  state.SetItemsProcessed(static_cast<int64_t>(lines));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(stream.size()));
  state.counters["bytes_per_line"] =
      static_cast<double>(stream.size()) / static_cast<double>(expected.size());
}
BENCHMARK(BM_FrameLines)->Arg(1460)->Arg(16 << 10)->Arg(256 << 10);

}  // namespace
}  // namespace handoff
