// base/string_prefix.h.
#include "base/string_prefix.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace handoff {
namespace {

// The order Seal relies on: prefixes first, whole strings on a tie, same as sorting the strings.
int Compare(const std::string& a, const std::string& b) {
  const StringPrefix pa = StringPrefix::Of(a);
  const StringPrefix pb = StringPrefix::Of(b);
  if (pa < pb) {
    return -1;
  }
  if (pb < pa) {
    return 1;
  }
  return a < b ? -1 : (b < a ? 1 : 0);
}

TEST(StringPrefixTest, OrdersAsTheStringsDo) {
  const std::vector<std::string> cases = {"",
                                          std::string(1, '\0'),
                                          "a",
                                          "ab",
                                          std::string("ab\0", 3),
                                          "abc",
                                          "user-1",
                                          "user-10",
                                          "user-9",
                                          "\xff",
                                          "\x7f",
                                          "0123456789abcdef",
                                          "0123456789abcdeg",
                                          "0123456789abcdef0",
                                          "0123456789abcdef1",
                                          "0123456789abcdf"};
  for (const std::string& a : cases) {
    for (const std::string& b : cases) {
      const int want = a < b ? -1 : (b < a ? 1 : 0);
      EXPECT_EQ(Compare(a, b), want) << "'" << a << "' vs '" << b << "'";
    }
  }
}

TEST(StringPrefixTest, OrdersRandomStringsAsTheStringsDo) {
  std::mt19937 rng(7);
  std::vector<std::string> strings;
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 24, '\0');
    for (char& c : s) {
      c = static_cast<char>(rng() % 4 == 0 ? rng() % 256 : 'a' + rng() % 3);
    }
    strings.push_back(s);
  }
  for (size_t i = 0; i + 1 < strings.size(); ++i) {
    const std::string& a = strings[i];
    const std::string& b = strings[i + 1];
    ASSERT_EQ(Compare(a, b), a < b ? -1 : (b < a ? 1 : 0)) << i;
  }
}

}  // namespace
}  // namespace handoff
