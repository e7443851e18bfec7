// The Prometheus text exposition format's pieces (version 0.0.4): a metric's HELP/TYPE header, one
// sample line, an escaped label value. Shared by Metrics and by the figures other stages render
// for /metrics (the funnel's).
#pragma once

#include <string>
#include <string_view>

namespace handoff {

// "# HELP name help\n# TYPE name type\n".
void AppendPromHeader(std::string_view name, std::string_view type, std::string_view help,
                      std::string* out);
// "name{labels} value\n"; `labels` already formatted (name="value",...), empty for none.
void AppendPromLine(std::string_view name, std::string_view labels, double value, std::string* out);
// A label value with backslash, quote and newline escaped.
std::string PromLabelValue(std::string_view v);

}  // namespace handoff
