#include "storage/lead_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "base/json_parser.h"
#include "ingest/event_parser.h"
#include "scoring/traits.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

constexpr EpochSeconds kT0 = 1'800'000'000.25;
constexpr double kInf = std::numeric_limits<double>::infinity();

// Traits holding every Value type, nested, with awkward strings.
Value EveryKindOfTrait() {
  Value company = Value::MakeObject();
  company.Set("id", Value::String("acme"));
  company.Set("employees", Value::Number(300));
  company.Set("tags", Value::MakeArray());
  Value traits = Value::MakeObject();
  traits.Set("email", Value::String("ann@acme.com"));
  traits.Set("nothing", Value::Null());
  traits.Set("yes", Value::Bool(true));
  traits.Set("no", Value::Bool(false));
  traits.Set("zero", Value::Number(0));
  traits.Set("negative", Value::Number(-12.5));
  traits.Set("tiny", Value::Number(5e-324));
  traits.Set("huge", Value::Number(1.7976931348623157e308));
  traits.Set("empty", Value::String(""));
  traits.Set("binary", Value::String(std::string("a\0b\xff\x80", 5)));
  traits.Set("unicode", Value::String("Zoë – 東京"));
  traits.Set("list",
             Value::MakeArray({Value::Number(1), Value::String("two"), Value::Null(),
                               Value::MakeArray({Value::Bool(false)}), Value::MakeObject()}));
  traits.Set("company", company);
  traits.Set("", Value::String("empty key"));
  return traits;
}

LeadState FullLead() {
  LeadState lead;
  lead.id = "u-42";
  lead.stage = "sql";
  lead.traits = EveryKindOfTrait();
  lead.first_seen = kT0 - 86400;
  lead.last_seen = kT0;
  lead.events = 123'456'789'012;
  RuleAward capped;
  capped.rule_id = "pricing_page";
  capped.value = 12.5;
  capped.latest = kT0 - 10;
  capped.awarded = true;
  capped.half_life = 14 * 86400.0;
  capped.cap_per = 86400.0;
  capped.windows = {{std::numeric_limits<int64_t>::min(), 1},
                    {-3, 2.5},
                    {0, 0},
                    {20'000, 30},
                    {std::numeric_limits<int64_t>::max(), 1e9}};
  lead.awards.push_back(capped);
  RuleAward never;  // latest is -infinity before the first award
  never.rule_id = "never_fired";
  lead.awards.push_back(never);
  RuleAward negative;
  negative.rule_id = "unsubscribed";
  negative.value = -50;
  negative.latest = kT0;
  negative.awarded = true;
  negative.cap_per = 0;  // awarded while the rule had no cap
  lead.awards.push_back(negative);
  LeadOwner owner;
  owner.rep = "alice";
  owner.team = "enterprise";
  owner.seq = std::numeric_limits<uint64_t>::max();
  owner.accepted = true;
  owner.routed_at = kT0 - 3600;
  owner.reassignments = std::numeric_limits<uint32_t>::max();
  owner.held_by = {"bob", "", "alice"};
  owner.closed = true;
  owner.outcome = "won";
  lead.owner = owner;
  lead.history = {{"kim@acme.com", 912}, {"anon-42", 17}};
  return lead;
}

std::string Encode(const LeadState& lead) {
  std::string bytes;
  EncodeLeadState(lead, &bytes);
  return bytes;
}

// Every field, compared one by one so a failure names the field.
void ExpectSameLead(const LeadState& got, const LeadState& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.stage, want.stage);
  EXPECT_EQ(got.traits, want.traits);
  EXPECT_EQ(got.traits.ToJson(), want.traits.ToJson());  // member order kept too
  EXPECT_EQ(got.first_seen, want.first_seen);
  EXPECT_EQ(got.last_seen, want.last_seen);
  EXPECT_EQ(got.events, want.events);
  ASSERT_EQ(got.awards.size(), want.awards.size());
  for (size_t i = 0; i < want.awards.size(); ++i) {
    SCOPED_TRACE("award " + std::to_string(i));
    const RuleAward& g = got.awards[i];
    const RuleAward& w = want.awards[i];
    EXPECT_EQ(g.rule_id, w.rule_id);
    EXPECT_EQ(g.value, w.value);
    EXPECT_EQ(g.latest, w.latest);
    EXPECT_EQ(g.awarded, w.awarded);
    EXPECT_EQ(g.half_life, w.half_life);
    EXPECT_EQ(g.cap_per, w.cap_per);
    ASSERT_EQ(g.windows.size(), w.windows.size());
    for (size_t j = 0; j < w.windows.size(); ++j) {
      EXPECT_EQ(g.windows[j].window, w.windows[j].window) << j;
      EXPECT_EQ(g.windows[j].used, w.windows[j].used) << j;
    }
  }
  ASSERT_EQ(got.owner.has_value(), want.owner.has_value());
  if (want.owner.has_value()) {
    EXPECT_EQ(got.owner->rep, want.owner->rep);
    EXPECT_EQ(got.owner->team, want.owner->team);
    EXPECT_EQ(got.owner->seq, want.owner->seq);
    EXPECT_EQ(got.owner->accepted, want.owner->accepted);
    EXPECT_EQ(got.owner->routed_at, want.owner->routed_at);
    EXPECT_EQ(got.owner->reassignments, want.owner->reassignments);
    EXPECT_EQ(got.owner->held_by, want.owner->held_by);
    EXPECT_EQ(got.owner->closed, want.owner->closed);
    EXPECT_EQ(got.owner->outcome, want.owner->outcome);
  }
  ASSERT_EQ(got.history.size(), want.history.size());
  for (size_t i = 0; i < want.history.size(); ++i) {
    EXPECT_EQ(got.history[i].lead, want.history[i].lead) << i;
    EXPECT_EQ(got.history[i].head, want.history[i].head) << i;
  }
}

