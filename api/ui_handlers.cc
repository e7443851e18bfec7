#include "api/handlers.h"
#include "ui/ui_assets.h"

namespace handoff {

void GetUiFile(ApiContext&, const HttpRequest&, const PathParams& params, HttpRespond respond) {
  const std::string& file = params.Get("file");
  const UiAsset* asset = FindUiAsset(file.empty() ? "index.html" : file);
  if (asset == nullptr) {
    respond(JsonErrorResponse(404, "not_found", "no such file in the web UI"));
    return;
  }
  HttpResponse response;
  response.content_type = std::string(asset->content_type);
  response.body = std::string(asset->bytes);
  // The pages run only their own files: no inline script, nothing fetched from elsewhere.
  response.headers.emplace_back("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Cache-Control", "no-cache");
  respond(std::move(response));
}

void RedirectToUi(ApiContext&, const HttpRequest&, const PathParams&, HttpRespond respond) {
  HttpResponse response;
  response.status = 308;
  response.content_type = "text/plain";
  response.body = "/ui/\n";
  response.headers.emplace_back("Location", "/ui/");
  respond(std::move(response));
}

}  // namespace handoff
