#include "storage/coding.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace handoff::coding {
namespace {

// A string of n distinct-looking bytes, so a copy that drops or moves one shows.
std::string Bytes(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>('a' + (i * 7) % 26);
  }
  return s;
}

// Every field kind through both the std::string functions and a Writer: the same bytes. String
// lengths cover each of the Writer's copy paths (0, 1-3, 4-7, 8-16, longer, and a length whose
// varint takes two bytes); the total passes the Writer's growth step several times.
TEST(CodingWriterTest, WritesWhatThePutFunctionsWrite) {
  const uint64_t varints[] = {0,   1,        0x7f,       0x80,
                              300, 1u << 21, 0xffffffff, std::numeric_limits<uint64_t>::max()};
  std::string expected = "kept";  // bytes already there stay
  std::string written = "kept";
  {
    Writer w(&written);
    for (size_t n = 0; n <= 40; ++n) {
      const std::string s = Bytes(n);
      PutString(s, &expected);
      w.PutString(s);
      expected.push_back(static_cast<char>(n));
      w.PutByte(static_cast<uint8_t>(n));
    }
    for (uint64_t v : varints) {
      PutVarint(v, &expected);
      w.PutVarint(v);
      PutDouble(static_cast<double>(v) / 3, &expected);
      w.PutDouble(static_cast<double>(v) / 3);
    }
    const std::string big = Bytes(5000);  // more than a growth step at once
    PutString(big, &expected);
    w.PutString(big);
  }
  EXPECT_EQ(written, expected);
}

TEST(CodingWriterTest, ReadsBack) {
  std::string bytes;
  {
    Writer w(&bytes);
    w.PutString("lead-1");
    w.PutVarint(1'234'567);
    w.PutDouble(-2.5);
    w.PutByte(7);
  }
  std::string_view in = bytes;
  std::string s;
  uint64_t v = 0;
  double d = 0;
  uint8_t b = 0;
  ASSERT_TRUE(GetString(&in, &s));
  ASSERT_TRUE(GetVarint(&in, &v));
  ASSERT_TRUE(GetDouble(&in, &d));
  ASSERT_TRUE(GetByte(&in, &b));
  EXPECT_EQ(s, "lead-1");
  EXPECT_EQ(v, 1'234'567u);
  EXPECT_EQ(d, -2.5);
  EXPECT_EQ(b, 7);
  EXPECT_TRUE(in.empty());
}

// The string holds exactly what was written once the Writer is gone, whether or not it grew,
// and a Writer that writes nothing leaves it as it was.
TEST(CodingWriterTest, TrimsTheRoomItMade) {
  std::string bytes = "abc";
  { Writer w(&bytes); }
  EXPECT_EQ(bytes, "abc");
  {
    Writer w(&bytes);
    w.PutByte('d');
  }
  EXPECT_EQ(bytes, "abcd");
  bytes.reserve(4096);  // room already there: still trimmed to what was written
  {
    Writer w(&bytes);
    w.PutDouble(1.0);
  }
  EXPECT_EQ(bytes.size(), 12u);
}

}  // namespace
}  // namespace handoff::coding
