#include "base/prometheus_text.h"

#include <cmath>

#include "handoff/value.h"

namespace handoff {

void AppendPromHeader(std::string_view name, std::string_view type, std::string_view help,
                      std::string* out) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n");
  out->append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void AppendPromLine(std::string_view name, std::string_view labels, double value,
                    std::string* out) {
  out->append(name);
  if (!labels.empty()) {
    out->push_back('{');
    out->append(labels);
    out->push_back('}');
  }
  out->push_back(' ');
  // The text format's own spellings: JSON has none for these (AppendJsonNumber writes null, which
  // fails the whole scrape), and a sum of won amounts can overflow to infinity.
  if (std::isnan(value)) {
    out->append("NaN");
  } else if (std::isinf(value)) {
    out->append(value > 0 ? "+Inf" : "-Inf");
  } else {
    AppendJsonNumber(value, out);
  }
  out->push_back('\n');
}

std::string PromLabelValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace handoff
