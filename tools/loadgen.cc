#include "tools/loadgen.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "tools/net.h"
#include "tools/tail.h"

namespace handoff {

// ---------------------------------------------------------------------------------------------
// The event stream

std::string LoadgenLeadId(std::string_view run_id, uint64_t lead) {
  std::string id = "lg-";
  id.append(run_id).append("-").append(std::to_string(lead));
  return id;
}

LoadgenStream::LoadgenStream(std::string run_id, uint64_t connection, uint64_t connections,
                             uint64_t leads, uint64_t qualify_every, uint64_t events_per_lead,
                             size_t window)
    : run_id_(std::move(run_id)),
      connection_(connection),
      connections_(std::max<uint64_t>(connections, 1)),
      leads_(leads),
      qualify_every_(qualify_every == 0 ? 0 : std::max(qualify_every, kQualifyingSteps)),
      events_per_lead_(std::max<uint64_t>(events_per_lead, 1)) {
  lead_count_ = leads > connection_ ? (leads - connection_ + connections_ - 1) / connections_ : 0;
  slots_.resize(
      std::max<size_t>(1, std::min<uint64_t>(window, std::max<uint64_t>(lead_count_, 1))));
}

LoadgenStream::Emitted LoadgenStream::Next(std::string* out, std::string* message_id) {
  message_id->assign(run_id_).append("-").append(std::to_string(connection_)).append("-");
  message_id->append(std::to_string(emitted_));
  const uint64_t n = emitted_++;
  Emitted e;
  if (qualify_every_ > 0) {
    const uint64_t cycle = n / qualify_every_;
    const uint64_t position = n % qualify_every_;
    for (uint64_t step = 0; step < kQualifyingSteps && step <= cycle; ++step) {
      if (position == step * qualify_every_ / kQualifyingSteps) {
        const uint64_t lead = leads_ + connection_ + connections_ * (cycle - step);
        AppendQualifying(lead, step, *message_id, out);
        e.qualifying = true;
        e.trigger = step == kQualifyingSteps - 1;
        return e;
      }
    }
  }
  AppendNoise(*message_id, out);
  return e;
}

namespace {

// `{"type":"TYPE","userId":LEAD,"messageId":ID` (the event's head; the caller closes it).
void AppendHead(const char* type, const std::string& lead, const std::string& message_id,
                std::string* out) {
  out->append("{\"type\":\"").append(type).append("\",\"userId\":");
  AppendJsonString(lead, out);
  out->append(",\"messageId\":");
  AppendJsonString(message_id, out);
}

}  // namespace

void LoadgenStream::AppendQualifying(uint64_t lead_number, uint64_t step,
                                     const std::string& message_id, std::string* out) const {
  const std::string lead = LoadgenLeadId(run_id_, lead_number);
  std::string& o = *out;
  switch (step) {
    case 0:
      AppendHead("identify", lead, message_id, out);
      o.append(",\"traits\":{\"name\":\"Load Generator\",\"title\":\"VP Engineering\",");
      o.append("\"email\":");
      AppendJsonString("buyer@" + lead + ".example.com", &o);
      o.append("}}\n");
      break;
    case 1:
      AppendHead("track", lead, message_id, out);
      o.append(",\"event\":\"Demo Requested\",\"properties\":{\"source\":\"loadgen\"}}\n");
      break;
    default:
      AppendHead("track", lead, message_id, out);
      o.append(",\"event\":\"Trial Started\",\"properties\":{\"plan\":\"team\"}}\n");
      break;
  }
}

void LoadgenStream::AppendNoise(const std::string& message_id, std::string* out) {
  Slot& slot = slots_[noise_emitted_++ % slots_.size()];
  if (slot.remaining == 0) {
    const uint64_t n = std::max<uint64_t>(lead_count_, 1);
    slot.lead = connection_ + connections_ * (next_lead_ % n);
    slot.step = 0;
    slot.remaining = events_per_lead_;
    ++next_lead_;
  }
  const uint64_t step = slot.step++;
  --slot.remaining;
  const std::string lead = LoadgenLeadId(run_id_, slot.lead);
  std::string& o = *out;
  // At most docs 15 + blog 5 + email 10 = 30 engagement and no fit, far from sql (and from mql's
  // 40).
  switch ((step + slot.lead) % 4) {
    case 0:
      AppendHead("page", lead, message_id, out);
      o.append(",\"name\":\"Docs\",\"properties\":{\"path\":\"/docs/getting-started\"}}\n");
      break;
    case 1:
      AppendHead("page", lead, message_id, out);
      o.append(",\"name\":\"Blog\",\"properties\":{\"path\":\"/blog/lead-scoring\"}}\n");
      break;
    case 2:
      AppendHead("track", lead, message_id, out);
      o.append(",\"event\":\"Email Link Clicked\",\"properties\":{\"campaign\":\"launch\"}}\n");
      break;
    default:
      AppendHead("track", lead, message_id, out);
      o.append(",\"event\":\"Feature Viewed\",\"properties\":{\"feature\":\"reports\"}}\n");
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics and the report

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) {
    return 0;
  }
  // Nearest rank: the smallest value with at least p% of the samples at or below it.
  double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

LatencyStats ComputeLatency(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  LatencyStats s;
  s.count = samples.size();
  s.p50 = Percentile(samples, 50);
  s.p90 = Percentile(samples, 90);
  s.p99 = Percentile(samples, 99);
  s.max = samples.empty() ? 0 : samples.back();
  return s;
}

namespace {

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

double Rate(uint64_t n, double seconds) { return seconds > 0 ? n / seconds : 0; }

}  // namespace

std::string FormatLoadgenReport(const LoadgenReport& r, bool json) {
  const double send_rate = Rate(r.sent, r.send_seconds);
  const double ack_rate = Rate(r.acked, r.ack_seconds);
  std::string o;
  if (json) {
    o += "{\"run\":";
    AppendJsonString(r.run_id, &o);
    o += ",\"offered_rate\":" + Fixed(r.offered_rate, 1);
    o += ",\"duration_s\":" + Fixed(r.duration, 3);
    o += ",\"connections\":" + std::to_string(r.connections);
    o += ",\"leads\":" + std::to_string(r.leads);
    o += ",\"qualify_every\":" + std::to_string(r.qualify_every);
    o += ",\"write_interval_ms\":" + Fixed(r.write_interval_ms, 3);
    o += ",\"sent\":" + std::to_string(r.sent);
    o += ",\"send_seconds\":" + Fixed(r.send_seconds, 3);
    o += ",\"send_rate\":" + Fixed(send_rate, 1);
    o += ",\"acked\":" + std::to_string(r.acked);
    o += ",\"rejected\":" + std::to_string(r.rejected);
    o += ",\"ack_seconds\":" + Fixed(r.ack_seconds, 3);
    o += ",\"achieved_rate\":" + Fixed(ack_rate, 1);
    o += ",\"expected_routed\":" + std::to_string(r.expected_routed);
    o += ",\"routed\":" + std::to_string(r.routed);
    o += ",\"unmatched_routed\":" + std::to_string(r.unmatched);
    o += ",\"latency_ms\":{\"count\":" + std::to_string(r.latency_ms.count);
    o += ",\"p50\":" + Fixed(r.latency_ms.p50, 3);
    o += ",\"p90\":" + Fixed(r.latency_ms.p90, 3);
    o += ",\"p99\":" + Fixed(r.latency_ms.p99, 3);
    o += ",\"max\":" + Fixed(r.latency_ms.max, 3) + "}}\n";
    return o;
  }
  o += "loadgen run " + r.run_id + ": " + std::to_string(r.connections) + " connection" +
       (r.connections == 1 ? "" : "s") + ", " + std::to_string(r.leads) + " leads, ";
  o += r.qualify_every > 0 ? "1 event in " + std::to_string(r.qualify_every) + " qualifies a lead\n"
                           : "no lead qualifies\n";
  o += "offered   " + Fixed(r.offered_rate, 0) + " events/s for " + Fixed(r.duration, 1) +
       " s, a write every " + Fixed(r.write_interval_ms, 2) + " ms per connection\n";
  o += "sent      " + std::to_string(r.sent) + " events in " + Fixed(r.send_seconds, 2) + " s (" +
       Fixed(send_rate, 0) + " events/s)\n";
  o += "acked     " + std::to_string(r.acked) + " events (" + std::to_string(r.rejected) +
       " rejected), last ack at " + Fixed(r.ack_seconds, 2) + " s: achieved " + Fixed(ack_rate, 0) +
       " events/s\n";
  o += "routed    " + std::to_string(r.routed) + " of " + std::to_string(r.expected_routed) +
       " qualified leads";
  if (r.unmatched > 0) {
    o += " (" + std::to_string(r.unmatched) + " with an unknown trigger)";
  }
  o += "\n";
  if (r.latency_ms.count > 0) {
    o += "latency   event -> routed record, ms: p50 " + Fixed(r.latency_ms.p50, 2) + "  p90 " +
         Fixed(r.latency_ms.p90, 2) + "  p99 " + Fixed(r.latency_ms.p99, 2) + "  max " +
         Fixed(r.latency_ms.max, 2) + "  (n=" + std::to_string(r.latency_ms.count) + ")\n";
  } else {
    o += "latency   no routed record matched an event of this run\n";
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// The run

namespace {

using SteadyClock = std::chrono::steady_clock;

struct LoadgenOptions {
  double rate = 0;
  double duration = 0;
  uint64_t leads = 10000;
  uint64_t connections = 1;
  uint64_t qualify_every = 100;
  // How often each connection writes what is due: a write holds rate/C * interval events.
  double write_interval_ms = 2;
  std::string run_id;
};

// One ingest connection: a pacing writer and a reader of acks.
struct IngestLane {
  TcpConnection conn;
  std::thread writer;
  std::thread reader;
  uint64_t sent = 0;                   // writer thread; read after join
  uint64_t expected_routed = 0;        // writer thread; read after join
  SteadyClock::time_point last_write;  // writer thread; read after join
  std::atomic<uint64_t> acked{0};
  std::atomic<uint64_t> rejected{0};
  std::atomic<bool> reader_done{false};
  SteadyClock::time_point last_ack;  // guarded by LoadgenRun::mu_
};

class LoadgenRun {
 public:
  LoadgenRun(LoadgenOptions options, std::ostream& err) : o_(std::move(options)), err_(err) {}

  int Run(const HostPort& ingest, const HostPort& subscribe, LoadgenReport* report) {
    // Subscribe first, and wait until the daemon has taken the subscription, so no routed record
    // of this run can precede it.
    Status st = sub_.Connect(subscribe);
    if (st.ok()) {
      SubscribeRequest request;
      request.kinds = {"routed"};
      // {"accept":0} is refused at once (seq must be positive); its answer comes after the
      // subscribe line was handled, which tells us the subscription is in place.
      st = sub_.WriteAll(SubscribeLine(request) + "\n{\"accept\":0}\n");
    }
    if (!st.ok()) {
      err_ << "handoff loadgen: subscribe: " << st.message() << "\n";
      return 2;
    }
    std::string line;
    Value parsed;
    const auto sync_deadline = SteadyClock::now() + std::chrono::seconds(10);
    while (true) {
      st = sub_.ReadLine(&line, sync_deadline);
      if (!st.ok()) {
        err_ << "handoff loadgen: subscribe: " << st.message() << "\n";
        return 2;
      }
      StreamLineKind kind = ClassifyStreamLine(line, &parsed);
      if (kind == StreamLineKind::kError || kind == StreamLineKind::kOk) {
        break;
      }
    }

    lanes_.reserve(o_.connections);
    for (uint64_t c = 0; c < o_.connections; ++c) {
      lanes_.push_back(std::make_unique<IngestLane>());
      st = lanes_.back()->conn.Connect(ingest);
      if (!st.ok()) {
        err_ << "handoff loadgen: " << st.message() << "\n";
        return 2;
      }
    }
    // The noise events (all but each cycle's three qualifying events), spread over the leads.
    const uint64_t total = static_cast<uint64_t>(std::llround(o_.rate * o_.duration));
    const uint64_t noise = o_.qualify_every == 0
                               ? total
                               : total - total / o_.qualify_every * LoadgenStream::kQualifyingSteps;
    const uint64_t per_lead =
        std::max<uint64_t>(1, (noise + o_.leads - 1) / std::max<uint64_t>(o_.leads, 1));

    // Each routed record is matched to its trigger's send time: room for every trigger up
    // front, so the map never rehashes under mu_. It did: a rehash of ~100k entries held the
    // subscriber thread 10-40 ms, and every record read behind it counted that as latency.
    const uint64_t triggers =
        o_.qualify_every == 0
            ? 0
            : total / std::max(o_.qualify_every, LoadgenStream::kQualifyingSteps) + o_.connections;
    sent_at_.reserve(triggers);
    latencies_ms_.reserve(triggers);

    start_ = SteadyClock::now();
    std::thread subscriber([this] { ReadRouted(); });
    for (uint64_t c = 0; c < o_.connections; ++c) {
      IngestLane* lane = lanes_[c].get();
      lane->reader = std::thread([this, lane] { ReadAcks(lane); });
      lane->writer = std::thread([this, lane, c, per_lead] { Pace(lane, c, per_lead); });
    }
    uint64_t sent = 0;
    uint64_t expected_routed = 0;
    SteadyClock::time_point last_write = start_;
    for (auto& lane : lanes_) {
      lane->writer.join();
      sent += lane->sent;
      expected_routed += lane->expected_routed;
      last_write = std::max(last_write, lane->last_write);
    }
    // Every event acknowledged (or a connection lost), with a generous deadline.
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_until(lock, SteadyClock::now() + std::chrono::seconds(120), [&] {
        for (auto& lane : lanes_) {
          if (lane->acked.load() < lane->sent && !lane->reader_done.load()) {
            return false;
          }
        }
        return true;
      });
      // Routed records trail their acks only by the outbox hop; wait a little for stragglers.
      cv_.wait_until(lock, SteadyClock::now() + std::chrono::seconds(10),
                     [&] { return routed_ >= expected_routed; });
    }
    sub_.Abort();
    subscriber.join();
    for (auto& lane : lanes_) {
      lane->conn.Abort();
      lane->reader.join();
    }

    std::lock_guard<std::mutex> lock(mu_);
    report->run_id = o_.run_id;
    report->offered_rate = o_.rate;
    report->duration = o_.duration;
    report->connections = o_.connections;
    report->leads = o_.leads;
    report->qualify_every = o_.qualify_every;
    report->write_interval_ms = o_.write_interval_ms;
    report->sent = sent;
    report->send_seconds = std::chrono::duration<double>(last_write - start_).count();
    SteadyClock::time_point last_ack = start_;
    for (auto& lane : lanes_) {
      report->acked += lane->acked.load();
      report->rejected += lane->rejected.load();
      last_ack = std::max(last_ack, lane->last_ack);
    }
    report->ack_seconds = std::chrono::duration<double>(last_ack - start_).count();
    report->expected_routed = expected_routed;
    report->routed = routed_;
    report->unmatched = unmatched_;
    report->latency_ms = ComputeLatency(latencies_ms_);
    if (report->acked < report->sent) {
      err_ << "handoff loadgen: only " << report->acked << " of " << report->sent
           << " events were acknowledged\n";
      return 1;
    }
    return 0;
  }

 private:
  // Writes connection c's share of events on schedule: by time t, floor(t * rate/C) + 1 events.
  void Pace(IngestLane* lane, uint64_t c, uint64_t per_lead) {
    constexpr size_t kWindow = 64;
    const auto tick = std::chrono::duration_cast<SteadyClock::duration>(
        std::chrono::duration<double, std::milli>(o_.write_interval_ms));
    constexpr uint64_t kMaxBurst = 8192;
    LoadgenStream stream(o_.run_id, c, o_.connections, o_.leads, o_.qualify_every, per_lead,
                         kWindow);
    const double rate = o_.rate / static_cast<double>(o_.connections);
    // This connection's share of rate * duration events. All of them are sent, even when the
    // daemon's backpressure makes that take longer than the duration (the report shows it).
    const uint64_t all = static_cast<uint64_t>(std::llround(o_.rate * o_.duration));
    const uint64_t total = all / o_.connections + (c < all % o_.connections ? 1 : 0);
    std::string buf;
    std::string message_id;
    std::vector<std::string> triggers;
    uint64_t k = 0;
    while (k < total) {
      const auto now = SteadyClock::now();
      const double t = std::chrono::duration<double>(now - start_).count();
      const uint64_t target = std::min(total, static_cast<uint64_t>(t * rate) + 1);
      // Behind schedule (the daemon pushed back), catch up in bounded writes, so each event's
      // send time stays close to its write.
      const uint64_t due = std::min(target, k + kMaxBurst);
      if (due > k) {
        buf.clear();
        triggers.clear();
        for (; k < due; ++k) {
          LoadgenStream::Emitted e = stream.Next(&buf, &message_id);
          if (e.trigger) {
            triggers.push_back(message_id);
          }
          if (e.trigger) {
            ++lane->expected_routed;
          }
        }
        const auto send_time = SteadyClock::now();
        if (!triggers.empty()) {
          std::lock_guard<std::mutex> lock(mu_);
          for (std::string& id : triggers) {
            sent_at_.emplace(std::move(id), send_time);
          }
        }
        if (!lane->conn.WriteAll(buf).ok()) {
          break;  // the reader reports the lost connection
        }
        lane->sent = k;
        lane->last_write = SteadyClock::now();
        if (k == total) {
          break;
        }
        if (k < target) {
          continue;
        }
      }
      auto next = start_ + std::chrono::duration_cast<SteadyClock::duration>(
                               std::chrono::duration<double>(static_cast<double>(k) / rate));
      std::this_thread::sleep_until(std::max(next, SteadyClock::now() + tick));
    }
  }

  void ReadAcks(IngestLane* lane) {
    std::string line;
    Value reply;
    while (true) {
      Status st = lane->conn.ReadLine(&line);
      if (!st.ok()) {
        break;
      }
      if (!ParseJsonLine(line, &reply).ok() || !reply.is_object()) {
        continue;
      }
      if (std::optional<uint64_t> ack = JsonUint(reply, "ack"); ack.has_value()) {
        std::lock_guard<std::mutex> lock(mu_);
        lane->acked.store(std::max(lane->acked.load(), *ack));
        lane->last_ack = SteadyClock::now();
        cv_.notify_all();
      } else if (reply.Find("line") != nullptr) {
        lane->rejected.fetch_add(1);
        std::lock_guard<std::mutex> lock(mu_);
        if (rejected_shown_++ < 5) {
          err_ << "handoff loadgen: rejected: " << line << "\n";
        }
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    lane->reader_done.store(true);
    cv_.notify_all();
  }

  void ReadRouted() {
    const std::string prefix = LoadgenLeadId(o_.run_id, 0).substr(0, 4 + o_.run_id.size());
    std::string line;
    Value record;
    while (sub_.ReadLine(&line).ok()) {
      if (ClassifyStreamLine(line, &record) != StreamLineKind::kRecord) {
        continue;
      }
      const auto received = SteadyClock::now();
      if (!ParseJsonLine(line, &record).ok() || !record.is_object()) {
        continue;
      }
      if (!JsonText(record, "lead").starts_with(prefix)) {
        continue;  // another client's lead
      }
      const std::string trigger = JsonText(record, "trigger");
      std::lock_guard<std::mutex> lock(mu_);
      ++routed_;
      auto it = sent_at_.find(trigger);
      if (it == sent_at_.end()) {
        ++unmatched_;
      } else {
        latencies_ms_.push_back(
            std::chrono::duration<double, std::milli>(received - it->second).count());
      }
      cv_.notify_all();
    }
  }

  const LoadgenOptions o_;
  std::ostream& err_;
  TcpConnection sub_;
  std::vector<std::unique_ptr<IngestLane>> lanes_;
  SteadyClock::time_point start_;

  std::mutex mu_;  // guards everything below, the lanes' last_ack, and err_
  std::condition_variable cv_;
  std::unordered_map<std::string, SteadyClock::time_point> sent_at_;
  std::vector<double> latencies_ms_;
  uint64_t routed_ = 0;
  uint64_t unmatched_ = 0;
  int rejected_shown_ = 0;
};

std::string NewRunId() {
  const uint64_t t = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch() /
                                           std::chrono::microseconds(1));
  uint64_t x = t ^ (static_cast<uint64_t>(::getpid()) << 40);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%08llx", static_cast<unsigned long long>(x & 0xffffffffULL));
  return buf;
}

}  // namespace

int LoadgenCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CLI::App app{
      "Sends synthetic events at a target rate for a while, over one or more ingest connections, "
      "and reports throughput and event-to-routed latency (for the example rules, "
      "rules/examples/default.yaml). Exit code: 0 done, 1 some events not acknowledged, 2 usage "
      "or connection error.",
      "handoff loadgen"};
  LoadgenOptions o;
  bool json = false;
  std::string host;
  std::string ingest;
  std::string subscribe;
  app.add_option("--rate", o.rate, "events per second, all connections together")
      ->required()
      ->check(CLI::PositiveNumber);
  app.add_option("--duration", o.duration, "seconds to send for")
      ->required()
      ->check(CLI::PositiveNumber);
  app.add_option("--leads", o.leads, "distinct lead ids")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--connections", o.connections, "ingest connections")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--qualify-every", o.qualify_every,
                 "one event in K makes a fresh lead qualify for routing (the last of its three "
                 "qualifying events); 0: none, else at least 3")
      ->capture_default_str();
  app.add_option("--write-interval-ms", o.write_interval_ms,
                 "each connection writes the events due every this many milliseconds (a burst "
                 "of rate/connections * interval events); an event's latency counts from its "
                 "write, so longer intervals mean larger bursts and later routed records")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 1000.0));
  app.add_option("--run-id", o.run_id, "tag for lead ids and messageIds (default: random)");
  app.add_flag("--json", json, "print the report as one JSON object");
  AddHostOption(app, &host);
  AddAddressOption(app, "--ingest", &ingest, kDefaultIngestPort, "the ingest listener");
  AddAddressOption(app, "--subscribe", &subscribe, kDefaultSubscribePort, "the subscribe listener");
  if (std::optional<int> code = ParseCommandLine(app, args, out, err); code.has_value()) {
    return *code;
  }
  if (o.leads < o.connections) {
    err << "handoff loadgen: --leads must be at least --connections\n";
    return 2;
  }
  if (o.qualify_every > 0 && o.qualify_every < LoadgenStream::kQualifyingSteps) {
    err << "handoff loadgen: --qualify-every must be 0 or at least "
        << LoadgenStream::kQualifyingSteps << " (a lead qualifies on its third event)\n";
    return 2;
  }
  std::optional<HostPort> ingest_address = ResolveAddressOption("loadgen", ingest, host, err);
  std::optional<HostPort> subscribe_address = ResolveAddressOption("loadgen", subscribe, host, err);
  if (!ingest_address.has_value() || !subscribe_address.has_value()) {
    return 2;
  }
  if (o.run_id.empty()) {
    o.run_id = NewRunId();
  }
  LoadgenReport report;
  LoadgenRun run(o, err);
  int code = run.Run(*ingest_address, *subscribe_address, &report);
  if (code == 2) {
    return code;
  }
  out << FormatLoadgenReport(report, json);
  return code;
}

}  // namespace handoff
