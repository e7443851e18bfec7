#include "api/routes.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/json_parser.h"

namespace handoff {
namespace {

std::string_view HeaderOf(const HttpResponse& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) {
      return v;
    }
  }
  return {};
}

RouteTableOptions Options(std::string admin_token, std::string admin_prefix = "") {
  RouteTableOptions options;
  options.admin_token = std::move(admin_token);
  options.admin_prefix = std::move(admin_prefix);
  options.check_write_key = [](const HttpRequest&) { return std::nullopt; };
  return options;
}

// Builds tables whose handlers record which row ran and with what parameters.
class RoutesTest : public ::testing::Test {
 protected:
  // A row whose handler answers 200 with body `name` and records the call.
  Route Row(std::string method, std::string pattern, std::string name,
            RouteAuth auth = RouteAuth::kNone) {
    return Route{std::move(method), std::move(pattern), auth,
                 [this, name](const HttpRequest&, const PathParams& params, HttpRespond respond) {
                   ran_.push_back(name);
                   last_params_ = params;
                   HttpResponse r;
                   r.body = name;
                   respond(std::move(r));
                 }};
  }

  HttpResponse Send(const RouteTable& table, std::string method, std::string path,
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpRequest request;
    request.method = std::move(method);
    request.path = std::move(path);
    request.headers = std::move(headers);
    std::optional<HttpResponse> answer;
    table.Dispatch(request, [&answer](HttpResponse r) { answer = std::move(r); });
    EXPECT_TRUE(answer.has_value());
    return answer.value_or(HttpResponse{});
  }

  std::vector<std::string> ran_;
  PathParams last_params_;
};

TEST_F(RoutesTest, LiteralsAndParameters) {
  RouteTable table(
      {
          Row("GET", "/v1/leads", "list"),
          Row("GET", "/v1/leads/{id}", "one"),
          Row("PUT", "/v1/reps/{id}/availability", "availability"),
          Row("GET", "/healthz", "health"),
      },
      {});
  EXPECT_EQ(Send(table, "GET", "/v1/leads").body, "list");
  EXPECT_EQ(Send(table, "GET", "/v1/leads/u1").body, "one");
  EXPECT_EQ(last_params_.Get("id"), "u1");
  EXPECT_EQ(last_params_.Get("nope"), "");
  EXPECT_EQ(Send(table, "PUT", "/v1/reps/alice/availability").body, "availability");
  EXPECT_EQ(last_params_.Get("id"), "alice");
  EXPECT_EQ(Send(table, "GET", "/healthz").body, "health");
}

TEST_F(RoutesTest, PathsAreSplitThenDecoded) {
  RouteTable table({Row("GET", "/v1/leads/{id}", "one"), Row("GET", "/healthz", "health")}, {});
  // An encoded '/' stays inside its parameter; '+' is not a space in a path.
  EXPECT_EQ(Send(table, "GET", "/v1/leads/u%2F1+x%20y").body, "one");
  EXPECT_EQ(last_params_.Get("id"), "u/1+x y");
  // Empty segments do not count; literals match decoded.
  EXPECT_EQ(Send(table, "GET", "//v1/leads//u1/").body, "one");
  EXPECT_EQ(last_params_.Get("id"), "u1");
  EXPECT_EQ(Send(table, "GET", "/health%7A").body, "health");
  // Literals are case-sensitive.
  EXPECT_EQ(Send(table, "GET", "/HEALTHZ").status, 404);
  // A bad escape is the client's error.
  const HttpResponse bad = Send(table, "GET", "/v1/leads/%zz");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("bad_request"), std::string::npos);
  EXPECT_TRUE(ran_.size() == 3);
}

TEST_F(RoutesTest, TableOrderDecidesBetweenOverlappingPatterns) {
  RouteTable table({Row("POST", "/v1/rules/reload", "reload"), Row("POST", "/v1/rules/{id}", "id")},
                   {});
  EXPECT_EQ(Send(table, "POST", "/v1/rules/reload").body, "reload");
  EXPECT_EQ(Send(table, "POST", "/v1/rules/other").body, "id");
}

TEST_F(RoutesTest, NoPathIs404) {
  RouteTable table({Row("GET", "/v1/leads/{id}", "one")}, {});
  for (const char* path : {"/", "/v1", "/v1/leads", "/v1/leads/u1/more", "/nope"}) {
    SCOPED_TRACE(path);
    const HttpResponse r = Send(table, "GET", path);
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_EQ(r.body,
              std::string(R"({"error":"not_found","message":"no such endpoint: )") + path + "\"}");
  }
  EXPECT_TRUE(ran_.empty());
}

