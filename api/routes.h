// Routes: the endpoints of the HTTP port as one table of (method, path pattern, auth, handler),
// and the dispatch that picks a row for each request.
//
// A pattern is a path of literal segments and {name} parameters: "/v1/leads/{id}". It is matched
// segment by segment against the request path as SplitPath (net/http_util.h) gives it: split,
// then percent-decoded, so an encoded '/' stays inside its parameter ("/v1/leads/u%2F1" gives
// id "u/1"), empty segments do not count ("/v1//leads/" is "/v1/leads") and literals compare,
// case-sensitively, with decoded segments.
//
// Dispatch answers, in this order:
//   400 bad_request         the path does not decode (a bad percent escape).
//   401 unauthorized        no route takes the request (the 404 or 405 below would follow), the
//                           admin token is configured and not presented, and the path is an
//                           admin path: every route with that path needs the token, or no route
//                           has it and it lies below `admin_prefix`. A caller without the token
//                           learns nothing of which admin endpoints exist.
//   404 not_found           no route has the path.
//   405 method_not_allowed  routes have the path, none with this method; Allow lists theirs, in
//                           table order.
//   then the route: the first row, in table order, with the path and the request's method, else
//   the first with the path and kAnyMethod. Its auth is checked (401 / the write key check's
//   refusal), then its handler runs.
// Rows with overlapping patterns ("/v1/rules/reload", "/v1/rules/{id}") are taken in table order:
// list literals first.
//
// A RouteTable is immutable once built; Dispatch is const and may run on any thread, as far as
// the handlers and check_write_key allow.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/http_server.h"

namespace handoff {

// The method of a row that takes every method the table has no row for.
inline constexpr std::string_view kAnyMethod = "*";

enum class RouteAuth {
  kNone,
  kAdmin,     // Authorization: Bearer <admin token>, when a token is configured (SPEC 6)
  kWriteKey,  // a Segment write key, decided by RouteTableOptions::check_write_key (SPEC 4)
};

// The {name} parameters of the matched pattern, decoded.
class PathParams {
 public:
  // The value of parameter `name`; "" when the pattern has none of that name.
  const std::string& Get(std::string_view name) const;
  void Add(std::string name, std::string value);

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

using RouteHandler =
    std::function<void(const HttpRequest& request, const PathParams& params, HttpRespond respond)>;

struct Route {
  std::string method;   // "GET", "POST", ... or kAnyMethod
  std::string pattern;  // "/v1/leads/{id}"
  RouteAuth auth = RouteAuth::kNone;
  RouteHandler handler;
};

struct RouteTableOptions {
  // The token kAdmin rows require; empty: they are open.
  std::string admin_token;
  // Decides kWriteKey rows: nullopt lets the request through, else the answer refusing it.
  // Required when the table has kWriteKey rows.
  std::function<std::optional<HttpResponse>(const HttpRequest&)> check_write_key;
  // Paths strictly below this one that no route has are admin paths (see above); "" for none.
  std::string admin_prefix;
};

class RouteTable {
 public:
  RouteTable(std::vector<Route> routes, RouteTableOptions options);

  // Answers `request` through `respond`: the route's handler, or one of the errors above.
  void Dispatch(const HttpRequest& request, HttpRespond respond) const;

 private:
  struct PatternSegment {
    std::string text;  // the literal, or the parameter's name
    bool param = false;
  };
  struct Compiled {
    Route route;
    std::vector<PatternSegment> segments;
  };

  // "/v1/leads/{id}" -> {"v1"}, {"leads"}, {"id", param}. Patterns are written in code, not read
  // from requests, so they need no escapes; empty segments are dropped, as SplitPath does.
  static std::vector<PatternSegment> CompilePattern(std::string_view pattern);

  // Whether `row` has the path `segments`; fills *params when it does.
  static bool Match(const Compiled& row, const std::vector<std::string>& segments,
                    PathParams* params);
  bool AdminAuthorized(const HttpRequest& request) const;

  std::vector<Compiled> rows_;
  RouteTableOptions options_;
  std::vector<std::string> admin_prefix_;  // options_.admin_prefix split
};

}  // namespace handoff
