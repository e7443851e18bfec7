// NatsLink: this node's one connection to the NATS cluster and its JetStream context.
//
// It connects to the first reachable URL of the list, and when that server goes away it moves to
// another on its own and keeps trying forever (cnats' reconnect), so the daemon keeps its
// listeners whatever NATS does. Until the first connection succeeds the link exists but every
// JetStream call fails with Unavailable; callers retry.
//
// Thread-safe: cnats connections and JetStream contexts may be used from any thread.
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "handoff/status.h"

namespace handoff {

struct NatsLinkOptions {
  // "nats://HOST:PORT" of every server; the client picks among them and fails over.
  std::vector<std::string> urls;
  // Shown by the servers (connz) and in logs: the node id.
  std::string name;
  // How long a JetStream API call or a publish may wait for its answer. Default: 5 s.
  int64_t api_wait_ms = 5000;
  // Asynchronous publishes in flight before a publish waits. Default: 65,536.
  int64_t max_pending_publishes = 65536;
  // Called for every asynchronous publish's answer (see jsPubAckHandler in nats.h); set by the
  // one publisher of the link. It owns the message it is given.
  jsPubAckHandler ack_handler = nullptr;
  void* ack_closure = nullptr;
};

class NatsLink {
 public:
  // Starts connecting (in the background when no server answers yet). An error only for bad
  // options (a malformed URL).
  static Result<std::unique_ptr<NatsLink>> Open(const NatsLinkOptions& options);
  ~NatsLink();
  NatsLink(const NatsLink&) = delete;
  NatsLink& operator=(const NatsLink&) = delete;

  // For a stop: a link with no server now (after up to `grace` for a reconnect) is closed, so
  // what waits on it (a request in flight, a cleanup call) ends at once instead of each waiting
  // its deadline; a connected link stays open for the stop's own calls (handing leases back).
  // Thread-safe.
  void CloseIfDisconnected(std::chrono::milliseconds grace = std::chrono::milliseconds(0));

  natsConnection* connection() const { return connection_; }
  jsCtx* js() const { return js_; }
  bool connected() const;

 private:
  NatsLink() = default;
  // cnats' callback thread; `closure` is the link's name (a std::string of its own). The first
  // connect succeeded after Open returned: said in the log.
  static void OnLateConnect(natsConnection* connection, void* closure);
  // cnats' callback thread, the connection's last callback: frees the name.
  static void OnClosed(natsConnection* connection, void* closure);

  natsOptions* options_ = nullptr;
  natsConnection* connection_ = nullptr;
  jsCtx* js_ = nullptr;
};

// Publishes `payload` on `subject` under `msg_id` (Nats-Msg-Id) and waits for JetStream's answer
// (2 s at most), again with the same id and bytes until the stream has it, logging each failure
// as "<what>: ...; retrying". `pause` waits between two tries and returns false once the caller
// stops; then this returns false without the message stored (or known to be).
[[nodiscard]] bool PublishUntilStored(jsCtx* js, const std::string& subject,
                                      const std::string& msg_id, const std::string& payload,
                                      const std::string& what, const std::function<bool()>& pause);

// A cnats status (and JetStream error code, when there is one) as a Status: timeouts, no
// responders and lost connections are Unavailable (retry), the rest IoError. For a server's
// error (NATS_ERR) the message has cnats' text of it (call this right after the failing call).
Status NatsStatus(natsStatus s, const std::string& what,
                  jsErrCode js_error = static_cast<jsErrCode>(0));

}  // namespace handoff
