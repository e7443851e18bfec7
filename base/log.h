// Minimal logging: one line per message to stderr, with a UTC timestamp and a level.
// Thread-safe (one write() per line).
#pragma once

#include <string_view>

namespace handoff {

enum class LogLevel { kInfo, kWarning, kError };

void Log(LogLevel level, std::string_view message);
inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarning(std::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }

}  // namespace handoff