void ExpectRoundTrip(const LeadState& lead) {
  const std::string bytes = Encode(lead);
  LeadState back;
  ASSERT_OK(DecodeLeadState(bytes, &back));
  ExpectSameLead(back, lead);
  EXPECT_EQ(Encode(back), bytes);
}

TEST(LeadCodecTest, FullLeadRoundTrips) { ExpectRoundTrip(FullLead()); }

TEST(LeadCodecTest, DefaultLeadRoundTrips) {
  LeadState lead;
  lead.id = "u1";
  ExpectRoundTrip(lead);
  LeadState back;
  ASSERT_OK(DecodeLeadState(Encode(lead), &back));
  EXPECT_EQ(back.stage, "new");
  EXPECT_TRUE(back.traits.is_object());
  EXPECT_FALSE(back.owner.has_value());
}

TEST(LeadCodecTest, OpenOwnerWithoutHistoryRoundTrips) {
  LeadState lead;
  lead.id = "u1";
  LeadOwner owner;
  owner.rep = "alice";
  owner.seq = 1;
  lead.owner = owner;
  ExpectRoundTrip(lead);
}

// The owner of a lead merged into another: closed with outcome "merged".
TEST(LeadCodecTest, ClosedAsMergedRoundTrips) {
  LeadState lead = FullLead();
  lead.owner->outcome = "merged";
  lead.owner->accepted = false;
  ExpectRoundTrip(lead);
}

// Traits need not be an object on disk: whatever Value the engine holds comes back.
TEST(LeadCodecTest, NonObjectTraitsRoundTrip) {
  for (const Value& traits : {Value::Null(), Value::Bool(true), Value::Number(3),
                              Value::String("x"), Value::MakeArray({Value::Null()})}) {
    LeadState lead;
    lead.id = "u";
    lead.traits = traits;
    ExpectRoundTrip(lead);
  }
}

