#include "base/prometheus_text.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace handoff {
namespace {

TEST(PrometheusTextTest, ASampleLineHasItsLabelsAndValue) {
  std::string out;
  AppendPromLine("handoff_x_total", "rep=\"carol\"", 2.5, &out);
  AppendPromLine("handoff_y", "", 3, &out);
  EXPECT_EQ(out, "handoff_x_total{rep=\"carol\"} 2.5\nhandoff_y 3\n");
}

// A sum of won amounts (any non-negative number each, SPEC 9) can overflow to infinity. The text
// format spells it +Inf; the JSON spelling, null, made Prometheus refuse the whole scrape.
TEST(PrometheusTextTest, ValuesJsonCannotSpellUseTheFormatsOwnNames) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::string out;
  AppendPromLine("a", "", kInf, &out);
  AppendPromLine("b", "", -kInf, &out);
  AppendPromLine("c", "", std::numeric_limits<double>::quiet_NaN(), &out);
  EXPECT_EQ(out, "a +Inf\nb -Inf\nc NaN\n");
}

TEST(PrometheusTextTest, LabelValuesAreEscaped) {
  EXPECT_EQ(PromLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
}

}  // namespace
}  // namespace handoff
