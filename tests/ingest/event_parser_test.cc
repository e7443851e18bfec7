#include "ingest/event_parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "tests/testutil.h"

namespace handoff {
namespace {

class EventParserTest : public ::testing::Test {
 protected:
  // Parses `json`, expecting it to be valid.
  Event Ok(std::string_view json, std::optional<EventType> implied = std::nullopt) {
    Event event;
    ParseError err;
    EXPECT_TRUE(parser_.Parse(json, &event, &err, implied))
        << json << "\n-> " << EventErrorCode(err.code) << ": " << err.message;
    EXPECT_EQ(err.code, EventError::kNone);
    return event;
  }

  // Parses `json`, expecting it to be rejected.
  ParseError Bad(std::string_view json, std::optional<EventType> implied = std::nullopt) {
    Event event;
    ParseError err;
    EXPECT_FALSE(parser_.Parse(json, &event, &err, implied)) << json;
    EXPECT_NE(err.code, EventError::kNone) << json;
    return err;
  }

  // Expects `json` rejected with `code` and exactly `message`.
  void ExpectError(std::string_view json, EventError code, std::string_view message) {
    const ParseError err = Bad(json);
    EXPECT_EQ(EventErrorCode(err.code), EventErrorCode(code)) << json << "\n-> " << err.message;
    EXPECT_EQ(err.message, message) << json;
  }

  void ExpectInvalidJson(std::string_view json) {
    const ParseError err = Bad(json);
    EXPECT_EQ(EventErrorCode(err.code), "invalid_json") << json << "\n-> " << err.message;
    EXPECT_EQ(err.message.rfind("invalid JSON", 0), 0u) << err.message;
  }

  EventParser parser_;
};

// A track event with "extra" spliced in (extra starts with a comma).
std::string Track(std::string_view extra = "") {
  return std::string(R"({"type":"track","userId":"u1","event":"Signed Up")") + std::string(extra) +
         "}";
}

TEST(EventErrorCodeTest, WireNames) {
  EXPECT_EQ(EventErrorCode(EventError::kNone), "");
  EXPECT_EQ(EventErrorCode(EventError::kInvalidJson), "invalid_json");
  EXPECT_EQ(EventErrorCode(EventError::kLineTooLong), "line_too_long");
  EXPECT_EQ(EventErrorCode(EventError::kMissingField), "missing_field");
  EXPECT_EQ(EventErrorCode(EventError::kInvalidField), "invalid_field");
  EXPECT_EQ(EventErrorCode(EventError::kUnsupportedType), "unsupported_type");
}

TEST(EventTypeFromNameTest, RoundTripsAndIsCaseSensitive) {
  for (EventType t : {EventType::kTrack, EventType::kPage, EventType::kScreen, EventType::kIdentify,
                      EventType::kGroup, EventType::kAlias}) {
    EXPECT_EQ(EventTypeFromName(EventTypeName(t)), t);
  }
  EXPECT_EQ(EventTypeFromName("Track"), std::nullopt);
  EXPECT_EQ(EventTypeFromName(""), std::nullopt);
  EXPECT_EQ(EventTypeFromName("track "), std::nullopt);
}

TEST_F(EventParserTest, FullTrackEvent) {
  const Event e = Ok(R"({
    "type": "track", "userId": "u-1", "anonymousId": "a-1", "messageId": "m-1",
    "timestamp": "2026-11-22T10:00:00.123Z", "event": "Demo Requested",
    "properties": {"plan": "pro", "seats": 25, "trial": true, "tags": ["a", "b"], "x": null},
    "context": {"ip": "10.0.0.1", "page": {"path": "/pricing"}}
  })");
  EXPECT_EQ(e.type, EventType::kTrack);
  EXPECT_EQ(e.user_id, "u-1");
  EXPECT_EQ(e.anonymous_id, "a-1");
  EXPECT_EQ(e.lead_key(), "u-1");
  EXPECT_EQ(e.message_id, "m-1");
  EXPECT_TRUE(e.has_timestamp);
  EXPECT_DOUBLE_EQ(e.timestamp, 1795341600.123);
  EXPECT_EQ(e.name, "Demo Requested");
  EXPECT_TRUE(e.has_name);
  EXPECT_EQ(e.properties.ToJson(),
            R"({"plan":"pro","seats":25,"trial":true,"tags":["a","b"],"x":null})");
  EXPECT_EQ(e.context.ToJson(), R"({"ip":"10.0.0.1","page":{"path":"/pricing"}})");
  EXPECT_TRUE(e.traits.is_null());
  EXPECT_TRUE(e.group_id.empty());
  EXPECT_TRUE(e.previous_id.empty());
}

TEST_F(EventParserTest, MinimalEventOfEveryType) {
  Event e = Ok(R"({"type":"track","anonymousId":"a","event":"E"})");
  EXPECT_EQ(e.type, EventType::kTrack);
  EXPECT_EQ(e.lead_key(), "a");
  EXPECT_TRUE(e.user_id.empty());
  EXPECT_TRUE(e.message_id.empty());
  EXPECT_FALSE(e.has_timestamp);
  EXPECT_TRUE(e.properties.is_null());
  EXPECT_TRUE(e.context.is_null());

  e = Ok(R"({"type":"page","userId":"u"})");
  EXPECT_EQ(e.type, EventType::kPage);
  EXPECT_FALSE(e.has_name);
  EXPECT_TRUE(e.name.empty());

  e = Ok(R"({"type":"screen","userId":"u","name":"Home"})");
  EXPECT_EQ(e.type, EventType::kScreen);
  EXPECT_TRUE(e.has_name);
  EXPECT_EQ(e.name, "Home");

  e = Ok(R"({"type":"identify","userId":"u","traits":{"email":"a@b.c"}})");
  EXPECT_EQ(e.type, EventType::kIdentify);
  EXPECT_EQ(e.traits.ToJson(), R"({"email":"a@b.c"})");
  EXPECT_FALSE(e.has_name);

  e = Ok(R"({"type":"group","userId":"u","groupId":"acme","traits":{"size":50}})");
  EXPECT_EQ(e.type, EventType::kGroup);
  EXPECT_EQ(e.group_id, "acme");
  EXPECT_EQ(e.traits.ToJson(), R"({"size":50})");

  e = Ok(R"({"type":"alias","userId":"u","previousId":"anon-9"})");
  EXPECT_EQ(e.type, EventType::kAlias);
  EXPECT_EQ(e.previous_id, "anon-9");
}

TEST_F(EventParserTest, SegmentLibraryPayload) {
  // What @segment/analytics-node sends per event, unknown fields and all.
  const Event e = Ok(R"({"type":"track","event":"Item Purchased","userId":"019mr8mf4r",
    "properties":{"revenue":39.95,"shippingMethod":"2-day"},
    "integrations":{},"messageId":"node-next-1700000000000-abc",
    "timestamp":"2026-11-22T10:00:00.123Z",
    "context":{"library":{"name":"@segment/analytics-node","version":"1.1.0"}},
    "_metadata":{"nodeVersion":"18.0.0","jsRuntime":"node"},"sentAt":"2026-11-22T10:00:01.000Z"})");
  EXPECT_EQ(e.name, "Item Purchased");
  EXPECT_EQ(e.message_id, "node-next-1700000000000-abc");
  EXPECT_EQ(e.context.Find("library")->Find("name")->as_string(), "@segment/analytics-node");
}

