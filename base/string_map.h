// StringMap: an unordered_map keyed by std::string that is searched with a std::string_view,
// without building a std::string per lookup (heterogeneous lookup, C++20).
//
// Only find/count/contains/equal_range take the view; insertion still takes a std::string key.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace handoff {

// Hashes std::string, const char* and std::string_view alike.
struct TransparentStringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

template <typename V>
using StringMap = std::unordered_map<std::string, V, TransparentStringHash, std::equal_to<>>;

}  // namespace handoff
