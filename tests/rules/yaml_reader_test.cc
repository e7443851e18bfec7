// Positions and scalar typing in rules/yaml_reader.cc.
#include "rules/yaml_reader.h"

#include <gtest/gtest.h>

namespace handoff::rules_internal {
namespace {

// Parses `text` (a one-key map) and returns the byte in `text` of byte `offset` of the value.
size_t ValueByte(const std::string& text, size_t offset) {
  SourceFile file("f.yaml", text);
  YAML::Node root = YAML::Load(text);
  YAML::Node value = root.begin()->second;
  return file.ScalarBytePos(value, offset);
}

TEST(YamlReaderTest, PlainScalarsMapOneToOne) {
  const std::string text = "a: hello world\n";
  EXPECT_EQ(ValueByte(text, 0), text.find("hello"));
  EXPECT_EQ(ValueByte(text, 6), text.find("world"));
  EXPECT_EQ(ValueByte(text, 11), text.find("\n"));  // the end: just past the last character
}

TEST(YamlReaderTest, DoubleQuotedEscapes) {
  // Value: a"\b then é (two bytes from one \u escape) then x.
  const std::string text = "a: \"a\\\"\\\\b\\u00e9x\"\n";
  EXPECT_EQ(ValueByte(text, 0), 4u);              // a
  EXPECT_EQ(ValueByte(text, 1), 5u);              // \" -> "
  EXPECT_EQ(ValueByte(text, 2), 7u);              // \\ -> backslash
  EXPECT_EQ(ValueByte(text, 3), 9u);              // b
  EXPECT_EQ(ValueByte(text, 4), 10u);             // first byte of é: the \u
  EXPECT_EQ(ValueByte(text, 5), 10u);             // second byte of é: the \u
  EXPECT_EQ(ValueByte(text, 6), text.find("x"));  // x
}

TEST(YamlReaderTest, MultiLineQuotedScalarsFold) {
  const std::string folded = "a: \"one\n  two\"\n";  // value "one two"
  EXPECT_EQ(ValueByte(folded, 4), folded.find("two"));
  const std::string escaped = "a: \"one\\\n  two\"\n";  // escaped line break: value "onetwo"
  EXPECT_EQ(ValueByte(escaped, 3), escaped.find("two"));
}

TEST(YamlReaderTest, SingleQuotedDoubledQuote) {
  const std::string text = "a: 'it''s x'\n";  // value: it's x
  EXPECT_EQ(ValueByte(text, 2), 6u);          // the quote: first of ''
  EXPECT_EQ(ValueByte(text, 5), text.find("x"));
}

TEST(YamlReaderTest, BlockScalarsMapToLaterLines) {
  const std::string literal = "a: |  # comment with x in it\n  first\n    second x\n";
  EXPECT_EQ(ValueByte(literal, 0), literal.find("first"));
  EXPECT_EQ(ValueByte(literal, 8), literal.find("second"));  // "first\n  second x"
  const std::string folded = "a: >-\n  one\n  two x\n";      // value: "one two x"
  EXPECT_EQ(ValueByte(folded, 4), folded.find("two"));
  EXPECT_EQ(ValueByte(folded, 8), folded.find("x"));
}

TEST(YamlReaderTest, TagsAndAnchorsAreSkipped) {
  const std::string tagged = "a: !!str abc\n";
  EXPECT_EQ(ValueByte(tagged, 1), tagged.find("bc"));
  const std::string anchored = "a: &anchor abc\n";
  EXPECT_EQ(ValueByte(anchored, 1), anchored.find("bc"));
}

TEST(YamlReaderTest, PositionsAreOneBasedCharacters) {
  SourceFile file("f.yaml", "ab\ncé\tx\n");
  EXPECT_EQ(file.PosAt(0).line, 1);
  EXPECT_EQ(file.PosAt(0).col, 1);
  EXPECT_EQ(file.PosAt(1).col, 2);
  EXPECT_EQ(file.PosAt(3).line, 2);
  EXPECT_EQ(file.PosAt(3).col, 1);
  EXPECT_EQ(file.PosAt(6).col, 3);  // the tab, after c and the two-byte é
  EXPECT_EQ(file.PosAt(7).col, 4);  // a tab is one column
  EXPECT_EQ(file.PosAt(1000).line, 3);
  EXPECT_EQ(file.PosAt(0).file, "f.yaml");
}

TEST(YamlReaderTest, ExplicitNullIsNotAnEmptyValue) {
  const std::string text = "a: ~\nb: null\nc:\nd: Null\nnull_key: 1\n";
  SourceFile file("f.yaml", text);
  YAML::Node root = YAML::Load(text);
  EXPECT_TRUE(file.IsExplicitNull(root["a"]));
  EXPECT_TRUE(file.IsExplicitNull(root["b"]));
  EXPECT_FALSE(file.IsExplicitNull(root["c"]));
  EXPECT_TRUE(file.IsExplicitNull(root["d"]));
}

TEST(YamlReaderTest, CoreSchemaNumbersAndBooleans) {
  EXPECT_EQ(ParseYamlNumber("1"), 1.0);
  EXPECT_EQ(ParseYamlNumber("-2.5"), -2.5);
  EXPECT_EQ(ParseYamlNumber("+3"), 3.0);
  EXPECT_EQ(ParseYamlNumber("1e3"), 1000.0);
  EXPECT_EQ(ParseYamlNumber(".5"), 0.5);
  EXPECT_EQ(ParseYamlNumber("1."), 1.0);
  EXPECT_EQ(ParseYamlNumber("0x1F"), 31.0);
  EXPECT_EQ(ParseYamlNumber("0xff"), 255.0);
  EXPECT_EQ(ParseYamlNumber("0o17"), 15.0);
  for (const char* bad : {"", "-", "1e", "1_000", ".inf", "abc", "1 2", "1e999", ".", "0x", "0o8",
                          "-0x10", "0xg", "0b101"}) {
    EXPECT_FALSE(ParseYamlNumber(bad).has_value()) << bad;
  }
  EXPECT_TRUE(std::isnan(*ParseYamlNonFinite(".NaN")));
  EXPECT_EQ(ParseYamlNonFinite("-.Inf"), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(ParseYamlNonFinite("+.INF"), std::numeric_limits<double>::infinity());
  for (const char* bad : {"inf", "-.nan", ".Nan", "1", ".infinity"}) {
    EXPECT_FALSE(ParseYamlNonFinite(bad).has_value()) << bad;
  }
  EXPECT_EQ(ParseYamlBool("True"), true);
  EXPECT_EQ(ParseYamlBool("FALSE"), false);
  EXPECT_FALSE(ParseYamlBool("yes").has_value());
  EXPECT_FALSE(ParseYamlBool("tRue").has_value());
}

TEST(YamlReaderTest, Slugs) {
  EXPECT_TRUE(IsSlug("pricing-page_2"));
  EXPECT_FALSE(IsSlug(""));
  EXPECT_FALSE(IsSlug("Pricing"));
  EXPECT_FALSE(IsSlug("a b"));
}

}  // namespace
}  // namespace handoff::rules_internal