// --- type ---

TEST_F(EventParserTest, TypeErrors) {
  ExpectError(R"({"userId":"u","event":"E"})", EventError::kMissingField, R"(event needs "type")");
  ExpectError(R"({"type":null,"userId":"u","event":"E"})", EventError::kMissingField,
              R"(event needs "type")");
  ExpectError(R"({"type":5,"userId":"u","event":"E"})", EventError::kInvalidField,
              R"("type" must be a string)");
  ExpectError(R"({"type":["track"],"userId":"u"})", EventError::kInvalidField,
              R"("type" must be a string)");
  ExpectError(
      R"({"type":"Track","userId":"u","event":"E"})", EventError::kUnsupportedType,
      R"(unsupported type "Track" (expected track, page, screen, identify, group or alias))");
  ExpectError(R"({"type":"","userId":"u"})", EventError::kUnsupportedType,
              R"(unsupported type "" (expected track, page, screen, identify, group or alias))");
  ExpectError(
      R"({"type":"purchase","userId":"u"})", EventError::kUnsupportedType,
      R"(unsupported type "purchase" (expected track, page, screen, identify, group or alias))");
  // Field names are case-sensitive too.
  ExpectError(R"({"Type":"track","userId":"u","event":"E"})", EventError::kMissingField,
              R"(event needs "type")");
}

TEST_F(EventParserTest, LongUnsupportedTypeIsCutInTheMessage) {
  const std::string type(1000, 'x');
  const ParseError err = Bad(R"({"type":")" + type + R"(","userId":"u"})");
  EXPECT_EQ(err.code, EventError::kUnsupportedType);
  EXPECT_LT(err.message.size(), 200u);
  EXPECT_NE(err.message.find("xxx..."), std::string::npos);
}

// --- identities ---

TEST_F(EventParserTest, IdentityErrors) {
  const std::string kNeither = R"(event needs "userId" or "anonymousId")";
  ExpectError(R"({"type":"track","event":"E"})", EventError::kMissingField, kNeither);
  ExpectError(R"({"type":"track","event":"E","userId":null,"anonymousId":null})",
              EventError::kMissingField, kNeither);
  ExpectError(R"({"type":"track","event":"E","userId":"","anonymousId":""})",
              EventError::kMissingField, kNeither);
  ExpectError(R"({"type":"track","event":"E","userId":"","anonymousId":null})",
              EventError::kMissingField, kNeither);
  ExpectError(R"({"type":"track","event":"E","userid":"u"})", EventError::kMissingField, kNeither);
  ExpectError(R"({"type":"track","event":"E","userId":42})", EventError::kInvalidField,
              R"("userId" must be a string)");
  // A wrong type is invalid even when the other id is fine.
  ExpectError(R"({"type":"track","event":"E","userId":42,"anonymousId":"a"})",
              EventError::kInvalidField, R"("userId" must be a string)");
  ExpectError(R"({"type":"track","event":"E","userId":"u","anonymousId":{"id":1}})",
              EventError::kInvalidField, R"("anonymousId" must be a string)");
  ExpectError(R"({"type":"track","event":"E","anonymousId":false})", EventError::kInvalidField,
              R"("anonymousId" must be a string)");
}

TEST_F(EventParserTest, EmptyUserIdFallsBackToAnonymousId) {
  const Event e = Ok(R"({"type":"track","event":"E","userId":"","anonymousId":"anon"})");
  EXPECT_TRUE(e.user_id.empty());
  EXPECT_EQ(e.lead_key(), "anon");
  const Event e2 = Ok(R"({"type":"track","event":"E","userId":null,"anonymousId":"anon"})");
  EXPECT_EQ(e2.lead_key(), "anon");
}

// --- messageId ---

TEST_F(EventParserTest, MessageId) {
  ExpectError(Track(R"(,"messageId":17)"), EventError::kInvalidField,
              R"("messageId" must be a string)");
  EXPECT_TRUE(Ok(Track(R"(,"messageId":null)")).message_id.empty());
  EXPECT_TRUE(Ok(Track(R"(,"messageId":"")")).message_id.empty());
  EXPECT_EQ(Ok(Track(R"(,"messageId":"m-9")")).message_id, "m-9");
}

TEST_F(EventParserTest, ErrorCarriesMessageIdWhateverTheReason) {
  EXPECT_EQ(Bad(R"({"type":"Track","messageId":"m-17"})").message_id, "m-17");
  EXPECT_EQ(Bad(R"({"messageId":"m-18","type":"track","userId":"u"})").message_id, "m-18");
  EXPECT_EQ(Bad(R"({"messageId":"m-19","userId":"u"})").message_id, "m-19");
  // Read before the JSON broke.
  EXPECT_EQ(Bad(R"({"messageId":"m-20","x":tru})").message_id, "m-20");
  EXPECT_EQ(Bad(R"({"messageId":"m-21"} junk)").message_id, "");  // junk: never read
  EXPECT_EQ(Bad(R"({"type":"track"})").message_id, "");
  EXPECT_EQ(Bad(R"({"type":"track","messageId":5})").message_id, "");
}

