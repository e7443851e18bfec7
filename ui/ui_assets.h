// The web UI's files (ui/assets/: HTML, CSS, JavaScript), built into the binary: a CMake step
// (ui/embed_assets.cmake) turns them into a generated .cc at build time, so handoffd serves its
// UI (GET /ui/, api/ui_handlers.cc) with no other server and no files to install.
//
// Immutable after static initialization; thread-safe.
#pragma once

#include <string_view>

namespace handoff {

struct UiAsset {
  std::string_view path;          // relative to ui/assets/: "index.html", "app.js"
  std::string_view content_type;  // from the extension: "text/html; charset=utf-8", ...
  std::string_view bytes;
};

// The file at `path` (relative to ui/assets/, no leading '/'), or nullptr when there is none.
const UiAsset* FindUiAsset(std::string_view path);

}  // namespace handoff