// Found by fuzz/http_request_fuzzer.cc: the 404 quotes the path as sent, and a request target
// may carry bytes over 0x7f that are not UTF-8 ("/v1/leadM-\x80"), so the answer was not JSON.
// JsonErrorResponse now repairs such text (U+FFFD for each bad byte).
TEST_F(RoutesTest, NotFoundAnswerIsJsonForAPathThatIsNotUtf8) {
  RouteTable table({Row("GET", "/v1/leads/{id}", "one")}, {});
  const HttpResponse r = Send(table, "GET", "/v1/lead\xad\"/u%1F1/");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, std::string(R"({"error":"not_found","message":"no such endpoint: /v1/lead)") +
                        "\xEF\xBF\xBD" + R"(\"/u%1F1/"})");
  JsonParser json;
  Value body;
  EXPECT_TRUE(json.Parse(r.body, &body).ok()) << r.body;
}

TEST_F(RoutesTest, OtherMethodIs405WithAllow) {
  RouteTable table(
      {
          Row("GET", "/v1/accounts/{domain}", "get"),
          Row("PUT", "/v1/accounts/{domain}", "put"),
          Row("GET", "/v1/accounts/{x}", "shadowed"),  // listed once in Allow
          Row("POST", "/v1/rules/reload", "reload"),
      },
      {});
  HttpResponse r = Send(table, "DELETE", "/v1/accounts/example.com");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(HeaderOf(r, "Allow"), "GET, PUT");
  EXPECT_EQ(r.body, R"({"error":"method_not_allowed","message":"use GET, PUT here"})");
  r = Send(table, "GET", "/v1/rules/reload");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(HeaderOf(r, "Allow"), "POST");
  // Methods are case-sensitive (RFC 9110).
  EXPECT_EQ(Send(table, "get", "/v1/accounts/example.com").status, 405);
  EXPECT_TRUE(ran_.empty());
  EXPECT_EQ(Send(table, "PUT", "/v1/accounts/example.com").body, "put");
}

TEST_F(RoutesTest, AnyMethodTakesWhatNoRowHas) {
  RouteTable table(
      {
          Row("POST", "/v1/track", "ingest", RouteAuth::kWriteKey),
          Row("OPTIONS", "/v1/track", "preflight"),
          Row(std::string(kAnyMethod), "/v1/track", "other"),
          Row(std::string(kAnyMethod), "/healthz", "health"),
      },
      Options(""));
  EXPECT_EQ(Send(table, "POST", "/v1/track").body, "ingest");
  EXPECT_EQ(Send(table, "OPTIONS", "/v1/track").body, "preflight");
  EXPECT_EQ(Send(table, "GET", "/v1/track").body, "other");
  EXPECT_EQ(Send(table, "DELETE", "/v1/track").body, "other");
  EXPECT_EQ(Send(table, "HEAD", "/healthz").body, "health");
  EXPECT_EQ(Send(table, "POST", "/healthz").body, "health");
}

TEST_F(RoutesTest, AdminRoutesAreOpenWithoutAToken) {
  RouteTable table({Row("GET", "/v1/leads", "list", RouteAuth::kAdmin)}, Options("", "/v1"));
  EXPECT_EQ(Send(table, "GET", "/v1/leads").body, "list");
  EXPECT_EQ(Send(table, "POST", "/v1/leads").status, 405);
  EXPECT_EQ(Send(table, "GET", "/v1/nope").status, 404);
}

class AdminTokenTest : public RoutesTest {
 protected:
  RouteTable table_{{
                        Row(std::string(kAnyMethod), "/healthz", "health"),
                        Row("POST", "/v1/track", "ingest", RouteAuth::kWriteKey),
                        Row("GET", "/v1/leads", "list", RouteAuth::kAdmin),
                        Row("GET", "/v1/accounts/{domain}", "get", RouteAuth::kAdmin),
                        Row("PUT", "/v1/accounts/{domain}", "put", RouteAuth::kAdmin),
                    },
                    {.admin_token = "s3cret",
                     .check_write_key = [](const HttpRequest&) { return std::nullopt; },
                     .admin_prefix = "/v1"}};
  const std::vector<std::pair<std::string, std::string>> right_ = {
      {"Authorization", "Bearer s3cret"}};
};