// --- timestamp ---

TEST_F(EventParserTest, TimestampStrings) {
  EXPECT_DOUBLE_EQ(Ok(Track(R"(,"timestamp":"2026-11-22T10:00:00.123Z")")).timestamp,
                   1795341600.123);
  EXPECT_EQ(Ok(Track(R"(,"timestamp":"2026-11-22t12:00:00+02:00")")).timestamp, 1795341600);
  EXPECT_EQ(Ok(Track(R"(,"timestamp":"2026-11-22T05:30:00-04:30")")).timestamp, 1795341600);
  EXPECT_EQ(Ok(Track(R"(,"timestamp":"2026-11-22T10:00:00z")")).timestamp, 1795341600);
  EXPECT_EQ(Ok(Track(R"(,"timestamp":"2024-02-29T00:00:00Z")")).timestamp, 1709164800);
  // An escaped character inside the string is unescaped before parsing.
  EXPECT_EQ(Ok(Track(R"(,"timestamp":"2026-11-22\u005410:00:00Z")")).timestamp, 1795341600);
}

TEST_F(EventParserTest, TimestampNumbers) {
  Event e = Ok(Track(R"(,"timestamp":1795341600)"));
  EXPECT_TRUE(e.has_timestamp);
  EXPECT_EQ(e.timestamp, 1795341600);
  EXPECT_EQ(Ok(Track(R"(,"timestamp":1795341600.25)")).timestamp, 1795341600.25);
  EXPECT_DOUBLE_EQ(Ok(Track(R"(,"timestamp":1795341600123)")).timestamp, 1795341600.123);
  EXPECT_DOUBLE_EQ(Ok(Track(R"(,"timestamp":1795341600123.5)")).timestamp, 1795341600.1235);
  EXPECT_EQ(Ok(Track(R"(,"timestamp":1e11)")).timestamp, 1e11);
  EXPECT_EQ(Ok(Track(R"(,"timestamp":100000000000)")).timestamp, 1e11);
  EXPECT_DOUBLE_EQ(Ok(Track(R"(,"timestamp":100000000001)")).timestamp, 100000000.001);
  EXPECT_EQ(Ok(Track(R"(,"timestamp":1.7953416E9)")).timestamp, 1795341600);
  EXPECT_EQ(Ok(Track(R"(,"timestamp":0)")).timestamp, 0);
  EXPECT_EQ(Ok(Track(R"(,"timestamp":-86400)")).timestamp, -86400);  // before 1970: as given
}

TEST_F(EventParserTest, MissingTimestampMeansReceiveTime) {
  EXPECT_FALSE(Ok(Track()).has_timestamp);
  const Event e = Ok(Track(R"(,"timestamp":null)"));
  EXPECT_FALSE(e.has_timestamp);
  EXPECT_EQ(e.timestamp, 0);
}

TEST_F(EventParserTest, BadTimestamps) {
  const std::string kMsg = R"("timestamp" is not an RFC 3339 date-time or epoch seconds)";
  for (const char* bad :
       {R"("2026-02-30T00:00:00Z")", R"("2026-02-29T00:00:00Z")", R"("2026-12-31T23:59:60Z")",
        R"("2026-11-22T10:00Z")", R"("2026-11-22T10:00:00")", R"("2026-11-22 10:00:00Z")",
        R"("2026-11-22T24:00:00Z")", R"("2026-11-22T10:00:00+24:00")",
        R"("2026-11-22T10:00:00+01:60")", R"("1795341600")", R"("")", R"("yesterday")", "true",
        "false", "{}", R"({"$date":1})", "[1795341600]", "1e400", "-1e400",
        // Beyond +-9e15 s: no record could print it.
        "1e300", "-1e30", "9.1e18"}) {
    ExpectError(Track(std::string(R"(,"timestamp":)") + bad), EventError::kInvalidField, kMsg);
  }
}

// --- event / name ---

TEST_F(EventParserTest, TrackNeedsEvent) {
  ExpectError(R"({"type":"track","userId":"u"})", EventError::kMissingField,
              R"(track needs "event")");
  ExpectError(R"({"type":"track","userId":"u","event":null})", EventError::kMissingField,
              R"(track needs "event")");
  // SPEC 2 counts an empty string as missing for the ids only: an empty event name is a name.
  EXPECT_EQ(Ok(R"({"type":"track","userId":"u","event":""})").name, "");
  ExpectError(R"({"type":"track","userId":"u","event":7})", EventError::kInvalidField,
              R"("event" must be a string)");
  ExpectError(R"({"type":"track","userId":"u","event":{"name":"x"}})", EventError::kInvalidField,
              R"("event" must be a string)");
  // The track's name is its event; a "name" field is ignored.
  const Event e = Ok(Track(R"(,"name":12)"));
  EXPECT_EQ(e.name, "Signed Up");
}

TEST_F(EventParserTest, PageAndScreenName) {
  Event e = Ok(R"({"type":"page","userId":"u","name":""})");
  EXPECT_TRUE(e.has_name);
  EXPECT_EQ(e.name, "");
  e = Ok(R"({"type":"page","userId":"u","name":null})");
  EXPECT_FALSE(e.has_name);
  ExpectError(R"({"type":"page","userId":"u","name":3})", EventError::kInvalidField,
              R"("name" must be a string)");
  ExpectError(R"({"type":"screen","userId":"u","name":["Home"]})", EventError::kInvalidField,
              R"("name" must be a string)");
  // "event" is not a page's field.
  e = Ok(R"({"type":"page","userId":"u","event":5})");
  EXPECT_FALSE(e.has_name);
}

// --- objects ---

