#include "handoff/value.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <utility>

namespace handoff {
namespace {

TEST(ValueTest, ObjectSetKeepsInsertionOrderAndReplacesInPlace) {
  Value v = Value::MakeObject();
  v.Set("b", Value::Number(1));
  v.Set("a", Value::String("x"));
  v.Set("b", Value::Bool(true));
  EXPECT_EQ(v.ToJson(), R"({"b":true,"a":"x"})");
  EXPECT_TRUE(v.Erase("b"));
  EXPECT_FALSE(v.Erase("b"));
  EXPECT_EQ(v.ToJson(), R"({"a":"x"})");
}

// The parser overwrites recycled events' strings in place: the string's storage is reused, and
// any other kind becomes a string.
TEST(ValueTest, AssignStringReusesAStringsStorage) {
  Value v = Value::String(std::string(64, 'a'));
  const char* storage = v.as_string().data();
  v.AssignString("https://example.com/pricing");
  EXPECT_EQ(v.as_string(), "https://example.com/pricing");
  EXPECT_EQ(v.as_string().data(), storage);

  Value n = Value::Number(3);
  n.AssignString("x");
  ASSERT_TRUE(n.is_string());
  EXPECT_EQ(n.ToJson(), R"("x")");
  Value o = Value::MakeObject();
  o.Set("k", Value::Bool(true));
  o.AssignString("");
  ASSERT_TRUE(o.is_string());
  EXPECT_EQ(o.as_string(), "");
}

TEST(ValueTest, NumbersPrintShortestRoundTrip) {
  for (double d : {45.0, 93.2, 0.1 + 0.2, 1e21, -3.5, 123456789.123456789, 5e-324}) {
    std::string s = Value::Number(d).ToJson();
    EXPECT_EQ(std::strtod(s.c_str(), nullptr), d) << s;
  }
  EXPECT_EQ(Value::Number(45).ToJson(), "45");
  EXPECT_EQ(Value::Number(1.0 / 0.0).ToJson(), "null");
}

// Exponent form only where digits would run long: 100000 (a won amount, a trait, a count) came
// out as "1e+05", one character shorter, and a reader that maps integers to an integer type
// refuses that.
TEST(ValueTest, NumbersAvoidExponentsWhereDigitsReadBetter) {
  const std::pair<double, const char*> cases[] = {
      {100000, "100000"},
      {-1000000, "-1000000"},
      {1764547200000, "1764547200000"},
      {9999999999999998, "9999999999999998"},
      {1e16, "1e+16"},
      {1e21, "1e+21"},
      {123456.789, "123456.789"},
      {0.1 + 0.2, "0.30000000000000004"},
      {0.0001, "0.0001"},
      {0.00001, "0.00001"},
      {1.5e-7, "1.5e-07"},
      {-0.0, "0"},
  };
  for (const auto& [d, text] : cases) {
    EXPECT_EQ(Value::Number(d).ToJson(), text);
  }
  // Every form still reads back as the same double.
  std::mt19937_64 rng(47);
  for (int i = 0; i < 100000; ++i) {
    double d = 0;
    const uint64_t bits = rng();
    std::memcpy(&d, &bits, sizeof d);
    if (i % 2 == 0) {
      d = std::ldexp(static_cast<double>(bits >> 11), static_cast<int>(rng() % 100) - 80);
    }
    if (!std::isfinite(d)) {
      continue;
    }
    const std::string s = Value::Number(d).ToJson();
    EXPECT_EQ(std::strtod(s.c_str(), nullptr), d) << s;
  }
}

TEST(ValueTest, StringsEscape) {
  EXPECT_EQ(Value::String("a\"b\\c\n\x01").ToJson(), "\"a\\\"b\\\\c\\n\\u0001\"");
}

TEST(ValueTest, JsonQuotedEscapesEveryByteAtEveryPlaceOfALongString) {
  // The scan takes sixteen bytes a step (SSE2): each byte value, at each place of strings that
  // span several steps and a tail, is escaped exactly as this byte-at-a-time reference does.
  auto reference = [](std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\"";
    for (char c : s) {
      const auto u = static_cast<unsigned char>(c);
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        default:
          if (u < 0x20) {
            out += "\\u00";
            out += kHex[u >> 4];
            out += kHex[u & 0xf];
          } else if (u >= 0x80) {
            out += "\xEF\xBF\xBD";  // alone among ASCII, no byte over 0x7f is UTF-8
          } else {
            out += c;
          }
      }
    }
    return out + "\"";
  };
  for (size_t length : {15U, 16U, 17U, 31U, 33U, 47U}) {
    for (size_t place = 0; place < length; ++place) {
      for (int byte = 0; byte < 256; ++byte) {
        std::string s(length, 'x');
        s[place] = static_cast<char>(byte);
        ASSERT_EQ(JsonQuoted(s), reference(s))
            << "length " << length << " place " << place << " byte " << byte;
      }
    }
  }
  const std::string quotes(40, '"');
  EXPECT_EQ(JsonQuoted(quotes), reference(quotes));
  const std::string mixed = "0123456789abcde\"\x01\\" + std::string(30, 'z') + "\n";
  EXPECT_EQ(JsonQuoted(mixed), reference(mixed));
}

TEST(ValueTest, JsonQuotedIsTheStringLiteral) {
  EXPECT_EQ(JsonQuoted(""), "\"\"");
  EXPECT_EQ(JsonQuoted("plain"), "\"plain\"");
  EXPECT_EQ(JsonQuoted("a\"b\\c\n\r\t\b\f\x01\x1f"), R"("a\"b\\c\n\r\t\b\f\u0001\u001f")");
  EXPECT_EQ(JsonQuoted("caf\xc3\xa9"), "\"caf\xc3\xa9\"");  // UTF-8 passes through
  std::string appended = "x=";
  AppendJsonString("a\"b", &appended);
  EXPECT_EQ(appended, "x=" + JsonQuoted("a\"b"));
}

// JSON text is UTF-8: characters of every length pass unchanged wherever they fall against the
// sixteen-byte steps, and each byte that starts no character becomes U+FFFD (strings from a
// percent-decoded path or a rule file need not be UTF-8).
TEST(ValueTest, JsonQuotedKeepsUtf8AndReplacesEveryOtherByte) {
  const std::string kFffd = "\xEF\xBF\xBD";
  for (const std::string& ch :
       {std::string("\xc3\xa9"), std::string("\xe2\x82\xac"), std::string("\xf0\x9f\x98\x80")}) {
    for (size_t place = 0; place < 40; ++place) {
      std::string s(40, 'x');
      s.insert(place, ch);
      EXPECT_EQ(JsonQuoted(s), "\"" + s + "\"") << place;
      // The same character cut short by the string's end or by the next byte.
      const std::string cut = s.substr(0, place + ch.size() - 1);
      EXPECT_EQ(
          JsonQuoted(cut), "\"" + cut.substr(0, place) +
                               [&] {
                                 std::string r;
                                 for (size_t k = 1; k < ch.size(); ++k) {
                                   r += kFffd;
                                 }
                                 return r;
                               }() +
                               "\"")
          << place;
    }
  }
  EXPECT_EQ(JsonQuoted("a\xff\"b"), "\"a" + kFffd + "\\\"b\"");
  EXPECT_EQ(JsonQuoted("\xed\xa0\x80"), "\"" + kFffd + kFffd + kFffd + "\"");  // a surrogate
  EXPECT_EQ(JsonQuoted("\xc0\xaf"), "\"" + kFffd + kFffd + "\"");              // overlong '/'
  EXPECT_EQ(JsonQuoted("\x80\xc3\xa9"), "\"" + kFffd + "\xc3\xa9\"");  // a stray continuation
}

TEST(ValueTest, EqualityIsStructural) {
  Value a = Value::MakeObject();
  a.Set("x", Value::Number(1));
  a.Set("y", Value::MakeArray({Value::Null(), Value::String("s")}));
  Value b = Value::MakeObject();
  b.Set("y", Value::MakeArray({Value::Null(), Value::String("s")}));
  b.Set("x", Value::Number(1.0));
  EXPECT_EQ(a, b);
  b.Set("x", Value::String("1"));
  EXPECT_FALSE(a == b);
}

}  // namespace
}  // namespace handoff
