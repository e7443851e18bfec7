#include "core/rules_manager.h"

#include <pthread.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "base/log.h"
#include "rules/sha256.h"

namespace handoff {
namespace {

namespace fs = std::filesystem;

constexpr auto kWatchInterval = std::chrono::milliseconds(500);

}  // namespace

RulesManager::RulesManager(std::string path, bool watch, Install install, Reject reject,
                           std::chrono::milliseconds empty_file_grace)
    : path_(std::move(path)),
      watch_(watch),
      install_(std::move(install)),
      reject_(std::move(reject)),
      empty_file_grace_(empty_file_grace) {}

RulesManager::~RulesManager() { Stop(); }

void RulesManager::Start() {
  signature_ = Signature(path_);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "rules");
    Run();
  });
}

void RulesManager::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void RulesManager::RequestReload(ReloadDone done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(done ? std::move(done) : ReloadDone([](const ReloadOutcome&) {}));
  }
  cv_.notify_one();
}

void RulesManager::Validate(std::string yaml, std::function<void(const LoadResult&)> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back([yaml = std::move(yaml), done = std::move(done)] {
      done(LoadRulesFromString(yaml, "request"));
    });
  }
  cv_.notify_one();
}

void RulesManager::Replace(std::string yaml, ReloadDone done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back([this, yaml = std::move(yaml), done = std::move(done)] {
      ReloadOutcome outcome;
      std::error_code ec;
      if (fs::is_directory(path_, ec)) {
        outcome.version = reject_({});
        outcome.failure =
            "the rules path " + path_ + " is a directory: put the file in it and reload instead";
        done(outcome);
        return;
      }
      LoadResult checked = LoadRulesFromString(yaml, "request");
      if (!checked.ok()) {
        outcome.version = reject_(checked.errors);
        outcome.errors = std::move(checked.errors);
        done(outcome);
        return;
      }
      const std::string temp = path_ + ".apply-tmp";
      {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        out.write(yaml.data(), static_cast<std::streamsize>(yaml.size()));
        out.close();
        if (!out) {
          outcome.version = reject_({});
          outcome.failure = "cannot write " + temp;
          done(outcome);
          return;
        }
      }
      fs::rename(temp, path_, ec);
      if (ec) {
        outcome.version = reject_({});
        outcome.failure = "cannot replace " + path_ + ": " + ec.message();
        done(outcome);
        return;
      }
      Reload(done);  // notes the new signature, so the watch does not load it a second time
    });
  }
  cv_.notify_one();
}

void RulesManager::Run() {
  std::vector<ReloadDone> requests;
  std::vector<std::function<void()>> jobs;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, kWatchInterval,
                   [this] { return stopping_ || !requests_.empty() || !jobs_.empty(); });
      if (stopping_) {
        return;
      }
      requests.swap(requests_);
      jobs.swap(jobs_);
    }
    for (auto& job : jobs) {
      job();
    }
    jobs.clear();
    if (!requests.empty()) {
      // Requests that queued up meanwhile share one load: they all ask for the files as they
      // are now.
      Reload([requests = std::move(requests)](const ReloadOutcome& outcome) {
        for (const ReloadDone& done : requests) {
          done(outcome);
        }
      });
      requests.clear();
    } else if (watch_) {
      WatchPoll();
    }
  }
}

void RulesManager::WatchPoll() {
  bool has_empty = false;
  const std::string signature = Signature(path_, &has_empty);
  if (signature == signature_ || !has_empty) {
    empty_since_.reset();
  }
  if (signature == signature_) {
    return;
  }
  // A file being rewritten in place is empty between the truncation and the write: wait for the
  // write. One left empty past the grace is loaded as it is (SIGHUP loads it at once).
  const auto now = std::chrono::steady_clock::now();
  if (has_empty && !empty_since_.has_value()) {
    empty_since_ = now;
    LogInfo("rules changed on disk, but a rule file is empty: waiting for it to be written");
  }
  if (has_empty && now - *empty_since_ < empty_file_grace_) {
    return;
  }
  LogInfo("rules changed on disk, reloading " + path_);
  Reload(nullptr);
}

void RulesManager::Reload(ReloadDone done) {
  signature_ = Signature(path_);
  empty_since_.reset();
  LoadResult loaded = LoadRules(path_);
  if (!loaded.ok()) {
    ReloadOutcome outcome;
    outcome.version = reject_(loaded.errors);
    outcome.errors = std::move(loaded.errors);
    if (done) {
      done(outcome);
    }
    return;
  }
  install_(std::move(loaded.rules), std::move(done));
}

std::string RulesManager::Signature(const std::string& path, bool* has_empty) {
  std::string sig;
  std::string bytes;
  auto add = [&](const fs::path& p) {
    // What stat says can stay the same across a change: a file of the same size written within
    // one tick of the file system's clock, or copied with its old time kept (cp -p, rsync -t);
    // so the bytes count too. Rule files are small and this runs on the manager's own thread.
    struct stat st {};
    const bool stated = ::stat(p.c_str(), &st) == 0;
    std::ifstream in(p, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    sig += p.filename().string();
    if (stated) {
      for (const uint64_t field :
           {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
            static_cast<uint64_t>(st.st_size), static_cast<uint64_t>(st.st_mtim.tv_sec),
            static_cast<uint64_t>(st.st_mtim.tv_nsec), static_cast<uint64_t>(st.st_ctim.tv_sec),
            static_cast<uint64_t>(st.st_ctim.tv_nsec)}) {
        sig += ':';
        sig += std::to_string(field);
      }
    } else {
      sig += ":missing";
    }
    sig += ':';
    sig += in ? Sha256Hex(bytes) : "unreadable";
    sig += ';';
    if (has_empty != nullptr && stated && st.st_size == 0) {
      *has_empty = true;
    }
  };
  std::error_code ec;
  fs::path root(path);
  if (fs::is_directory(root, ec)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(root, ec)) {
      if (e.path().extension() == ".yaml") {
        files.push_back(e.path());
      }
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      add(f);
    }
  } else {
    add(root);
  }
  return sig;
}

}  // namespace handoff