TEST_F(EventParserTest, PropertiesTraitsContextMustBeObjects) {
  ExpectError(Track(R"(,"properties":[1,2])"), EventError::kInvalidField,
              R"("properties" must be an object)");
  ExpectError(Track(R"(,"properties":"x")"), EventError::kInvalidField,
              R"("properties" must be an object)");
  ExpectError(R"({"type":"page","userId":"u","properties":5})", EventError::kInvalidField,
              R"("properties" must be an object)");
  ExpectError(R"({"type":"identify","userId":"u","traits":true})", EventError::kInvalidField,
              R"("traits" must be an object)");
  ExpectError(R"({"type":"group","userId":"u","groupId":"g","traits":[]})",
              EventError::kInvalidField, R"("traits" must be an object)");
  ExpectError(Track(R"(,"context":"web")"), EventError::kInvalidField,
              R"("context" must be an object)");
  ExpectError(R"({"type":"alias","userId":"u","previousId":"p","context":1})",
              EventError::kInvalidField, R"("context" must be an object)");
  EXPECT_TRUE(Ok(Track(R"(,"properties":null,"context":null)")).properties.is_null());
  EXPECT_EQ(Ok(Track(R"(,"properties":{})")).properties.ToJson(), "{}");
}

TEST_F(EventParserTest, IgnoredFieldsPerType) {
  // properties of identify/group, traits of track/page/screen: not validated, not stored.
  Event e = Ok(R"({"type":"identify","userId":"u","properties":5,"traits":{"a":1}})");
  EXPECT_TRUE(e.properties.is_null());
  EXPECT_EQ(e.traits.ToJson(), R"({"a":1})");
  e = Ok(R"({"type":"group","userId":"u","groupId":"g","properties":{"p":1}})");
  EXPECT_TRUE(e.properties.is_null());
  e = Ok(Track(R"(,"traits":"nope")"));
  EXPECT_TRUE(e.traits.is_null());
  e = Ok(R"({"traits":{"t":1},"type":"page","userId":"u","properties":{"p":2}})");
  EXPECT_TRUE(e.traits.is_null());
  EXPECT_EQ(e.properties.ToJson(), R"({"p":2})");
  e = Ok(R"({"type":"screen","userId":"u","traits":[1]})");
  EXPECT_TRUE(e.traits.is_null());
  // groupId / previousId outside their types.
  e = Ok(Track(R"(,"groupId":{},"previousId":7)"));
  EXPECT_TRUE(e.group_id.empty());
  EXPECT_TRUE(e.previous_id.empty());
  // Ignored is not unchecked: they must still be valid JSON.
  ExpectInvalidJson(R"({"type":"identify","userId":"u","properties":{"a":[1,]}})");
  ExpectInvalidJson(Track(R"(,"traits":{"a":nul})"));
}

// --- groupId / previousId ---

TEST_F(EventParserTest, GroupId) {
  ExpectError(R"({"type":"group","userId":"u"})", EventError::kMissingField,
              R"(group needs "groupId")");
  ExpectError(R"({"type":"group","userId":"u","groupId":null})", EventError::kMissingField,
              R"(group needs "groupId")");
  EXPECT_EQ(Ok(R"({"type":"group","userId":"u","groupId":""})").group_id, "");  // ids only
  ExpectError(R"({"type":"group","userId":"u","groupId":true})", EventError::kInvalidField,
              R"("groupId" must be a string or a number)");
  ExpectError(R"({"type":"group","userId":"u","groupId":{"id":1}})", EventError::kInvalidField,
              R"("groupId" must be a string or a number)");
  EXPECT_EQ(Ok(R"({"type":"group","userId":"u","groupId":42})").group_id, "42");
  EXPECT_EQ(Ok(R"({"type":"group","userId":"u","groupId":1.5})").group_id, "1.5");
  EXPECT_EQ(Ok(R"({"type":"group","userId":"u","groupId":-7})").group_id, "-7");
  // A number's text as sent: a 64-bit id read as a double came back rounded
  // ("12345678901234567168"), and 1e400 was refused as not a number.
  EXPECT_EQ(Ok(R"({"type":"group","userId":"u","groupId":12345678901234567890 })").group_id,
            "12345678901234567890");
  EXPECT_EQ(Ok(R"({"type":"group","userId":"u","groupId":1e400})").group_id, "1e400");
  EXPECT_EQ(Ok("{\"type\":\"group\",\"userId\":\"u\",\"groupId\":-0.0\n}").group_id, "-0.0");
}

TEST_F(EventParserTest, PreviousId) {
  ExpectError(R"({"type":"alias","userId":"u"})", EventError::kMissingField,
              R"(alias needs "previousId")");
  ExpectError(R"({"type":"alias","userId":"u","previousId":""})", EventError::kMissingField,
              R"(alias needs "previousId")");
  ExpectError(R"({"type":"alias","userId":"u","previousId":null})", EventError::kMissingField,
              R"(alias needs "previousId")");
  ExpectError(R"({"type":"alias","userId":"u","previousId":12})", EventError::kInvalidField,
              R"("previousId" must be a string)");
}

// --- priority ---

TEST_F(EventParserTest, ErrorPriority) {
  // invalid_json beats everything, wherever the malformation is.
  ExpectInvalidJson(R"({"type":"Track","x":[}])");
  ExpectInvalidJson(R"({"type":"Track"} x)");
  // type before identities.
  ExpectError(
      R"({"type":"Track"})", EventError::kUnsupportedType,
      R"(unsupported type "Track" (expected track, page, screen, identify, group or alias))");
  ExpectError(R"({"userId":5})", EventError::kMissingField, R"(event needs "type")");
  // identities before everything else.
  ExpectError(R"({"type":"track","timestamp":"bad","properties":1,"messageId":2})",
              EventError::kMissingField, R"(event needs "userId" or "anonymousId")");
  ExpectError(R"({"type":"track","userId":1,"anonymousId":2})", EventError::kInvalidField,
              R"("userId" must be a string)");
  // Then messageId, timestamp, event, properties, traits, context, groupId, previousId.
  ExpectError(R"({"type":"track","userId":"u","messageId":1,"timestamp":"bad"})",
              EventError::kInvalidField, R"("messageId" must be a string)");
  ExpectError(R"({"type":"track","userId":"u","timestamp":"bad","properties":1})",
              EventError::kInvalidField,
              R"("timestamp" is not an RFC 3339 date-time or epoch seconds)");
  ExpectError(R"({"type":"track","userId":"u","properties":1})", EventError::kMissingField,
              R"(track needs "event")");
  ExpectError(R"({"type":"track","userId":"u","event":"E","context":1,"properties":1})",
              EventError::kInvalidField, R"("properties" must be an object)");
  ExpectError(R"({"type":"identify","userId":"u","context":1,"traits":1})",
              EventError::kInvalidField, R"("traits" must be an object)");
  ExpectError(R"({"type":"group","userId":"u","context":1})", EventError::kInvalidField,
              R"("context" must be an object)");
  ExpectError(R"({"type":"alias","userId":"u","timestamp":true})", EventError::kInvalidField,
              R"("timestamp" is not an RFC 3339 date-time or epoch seconds)");
}

