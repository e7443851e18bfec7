#include "base/utf8.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace handoff {
namespace {

TEST(ToValidUtf8Test, KeepsUtf8AndReplacesEverythingElse) {
  const std::string kFffd = "\xef\xbf\xbd";
  for (const std::string& valid :
       std::vector<std::string>{"", "plain ascii", "\xc3\xbc", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                "\xf4\x8f\xbf\xbf", std::string("nul\0inside", 10)}) {
    EXPECT_EQ(ToValidUtf8(valid), valid);
  }
  EXPECT_EQ(ToValidUtf8("a\xff"
                        "b"),
            "a" + kFffd + "b");
  EXPECT_EQ(ToValidUtf8("\xc0\xaf"), kFffd + kFffd);                          // overlong '/'
  EXPECT_EQ(ToValidUtf8("\xe0\x80\xaf"), kFffd + kFffd + kFffd);              // overlong, 3 bytes
  EXPECT_EQ(ToValidUtf8("\xed\xa0\x80"), kFffd + kFffd + kFffd);              // a surrogate
  EXPECT_EQ(ToValidUtf8("\xf4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // past U+10FFFF
  EXPECT_EQ(ToValidUtf8("x\xe2\x82"), "x" + kFffd + kFffd);    // cut short at the end
  EXPECT_EQ(ToValidUtf8("\xe2\x82x"), kFffd + kFffd + "x");    // cut short by ASCII
  EXPECT_EQ(ToValidUtf8("\x80\xc3\xbc"), kFffd + "\xc3\xbc");  // a stray continuation byte
}

TEST(FirstInvalidUtf8Test, FindsTheFirstByteThatStartsNoCharacter) {
  EXPECT_EQ(FirstInvalidUtf8(""), std::string_view::npos);
  EXPECT_EQ(FirstInvalidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), std::string_view::npos);
  EXPECT_EQ(FirstInvalidUtf8("ab\xff"), 2u);
  EXPECT_EQ(FirstInvalidUtf8("\xc3\xa9\xc3"), 2u);                        // cut short at the end
  EXPECT_EQ(FirstInvalidUtf8("x\xed\xa0\x80"), 1u);                       // a surrogate
  EXPECT_EQ(FirstInvalidUtf8("\xef\xbb\xbfok"), std::string_view::npos);  // a BOM is U+FEFF
}

}  // namespace
}  // namespace handoff
