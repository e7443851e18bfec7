#include "outbox/stored_record.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>

namespace handoff {
namespace {

std::string Encode(OutboxKind kind, std::string_view rep, std::string_view team,
                   std::string_view json) {
  OutboxRecord record;
  record.kind = kind;
  record.rep = rep;
  record.team = team;
  std::string out;
  EncodeStoredRecord(record, json, &out);
  return out;
}

// The bytes are on disk: pin them, so a change of layout is a deliberate format change.
TEST(StoredRecordTest, LayoutIsFormatKindSizedRepSizedTeamJson) {
  EXPECT_EQ(Encode(OutboxKind::kAccepted, "bob", "", "{}"), std::string("\x01\x03"
                                                                        "\x03\x00\x00\x00"
                                                                        "bob"
                                                                        "\x00\x00\x00\x00"
                                                                        "{}",
                                                                        15));
  // Sizes are little-endian u32.
  const std::string rep(0x0102, 'r');
  const std::string stored = Encode(OutboxKind::kStage, rep, "", "");
  ASSERT_GE(stored.size(), 6u);
  EXPECT_EQ(stored.substr(2, 4), std::string("\x02\x01\x00\x00", 4));
}

TEST(StoredRecordTest, EncodeAppends) {
  std::string out = "prefix";
  OutboxRecord record;
  record.kind = OutboxKind::kRouted;
  EncodeStoredRecord(record, "{}", &out);
  EXPECT_EQ(out.substr(0, 6), "prefix");
  RecordHeader header;
  std::string_view json;
  ASSERT_TRUE(DecodeStoredRecord(std::string_view(out).substr(6), &header, &json));
  EXPECT_EQ(header.kind, OutboxKind::kRouted);
  EXPECT_EQ(json, "{}");
}

TEST(StoredRecordTest, EveryKindRoundTrips) {
  for (int k = 0; k < kOutboxKindCount; ++k) {
    const auto kind = static_cast<OutboxKind>(k);
    const std::string stored = Encode(kind, "alice", "enterprise", R"({"seq":1})");
    RecordHeader header;
    std::string_view json;
    ASSERT_TRUE(DecodeStoredRecord(stored, &header, &json)) << k;
    EXPECT_EQ(header.kind, kind);
    EXPECT_EQ(header.rep, "alice");
    EXPECT_EQ(header.team, "enterprise");
    EXPECT_EQ(json, R"({"seq":1})");
  }
}

TEST(StoredRecordTest, EmptyRepTeamAndJson) {
  const std::string stored = Encode(OutboxKind::kStage, "", "", "");
  EXPECT_EQ(stored.size(), 10u);
  RecordHeader header;
  header.rep = "stale";
  header.team = "stale";
  std::string_view json = "stale";
  ASSERT_TRUE(DecodeStoredRecord(stored, &header, &json));
  EXPECT_EQ(header.kind, OutboxKind::kStage);
  EXPECT_EQ(header.rep, "");
  EXPECT_EQ(header.team, "");
  EXPECT_EQ(json, "");
}

// Sizes past one and two bytes, so every byte of the u32 matters.
TEST(StoredRecordTest, LongRepAndTeam) {
  std::string rep(300, 'a');
  rep[0] = 'A';
  rep[299] = 'Z';
  std::string team(70'000, 't');
  team[69'999] = '!';
  const std::string stored = Encode(OutboxKind::kReassigned, rep, team, "{\"x\":1}");
  RecordHeader header;
  std::string_view json;
  ASSERT_TRUE(DecodeStoredRecord(stored, &header, &json));
  EXPECT_EQ(header.rep, rep);
  EXPECT_EQ(header.team, team);
  EXPECT_EQ(json, "{\"x\":1}");
}

// Rep, team and JSON may hold any bytes, including ones that look like a header: the sizes, not
// the contents, delimit them.
TEST(StoredRecordTest, ContentsThatLookLikeHeaderBytes) {
  const std::string rep("\x01\x05\x00\x00", 4);
  const std::string team("\xff\xff\xff\xff", 4);
  const std::string json = Encode(OutboxKind::kClosed, "nested", "record", "{\"\x01\x07\":\"\"}");
  const std::string stored = Encode(OutboxKind::kUnrouted, rep, team, json);
  RecordHeader header;
  std::string_view decoded_json;
  ASSERT_TRUE(DecodeStoredRecord(stored, &header, &decoded_json));
  EXPECT_EQ(header.kind, OutboxKind::kUnrouted);
  EXPECT_EQ(header.rep, rep);
  EXPECT_EQ(header.team, team);
  EXPECT_EQ(decoded_json, json);
}

// The header's views point into the stored bytes (no copies), as the header promises.
TEST(StoredRecordTest, ViewsPointIntoTheStoredBytes) {
  const std::string stored = Encode(OutboxKind::kRouted, "rep", "team", "{}");
  RecordHeader header;
  std::string_view json;
  ASSERT_TRUE(DecodeStoredRecord(stored, &header, &json));
  const char* begin = stored.data();
  const char* end = stored.data() + stored.size();
  EXPECT_TRUE(header.rep.data() >= begin && header.rep.data() + header.rep.size() <= end);
  EXPECT_TRUE(header.team.data() >= begin && header.team.data() + header.team.size() <= end);
  EXPECT_EQ(json.data() + json.size(), end);
}

TEST(StoredRecordTest, RejectsEmptyAndTooShort) {
  RecordHeader header;
  std::string_view json;
  EXPECT_FALSE(DecodeStoredRecord("", &header, &json));
  EXPECT_FALSE(DecodeStoredRecord(std::string("\x01", 1), &header, &json));
  EXPECT_FALSE(DecodeStoredRecord(std::string("\x01\x00", 2), &header, &json));
}

TEST(StoredRecordTest, RejectsUnknownFormat) {
  std::string stored = Encode(OutboxKind::kRouted, "a", "b", "{}");
  RecordHeader header;
  std::string_view json;
  ASSERT_TRUE(DecodeStoredRecord(stored, &header, &json));
  for (int format : {0, 2, 0x7f, 0x80, 0xff}) {
    stored[0] = static_cast<char>(format);
    EXPECT_FALSE(DecodeStoredRecord(stored, &header, &json)) << format;
  }
}

TEST(StoredRecordTest, RejectsKindOutOfRange) {
  std::string stored = Encode(OutboxKind::kUnrouted, "a", "b", "{}");
  RecordHeader header;
  std::string_view json;
  ASSERT_TRUE(DecodeStoredRecord(stored, &header, &json));
  for (int kind : {kOutboxKindCount, kOutboxKindCount + 1, 0x7f, 0x80, 0xff}) {
    stored[1] = static_cast<char>(kind);
    EXPECT_FALSE(DecodeStoredRecord(stored, &header, &json)) << kind;
  }
}

// Cut anywhere inside the header, the bytes are not a record. Past the header the JSON is simply
// shorter: the stored form has no JSON length (RocksDB keeps the value whole), so that cannot be
// told apart and is accepted as what it is.
TEST(StoredRecordTest, EveryTruncationOfTheHeaderIsRejected) {
  const std::string json = R"({"seq":7,"kind":"routed"})";
  const std::string stored = Encode(OutboxKind::kRouted, "alice", "emea", json);
  const size_t header_size = stored.size() - json.size();
  ASSERT_EQ(header_size, 2u + 4u + 5u + 4u + 4u);
  for (size_t n = 0; n < stored.size(); ++n) {
    // A copy of exactly n bytes, so reading past it is caught by sanitizers.
    const std::string prefix = stored.substr(0, n);
    RecordHeader header;
    std::string_view decoded;
    const bool ok = DecodeStoredRecord(prefix, &header, &decoded);
    if (n < header_size) {
      EXPECT_FALSE(ok) << "prefix of " << n << " bytes";
    } else {
      ASSERT_TRUE(ok) << "prefix of " << n << " bytes";
      EXPECT_EQ(decoded, json.substr(0, n - header_size));
    }
  }
}

TEST(StoredRecordTest, RejectsSizesPastTheEnd) {
  RecordHeader header;
  std::string_view json;
  // Rep size 5 with 4 bytes left.
  EXPECT_FALSE(DecodeStoredRecord(std::string("\x01\x00\x05\x00\x00\x00"
                                              "abcd",
                                              10),
                                  &header, &json));
  // Rep fine, team size larger than the rest.
  EXPECT_FALSE(DecodeStoredRecord(std::string("\x01\x00\x01\x00\x00\x00"
                                              "a"
                                              "\x02\x00\x00\x00"
                                              "b",
                                              12),
                                  &header, &json));
  // The largest u32 sizes: no overflow, no huge read.
  EXPECT_FALSE(DecodeStoredRecord(std::string("\x01\x00\xff\xff\xff\xff"
                                              "abc",
                                              9),
                                  &header, &json));
  EXPECT_FALSE(DecodeStoredRecord(std::string("\x01\x00\x00\x00\x00\x00"
                                              "\xff\xff\xff\xff",
                                              10),
                                  &header, &json));
  // A size field cut short.
  EXPECT_FALSE(DecodeStoredRecord(std::string("\x01\x00\x00\x00\x00\x00"
                                              "\x00\x00",
                                              8),
                                  &header, &json));
}

// Random bytes never crash the decoder; when it does accept them, what it returns lies inside
// the input and accounts for every byte.
TEST(StoredRecordTest, RandomBytesNeverCrash) {
  std::mt19937 rng(20240601);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 40);
  int accepted = 0;
  for (int i = 0; i < 20'000; ++i) {
    std::string bytes(length(rng), '\0');
    for (char& c : bytes) {
      c = static_cast<char>(byte(rng));
    }
    // Half the inputs start like a record with small sizes (which the rest may or may not
    // hold), so the size checks get exercised, not only the first two bytes.
    if (i % 2 == 0 && bytes.size() >= 6) {
      bytes[0] = '\x01';
      bytes[1] = static_cast<char>(i % kOutboxKindCount);
      bytes[2] = static_cast<char>(byte(rng) % 8);
      bytes[3] = bytes[4] = bytes[5] = '\0';
      const size_t team_size_at = 6 + static_cast<uint8_t>(bytes[2]);
      if (team_size_at + 4 <= bytes.size()) {
        bytes[team_size_at] = static_cast<char>(byte(rng) % 8);
        bytes[team_size_at + 1] = bytes[team_size_at + 2] = bytes[team_size_at + 3] = '\0';
      }
    }
    RecordHeader header;
    std::string_view json;
    if (DecodeStoredRecord(bytes, &header, &json)) {
      ++accepted;
      EXPECT_EQ(bytes.size(), 2 + 4 + header.rep.size() + 4 + header.team.size() + json.size());
      EXPECT_LT(static_cast<int>(header.kind), kOutboxKindCount);
    }
  }
  EXPECT_GT(accepted, 0);  // the biased half must sometimes decode, or the check above is idle
}

}  // namespace
}  // namespace handoff