// --- invalid JSON ---

TEST_F(EventParserTest, InvalidJsonVariants) {
  for (const char* bad : {
           "",
           "   ",
           "{",
           "}",
           R"({"type":"track")",
           R"({"type":"track",)",
           R"({"type":"track","userId":"u","event":"E")",
           R"({"type":"track","userId":"u","event":"E)",
           R"({"type":"track",})",
           R"({"type" "track"})",
           R"({"type":"track" "userId":"u"})",
           R"({type:"track"})",
           R"({'type':'track'})",
           R"({"type":"track"} x)",
           R"({"type":"track"}})",
           R"({"type":"track"}{})",
           R"({"type":"track"},)",
           R"({"a":tru})",
           R"({"a":truee})",
           R"({"a":nul})",
           R"({"a":nulls})",
           R"({"a":01})",
           R"({"a":1.})",
           R"({"a":.5})",
           R"({"a":+1})",
           R"({"a":1e})",
           R"({"a":0x10})",
           R"({"a":NaN})",
           R"({"a":Infinity})",
           R"({"a":-})",
           R"({"a":1x})",
           R"({"a":"\x"})",
           R"({"a":"\u12"})",
           "{\"a\":\"tab\there\"}",
           "{\"a\":\"\xff\xfe\"}",
           "{\"a\":\"\xc3\"}",
           R"({"a":[1,2})",
           R"({"a":[1,,2]})",
           R"({"a":{"b":1,}})",
           R"({"a":1 /* c */})",
           R"({"a":1}// c)",
           R"({"\x":1})",
           R"({"a":1,"b"})",
           R"({"a"})",
           R"({,"a":1})",
       }) {
    SCOPED_TRACE(bad);
    ExpectInvalidJson(bad);
  }
  // NUL bytes outside strings (the framer hands over raw bytes).
  ExpectInvalidJson(std::string(R"({"type":"track"})") + '\0');
  ExpectInvalidJson(std::string(R"({"type":"track",)") + '\0' + R"("a":1})");
  ExpectInvalidJson(std::string("{\"a\":\"x") + '\0' + "y\"}");  // raw control char in a string
}

// Text after a complete object is not called an object ended early (simdjson's own words).
TEST_F(EventParserTest, TextAfterTheObjectOrAnUnclosedOneSaysWhichBracket) {
  for (const char* bad : {R"({"type":"track","userId":"u","event":"E"}x)",
                          R"({"type":"track","userId":"u","event":"E"}])",
                          R"({"type":"track","userId":"u","event":"E"} 5)",
                          R"({"type":"track","userId":"u","event":"E")"}) {
    SCOPED_TRACE(bad);
    ExpectError(bad, EventError::kInvalidJson,
                "invalid JSON: the text does not end where its outermost object or array closes "
                "(a closing bracket is missing, or something follows it)");
  }
}

TEST_F(EventParserTest, ValidJsonThatIsNotAnObject) {
  for (const char* bad : {"[]", R"([{"type":"track","userId":"u","event":"E"}])", R"("track")",
                          "42", "null", "true", "false"}) {
    SCOPED_TRACE(bad);
    ExpectError(bad, EventError::kInvalidJson, "invalid JSON: not an object");
  }
  // Text that only starts like one of those is no JSON at all, and is not called "not an object".
  for (const char* bad : {"nope", "tru", "[1,", "42x", "\"open"}) {
    SCOPED_TRACE(bad);
    const ParseError err = Bad(bad);
    EXPECT_EQ(EventErrorCode(err.code), "invalid_json");
    EXPECT_EQ(err.message.rfind("invalid JSON", 0), 0u) << err.message;
    EXPECT_EQ(err.message.find("not an object"), std::string::npos) << err.message;
  }
}

TEST_F(EventParserTest, SurroundingWhitespaceIsFine) {
  EXPECT_EQ(Ok(" \t" + Track() + "\r").name, "Signed Up");
  EXPECT_EQ(Ok("\n" + Track() + "  \n").name, "Signed Up");
}

TEST_F(EventParserTest, UnknownFieldsAreCheckedButIgnored) {
  const Event e = Ok(Track(R"(,"integrations":{"All":true,"x":[1,{"y":null}]},"n":-0.5e-3)"));
  EXPECT_EQ(e.name, "Signed Up");
  ExpectInvalidJson(Track(R"(,"integrations":{"All":tru})"));
  ExpectInvalidJson(Track(R"(,"n":1.2.3)"));
}

// --- nesting ---

std::string Nested(int depth, std::string_view leaf = "1") {
  std::string s;
  for (int i = 0; i < depth; ++i) {
    s += R"({"k":)";
  }
  s += leaf;
  s.append(static_cast<size_t>(depth), '}');
  return s;
}

TEST_F(EventParserTest, DeeplyNestedProperties) {
  // properties is depth 2; 100 more levels fit under kMaxJsonDepth (128).
  Event e = Ok(Track(R"(,"properties":)" + Nested(100)));
  const Value* v = &e.properties;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(v->is_object()) << i;
    v = v->Find("k");
    ASSERT_NE(v, nullptr);
  }
  EXPECT_EQ(v->as_number(), 1);
  // The limit is exact: the event object plus 127 levels is fine, 128 is not.
  Ok(Track(R"(,"properties":)" + Nested(kMaxJsonDepth - 1)));
  ExpectInvalidJson(Track(R"(,"properties":)" + Nested(kMaxJsonDepth)));
}

