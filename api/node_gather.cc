#include "api/node_gather.h"

#include <boost/asio/post.hpp>
#include <memory>
#include <utility>

namespace handoff {

namespace {

// The parts of one gathered request, merged once the last is in. Parts come in on the io
// thread (answers of other nodes, and this node's part, posted there from the engine).
struct Gather {
  size_t waiting = 0;
  std::string what;
  std::vector<std::string> parts;
  std::string failure;  // the first node that did not answer
  GatherMerge merge;
  HttpRespond respond;

  void Add(std::string part, std::string failed) {
    if (failed.empty()) {
      parts.push_back(std::move(part));
    } else if (failure.empty()) {
      failure = std::move(failed);
    }
    if (--waiting > 0) {
      return;
    }
    if (!failure.empty()) {
      respond(JsonErrorResponse(503, "unavailable", what + ": " + failure));
      return;
    }
    merge(parts, respond);
  }
};

}  // namespace

ForwardRequest ForwardedCopy(const HttpRequest& request) {
  ForwardRequest out;
  out.method = request.method;
  out.target = request.query.empty() ? request.path : request.path + "?" + request.query;
  out.headers.emplace_back(std::string(kForwardedHeader), "1");
  if (std::string_view auth = request.Header("Authorization"); !auth.empty()) {
    out.headers.emplace_back("Authorization", std::string(auth));
  }
  out.body = request.body;
  return out;
}

bool GatherFromOtherNodes(ApiContext& api, const HttpRequest& request, std::string_view what,
                          HttpRespond* respond, GatherMerge merge) {
  if (api.locator == nullptr || api.forwarder == nullptr || request.HasHeader(kForwardedHeader)) {
    return false;
  }
  const std::vector<std::string> others = api.locator->OtherNodes();
  if (others.empty()) {
    return false;
  }
  auto gather = std::make_shared<Gather>();
  gather->waiting = others.size() + 1;
  gather->what = std::string(what);
  gather->merge = std::move(merge);
  gather->respond = std::move(*respond);
  // This node's part may come from the engine thread: it joins the others on the io thread.
  *respond = [gather, io = &api.forwarder->io()](HttpResponse r) {
    boost::asio::post(*io, [gather, r = std::move(r)]() mutable {
      const bool ok = r.status == 200;
      gather->Add(ok ? std::move(r.body) : "",
                  ok ? "" : "this node answered " + std::to_string(r.status) + " " + r.body);
    });
  };
  for (const std::string& address : others) {
    api.forwarder->Forward(
        address, ForwardedCopy(request), [gather, address](Result<HttpResponse> answer) {
          if (!answer.ok()) {
            gather->Add("", answer.status().ToString());
          } else if (answer->status != 200) {
            gather->Add("", address + " answered " + std::to_string(answer->status));
          } else {
            gather->Add(std::move(answer->body), "");
          }
        });
  }
  return true;
}

}  // namespace handoff
