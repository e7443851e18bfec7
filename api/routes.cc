#include "api/routes.h"

#include <algorithm>

#include "net/http_util.h"

namespace handoff {
namespace {

HttpResponse Unauthorized() {
  HttpResponse r = JsonErrorResponse(401, "unauthorized", "Authorization: Bearer TOKEN required");
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

}  // namespace

const std::string& PathParams::Get(std::string_view name) const {
  static const std::string kNone;
  for (const auto& [n, v] : params_) {
    if (n == name) {
      return v;
    }
  }
  return kNone;
}

void PathParams::Add(std::string name, std::string value) {
  params_.emplace_back(std::move(name), std::move(value));
}

std::vector<RouteTable::PatternSegment> RouteTable::CompilePattern(std::string_view pattern) {
  std::vector<PatternSegment> out;
  size_t start = 0;
  while (start <= pattern.size()) {
    size_t end = pattern.find('/', start);
    if (end == std::string_view::npos) {
      end = pattern.size();
    }
    std::string_view seg = pattern.substr(start, end - start);
    if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
      out.push_back(PatternSegment{std::string(seg.substr(1, seg.size() - 2)), true});
    } else if (!seg.empty()) {
      out.push_back(PatternSegment{std::string(seg), false});
    }
    start = end + 1;
  }
  return out;
}

RouteTable::RouteTable(std::vector<Route> routes, RouteTableOptions options)
    : options_(std::move(options)) {
  for (PatternSegment& seg : CompilePattern(options_.admin_prefix)) {
    admin_prefix_.push_back(std::move(seg.text));
  }
  rows_.reserve(routes.size());
  for (Route& route : routes) {
    auto segments = CompilePattern(route.pattern);
    rows_.push_back(Compiled{std::move(route), std::move(segments)});
  }
}

bool RouteTable::Match(const Compiled& row, const std::vector<std::string>& segments,
                       PathParams* params) {
  if (row.segments.size() != segments.size()) {
    return false;
  }
  for (size_t i = 0; i < segments.size(); ++i) {
    if (!row.segments[i].param && row.segments[i].text != segments[i]) {
      return false;
    }
  }
  for (size_t i = 0; i < segments.size(); ++i) {
    if (row.segments[i].param) {
      params->Add(row.segments[i].text, segments[i]);
    }
  }
  return true;
}

bool RouteTable::AdminAuthorized(const HttpRequest& request) const {
  if (options_.admin_token.empty()) {
    return true;
  }
  auto token = ParseBearerToken(request.Header("Authorization"));
  return token.has_value() && ConstantTimeEquals(*token, options_.admin_token);
}

void RouteTable::Dispatch(const HttpRequest& request, HttpRespond respond) const {
  auto segments = SplitPath(request.path);
  if (!segments.ok()) {
    respond(JsonErrorResponse(400, "bad_request", segments.status().message()));
    return;
  }
  const Compiled* chosen = nullptr;
  const Compiled* any_method = nullptr;
  PathParams chosen_params;
  PathParams any_params;
  std::vector<std::string_view> allowed;
  bool path_known = false;
  bool all_admin = true;
  for (const Compiled& row : rows_) {
    PathParams params;
    if (!Match(row, *segments, &params)) {
      continue;
    }
    path_known = true;
    all_admin = all_admin && row.route.auth == RouteAuth::kAdmin;
    if (row.route.method == request.method) {
      chosen = &row;
      chosen_params = std::move(params);
      break;  // an exact method wins over kAnyMethod; Allow is not needed
    }
    if (row.route.method == kAnyMethod) {
      if (any_method == nullptr) {
        any_method = &row;
        any_params = std::move(params);
      }
    } else if (std::find(allowed.begin(), allowed.end(), row.route.method) == allowed.end()) {
      allowed.push_back(row.route.method);
    }
  }
  if (chosen == nullptr && any_method != nullptr) {
    chosen = any_method;
    chosen_params = std::move(any_params);
  }

  if (chosen == nullptr) {
    const bool admin_path =
        path_known ? all_admin
                   : !admin_prefix_.empty() && segments->size() > admin_prefix_.size() &&
                         std::equal(admin_prefix_.begin(), admin_prefix_.end(), segments->begin());
    if (admin_path && !AdminAuthorized(request)) {
      respond(Unauthorized());
      return;
    }
    if (!path_known) {
      respond(JsonErrorResponse(404, "not_found", "no such endpoint: " + request.path));
      return;
    }
    std::string allow;
    for (std::string_view method : allowed) {
      allow += allow.empty() ? "" : ", ";
      allow += method;
    }
    HttpResponse r = JsonErrorResponse(405, "method_not_allowed", "use " + allow + " here");
    r.headers.emplace_back("Allow", std::move(allow));
    respond(std::move(r));
    return;
  }

  switch (chosen->route.auth) {
    case RouteAuth::kNone:
      break;
    case RouteAuth::kAdmin:
      if (!AdminAuthorized(request)) {
        respond(Unauthorized());
        return;
      }
      break;
    case RouteAuth::kWriteKey:
      if (std::optional<HttpResponse> refusal = options_.check_write_key(request);
          refusal.has_value()) {
        respond(std::move(*refusal));
        return;
      }
      break;
  }
  chosen->route.handler(request, chosen_params, std::move(respond));
}

}  // namespace handoff