TEST_F(EventParserTest, HostileNestingIsRejectedNotOverflowed) {
  const int kDepth = 100000;
  std::string arrays = std::string(kDepth, '[') + std::string(kDepth, ']');
  ExpectInvalidJson(Track(R"(,"junk":)" + arrays));
  ExpectInvalidJson(R"({"type":"identify","userId":"u","properties":)" + Nested(kDepth) + "}");
  // Unbalanced too.
  ExpectInvalidJson(Track(R"(,"junk":)" + std::string(kDepth, '[')));
}

// --- strings and numbers ---

TEST_F(EventParserTest, UnicodeEscapes) {
  const Event e = Ok(R"({"type":"track","userId":"J\u00fcrgen","event":"caf\u00e9 \ud83d\ude00",
    "properties":{"quote":"say \"hi\"\n","slash":"a\/b","raw":"日本語","\u006b\u0065y":1}})");
  EXPECT_EQ(e.user_id, "J\xc3\xbcrgen");
  EXPECT_EQ(e.name, "caf\xc3\xa9 \xf0\x9f\x98\x80");
  EXPECT_EQ(e.properties.Find("quote")->as_string(), "say \"hi\"\n");
  EXPECT_EQ(e.properties.Find("slash")->as_string(), "a/b");
  EXPECT_EQ(e.properties.Find("raw")->as_string(), "日本語");
  EXPECT_NE(e.properties.Find("key"), nullptr);
  // Known field names are matched after unescaping.
  const Event e2 = Ok(R"({"\u0074ype":"track","user\u0049d":"u","event":"E"})");
  EXPECT_EQ(e2.user_id, "u");
  // A NUL character is a valid escape and is kept.
  const Event e3 = Ok(R"({"type":"track","userId":"a\u0000b","event":"E"})");
  EXPECT_EQ(e3.user_id, std::string("a\0b", 3));
}

// JavaScript writes a string cut inside an emoji as a lone surrogate escape, valid JSON that
// simdjson refuses: the event is taken with U+FFFD in its place (it was invalid_json).
TEST_F(EventParserTest, ALoneSurrogateEscapeIsAReplacementCharacter) {
  const Event e = Ok(R"({"type":"track","userId":"u","event":"E \ud83d",
    "properties":{"title":"\ude00x","pair":"\ud83d\ude00","twice":"\ud83d\ud83d\ude00"}})");
  EXPECT_EQ(e.name, "E \xef\xbf\xbd");
  EXPECT_EQ(e.properties.Find("title")->as_string(), "\xef\xbf\xbdx");
  EXPECT_EQ(e.properties.Find("pair")->as_string(), "\xf0\x9f\x98\x80");
  EXPECT_EQ(e.properties.Find("twice")->as_string(), "\xef\xbf\xbd\xf0\x9f\x98\x80");
  // Text that is not JSON stays refused, with the parser's own reason.
  EventParser parser;
  Event bad;
  ParseError err;
  EXPECT_FALSE(parser.Parse(R"({"type":"track","userId":"u","event":"\ud83d")", &bad, &err));
  EXPECT_EQ(err.code, EventError::kInvalidJson);
}

TEST_F(EventParserTest, NumbersOfAnySizeAreDoubles) {
  const Event e = Ok(Track(R"(,"properties":{"int":42,"neg":-17,"frac":0.1,"exp":2.5E-3,
    "u64":18446744073709551615,"big":123456789012345678901234567890,"huge":1e400,"tiny":1e-400,
    "negzero":-0})"));
  const Value& p = e.properties;
  EXPECT_EQ(p.Find("int")->as_number(), 42);
  EXPECT_EQ(p.Find("neg")->as_number(), -17);
  EXPECT_EQ(p.Find("frac")->as_number(), 0.1);
  EXPECT_EQ(p.Find("exp")->as_number(), 0.0025);
  EXPECT_EQ(p.Find("u64")->as_number(), 18446744073709551615.0);
  EXPECT_DOUBLE_EQ(p.Find("big")->as_number(), 1.2345678901234568e29);
  EXPECT_TRUE(std::isinf(p.Find("huge")->as_number()));
  EXPECT_EQ(p.Find("tiny")->as_number(), 0);
  EXPECT_EQ(p.Find("negzero")->as_number(), 0);
}

TEST_F(EventParserTest, DuplicateKeysLastWins) {
  const Event e = Ok(R"({"type":"identify","userId":"u","type":"track","event":"E",
    "properties":{"a":1,"b":2,"a":3},"userId":"v"})");
  EXPECT_EQ(e.type, EventType::kTrack);
  EXPECT_EQ(e.user_id, "v");
  EXPECT_EQ(e.properties.ToJson(), R"({"a":3,"b":2})");
  // A later null erases an earlier value, as any later value would replace it.
  ExpectError(R"({"type":"track","userId":"u","event":"E","event":null})",
              EventError::kMissingField, R"(track needs "event")");
  // Large objects take the other duplicate-finding path.
  std::string props = "{";
  for (int i = 0; i < 100; ++i) {
    props += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  }
  props += R"("k5":"five"})";
  const Event big = Ok(Track(R"(,"properties":)" + props));
  EXPECT_EQ(big.properties.as_object().size(), 100u);
  EXPECT_EQ(big.properties.as_object()[5].second.as_string(), "five");
}

// --- reuse ---