TEST(LeadCodecTest, LongStringsAndManyEntries) {
  LeadState lead;
  lead.id = std::string(100'000, 'i');  // a multi-byte length prefix
  lead.stage = std::string(200, 's');
  for (int i = 0; i < 300; ++i) {
    lead.traits.Set("k" + std::to_string(i), Value::Number(i));
    RuleAward award;
    award.rule_id = "rule_" + std::to_string(i);
    award.value = i;
    award.latest = kT0 + i;
    award.windows.push_back(CapWindow{i, static_cast<double>(i)});
    lead.awards.push_back(award);
  }
  ExpectRoundTrip(lead);
}

// Doubles travel as bit patterns: -0, infinities and NaN come back as they went.
TEST(LeadCodecTest, SpecialDoublesKeepTheirBits) {
  LeadState lead;
  lead.id = "u";
  lead.first_seen = -0.0;
  lead.last_seen = kInf;
  RuleAward award;
  award.rule_id = "r";
  award.value = std::numeric_limits<double>::quiet_NaN();
  award.latest = -kInf;
  lead.awards.push_back(award);
  lead.traits.Set("nan", Value::Number(std::numeric_limits<double>::quiet_NaN()));
  const std::string bytes = Encode(lead);
  LeadState back;
  ASSERT_OK(DecodeLeadState(bytes, &back));
  EXPECT_TRUE(std::signbit(back.first_seen));
  EXPECT_EQ(back.last_seen, kInf);
  EXPECT_TRUE(std::isnan(back.awards[0].value));
  EXPECT_EQ(back.awards[0].latest, -kInf);
  EXPECT_TRUE(std::isnan(back.traits.Find("nan")->as_number()));
  EXPECT_EQ(Encode(back), bytes);
}

// Decoding fills the whole state: nothing of what *lead held before survives.
TEST(LeadCodecTest, DecodeReplacesThePreviousState) {
  LeadState lead;
  lead.id = "small";
  LeadState back = FullLead();
  ASSERT_OK(DecodeLeadState(Encode(lead), &back));
  ExpectSameLead(back, lead);
}

// The first byte is the format version (4; 1 to 3 still read). Any other is refused, not guessed
// at.
TEST(LeadCodecTest, UnknownVersionIsCorruption) {
  std::string bytes = Encode(FullLead());
  ASSERT_EQ(bytes[0], '\x04');
  for (int version : {0, 5, 0x7f, 0x80, 0xff}) {
    bytes[0] = static_cast<char>(version);
    LeadState back;
    EXPECT_EQ(DecodeLeadState(bytes, &back).code(), Status::Code::kCorruption) << version;
  }
}

// Versions 1 (before history chains), 2 (before half-lives) and 3 (before caps' windows' `per`)
// still read: the same fields, no chains in 1, every half-life and `per` not known (-1).
TEST(LeadCodecTest, VersionsOneToThreeStillDecode) {
  LeadState lead = FullLead();
  lead.history.clear();
  std::string bytes = Encode(lead);
  bytes.resize(bytes.size() - 8 * lead.awards.size());  // version 3 ends after the half-lives
  bytes[0] = '\x03';
  for (RuleAward& a : lead.awards) {
    a.cap_per = -1;
  }
  LeadState back;
  ASSERT_OK(DecodeLeadState(bytes, &back));
  ExpectSameLead(back, lead);
  bytes.resize(bytes.size() - 8 * lead.awards.size());  // version 2 ends after the chains
  bytes[0] = '\x02';
  for (RuleAward& a : lead.awards) {
    a.half_life = -1;
  }
  ASSERT_OK(DecodeLeadState(bytes, &back));
  ExpectSameLead(back, lead);
  bytes[0] = '\x01';
  bytes.pop_back();  // version 1 ends after the owner: drop the empty chain count
  ASSERT_OK(DecodeLeadState(bytes, &back));
  ExpectSameLead(back, lead);
}

TEST(LeadCodecTest, EmptyInputIsCorruption) {
  LeadState back;
  EXPECT_EQ(DecodeLeadState("", &back).code(), Status::Code::kCorruption);
}

// Every proper prefix of a valid encoding is Corruption: the format has no optional tail.
TEST(LeadCodecTest, EveryTruncationIsCorruption) {
  for (const LeadState& lead : {FullLead(), LeadState()}) {
    const std::string bytes = Encode(lead);
    for (size_t n = 0; n < bytes.size(); ++n) {
      // A copy of exactly n bytes, so a read past it is caught by sanitizers.
      const std::string prefix = bytes.substr(0, n);
      LeadState back;
      EXPECT_EQ(DecodeLeadState(prefix, &back).code(), Status::Code::kCorruption)
          << "prefix of " << n << " of " << bytes.size() << " bytes";
    }
  }
}

TEST(LeadCodecTest, TrailingBytesAreCorruption) {
  for (const std::string& tail : {std::string(1, '\0'), std::string("x"), Encode(FullLead())}) {
    LeadState back;
    EXPECT_EQ(DecodeLeadState(Encode(FullLead()) + tail, &back).code(), Status::Code::kCorruption);
  }
}

// Counts larger than the input can hold are refused before anything is allocated for them.
TEST(LeadCodecTest, HugeCountsAreCorruptionNotAllocations) {
  const std::string max_varint = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01";
  LeadState back;
  // A huge id length.
  EXPECT_EQ(DecodeLeadState("\x01" + max_varint, &back).code(), Status::Code::kCorruption);
  // A huge number of awards after an otherwise valid header.
  LeadState lead;
  std::string bytes = Encode(lead);
  // The empty lead ends: ... u64 events (0), varint awards (0), u8 has_owner (0).
  ASSERT_EQ(bytes.substr(bytes.size() - 3), std::string(3, '\0'));
  std::string huge_awards = bytes.substr(0, bytes.size() - 2) + max_varint + '\0';
  EXPECT_EQ(DecodeLeadState(huge_awards, &back).code(), Status::Code::kCorruption);
  // A huge array inside the traits.
  std::string value = "\x04" + max_varint;
  Value v;
  std::string_view in = value;
  EXPECT_FALSE(DecodeValue(&in, &v));
}

// A varint may not run on past 64 bits' worth of bytes.
TEST(LeadCodecTest, OverlongVarintIsCorruption) {
  LeadState back;
  EXPECT_EQ(DecodeLeadState("\x01" + std::string(20, '\x80') + "\x00", &back).code(),
            Status::Code::kCorruption);
}

// Found by fuzz/lead_codec_fuzzer.cc: an object with a key twice decoded into a Value that broke
// its own contract (unique keys): Find and Set saw only the first copy and the lead's JSON
// carried the key twice. Encoded objects never repeat a key, so it is corruption.
TEST(LeadCodecTest, ObjectWithARepeatedKeyIsCorruption) {
  // {"a": null, "a": true}: object tag, 2 members, "a" null, "a" bool true.
  const std::string twice(
      "\x05\x02\x01"
      "a"
      "\x00\x01"
      "a"
      "\x01\x01",
      9);
  std::string_view in = twice;
  Value v;
  EXPECT_FALSE(DecodeValue(&in, &v));
  // The same under a lead's traits, and in a large object (the sorted check).
  LeadState lead;
  lead.traits = Value::MakeObject({{"x", Value::Null()}});
  std::string bytes = Encode(lead);
  std::string encoded_traits;
  EncodeValue(lead.traits, &encoded_traits);
  const size_t at = bytes.find(encoded_traits);
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, encoded_traits.size(), twice);
  LeadState back;
  EXPECT_EQ(DecodeLeadState(bytes, &back).code(), Status::Code::kCorruption);

  Value::Object big;
  for (int i = 0; i < 40; ++i) {
    big.emplace_back("k" + std::to_string(i), Value::Number(i));
  }
  std::string big_bytes;
  EncodeValue(Value::MakeObject(big), &big_bytes);
  in = big_bytes;
  ASSERT_TRUE(DecodeValue(&in, &v));  // 40 distinct keys decode
  big.back().first = "k7";
  big_bytes.clear();
  EncodeValue(Value::MakeObject(std::move(big)), &big_bytes);
  in = big_bytes;
  EXPECT_FALSE(DecodeValue(&in, &v));
}

