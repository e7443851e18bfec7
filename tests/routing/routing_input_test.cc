// RoutingInput's bytes: every kind decodes to the fields it carries; anything cut short, longer,
// or with a version, kind or flag byte Encode never writes fails cleanly (the bytes come over the
// network).
#include "routing/routing_input.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "storage/coding.h"

namespace handoff {
namespace {

const std::vector<RoutingInputKind> kAllKinds = {
    RoutingInputKind::kStage,           RoutingInputKind::kMerge,
    RoutingInputKind::kForget,          RoutingInputKind::kSalesAction,
    RoutingInputKind::kRepAvailability, RoutingInputKind::kAccountOwner,
    RoutingInputKind::kRules,           RoutingInputKind::kTick,
};

LeadState SampleLead(const std::string& id, bool owned) {
  LeadState lead;
  lead.id = id;
  lead.stage = "mql";
  lead.traits = Value::MakeObject();
  lead.traits.Set("title", Value::String("VP Sales"));
  lead.traits.Set("employees", Value::Number(250));
  lead.first_seen = 1'800'000'000;
  lead.last_seen = 1'800'000'100.5;
  lead.events = 7;
  if (owned) {
    LeadOwner owner;
    owner.rep = "ana";
    owner.team = "emea";
    owner.seq = 41;
    owner.accepted = true;
    owner.routed_at = 1'800'000'050;
    owner.reassignments = 1;
    owner.held_by = {"bo", "ana"};
    lead.owner = owner;
  }
  return lead;
}

// Every field the kind carries is set to something other than its default.
RoutingInput Sample(RoutingInputKind kind) {
  RoutingInput input;
  input.kind = kind;
  input.at = 1'800'000'200.25;
  input.place.partition = 3;
  input.place.order = 7;
  input.place.index = 2;
  switch (kind) {
    case RoutingInputKind::kStage:
      input.lead = SampleLead("user-1", true);
      input.from_stage = "new";
      input.to_stage = "mql";
      input.trigger = "msg-1";
      input.scores_at = 1'800'000'100.5;
      break;
    case RoutingInputKind::kMerge:
      input.lead = SampleLead("user-1", true);
      input.older = SampleLead("anon-2", false);
      input.older.stage = "new";
      input.from_stage = "new";
      input.to_stage = "mql";
      input.trigger = "msg-2";
      input.scores_at = 1'800'000'150;
      break;
    case RoutingInputKind::kForget:
      input.lead = SampleLead("user-3", false);
      break;
    case RoutingInputKind::kSalesAction:
      input.place.partition = RoutingPlace::kNoPartition;
      input.action.kind = SalesActionKind::kClose;
      input.action.seq = 41;
      input.action.outcome = "won";
      input.action.amount = 12'500.75;
      input.action.as_rep = "ana";
      input.asked_by = "node-2";
      input.request = 300;
      break;
    case RoutingInputKind::kRepAvailability:
      input.rep = "bo";
      input.online = false;
      input.asked_by = "node-3";
      input.request = 301;
      break;
    case RoutingInputKind::kAccountOwner:
      input.domain = "acme.example";
      input.rep = "ana";
      input.asked_by = "node-1";
      input.request = 302;
      break;
    case RoutingInputKind::kRules:
      input.rules_sha256 = std::string(64, 'a');
      input.rules_revision = 12;
      input.rules_yaml = "scores:\n  fit: {kind: profile}\n";
      break;
    case RoutingInputKind::kTick:
      break;
  }
  return input;
}

void ExpectSameLead(const LeadState& back, const LeadState& lead) {
  EXPECT_EQ(back.id, lead.id);
  EXPECT_EQ(back.stage, lead.stage);
  EXPECT_EQ(back.traits.ToJson(), lead.traits.ToJson());
  EXPECT_EQ(back.first_seen, lead.first_seen);
  EXPECT_EQ(back.last_seen, lead.last_seen);
  EXPECT_EQ(back.events, lead.events);
  ASSERT_EQ(back.owner.has_value(), lead.owner.has_value());
  if (lead.owner.has_value()) {
    EXPECT_EQ(back.owner->rep, lead.owner->rep);
    EXPECT_EQ(back.owner->team, lead.owner->team);
    EXPECT_EQ(back.owner->seq, lead.owner->seq);
    EXPECT_EQ(back.owner->accepted, lead.owner->accepted);
    EXPECT_EQ(back.owner->routed_at, lead.owner->routed_at);
    EXPECT_EQ(back.owner->reassignments, lead.owner->reassignments);
    EXPECT_EQ(back.owner->held_by, lead.owner->held_by);
  }
}

std::string Bytes(const RoutingInput& input) {
  std::string bytes;
  input.Encode(&bytes);
  return bytes;
}

TEST(RoutingInputTest, EveryKindDecodesToWhatWasEncoded) {
  for (RoutingInputKind kind : kAllKinds) {
    SCOPED_TRACE(static_cast<int>(kind));
    const RoutingInput input = Sample(kind);
    RoutingInput back;
    ASSERT_TRUE(back.Decode(Bytes(input)));
    EXPECT_EQ(back.kind, kind);
    EXPECT_EQ(back.at, input.at);
    EXPECT_EQ(back.place.partition, input.place.partition);
    EXPECT_EQ(back.place.order, input.place.order);
    EXPECT_EQ(back.place.index, input.place.index);
    switch (kind) {
      case RoutingInputKind::kStage:
        ExpectSameLead(back.lead, input.lead);
        EXPECT_EQ(back.from_stage, "new");
        EXPECT_EQ(back.to_stage, "mql");
        EXPECT_EQ(back.trigger, "msg-1");
        EXPECT_EQ(back.scores_at, input.scores_at);
        break;
      case RoutingInputKind::kMerge:
        ExpectSameLead(back.lead, input.lead);
        ExpectSameLead(back.older, input.older);
        EXPECT_EQ(back.from_stage, "new");
        EXPECT_EQ(back.to_stage, "mql");
        EXPECT_EQ(back.trigger, "msg-2");
        EXPECT_EQ(back.scores_at, input.scores_at);
        break;
      case RoutingInputKind::kForget:
        ExpectSameLead(back.lead, input.lead);
        break;
      case RoutingInputKind::kSalesAction:
        EXPECT_EQ(back.action.kind, SalesActionKind::kClose);
        EXPECT_EQ(back.action.seq, 41u);
        EXPECT_EQ(back.action.reason, "");
        EXPECT_EQ(back.action.outcome, "won");
        EXPECT_EQ(back.action.amount, 12'500.75);
        EXPECT_EQ(back.action.as_rep, "ana");
        EXPECT_EQ(back.asked_by, "node-2");
        EXPECT_EQ(back.request, 300u);
        break;
      case RoutingInputKind::kRepAvailability:
        EXPECT_EQ(back.rep, "bo");
        EXPECT_FALSE(back.online);
        EXPECT_EQ(back.asked_by, "node-3");
        EXPECT_EQ(back.request, 301u);
        break;
      case RoutingInputKind::kAccountOwner:
        EXPECT_EQ(back.domain, "acme.example");
        EXPECT_EQ(back.rep, "ana");
        EXPECT_EQ(back.asked_by, "node-1");
        EXPECT_EQ(back.request, 302u);
        break;
      case RoutingInputKind::kRules:
        EXPECT_EQ(back.rules_sha256, input.rules_sha256);
        EXPECT_EQ(back.rules_revision, 12u);
        EXPECT_EQ(back.rules_yaml, input.rules_yaml);
        break;
      case RoutingInputKind::kTick:
        break;
    }
  }
}

TEST(RoutingInputTest, ARejectWithoutAnAmountDecodesWithoutOne) {
  RoutingInput input = Sample(RoutingInputKind::kSalesAction);
  input.action.kind = SalesActionKind::kReject;
  input.action.reason = "not my territory";
  input.action.outcome.clear();
  input.action.amount.reset();
  RoutingInput back;
  ASSERT_TRUE(back.Decode(Bytes(input)));
  EXPECT_EQ(back.action.kind, SalesActionKind::kReject);
  EXPECT_EQ(back.action.reason, "not my territory");
  EXPECT_FALSE(back.action.amount.has_value());
}

// A merge's stage change was added to its encoding later: a merge ends before it when it made
// none, as every merge logged before did.
TEST(RoutingInputTest, AMergeWithoutAStageChangeEndsBeforeIt) {
  RoutingInput input = Sample(RoutingInputKind::kMerge);
  const std::string with = Bytes(input);
  input.from_stage.clear();
  input.to_stage.clear();
  const std::string without = Bytes(input);
  ASSERT_LT(without.size(), with.size());
  EXPECT_EQ(with.substr(0, without.size()), without);
  RoutingInput back;
  ASSERT_TRUE(back.Decode(without));
  EXPECT_EQ(back.from_stage, "");
  EXPECT_EQ(back.to_stage, "");
  EXPECT_EQ(back.trigger, "msg-2");
}

// The causing event's receive time (speed to lead) was added later, at the end: a stage change
// or merge logged before it decodes with none, and one that has it keeps it.
TEST(RoutingInputTest, TheReceiveTimeComesLastAndMayBeMissing) {
  for (RoutingInputKind kind : {RoutingInputKind::kStage, RoutingInputKind::kMerge}) {
    for (bool stages : {true, false}) {
      SCOPED_TRACE(static_cast<int>(kind) * 10 + (stages ? 1 : 0));
      RoutingInput input = Sample(kind);
      if (!stages && kind == RoutingInputKind::kMerge) {
        input.from_stage.clear();
        input.to_stage.clear();
      }
      const std::string without = Bytes(input);
      input.received_at = 1'767'225'600.125;
      const std::string with = Bytes(input);
      RoutingInput back;
      ASSERT_TRUE(back.Decode(with));
      EXPECT_EQ(back.received_at, input.received_at);
      EXPECT_EQ(back.from_stage, input.from_stage);
      EXPECT_EQ(back.to_stage, input.to_stage);
      ASSERT_TRUE(back.Decode(without));
      EXPECT_EQ(back.received_at, 0);
      EXPECT_FALSE(back.Decode(with.substr(0, with.size() - 1)));
      // 0 is "none", never written: bytes that say 0 are not Encode's.
      std::string zero = with.substr(0, with.size() - 8);
      coding::PutDouble(0, &zero);
      EXPECT_FALSE(back.Decode(zero));
    }
  }
}

TEST(RoutingInputTest, BytesCutShortOrWithMoreDoNotDecode) {
  for (RoutingInputKind kind : kAllKinds) {
    SCOPED_TRACE(static_cast<int>(kind));
    const std::string bytes = Bytes(Sample(kind));
    RoutingInput without_stages = Sample(kind);
    without_stages.from_stage.clear();
    without_stages.to_stage.clear();
    // A merge cut just before its stage change is a merge without one (the test above).
    const size_t merge_end =
        kind == RoutingInputKind::kMerge ? Bytes(without_stages).size() : bytes.size();
    for (size_t n = 0; n < bytes.size(); ++n) {
      RoutingInput input;
      EXPECT_EQ(input.Decode(std::string_view(bytes).substr(0, n)), n == merge_end) << n;
    }
    RoutingInput input;
    EXPECT_FALSE(input.Decode(bytes + "x"));
  }
}

TEST(RoutingInputTest, AnotherVersionOrAnUnknownKindDoesNotDecode) {
  const std::string bytes = Bytes(Sample(RoutingInputKind::kTick));
  RoutingInput input;
  ASSERT_TRUE(input.Decode(bytes));
  for (char version : {0, 2, 9}) {
    std::string changed = bytes;
    changed[0] = version;
    EXPECT_FALSE(input.Decode(changed)) << static_cast<int>(version);
  }
  for (char kind : {0, 9, -1}) {
    std::string changed = bytes;
    changed[1] = kind;
    EXPECT_FALSE(input.Decode(changed)) << static_cast<int>(kind);
  }
}

// Sample's place (3, 7, 2) takes one byte a varint, so a sales action's kind byte is at
// 1 (version) + 1 (kind) + 8 (at) + 3 (place).
TEST(RoutingInputTest, AnUnknownSalesActionKindDoesNotDecode) {
  RoutingInput sample = Sample(RoutingInputKind::kSalesAction);
  sample.place = {3, 7, 2};
  std::string bytes = Bytes(sample);
  RoutingInput input;
  ASSERT_TRUE(input.Decode(bytes));
  ASSERT_EQ(bytes[13], static_cast<char>(SalesActionKind::kClose));
  bytes[13] = 3;
  EXPECT_FALSE(input.Decode(bytes));
}

// With as_rep, asked_by empty and request 0, the amount's presence byte is the fourth from the
// end (each of those takes one byte).
TEST(RoutingInputTest, AnAmountPresenceByteOtherThanZeroOrOneDoesNotDecode) {
  RoutingInput sample = Sample(RoutingInputKind::kSalesAction);
  sample.action.amount.reset();
  sample.action.as_rep.clear();
  sample.asked_by.clear();
  sample.request = 0;
  std::string bytes = Bytes(sample);
  RoutingInput input;
  ASSERT_TRUE(input.Decode(bytes));
  ASSERT_EQ(bytes[bytes.size() - 4], 0);
  bytes[bytes.size() - 4] = 2;
  EXPECT_FALSE(input.Decode(bytes));
}

TEST(RoutingInputTest, AnAmountThatIsNotFiniteOrIsNegativeDoesNotDecode) {
  for (double amount :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(), -1.0}) {
    RoutingInput sample = Sample(RoutingInputKind::kSalesAction);
    sample.action.amount = amount;
    RoutingInput input;
    EXPECT_FALSE(input.Decode(Bytes(sample))) << amount;
  }
}

TEST(RoutingInputTest, AnOnlineByteOtherThanZeroOrOneDoesNotDecode) {
  std::string bytes = Bytes(Sample(RoutingInputKind::kRepAvailability));
  RoutingInput input;
  ASSERT_TRUE(input.Decode(bytes));
  bytes.back() = 2;
  EXPECT_FALSE(input.Decode(bytes));
}

TEST(RoutingInputTest, APartitionWiderThanThirtyTwoBitsDoesNotDecode) {
  RoutingInput sample = Sample(RoutingInputKind::kTick);
  sample.place = {0, 0, 0};
  const std::string bytes = Bytes(sample);
  // The three place varints are one zero byte each, at 10, 11 and 12; 2^32 takes five bytes.
  const std::string wide = "\x80\x80\x80\x80\x10";
  for (size_t at : {size_t{10}, size_t{12}}) {
    std::string changed = bytes;
    changed.replace(at, 1, wide);
    RoutingInput input;
    EXPECT_FALSE(input.Decode(changed)) << at;
    changed = bytes;
    changed.replace(at, 1, "\xff\xff\xff\xff\x0f");  // 2^32 - 1 fits
    EXPECT_TRUE(input.Decode(changed)) << at;
  }
}

// The router's clock moves to `at`: a time that is not a number never decodes.
TEST(RoutingInputTest, ATimeThatIsNotANumberDoesNotDecode) {
  for (double bad :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    RoutingInput input = Sample(RoutingInputKind::kStage);
    input.at = bad;
    std::string bytes;
    input.Encode(&bytes);
    RoutingInput back;
    EXPECT_FALSE(back.Decode(bytes)) << bad;
    input = Sample(RoutingInputKind::kStage);
    input.scores_at = bad;
    bytes.clear();
    input.Encode(&bytes);
    EXPECT_FALSE(back.Decode(bytes)) << bad;
  }
}

// A list of inputs (a routing message, the engine's inputs not yet logged) decodes to the same
// inputs in the same order; cut short or longer, it does not decode.
TEST(RoutingInputTest, AListOfInputsDecodesToTheSameInputsInOrder) {
  std::vector<RoutingInput> inputs;
  for (RoutingInputKind kind : kAllKinds) {
    inputs.push_back(Sample(kind));
  }
  std::string bytes;
  EncodeRoutingInputs(inputs, &bytes);
  std::vector<RoutingInput> back;
  ASSERT_TRUE(DecodeRoutingInputs(bytes, &back));
  ASSERT_EQ(back.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string one;
    std::string other;
    inputs[i].Encode(&one);
    back[i].Encode(&other);
    EXPECT_EQ(one, other) << i;
  }
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeRoutingInputs(std::string_view(bytes).substr(0, n), &back)) << n;
  }
  EXPECT_FALSE(DecodeRoutingInputs(bytes + "x", &back));
  EncodeRoutingInputs({}, &bytes);
  ASSERT_TRUE(DecodeRoutingInputs(bytes, &back));
  EXPECT_TRUE(back.empty());
}

}  // namespace
}  // namespace handoff