TEST_F(EventParserTest, ReusedEventIsFullyOverwritten) {
  Event e;
  ParseError err;
  ASSERT_TRUE(parser_.Parse(
      R"({"type":"group","userId":"u","anonymousId":"a","messageId":"m","groupId":"g",
          "timestamp":5,"traits":{"t":[1,2,3],"u":{"v":1}},"context":{"c":1}})",
      &e, &err));
  ASSERT_TRUE(
      parser_.Parse(R"({"type":"page","anonymousId":"b","properties":{"t":"x"}})", &e, &err));
  EXPECT_EQ(e.type, EventType::kPage);
  EXPECT_TRUE(e.user_id.empty());
  EXPECT_EQ(e.anonymous_id, "b");
  EXPECT_TRUE(e.message_id.empty());
  EXPECT_FALSE(e.has_timestamp);
  EXPECT_EQ(e.timestamp, 0);
  EXPECT_FALSE(e.has_name);
  EXPECT_EQ(e.properties.ToJson(), R"({"t":"x"})");
  EXPECT_TRUE(e.traits.is_null());
  EXPECT_TRUE(e.context.is_null());
  EXPECT_TRUE(e.group_id.empty());

  // Reused nested storage shrinks to the new shape.
  ASSERT_TRUE(parser_.Parse(Track(R"(,"properties":{"a":{"b":[1,2,3],"c":4},"d":5})"), &e, &err));
  ASSERT_TRUE(parser_.Parse(Track(R"(,"properties":{"a":{"b":[9]},"e":"x"})"), &e, &err));
  EXPECT_EQ(e.properties.ToJson(), R"({"a":{"b":[9]},"e":"x"})");
  ASSERT_TRUE(parser_.Parse(Track(R"(,"properties":{"a":[{"x":1}]})"), &e, &err));
  EXPECT_EQ(e.properties.ToJson(), R"({"a":[{"x":1}]})");

  // A failure clears the error of the call before.
  ASSERT_FALSE(parser_.Parse("{", &e, &err));
  ASSERT_TRUE(parser_.Parse(Track(), &e, &err));
  EXPECT_EQ(err.code, EventError::kNone);
  EXPECT_TRUE(err.message.empty());
}

TEST_F(EventParserTest, LargeInputsGrowTheBuffer) {
  std::string big(200000, 'x');
  const Event e = Ok(Track(R"(,"properties":{"blob":")" + big + R"("})"));
  EXPECT_EQ(e.properties.Find("blob")->as_string().size(), big.size());
  EXPECT_EQ(Ok(Track()).name, "Signed Up");
}

// --- implied type (HTTP /v1/<type>) ---

TEST_F(EventParserTest, ImpliedType) {
  Event e = Ok(R"({"userId":"u","event":"E"})", EventType::kTrack);
  EXPECT_EQ(e.type, EventType::kTrack);
  EXPECT_EQ(e.name, "E");
  // The endpoint's type wins; the body's "type" is ignored, whatever it holds.
  e = Ok(R"({"type":"identify","userId":"u","event":"E"})", EventType::kTrack);
  EXPECT_EQ(e.type, EventType::kTrack);
  e = Ok(R"({"type":5,"userId":"u","traits":{}})", EventType::kIdentify);
  EXPECT_EQ(e.type, EventType::kIdentify);
  const ParseError err = Bad(R"({"userId":"u"})", EventType::kTrack);
  EXPECT_EQ(err.code, EventError::kMissingField);
  EXPECT_EQ(err.message, R"(track needs "event")");
  EXPECT_EQ(Bad(R"({"userId":"u","type":tru})", EventType::kTrack).code, EventError::kInvalidJson);
}

// --- line length ---

TEST(EventParserLimitTest, LineTooLong) {
  EventParser::Options options;
  options.max_bytes = 64;
  EventParser parser(options);
  Event e;
  ParseError err;
  std::string line = R"({"type":"track","userId":"u","event":"E"})";
  line += std::string(64 - line.size(), ' ');
  ASSERT_EQ(line.size(), 64u);
  EXPECT_TRUE(parser.Parse(line, &e, &err));
  line += ' ';
  EXPECT_FALSE(parser.Parse(line, &e, &err));
  EXPECT_EQ(EventErrorCode(err.code), "line_too_long");
  EXPECT_EQ(err.message, "line is longer than 64 bytes");
  EXPECT_TRUE(err.message_id.empty());

  ParseError framer_err;
  SetLineTooLong(70000, kDefaultMaxLineBytes, &framer_err);
  EXPECT_EQ(framer_err.code, EventError::kLineTooLong);
  EXPECT_EQ(framer_err.message, "line is longer than 65536 bytes");
}

TEST(EventParserLimitTest, NoLimitByDefault) {
  EventParser parser;
  Event e;
  ParseError err;
  const std::string line = Track(R"(,"properties":{"s":")" + std::string(100000, 'a') + R"("})");
  EXPECT_TRUE(parser.Parse(line, &e, &err)) << err.message;
}

// --- batch ---

class BatchTest : public ::testing::Test {
 protected:
  bool Parse(std::string_view body) {
    err_.Clear();
    return parser_.ParseBatch(body, &events_, &errors_, &err_);
  }

  EventParser parser_;
  std::vector<Event> events_;
  std::vector<BatchError> errors_;
  ParseError err_;
};

TEST_F(BatchTest, ValidAndInvalidElements) {
  ASSERT_TRUE(Parse(R"({"batch":[
      {"type":"track","userId":"u1","event":"A","messageId":"m0"},
      {"type":"identify","userId":"u2","traits":{"plan":"pro"}},
      {"userId":"u3","event":"B","messageId":"m2"},
      [1,2],
      {"type":"Track","userId":"u4"},
      {"type":"page","anonymousId":"a5"}
    ],"sentAt":"2026-11-22T10:00:00Z","writeKey":"k"})"))
      << err_.message;
  ASSERT_EQ(events_.size(), 3u);
  EXPECT_EQ(events_[0].name, "A");
  EXPECT_EQ(events_[1].type, EventType::kIdentify);
  EXPECT_EQ(events_[1].traits.ToJson(), R"({"plan":"pro"})");
  EXPECT_EQ(events_[2].type, EventType::kPage);
  EXPECT_EQ(events_[2].lead_key(), "a5");
  ASSERT_EQ(errors_.size(), 3u);
  EXPECT_EQ(errors_[0].index, 2u);
  EXPECT_EQ(errors_[0].error.code, EventError::kMissingField);
  EXPECT_EQ(errors_[0].error.message, R"(event needs "type")");
  EXPECT_EQ(errors_[0].error.message_id, "m2");
  EXPECT_EQ(errors_[1].index, 3u);
  EXPECT_EQ(errors_[1].error.code, EventError::kInvalidJson);
  EXPECT_EQ(errors_[2].index, 4u);
  EXPECT_EQ(errors_[2].error.code, EventError::kUnsupportedType);
}