TEST_F(AdminTokenTest, AdminCallsNeedTheBearerToken) {
  const std::vector<std::vector<std::pair<std::string, std::string>>> refused = {
      {},
      {{"Authorization", "Bearer s3cre"}},
      {{"Authorization", "Bearer s3cret2"}},
      {{"Authorization", "Basic czNjcmV0Og=="}},  // "s3cret:"
      {{"Authorization", "s3cret"}},
  };
  for (const auto& headers : refused) {
    const HttpResponse r = Send(table_, "GET", "/v1/leads", headers);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(HeaderOf(r, "WWW-Authenticate"), "Bearer");
    EXPECT_NE(r.body.find("\"unauthorized\""), std::string::npos);
  }
  EXPECT_TRUE(ran_.empty());
  EXPECT_EQ(Send(table_, "GET", "/v1/leads", right_).body, "list");
  EXPECT_EQ(Send(table_, "GET", "/v1/leads", {{"authorization", "bearer  s3cret "}}).body, "list");
  EXPECT_EQ(Send(table_, "PUT", "/v1/accounts/example.com", right_).body, "put");
  EXPECT_EQ(last_params_.Get("domain"), "example.com");
}

TEST_F(AdminTokenTest, WithoutTheTokenAdminPathsReveal401Only) {
  // Another method of an admin path, and paths no route has below the admin prefix: 401 first,
  // so the token decides whether the caller learns that they do not exist.
  EXPECT_EQ(Send(table_, "DELETE", "/v1/accounts/example.com").status, 401);
  EXPECT_EQ(Send(table_, "GET", "/v1/nope").status, 401);
  EXPECT_EQ(Send(table_, "GET", "/v1/leads/u1/more").status, 401);
  const HttpResponse r = Send(table_, "DELETE", "/v1/accounts/example.com", right_);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(HeaderOf(r, "Allow"), "GET, PUT");
  EXPECT_EQ(Send(table_, "GET", "/v1/nope", right_).status, 404);
  // Not below the prefix, or a path with routes that do not need the token: no token needed.
  EXPECT_EQ(Send(table_, "GET", "/v1").status, 404);
  EXPECT_EQ(Send(table_, "GET", "/nope").status, 404);
  EXPECT_EQ(Send(table_, "POST", "/healthz").body, "health");
  const HttpResponse get_track = Send(table_, "GET", "/v1/track");
  EXPECT_EQ(get_track.status, 405);
  EXPECT_EQ(HeaderOf(get_track, "Allow"), "POST");
  // Write-key routes do not take the admin token.
  EXPECT_EQ(Send(table_, "POST", "/v1/track").body, "ingest");
}

TEST_F(RoutesTest, WriteKeyRoutesAskTheCheck) {
  std::vector<std::string> checked;
  RouteTableOptions options;
  options.check_write_key = [&checked](const HttpRequest& request) -> std::optional<HttpResponse> {
    checked.push_back(request.path);
    if (request.Header("Authorization") == "Basic good") {
      return std::nullopt;
    }
    return JsonErrorResponse(401, "unauthorized", "bad key");
  };
  RouteTable table(
      {
          Row("POST", "/v1/track", "ingest", RouteAuth::kWriteKey),
          Row("GET", "/v1/leads", "list", RouteAuth::kAdmin),
          Row("GET", "/healthz", "health"),
      },
      options);
  const HttpResponse refused = Send(table, "POST", "/v1/track");
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.body, R"({"error":"unauthorized","message":"bad key"})");
  EXPECT_TRUE(ran_.empty());
  EXPECT_EQ(Send(table, "POST", "/v1/track", {{"Authorization", "Basic good"}}).body, "ingest");
  // Only write-key rows ask, and only once a row is chosen.
  EXPECT_EQ(Send(table, "GET", "/v1/leads").body, "list");
  EXPECT_EQ(Send(table, "GET", "/healthz").body, "health");
  EXPECT_EQ(Send(table, "GET", "/v1/track").status, 405);
  EXPECT_EQ(checked, (std::vector<std::string>{"/v1/track", "/v1/track"}));
}

TEST_F(RoutesTest, HandlersMayAnswerLater) {
  HttpRespond saved;
  RouteTable table({Route{"GET", "/later", RouteAuth::kNone,
                          [&saved](const HttpRequest&, const PathParams&, HttpRespond respond) {
                            saved = std::move(respond);
                          }}},
                   {});
  std::optional<HttpResponse> answer;
  HttpRequest request;
  request.method = "GET";
  request.path = "/later";
  table.Dispatch(request, [&answer](HttpResponse r) { answer = std::move(r); });
  EXPECT_FALSE(answer.has_value());
  ASSERT_TRUE(saved);
  HttpResponse later;
  later.status = 202;
  saved(std::move(later));
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 202);
}

}  // namespace
}  // namespace handoff
