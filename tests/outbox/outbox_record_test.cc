#include "outbox/outbox_record.h"

#include <gtest/gtest.h>

#include <limits>
#include <set>
#include <string>
#include <vector>

#include "base/json_parser.h"
#include "tests/testutil.h"

namespace handoff {
namespace {

constexpr EpochSeconds kAt = 1'795'356'187.123;  // 2026-11-22T14:03:07.123Z

std::string Json(const OutboxRecord& record) {
  std::string out;
  AppendOutboxRecordJson(record, &out);
  return out;
}

std::vector<ScoreDef> Defs(std::initializer_list<const char*> names) {
  std::vector<ScoreDef> defs;
  for (const char* name : names) {
    ScoreDef def;
    def.name = name;
    defs.push_back(def);
  }
  return defs;
}

TEST(OutboxKindTest, NamesAreTheSpecNamesInEnumOrder) {
  const std::vector<std::string> expected = {"stage",    "routed", "reassigned", "accepted",
                                             "rejected", "closed", "escalated",  "unrouted"};
  ASSERT_EQ(expected.size(), static_cast<size_t>(kOutboxKindCount));
  for (int k = 0; k < kOutboxKindCount; ++k) {
    EXPECT_EQ(OutboxKindName(static_cast<OutboxKind>(k)), expected[k]) << k;
  }
  EXPECT_EQ(OutboxKindName(OutboxKind::kStage), "stage");
  EXPECT_EQ(OutboxKindName(OutboxKind::kUnrouted), "unrouted");
}

TEST(OutboxKindTest, FromNameRoundTripsEveryKind) {
  for (int k = 0; k < kOutboxKindCount; ++k) {
    const auto kind = static_cast<OutboxKind>(k);
    std::optional<OutboxKind> back = OutboxKindFromName(OutboxKindName(kind));
    ASSERT_TRUE(back.has_value()) << k;
    EXPECT_EQ(*back, kind);
  }
}

TEST(OutboxKindTest, FromNameRejectsAnythingElse) {
  for (const char* name :
       {"", "Stage", "ROUTED", " routed", "routed ", "route", "routedx", "closed\n", "all", "*"}) {
    EXPECT_FALSE(OutboxKindFromName(name).has_value()) << '"' << name << '"';
  }
  EXPECT_FALSE(OutboxKindFromName(std::string_view("stage\0", 6)).has_value());
}

TEST(OutboxRecordJsonTest, MinimalRecordHasSeqKindAt) {
  OutboxRecord record;
  record.seq = 42;
  record.kind = OutboxKind::kRouted;
  record.at = kAt;
  EXPECT_EQ(Json(record), R"({"seq":42,"kind":"routed","at":"2026-11-22T14:03:07.123Z"})");
}

// SPEC 9: seq, kind, at, lead, the kind's own fields, stage, scores, traits, trigger. Every field
// set at once pins the whole order.
TEST(OutboxRecordJsonTest, EveryFieldInTheFixedOrder) {
  const std::vector<ScoreDef> defs = Defs({"fit", "engagement"});
  const double scores[] = {45, 93.2};
  Value traits = Value::MakeObject();
  traits.Set("email", Value::String("a@acme.com"));
  OutboxRecord record;
  record.seq = 7;
  record.kind = OutboxKind::kClosed;
  record.at = kAt;
  record.lead = "u1";
  record.from = "mql";
  record.to = "sql";
  record.rep = "alice";
  record.team = "enterprise";
  record.reason = "weighted_round_robin";
  record.from_rep = "bob";
  record.outcome = "merged";
  record.into = "u2";
  record.stage = "sql";
  record.score_defs = &defs;
  record.scores = scores;
  record.traits = &traits;
  record.trigger = "m-abc";
  EXPECT_EQ(Json(record),
            R"({"seq":7,"kind":"closed","at":"2026-11-22T14:03:07.123Z","lead":"u1",)"
            R"("from":"mql","to":"sql","rep":"alice","team":"enterprise",)"
            R"("reason":"weighted_round_robin","from_rep":"bob","outcome":"merged","into":"u2",)"
            R"("stage":"sql","scores":{"fit":45,"engagement":93.2},)"
            R"("traits":{"email":"a@acme.com"},"trigger":"m-abc"})");
}

TEST(OutboxRecordJsonTest, TheReadmeExample) {
  const std::vector<ScoreDef> defs = Defs({"fit", "engagement"});
  const double scores[] = {45, 93.2};
  Value traits = Value::MakeObject();
  traits.Set("email", Value::String("a@acme.com"));
  OutboxRecord record;
  record.seq = 42;
  record.kind = OutboxKind::kRouted;
  record.at = kAt;
  record.lead = "u123";
  record.rep = "alice";
  record.team = "enterprise";
  record.reason = "weighted_round_robin";
  record.stage = "sql";
  record.score_defs = &defs;
  record.scores = scores;
  record.traits = &traits;
  record.trigger = "m-abc";
  EXPECT_EQ(Json(record),
            R"({"seq":42,"kind":"routed","at":"2026-11-22T14:03:07.123Z","lead":"u123",)"
            R"("rep":"alice","team":"enterprise","reason":"weighted_round_robin","stage":"sql",)"
            R"("scores":{"fit":45,"engagement":93.2},"traits":{"email":"a@acme.com"},)"
            R"("trigger":"m-abc"})");
}

TEST(OutboxRecordJsonTest, StageRecord) {
  OutboxRecord record;
  record.seq = 1;
  record.kind = OutboxKind::kStage;
  record.at = kAt;
  record.lead = "u1";
  record.from = "new";
  record.to = "mql";
  record.stage = "mql";
  EXPECT_EQ(Json(record), R"({"seq":1,"kind":"stage","at":"2026-11-22T14:03:07.123Z","lead":"u1",)"
                          R"("from":"new","to":"mql","stage":"mql"})");
}

// A merged lead's close names the lead it went into; an ordinary close has no `into`.
TEST(OutboxRecordJsonTest, ClosedRecordsWithAndWithoutInto) {
  OutboxRecord record;
  record.seq = 9;
  record.kind = OutboxKind::kClosed;
  record.at = kAt;
  record.lead = "anon-1";
  record.rep = "alice";
  record.outcome = "merged";
  record.into = "u1";
  EXPECT_EQ(Json(record),
            R"({"seq":9,"kind":"closed","at":"2026-11-22T14:03:07.123Z","lead":"anon-1",)"
            R"("rep":"alice","outcome":"merged","into":"u1"})");
  record.outcome = "won";
  record.into = "";
  EXPECT_EQ(Json(record),
            R"({"seq":9,"kind":"closed","at":"2026-11-22T14:03:07.123Z","lead":"anon-1",)"
            R"("rep":"alice","outcome":"won"})");
  record.amount = 12000.5;
  EXPECT_EQ(Json(record),
            R"({"seq":9,"kind":"closed","at":"2026-11-22T14:03:07.123Z","lead":"anon-1",)"
            R"("rep":"alice","outcome":"won","amount":12000.5})");
}

TEST(OutboxRecordJsonTest, EmptyStringFieldsAreOmitted) {
  OutboxRecord record;
  record.seq = 3;
  record.kind = OutboxKind::kReassigned;
  record.at = kAt;
  record.lead = "u1";
  record.rep = "";
  record.from_rep = "bob";
  record.trigger = "";
  const std::string json = Json(record);
  EXPECT_EQ(json, R"({"seq":3,"kind":"reassigned","at":"2026-11-22T14:03:07.123Z","lead":"u1",)"
                  R"("from_rep":"bob"})");
  for (const char* absent : {"\"rep\"", "\"team\"", "\"trigger\"", "\"scores\"", "\"traits\"",
                             "\"into\"", "\"stage\""}) {
    EXPECT_EQ(json.find(absent), std::string::npos) << absent;
  }
}

// Scores need both the names and the values; either alone is treated as none.
TEST(OutboxRecordJsonTest, ScoresNeedDefsAndValues) {
  const std::vector<ScoreDef> defs = Defs({"fit"});
  const double scores[] = {1};
  OutboxRecord record;
  record.seq = 1;
  record.at = kAt;
  record.score_defs = &defs;
  EXPECT_EQ(Json(record).find("scores"), std::string::npos);
  record.score_defs = nullptr;
  record.scores = scores;
  EXPECT_EQ(Json(record).find("scores"), std::string::npos);
  record.score_defs = &defs;
  EXPECT_NE(Json(record).find(R"("scores":{"fit":1})"), std::string::npos);
}

TEST(OutboxRecordJsonTest, TraitsPrintAsTheirJson) {
  Value traits = Value::MakeObject();
  traits.Set("employees", Value::Number(300));
  traits.Set("tags", Value::MakeArray({Value::String("a"), Value::Null(), Value::Bool(true)}));
  Value company = Value::MakeObject();
  company.Set("id", Value::String("acme"));
  traits.Set("company", company);
  OutboxRecord record;
  record.seq = 1;
  record.at = kAt;
  record.traits = &traits;
  record.trigger = "m1";
  EXPECT_EQ(Json(record),
            R"({"seq":1,"kind":"stage","at":"2026-11-22T14:03:07.123Z",)"
            R"("traits":{"employees":300,"tags":["a",null,true],"company":{"id":"acme"}},)"
            R"("trigger":"m1"})");
  // An empty object is still the lead's traits, not an absent field.
  Value empty = Value::MakeObject();
  record.traits = &empty;
  EXPECT_NE(Json(record).find(R"("traits":{})"), std::string::npos);
}

TEST(OutboxRecordJsonTest, StringsAreEscaped) {
  OutboxRecord record;
  record.seq = 1;
  record.at = kAt;
  record.lead = "a\"b\\c\nd";
  record.reason = std::string_view("\x01", 1);
  EXPECT_EQ(Json(record),
            R"({"seq":1,"kind":"stage","at":"2026-11-22T14:03:07.123Z","lead":"a\"b\\c\nd",)"
            R"("reason":"\u0001"})");
}

TEST(OutboxRecordJsonTest, LargeSeqPrintsExactly) {
  OutboxRecord record;
  record.seq = std::numeric_limits<uint64_t>::max();
  record.at = 0;
  EXPECT_EQ(Json(record),
            R"({"seq":18446744073709551615,"kind":"stage","at":"1970-01-01T00:00:00.000Z"})");
}

TEST(OutboxRecordJsonTest, AppendsToWhatIsThere) {
  OutboxRecord record;
  record.seq = 1;
  record.at = kAt;
  std::string out = "[";
  AppendOutboxRecordJson(record, &out);
  out.push_back(',');
  AppendOutboxRecordJson(record, &out);
  out.push_back(']');
  EXPECT_EQ(out, R"([{"seq":1,"kind":"stage","at":"2026-11-22T14:03:07.123Z"},)"
                 R"({"seq":1,"kind":"stage","at":"2026-11-22T14:03:07.123Z"}])");
}

// Whatever the fields hold, the record is one valid JSON object (subscribers parse it).
TEST(OutboxRecordJsonTest, OutputParsesAsJson) {
  const std::vector<ScoreDef> defs = Defs({"a\"b", "nan", "inf", "neg"});
  const double scores[] = {0.1, std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity(), -1e-300};
  Value traits = Value::MakeObject();
  traits.Set("k\tey", Value::String("\x1f"));
  OutboxRecord record;
  record.seq = 5;
  record.kind = OutboxKind::kEscalated;
  record.at = kAt;
  record.lead = "\"}";
  record.team = "{";
  record.score_defs = &defs;
  record.scores = scores;
  record.traits = &traits;
  const std::string json = Json(record);
  JsonParser parser;
  Value parsed;
  ASSERT_OK(parser.Parse(json, &parsed));
  ASSERT_TRUE(parsed.is_object());
  EXPECT_EQ(parsed.Find("lead")->as_string(), "\"}");
  EXPECT_EQ(parsed.Find("team")->as_string(), "{");
  const Value* parsed_scores = parsed.Find("scores");
  ASSERT_NE(parsed_scores, nullptr);
  EXPECT_EQ(parsed_scores->Find("a\"b")->as_number(), 0.1);
  EXPECT_TRUE(parsed_scores->Find("nan")->is_null());  // JSON has no NaN or infinity
  EXPECT_TRUE(parsed_scores->Find("inf")->is_null());
  EXPECT_EQ(parsed_scores->Find("neg")->as_number(), -1e-300);
  EXPECT_EQ(*parsed.Find("traits"), traits);
}

TEST(AppendScoresJsonTest, NamesInDefinitionOrder) {
  const std::vector<ScoreDef> defs = Defs({"zeta", "alpha", "mid"});
  const double scores[] = {-2.5, 0, 1e21};
  std::string out;
  AppendScoresJson(defs, scores, &out);
  EXPECT_EQ(out, R"({"zeta":-2.5,"alpha":0,"mid":1e+21})");
}

TEST(AppendScoresJsonTest, NoScoresIsAnEmptyObject) {
  std::string out = "x";
  AppendScoresJson({}, nullptr, &out);
  EXPECT_EQ(out, "x{}");
}

}  // namespace
}  // namespace handoff