TEST(LeadCodecTest, UnknownValueTypeIsRejected) {
  for (int tag : {6, 7, 0x80, 0xff}) {
    std::string bytes(1, static_cast<char>(tag));
    std::string_view in = bytes;
    Value v;
    EXPECT_FALSE(DecodeValue(&in, &v)) << tag;
  }
}

TEST(LeadCodecTest, ValueRoundTripsAloneAndConsumesExactlyItsBytes) {
  const Value traits = EveryKindOfTrait();
  std::string bytes;
  EncodeValue(traits, &bytes);
  bytes += "rest";
  std::string_view in = bytes;
  Value back;
  ASSERT_TRUE(DecodeValue(&in, &back));
  EXPECT_EQ(back, traits);
  EXPECT_EQ(in, "rest");
}

// Nesting in stored bytes is bounded: a long run of one-element arrays is refused, without
// recursing once per byte (which would overflow the stack long before the input ends).
TEST(LeadCodecTest, AbsurdNestingIsRefusedWithoutRecursingThroughIt) {
  std::string bytes;
  for (int i = 0; i < 1'000'000; ++i) {
    bytes += "\x04\x01";  // an array of one element, that element next
  }
  bytes += '\0';  // null, at the bottom
  std::string_view in = bytes;
  Value v;
  EXPECT_FALSE(DecodeValue(&in, &v));
  LeadState back;
  EXPECT_EQ(DecodeLeadState("\x01\x01u\x03new" + bytes, &back).code(), Status::Code::kCorruption);
}

