#include "cluster/nats_link.h"

#include <string_view>
#include <thread>
#include <vector>

#include "base/log.h"

namespace handoff {

bool PublishUntilStored(jsCtx* js, const std::string& subject, const std::string& msg_id,
                        const std::string& payload, const std::string& what,
                        const std::function<bool()>& pause) {
  for (;;) {
    natsMsg* msg = nullptr;
    natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, payload.data(),
                                  static_cast<int>(payload.size()));
    if (s == NATS_OK) {
      s = natsMsgHeader_Set(msg, "Nats-Msg-Id", msg_id.c_str());
    }
    jsPubOptions options;
    jsPubOptions_Init(&options);
    options.MaxWait = 2000;
    jsPubAck* ack = nullptr;
    jsErrCode error = static_cast<jsErrCode>(0);
    if (s == NATS_OK) {
      s = js_PublishMsg(&ack, js, msg, &options, &error);
    }
    natsMsg_Destroy(msg);
    jsPubAck_Destroy(ack);
    if (s == NATS_OK) {
      return true;
    }
    if (s != NATS_CONNECTION_CLOSED) {  // closed: the node is stopping (pause says so)
      LogWarning(NatsStatus(s, what, error).ToString() + "; retrying");
    }
    if (!pause()) {
      return false;
    }
  }
}

Status NatsStatus(natsStatus s, const std::string& what, jsErrCode js_error) {
  if (s == NATS_OK) {
    return Status::Ok();
  }
  std::string message = what + ": " + natsStatus_GetText(s);
  // A server's error (NATS_ERR) has its own words, which cnats keeps per thread ("insufficient
  // resources"): the status alone says "Error". Only then: cnats leaves the text of an earlier
  // failure in place when a later one sets none (a timeout), so for other statuses it may be old.
  if (s == NATS_ERR) {
    natsStatus last = NATS_OK;
    const char* detail = nats_GetLastError(&last);
    std::string_view text = detail != nullptr && last == s ? detail : "";
    // cnats leads it with where it was set: "(js.c:123): ".
    if (const size_t at = text.find("): "); !text.empty() && text[0] == '(' && at != text.npos) {
      text.remove_prefix(at + 3);
    }
    if (!text.empty() && message.find(text) == std::string::npos) {
      message += " (" + std::string(text) + ")";
    }
  }
  if (js_error != 0) {
    message += " (JetStream error " + std::to_string(static_cast<int>(js_error)) + ")";
  }
  switch (s) {
    case NATS_TIMEOUT:
    case NATS_NO_RESPONDERS:
    case NATS_NOT_YET_CONNECTED:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NO_SERVER:
    case NATS_STALE_CONNECTION:
      return Status::Unavailable(std::move(message));
    default:
      return Status::IoError(std::move(message));
  }
}

Result<std::unique_ptr<NatsLink>> NatsLink::Open(const NatsLinkOptions& options) {
  std::unique_ptr<NatsLink> link(new NatsLink());
  natsStatus s = natsOptions_Create(&link->options_);
  if (s != NATS_OK) {
    return NatsStatus(s, "nats options");
  }
  std::vector<const char*> servers;
  servers.reserve(options.urls.size());
  for (const std::string& url : options.urls) {
    servers.push_back(url.c_str());
  }
  s = natsOptions_SetServers(link->options_, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK) {
    s = natsOptions_SetName(link->options_, options.name.c_str());
  }
  // Never give up on the cluster: the daemon keeps its listeners and waits for NATS to come back.
  if (s == NATS_OK) {
    s = natsOptions_SetMaxReconnect(link->options_, -1);
  }
  if (s == NATS_OK) {
    s = natsOptions_SetReconnectWait(link->options_, 250);
  }
  // Publishes made while reconnecting are buffered up to this much, then fail (and are retried).
  if (s == NATS_OK) {
    s = natsOptions_SetReconnectBufSize(link->options_, 64 << 20);
  }
  // With a callback the first connect goes on in the background when no server answers; without
  // one cnats blocks in natsConnection_Connect until a server does, and a node started before
  // its NATS servers never finished starting, nor stopped on SIGTERM. cnats runs its callbacks
  // later, in order, on a thread of its own that nothing joins, so the callback's closure is not
  // the link (it may be gone by then) but a copy of the name, freed by the closed callback, the
  // connection's last.
  auto* name = new std::string(options.name);
  if (s == NATS_OK) {
    s = natsOptions_SetRetryOnFailedConnect(link->options_, true, &NatsLink::OnLateConnect, name);
  }
  if (s == NATS_OK) {
    s = natsOptions_SetClosedCB(link->options_, &NatsLink::OnClosed, name);
  }
  if (s != NATS_OK) {
    delete name;  // no connection: no callback has it
    return NatsStatus(s, "nats options");
  }
  s = natsConnection_Connect(&link->connection_, link->options_);
  if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
    if (link->connection_ == nullptr) {
      delete name;
    }
    return NatsStatus(s, "connecting to NATS");
  }
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = options.api_wait_ms;
  js_options.PublishAsync.MaxPending = options.max_pending_publishes;
  js_options.PublishAsync.AckHandler = options.ack_handler;
  js_options.PublishAsync.AckHandlerClosure = options.ack_closure;
  s = natsConnection_JetStream(&link->js_, link->connection_, &js_options);
  if (s != NATS_OK) {
    return NatsStatus(s, "JetStream context");
  }
  return link;
}

void NatsLink::OnLateConnect(natsConnection* connection, void* closure) {
  const auto* name = static_cast<const std::string*>(closure);
  char url[256] = "";
  if (natsConnection_GetConnectedUrl(connection, url, sizeof url) != NATS_OK) {
    url[0] = '\0';
  }
  LogInfo("NATS: " + *name + " connected to " + (url[0] != '\0' ? url : "a server") +
          " (no server answered when it started)");
}

void NatsLink::OnClosed(natsConnection* /*connection*/, void* closure) {
  delete static_cast<std::string*>(closure);
}

NatsLink::~NatsLink() {
  jsCtx_Destroy(js_);
  if (connection_ != nullptr) {
    natsConnection_Close(connection_);
    natsConnection_Destroy(connection_);
  }
  natsOptions_Destroy(options_);
}

void NatsLink::CloseIfDisconnected(std::chrono::milliseconds grace) {
  if (connection_ == nullptr) {
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (!connected() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!connected()) {
    natsConnection_Close(connection_);
  }
}

bool NatsLink::connected() const {
  return connection_ != nullptr && natsConnection_Status(connection_) == NATS_CONN_STATUS_CONNECTED;
}

}  // namespace handoff