// A lone surrogate escape in one item refused the whole body (400): every item is taken, that
// one with U+FFFD in the escape's place.
TEST_F(BatchTest, ALoneSurrogateEscapeInOneItemRefusesNothing) {
  ASSERT_TRUE(Parse(R"({"batch":[
      {"type":"track","userId":"u1","event":"A"},
      {"type":"track","userId":"u2","event":"B","properties":{"title":"Hello \ud83d"}},
      {"userId":"u3","event":"C"}
    ]})"))
      << err_.message;
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[1].properties.Find("title")->as_string(), "Hello \xef\xbf\xbd");
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_EQ(errors_[0].index, 2u);
  EXPECT_EQ(errors_[0].error.code, EventError::kMissingField);
}

// An item nested past the limit (valid JSON) is refused alone, wherever its depth is; the items
// around it are read as if it were not there.
TEST_F(BatchTest, AnItemNestedTooDeepIsRefusedAlone) {
  auto nested = [](int levels, const std::string& open, const std::string& close) {
    std::string s;
    for (int i = 0; i < levels; ++i) {
      s += open;
    }
    s += "1";
    for (int i = 0; i < levels; ++i) {
      s += close;
    }
    return s;
  };
  const std::string deep_object = nested(200, R"({"a":)", "}");
  const std::string deep_array = nested(200, "[", "]");
  const std::string body =
      R"({"batch":[{"type":"track","userId":"u0","event":"A","messageId":"m0"},)"
      R"({"type":"track","userId":"u1","event":"B","properties":{"x":)" +
      deep_object +
      R"(,"y":[1,{"z":2}]},"messageId":"m1"},)"
      R"({"type":"track","userId":"u2","event":"C","properties":{"p":[1,{"q":"]}"}]}},)" +
      deep_array + "," + R"({"type":"identify","userId":"u4","context":{"c":)" + deep_array +
      R"(},"traits":{"t":1}},)"
      R"({"type":"page","userId":"u5","properties":{"path":"/x"}}],"sentAt":"s"})";
  ASSERT_TRUE(Parse(body)) << err_.message;
  ASSERT_EQ(events_.size(), 3u);
  EXPECT_EQ(events_[0].lead_key(), "u0");
  EXPECT_EQ(events_[1].lead_key(), "u2");
  EXPECT_EQ(events_[1].properties.ToJson(), R"({"p":[1,{"q":"]}"}]})");
  EXPECT_EQ(events_[2].lead_key(), "u5");
  EXPECT_EQ(events_[2].properties.ToJson(), R"({"path":"/x"})");
  ASSERT_EQ(errors_.size(), 3u);
  for (size_t i = 0; i < errors_.size(); ++i) {
    EXPECT_EQ(errors_[i].error.code, EventError::kInvalidJson) << i;
  }
  EXPECT_EQ(errors_[0].index, 1u);
  EXPECT_EQ(errors_[1].index, 3u);
  EXPECT_EQ(errors_[2].index, 4u);
}

TEST_F(BatchTest, EmptyBatch) {
  ASSERT_TRUE(Parse(R"({"batch":[]})"));
  EXPECT_TRUE(events_.empty());
  EXPECT_TRUE(errors_.empty());
}

TEST_F(BatchTest, BodyLevelFailures) {
  EXPECT_FALSE(Parse("not json"));
  EXPECT_EQ(err_.code, EventError::kInvalidJson);
  EXPECT_FALSE(Parse(R"([{"type":"track"}])"));
  EXPECT_EQ(err_.code, EventError::kInvalidJson);
  // Malformed inside one element: the whole body is unusable.
  EXPECT_FALSE(Parse(R"({"batch":[{"type":"track","userId":"u","event":"E"},{"a":tru}]})"));
  EXPECT_EQ(err_.code, EventError::kInvalidJson);
  EXPECT_FALSE(Parse(R"({"batch":[{"type":"track","userId":"u","event":"E"}]} x)"));
  EXPECT_EQ(err_.code, EventError::kInvalidJson);
  EXPECT_FALSE(Parse(R"({"batch":[],"other":[}})"));
  EXPECT_EQ(err_.code, EventError::kInvalidJson);
  EXPECT_FALSE(Parse(R"({"sentAt":"x"})"));
  EXPECT_EQ(err_.code, EventError::kMissingField);
  EXPECT_EQ(err_.message, R"(batch body needs "batch")");
  EXPECT_FALSE(Parse(R"({"batch":null})"));
  EXPECT_EQ(err_.code, EventError::kMissingField);
  EXPECT_FALSE(Parse(R"({"batch":{"type":"track"}})"));
  EXPECT_EQ(err_.code, EventError::kInvalidField);
  EXPECT_EQ(err_.message, R"("batch" must be an array)");
  EXPECT_FALSE(Parse(R"({"batch":[],"batch":[]})"));
  EXPECT_EQ(err_.code, EventError::kInvalidField);
}

TEST_F(BatchTest, TopLevelContextIsMergedEventKeysWin) {
  ASSERT_TRUE(Parse(R"({"batch":[
      {"type":"track","userId":"u","event":"A","context":{"ip":"1.1.1.1"}},
      {"type":"track","userId":"u","event":"B"}
    ],"context":{"ip":"9.9.9.9","library":{"name":"x"}}})"));
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0].context.ToJson(), R"({"ip":"1.1.1.1","library":{"name":"x"}})");
  EXPECT_EQ(events_[1].context.ToJson(), R"({"ip":"9.9.9.9","library":{"name":"x"}})");
}

TEST_F(BatchTest, EventsVectorIsReused) {
  ASSERT_TRUE(Parse(R"({"batch":[{"type":"track","userId":"u","event":"A","properties":{"x":1}},
                                 {"type":"track","userId":"u","event":"B"}]})"));
  ASSERT_EQ(events_.size(), 2u);
  ASSERT_TRUE(Parse(R"({"batch":[{"type":"page","userId":"v"}]})"));
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].type, EventType::kPage);
  EXPECT_TRUE(events_[0].properties.is_null());
  EXPECT_FALSE(events_[0].has_name);
}

}  // namespace
}  // namespace handoff