Value Nested(int containers) {
  Value v = Value::String("bottom");
  for (int i = 0; i < containers; ++i) {
    v = (i % 2 == 0) ? Value::MakeArray({std::move(v)}) : Value::MakeObject({{"k", std::move(v)}});
  }
  return v;
}

// Whatever traits an accepted event can give a lead must survive the store. The JSON readers
// accept documents nested kMaxJsonDepth containers deep, the event object being the first. A
// group event's traits merge into traits.company, so a trait value nested as deep as the parser
// allows ends up kMaxJsonDepth - 2 containers below traits.company.
TEST(LeadCodecTest, TraitsAsDeepAsAnyAcceptedEventRoundTrip) {
  LeadState lead;
  lead.id = "deep";
  Value company = Value::MakeObject();
  company.Set("deep", Nested(kMaxJsonDepth - 2));
  lead.traits = Value::MakeObject();
  lead.traits.Set("company", std::move(company));
  ExpectRoundTrip(lead);
}

std::string NestedJson(int containers) {
  std::string json = "1";
  for (int i = 0; i < containers; ++i) {
    json = (i % 2 == 0) ? "[" + json + "]" : "{\"k\":" + json + "}";
  }
  return json;
}

// The same, end to end: the deepest identify and group events the parser accepts, applied to a
// lead as the engine applies them, then stored and read back.
TEST(LeadCodecTest, DeepestAcceptedIdentifyAndGroupTraitsRoundTrip) {
  EventParser parser;
  // The event object is depth 1 and its traits depth 2, so a trait value may nest
  // kMaxJsonDepth - 2 containers deep.
  const std::string deepest = NestedJson(kMaxJsonDepth - 2);
  for (const std::string& json :
       {R"({"type":"identify","userId":"u1","traits":{"deep":)" + deepest + "}}",
        R"({"type":"group","userId":"u1","groupId":"acme","traits":{"deep":)" + deepest + "}}"}) {
    SCOPED_TRACE(json.substr(0, 40));
    Event event;
    ParseError err;
    ASSERT_TRUE(parser.Parse(json, &event, &err)) << err.message;
    // One level deeper is refused, so this is as deep as traits get.
    const std::string too_deep = json.substr(0, json.rfind(deepest)) + "[" + deepest + "]}}";
    Event rejected;
    EXPECT_FALSE(parser.Parse(too_deep, &rejected, &err));

    LeadState lead;
    lead.id = "u1";
    ASSERT_TRUE(ApplyEventTraits(event, &lead.traits));
    ExpectRoundTrip(lead);
  }
}

// Random bytes never crash the decoder, and every refusal is Corruption.
TEST(LeadCodecTest, RandomBytesNeverCrash) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 200);
  for (int i = 0; i < 20'000; ++i) {
    std::string bytes(length(rng), '\0');
    for (char& c : bytes) {
      c = static_cast<char>(byte(rng));
    }
    if (i % 2 == 0 && !bytes.empty()) {
      bytes[0] = '\x04';  // past the version check, into the fields
    }
    LeadState back;
    const Status st = DecodeLeadState(bytes, &back);
    EXPECT_TRUE(st.ok() || st.code() == Status::Code::kCorruption) << st.ToString();
  }
}

// A valid encoding with bytes flipped: the decoder either refuses it as Corruption or returns a
// lead that encodes back to exactly those bytes (it read every byte as something).
TEST(LeadCodecTest, CorruptedBytesNeverCrash) {
  const std::string good = Encode(FullLead());
  std::mt19937 rng(99);
  std::uniform_int_distribution<size_t> pos(0, good.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  int refused = 0;
  for (int i = 0; i < 20'000; ++i) {
    std::string bytes = good;
    const int flips = 1 + i % 4;
    for (int f = 0; f < flips; ++f) {
      bytes[pos(rng)] = static_cast<char>(byte(rng));
    }
    LeadState back;
    const Status st = DecodeLeadState(bytes, &back);
    if (st.ok()) {
      // Bools decode as "not zero", so re-encoding may normalize them; everything else is exact.
      LeadState again;
      ASSERT_OK(DecodeLeadState(Encode(back), &again));
      EXPECT_EQ(Encode(again), Encode(back));
    } else {
      EXPECT_EQ(st.code(), Status::Code::kCorruption) << st.ToString();
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace handoff
