#include "base/log.h"

#include <unistd.h>

#include <string>

#include "base/timestamp.h"
#include "handoff/clock.h"

namespace handoff {

void Log(LogLevel level, std::string_view message) {
  std::string line;
  line.reserve(message.size() + 40);
  AppendRfc3339Millis(SystemClock::Instance().Now(), &line);
  switch (level) {
    case LogLevel::kInfo:
      line += " INFO ";
      break;
    case LogLevel::kWarning:
      line += " WARN ";
      break;
    case LogLevel::kError:
      line += " ERROR ";
      break;
  }
  line.append(message);
  line.push_back('\n');
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace handoff
