#include "ui/ui_assets.h"

#include <cstddef>

namespace handoff {

// Generated from ui/assets/ (ui/embed_assets.cmake), in the build tree.
extern const UiAsset kUiAssets[];
extern const size_t kUiAssetCount;

const UiAsset* FindUiAsset(std::string_view path) {
  for (size_t i = 0; i < kUiAssetCount; ++i) {
    if (kUiAssets[i].path == path) {
      return &kUiAssets[i];
    }
  }
  return nullptr;
}

}  // namespace handoff
