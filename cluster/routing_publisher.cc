// RoutingPublisher: the routing inputs into the event stream. See routing_publisher.h.
#include "cluster/routing_publisher.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "base/log.h"

namespace handoff {
namespace {

constexpr auto kRetryWait = std::chrono::milliseconds(200);

}  // namespace

Result<std::unique_ptr<RoutingPublisher>> RoutingPublisher::Open(RoutingPublisherOptions options) {
  NatsLinkOptions link_options;
  link_options.urls = options.urls;
  link_options.name = options.node_id + "/route";
  auto link = NatsLink::Open(link_options);
  if (!link.ok()) {
    return link.status();
  }
  std::unique_ptr<RoutingPublisher> publisher(new RoutingPublisher(std::move(options)));
  publisher->link_ = std::move(link.value());
  publisher->boot_ = std::to_string((static_cast<uint64_t>(std::random_device()()) << 32) |
                                    std::random_device()());
  publisher->thread_ = std::thread([p = publisher.get()] { p->Loop(); });
  return publisher;
}

RoutingPublisher::~RoutingPublisher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (link_ != nullptr) {
    link_->CloseIfDisconnected();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

void RoutingPublisher::Append(std::vector<RoutingInput> inputs, std::function<void()> stored) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    appended_.push_back(Appended{inputs.size(), std::move(stored)});
    for (RoutingInput& input : inputs) {
      queued_.push_back(std::move(input));
    }
  }
  cv_.notify_all();
}

void RoutingPublisher::Stored(size_t count) {
  std::vector<std::function<void()>> whole;
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!appended_.empty() && appended_.front().left <= count) {
      count -= appended_.front().left;
      if (appended_.front().stored) {
        whole.push_back(std::move(appended_.front().stored));
      }
      appended_.pop_front();
    }
    if (!appended_.empty()) {
      appended_.front().left -= count;
    }
  }
  for (auto& fn : whole) {
    fn();
  }
}

void RoutingPublisher::Loop() {
  pthread_setname_np(pthread_self(), "cluster-route");
  const auto tick_every = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(options_.tick_interval));
  auto next_tick = std::chrono::steady_clock::now() + tick_every;
  const auto clock_every = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(options_.partition_clock_interval));
  auto next_clock = std::chrono::steady_clock::now() + clock_every;
  std::vector<RoutingInput> inputs;
  std::string payload;
  std::deque<StageReset> resets;
  for (;;) {
    bool reevaluate = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      const auto wake =
          options_.partition_clock_interval > 0 ? std::min(next_tick, next_clock) : next_tick;
      cv_.wait_until(lock, wake, [this] {
        return stopping_ || !queued_.empty() || reevaluate_ || !resets_.empty();
      });
      if (stopping_) {
        return;
      }
      resets.swap(resets_);
      reevaluate = reevaluate_;
      reevaluate_ = false;
      while (!queued_.empty() && inputs.size() < kMaxInputsPerMessage) {
        inputs.push_back(std::move(queued_.front()));
        queued_.pop_front();
      }
    }
    if (options_.partition_clock_interval > 0 && std::chrono::steady_clock::now() >= next_clock) {
      next_clock = std::chrono::steady_clock::now() + clock_every;
      if (!LogPartitionClocks(/*reevaluate=*/false)) {
        return;
      }
    }
    if (reevaluate && !LogPartitionClocks(/*reevaluate=*/true)) {
      return;
    }
    for (const StageReset& reset : resets) {
      EncodeStageResetMessage(reset.lead, reset.reset_id, reset.at, &payload);
      if (!PublishUntilStored(PartitionSubject(reset.partition), "reset/" + reset.reset_id,
                              payload)) {
        return;
      }
    }
    resets.clear();
    size_t taken = inputs.size();
    if (std::chrono::steady_clock::now() >= next_tick) {
      next_tick = std::chrono::steady_clock::now() + tick_every;
      if (options_.ticks && options_.ticks()) {
        RoutingInput tick;
        tick.kind = RoutingInputKind::kTick;
        tick.at = options_.clock->Now();
        inputs.push_back(std::move(tick));
      }
    }
    if (inputs.empty()) {
      continue;
    }
    EncodeRoutingInputs(inputs, &payload);
    // Over NATS's payload limit a message is never stored: the later inputs wait for the next
    // message (a tick is dropped: the next one comes within a second).
    while (payload.size() > kMaxMessageBytes && taken > 1) {
      inputs.resize(taken);
      const size_t keep = taken / 2;
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (size_t i = taken; i-- > keep;) {
          queued_.push_front(std::move(inputs[i]));
        }
      }
      inputs.resize(keep);
      taken = keep;
      EncodeRoutingInputs(inputs, &payload);
    }
    inputs.clear();
    if (payload.size() > kMaxMessageBytes) {
      // One input alone too large (a rules file near the limit): it can never be logged.
      LogError("routing: an input of " + std::to_string(payload.size()) +
               " bytes is over the message limit and is not logged");
      Stored(taken);
      continue;
    }
    const std::string msg_id = options_.node_id + "/" + boot_ + "/r" + std::to_string(++messages_);
    if (!PublishUntilStored(std::string(kRoutingSubject), msg_id, payload)) {
      return;
    }
    Stored(taken);
  }
}

void RoutingPublisher::LogStageReset(uint32_t partition, std::string lead, std::string reset_id,
                                     EpochSeconds at) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    resets_.push_back(StageReset{partition, std::move(lead), std::move(reset_id), at});
  }
  cv_.notify_all();
}

void RoutingPublisher::LogReevaluation() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    reevaluate_ = true;
  }
  cv_.notify_all();
}

bool RoutingPublisher::LogPartitionClocks(bool reevaluate) {
  if (!options_.held_partitions) {
    return true;
  }
  std::string payload;
  for (uint32_t p : options_.held_partitions()) {
    EncodeClockMessage(options_.clock->Now(), reevaluate, &payload);
    const std::string msg_id = options_.node_id + "/" + boot_ + "/c" + std::to_string(++clocks_);
    if (!PublishUntilStored(PartitionSubject(p), msg_id, payload)) {
      return false;
    }
  }
  return true;
}

bool RoutingPublisher::PublishUntilStored(const std::string& subject, const std::string& msg_id,
                                          const std::string& payload) {
  return handoff::PublishUntilStored(
      link_->js(), subject, msg_id, payload, "logging routing inputs", [this] {
        std::unique_lock<std::mutex> lock(mu_);
        return !cv_.wait_for(lock, kRetryWait, [this] { return stopping_; });
      });
}

}  // namespace handoff
