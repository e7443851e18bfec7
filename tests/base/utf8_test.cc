#include "base/utf8.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "handoff/value.h"

namespace handoff {
namespace {

// Every character of `s` is well-formed: the sequence lengths walk it to its end.
bool AllUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      return false;
    }
    i += n;
  }
  return true;
}

TEST(Utf8SequenceLengthTest, WalksUtf8AndFindsEverythingElse) {
  for (const std::string& valid : std::vector<std::string>{
           "", "plain ascii", "\xc3\xbc", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf",
           std::string("nul\0inside", 10), "\xef\xbb\xbfok" /* a BOM is U+FEFF */}) {
    EXPECT_TRUE(AllUtf8(valid)) << valid;
  }
  EXPECT_EQ(Utf8SequenceLength("\xe2\x82\xac", 0), 3u);
  EXPECT_EQ(Utf8SequenceLength("ab\xff", 2), 0u);
  EXPECT_EQ(Utf8SequenceLength("\xc0\xaf", 0), 0u);          // overlong '/'
  EXPECT_EQ(Utf8SequenceLength("\xe0\x80\xaf", 0), 0u);      // overlong, 3 bytes
  EXPECT_EQ(Utf8SequenceLength("\xed\xa0\x80", 0), 0u);      // a surrogate
  EXPECT_EQ(Utf8SequenceLength("\xf4\x90\x80\x80", 0), 0u);  // past U+10FFFF
  EXPECT_EQ(Utf8SequenceLength("x\xe2\x82", 1), 0u);         // cut short at the end
  EXPECT_EQ(Utf8SequenceLength("\xe2\x82x", 0), 0u);         // cut short by ASCII
  EXPECT_EQ(Utf8SequenceLength("\x80\xc3\xbc", 0), 0u);      // a stray continuation byte
  EXPECT_EQ(Utf8SequenceLength("\x80\xc3\xbc", 1), 2u);
}

// What the daemon writes of bytes that are not UTF-8: U+FFFD for each byte that starts no
// character, the rest as it was.
TEST(Utf8SequenceLengthTest, JsonTextReplacesEachByteThatStartsNoCharacter) {
  const std::string kFffd = "\xef\xbf\xbd";
  auto quoted = [](const std::string& s) { return "\"" + s + "\""; };
  EXPECT_EQ(JsonQuoted("a\xff"
                       "b"),
            quoted("a" + kFffd + "b"));
  EXPECT_EQ(JsonQuoted("\xc0\xaf"), quoted(kFffd + kFffd));
  EXPECT_EQ(JsonQuoted("\xe0\x80\xaf"), quoted(kFffd + kFffd + kFffd));
  EXPECT_EQ(JsonQuoted("\xf4\x90\x80\x80"), quoted(kFffd + kFffd + kFffd + kFffd));
  EXPECT_EQ(JsonQuoted("x\xe2\x82"), quoted("x" + kFffd + kFffd));
  EXPECT_EQ(JsonQuoted("\xe2\x82x"), quoted(kFffd + kFffd + "x"));
  EXPECT_EQ(JsonQuoted("\x80\xc3\xbc"), quoted(kFffd + "\xc3\xbc"));
}

// What ReplaceLoneSurrogateEscapes gives, or "-" when it finds nothing to replace.
std::string Repaired(std::string_view json) {
  std::string out = "untouched";
  if (!ReplaceLoneSurrogateEscapes(json, &out)) {
    EXPECT_EQ(out, "untouched");
    return "-";
  }
  EXPECT_EQ(out.size(), json.size());
  return out;
}

TEST(Utf8Test, LoneSurrogateEscapesInStringsAreReplaced) {
  EXPECT_EQ(Repaired(R"({"a":"x\ud83d"})"), R"({"a":"x\ufffd"})");
  EXPECT_EQ(Repaired(R"(["\uDE00","\ud83d\u0041"])"), R"(["\ufffd","\ufffd\u0041"])");
  EXPECT_EQ(Repaired(R"(["\ud83d\ud83d\ude00"])"), R"(["\ufffd\ud83d\ude00"])");
  // Keys too: they are strings.
  EXPECT_EQ(Repaired(R"({"\udc00":1})"), R"({"\ufffd":1})");
}

TEST(Utf8Test, PairsOtherEscapesAndTextOutsideStringsAreLeft) {
  EXPECT_EQ(Repaired(R"({"a":"\ud83d\ude00 \u00e9 \n \\ud83d"})"), "-");  // "\\" escapes itself
  EXPECT_EQ(Repaired(R"({"a":"\"\ud83d\" is quoted"})"), R"({"a":"\"\ufffd\" is quoted"})");
  EXPECT_EQ(Repaired(R"(\ud83d {"a":1})"), "-");  // not in a string: the parser's to refuse
  EXPECT_EQ(Repaired(R"({"a":"\ud8)"), "-");      // cut short
  EXPECT_EQ(Repaired(""), "-");
}

}  // namespace
}  // namespace handoff
