#include "ingest/event_parser.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/json_simdjson.h"
#include "base/timestamp.h"
#include "base/utf8.h"

namespace handoff {

namespace ondemand = simdjson::ondemand;
using simdjson::error_code;
using simdjson::SUCCESS;

namespace {

// What a known top-level field held. null counts as absent everywhere.
enum class Kind : uint8_t { kAbsent, kString, kNumber, kObject, kOther };

struct Scalar {
  Kind kind = Kind::kAbsent;
  // kString: unescaped, in the parser's string buffer. kNumber: the number as written, in the
  // padded input (a numeric groupId is taken as its text: 64-bit ids pass unrounded).
  std::string_view text;
  double number = 0;  // kNumber
};

// The known fields of one event object, as read in document order. Strings are views into the
// simdjson parser's buffers, valid until the parser's next document.
struct Fields {
  Scalar type, user_id, anonymous_id, message_id, timestamp, event, name, group_id, previous_id;
  Kind properties = Kind::kAbsent;  // stored in Event::properties when an object
  Kind traits = Kind::kAbsent;      // stored in Event::traits when an object
  Kind context = Kind::kAbsent;     // stored in Event::context when an object
};

error_code ReadScalar(ondemand::value json, int max_depth, Scalar* out) {
  ondemand::json_type type;
  HANDOFF_JSON_TRY(json.type().get(type));
  out->text = {};
  switch (type) {
    case ondemand::json_type::string:
      out->kind = Kind::kString;
      return json.get_string().get(out->text);
    case ondemand::json_type::number: {
      out->kind = Kind::kNumber;
      out->text = JsonNumberText(json);
      return JsonNumberToDouble(json, &out->number);
    }
    case ondemand::json_type::null:
      out->kind = Kind::kAbsent;
      break;
    case ondemand::json_type::object:
      out->kind = Kind::kObject;
      break;
    default:
      out->kind = Kind::kOther;
      break;
  }
  return SkipJsonValue(json, max_depth);
}

// An object-valued field: converted into *into when it is an object, else only checked.
error_code ReadObject(ondemand::value json, int max_depth, Kind* kind, Value* into) {
  ondemand::json_type type;
  HANDOFF_JSON_TRY(json.type().get(type));
  switch (type) {
    case ondemand::json_type::object:
      *kind = Kind::kObject;
      return JsonToValue(json, into, max_depth);
    case ondemand::json_type::null:
      *kind = Kind::kAbsent;
      break;
    default:
      *kind = Kind::kOther;
      break;
  }
  return SkipJsonValue(json, max_depth);
}

// Walks every member of an event object. Object-valued fields go straight into *out (On-Demand
// cannot come back to them once past); they are cleared later if the type does not use them.
// `max_depth` is what is left for the members' values.
error_code CollectFields(ondemand::object object, bool type_implied, int max_depth, Fields* fields,
                         Event* out) {
  for (auto field : object) {
    std::string_view key;
    HANDOFF_JSON_TRY(field.unescaped_key().get(key));
    ondemand::value value;
    HANDOFF_JSON_TRY(field.value().get(value));
    error_code err;
    if (key == "type" && !type_implied) {
      err = ReadScalar(value, max_depth, &fields->type);
    } else if (key == "userId") {
      err = ReadScalar(value, max_depth, &fields->user_id);
    } else if (key == "anonymousId") {
      err = ReadScalar(value, max_depth, &fields->anonymous_id);
    } else if (key == "messageId") {
      err = ReadScalar(value, max_depth, &fields->message_id);
    } else if (key == "timestamp") {
      err = ReadScalar(value, max_depth, &fields->timestamp);
    } else if (key == "event") {
      err = ReadScalar(value, max_depth, &fields->event);
    } else if (key == "properties") {
      err = ReadObject(value, max_depth, &fields->properties, &out->properties);
    } else if (key == "context") {
      err = ReadObject(value, max_depth, &fields->context, &out->context);
    } else if (key == "traits") {
      err = ReadObject(value, max_depth, &fields->traits, &out->traits);
    } else if (key == "name") {
      err = ReadScalar(value, max_depth, &fields->name);
    } else if (key == "groupId") {
      err = ReadScalar(value, max_depth, &fields->group_id);
    } else if (key == "previousId") {
      err = ReadScalar(value, max_depth, &fields->previous_id);
    } else {
      err = SkipJsonValue(value, max_depth);
    }
    HANDOFF_JSON_TRY(err);
  }
  return SUCCESS;
}

bool Fail(ParseError* err, EventError code, std::string message) {
  err->code = code;
  err->message = std::move(message);
  return false;
}

bool FailJson(ParseError* err, error_code json_err) {
  return Fail(err, EventError::kInvalidJson, JsonErrorMessage(json_err));
}

std::string Quoted(std::string_view field) {
  std::string s;
  s.reserve(field.size() + 2);
  s.push_back('"');
  s.append(field);
  s.push_back('"');
  return s;
}

bool FailNotString(ParseError* err, std::string_view field) {
  return Fail(err, EventError::kInvalidField, Quoted(field) + " must be a string");
}

// A sender's string quoted in a message, cut to a sane length on a UTF-8 character boundary.
std::string Excerpt(std::string_view s) {
  constexpr size_t kMax = 64;
  if (s.size() <= kMax) {
    return std::string(s);
  }
  size_t cut = kMax;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return std::string(s.substr(0, cut)) + "...";
}

bool IsAbsentOrEmpty(const Scalar& s) {
  return s.kind == Kind::kAbsent || (s.kind == Kind::kString && s.text.empty());
}

// A required string field of one type ("track needs \"event\""). `empty_is_missing`: "" counts
// as absent (SPEC 2 says so of the ids only; an alias's empty previousId would link the empty id,
// which no event can name).
bool CheckRequiredString(const Scalar& s, EventType type, std::string_view field, ParseError* err,
                         bool empty_is_missing) {
  if (empty_is_missing ? IsAbsentOrEmpty(s) : s.kind == Kind::kAbsent) {
    return Fail(err, EventError::kMissingField,
                std::string(EventTypeName(type)) + " needs " + Quoted(field));
  }
  if (s.kind != Kind::kString) {
    return FailNotString(err, field);
  }
  return true;
}

bool CheckObject(Kind kind, std::string_view field, ParseError* err) {
  if (kind == Kind::kAbsent || kind == Kind::kObject) {
    return true;
  }
  return Fail(err, EventError::kInvalidField, Quoted(field) + " must be an object");
}

// Applies SPEC section 2 to the collected fields, in the order documented in the header, and
// fills *out on success.
bool Validate(const Fields& f, std::optional<EventType> implied_type, Event* out, ParseError* err) {
  if (f.message_id.kind == Kind::kString) {
    err->message_id.assign(f.message_id.text);
  }

  // 2. type
  EventType type;
  if (implied_type.has_value()) {
    type = *implied_type;
  } else {
    if (f.type.kind == Kind::kAbsent) {
      return Fail(err, EventError::kMissingField, "event needs \"type\"");
    }
    if (f.type.kind != Kind::kString) {
      return FailNotString(err, "type");
    }
    const std::optional<EventType> named = EventTypeFromName(f.type.text);
    if (!named.has_value()) {
      return Fail(err, EventError::kUnsupportedType,
                  "unsupported type " + Quoted(Excerpt(f.type.text)) +
                      " (expected track, page, screen, identify, group or alias)");
    }
    type = *named;
  }

  // 3-4. identities
  if (f.user_id.kind != Kind::kAbsent && f.user_id.kind != Kind::kString) {
    return FailNotString(err, "userId");
  }
  if (f.anonymous_id.kind != Kind::kAbsent && f.anonymous_id.kind != Kind::kString) {
    return FailNotString(err, "anonymousId");
  }
  if (IsAbsentOrEmpty(f.user_id) && IsAbsentOrEmpty(f.anonymous_id)) {
    return Fail(err, EventError::kMissingField, "event needs \"userId\" or \"anonymousId\"");
  }

  // 5. messageId
  if (f.message_id.kind != Kind::kAbsent && f.message_id.kind != Kind::kString) {
    return FailNotString(err, "messageId");
  }

  // 6. timestamp
  EpochSeconds timestamp = 0;
  bool timestamp_ok = true;
  switch (f.timestamp.kind) {
    case Kind::kAbsent:
      break;
    case Kind::kString:
      timestamp_ok = ParseRfc3339(f.timestamp.text, &timestamp);
      break;
    case Kind::kNumber:
      timestamp_ok = EpochFromNumber(f.timestamp.number, &timestamp);
      break;
    default:
      timestamp_ok = false;
      break;
  }
  if (!timestamp_ok) {
    return Fail(err, EventError::kInvalidField,
                "\"timestamp\" is not an RFC 3339 date-time or epoch seconds");
  }

  // 7. event / name
  const bool is_track = type == EventType::kTrack;
  const bool is_page = type == EventType::kPage || type == EventType::kScreen;
  if (is_track && !CheckRequiredString(f.event, type, "event", err, /*empty_is_missing=*/false)) {
    return false;
  }
  if (is_page && f.name.kind != Kind::kAbsent && f.name.kind != Kind::kString) {
    return FailNotString(err, "name");
  }

  // 8-10. objects
  const bool uses_properties = is_track || is_page;
  const bool uses_traits = type == EventType::kIdentify || type == EventType::kGroup;
  if (uses_properties && !CheckObject(f.properties, "properties", err)) {
    return false;
  }
  if (uses_traits && !CheckObject(f.traits, "traits", err)) {
    return false;
  }
  if (!CheckObject(f.context, "context", err)) {
    return false;
  }

  // 11. groupId
  if (type == EventType::kGroup) {
    const bool number_ok = f.group_id.kind == Kind::kNumber;  // any, as written (1e400 too)
    if (f.group_id.kind == Kind::kAbsent) {
      return Fail(err, EventError::kMissingField, "group needs \"groupId\"");
    }
    if (f.group_id.kind != Kind::kString && !number_ok) {
      return Fail(err, EventError::kInvalidField, "\"groupId\" must be a string or a number");
    }
  }

  // 12. previousId
  if (type == EventType::kAlias &&
      !CheckRequiredString(f.previous_id, type, "previousId", err, /*empty_is_missing=*/true)) {
    return false;
  }

  // Valid: fill the event, reusing its strings' capacity.
  out->type = type;
  out->user_id.assign(f.user_id.text);
  out->anonymous_id.assign(f.anonymous_id.text);
  out->message_id.assign(f.message_id.text);
  out->timestamp = timestamp;
  out->has_timestamp = f.timestamp.kind != Kind::kAbsent;
  if (is_track) {
    out->name.assign(f.event.text);
    out->has_name = true;
  } else if (is_page && f.name.kind == Kind::kString) {
    out->name.assign(f.name.text);
    out->has_name = true;
  } else {
    out->name.clear();
    out->has_name = false;
  }
  if (!uses_properties || f.properties != Kind::kObject) {
    out->properties = Value();
  }
  if (!uses_traits || f.traits != Kind::kObject) {
    out->traits = Value();
  }
  if (f.context != Kind::kObject) {
    out->context = Value();
  }
  out->group_id.clear();
  if (type == EventType::kGroup) {
    out->group_id.assign(f.group_id.text);  // a number's text as sent
  }
  out->previous_id.clear();
  if (type == EventType::kAlias) {
    out->previous_id.assign(f.previous_id.text);
  }
  return true;
}

// Depths in a batch body: the body is 1, "batch" 2, an item 3, an item's fields 4.
constexpr int kBatchItemDepth = kMaxJsonDepth - 2;

// Reads the items of a "batch" array: valid events into (*events)[0, *valid), reusing the
// Events already there; one BatchError per rejected item.
error_code ReadBatchItems(ondemand::array array, std::vector<Event>* events,
                          std::vector<BatchError>* errors, size_t* valid) {
  size_t index = 0;
  for (auto element : array) {
    const size_t item_index = index++;
    ondemand::value item;
    HANDOFF_JSON_TRY(element.get(item));
    ondemand::json_type type;
    HANDOFF_JSON_TRY(item.type().get(type));
    // An item nested past the limit is refused alone; the batch goes on with the next item (the
    // array's iterator skips what is left of this one). The body is valid JSON (SPEC 4: 400 is
    // for a body that is not).
    auto reject_too_deep = [&] {
      BatchError& rejected = errors->emplace_back();
      rejected.index = item_index;
      rejected.error.code = EventError::kInvalidJson;
      rejected.error.message = JsonErrorMessage(simdjson::DEPTH_ERROR);
    };
    if (type != ondemand::json_type::object) {
      const error_code skipped = SkipJsonValue(item, kBatchItemDepth);
      if (skipped == simdjson::DEPTH_ERROR) {
        reject_too_deep();
        continue;
      }
      HANDOFF_JSON_TRY(skipped);
      BatchError& rejected = errors->emplace_back();
      rejected.index = item_index;
      rejected.error.code = EventError::kInvalidJson;
      rejected.error.message = "invalid JSON: batch item is not an object";
      continue;
    }
    ondemand::object item_object;
    HANDOFF_JSON_TRY(item.get_object().get(item_object));
    if (*valid == events->size()) {
      events->emplace_back();
    }
    Event* event = &(*events)[*valid];
    Fields fields;
    const error_code collected =
        CollectFields(item_object, /*type_implied=*/false, kBatchItemDepth - 1, &fields, event);
    if (collected == simdjson::DEPTH_ERROR) {
      reject_too_deep();
      continue;
    }
    HANDOFF_JSON_TRY(collected);
    ParseError item_err;
    if (Validate(fields, std::nullopt, event, &item_err)) {
      ++*valid;
    } else {
      errors->push_back(BatchError{item_index, std::move(item_err)});
    }
  }
  return SUCCESS;
}

// Reads the value of "batch": *kind is kObject for an array (whose items are read), kAbsent for
// null, kOther for anything else.
error_code ReadBatch(ondemand::value json, std::vector<Event>* events,
                     std::vector<BatchError>* errors, size_t* valid, Kind* kind) {
  ondemand::json_type type;
  HANDOFF_JSON_TRY(json.type().get(type));
  if (type != ondemand::json_type::array) {
    *kind = type == ondemand::json_type::null ? Kind::kAbsent : Kind::kOther;
    return SkipJsonValue(json, kMaxJsonDepth - 1);
  }
  *kind = Kind::kObject;  // "usable"
  ondemand::array array;
  HANDOFF_JSON_TRY(json.get_array().get(array));
  return ReadBatchItems(array, events, errors, valid);
}

// Adds the members of `batch_context` that `context` lacks (Segment: a batch's context is
// merged into each item's, the item's own keys winning).
void MergeBatchContext(const Value& batch_context, Value* context) {
  if (!context->is_object()) {
    *context = batch_context;
    return;
  }
  Value::Object& members = context->mutable_object();
  const size_t own = members.size();
  for (const Value::Member& m : batch_context.as_object()) {
    const bool present =
        std::any_of(members.begin(), members.begin() + static_cast<std::ptrdiff_t>(own),
                    [&](const Value::Member& mine) { return mine.first == m.first; });
    if (!present) {
      members.push_back(m);
    }
  }
}

}  // namespace

void SetLineTooLong(size_t bytes, size_t limit, ParseError* err) {
  err->code = EventError::kLineTooLong;
  err->message = "line is longer than " + std::to_string(limit) + " bytes";
  err->message_id.clear();
}

// Performance note: On-Demand's iteration code is compiled into this file for the build's
// target (simdjson's "fallback" kernel under default flags), while stage 1 and string unescaping
// dispatch at run time to libsimdjson's AVX2/AVX-512 kernels. Building with -march=haswell made
// no measurable difference (bench/event_parser_bench.cc), so no special flags are needed.
struct EventParser::Impl {
  explicit Impl(Options o) : options(o) {}

  // Starts a document whose root must be an object.
  bool StartObject(std::string_view json, ondemand::document* doc, ondemand::object* object,
                   ParseError* err) {
    error_code json_err = parser.iterate(input.Pad(json)).get(*doc);
    if (json_err != SUCCESS) {
      return FailJson(err, json_err);
    }
    ondemand::json_type type;
    json_err = doc->type().get(type);
    if (json_err != SUCCESS) {
      return FailJson(err, json_err);
    }
    if (type != ondemand::json_type::object) {
      // On-Demand names the root's type from its first byte ("nope" reads as a null): say
      // "not an object" only of valid JSON, else what is wrong with it. Rejections only.
      Value ignored;
      if (Status st = validator.Parse(json, &ignored); !st.ok()) {
        return Fail(err, EventError::kInvalidJson, st.message());
      }
      return Fail(err, EventError::kInvalidJson, "invalid JSON: not an object");
    }
    json_err = doc->get_object().get(*object);
    if (json_err != SUCCESS) {
      return FailJson(err, json_err);
    }
    return true;
  }

  Options options;
  ondemand::parser parser;
  JsonParser validator;  // a root that is not an object: is it JSON at all?
  PaddedBuffer input;
  Value batch_context;  // reused by ParseBatch
};

EventParser::EventParser() : EventParser(Options()) {}
EventParser::EventParser(Options options) : impl_(std::make_unique<Impl>(options)) {}
EventParser::~EventParser() = default;

bool EventParser::Parse(std::string_view json, Event* out, ParseError* err,
                        std::optional<EventType> implied_type) {
  if (ParseText(json, out, err, implied_type)) {
    return true;
  }
  // The rare path: only text that failed is scanned for lone surrogate escapes.
  std::string repaired;
  if (err->code != EventError::kInvalidJson || !ReplaceLoneSurrogateEscapes(json, &repaired)) {
    return false;
  }
  return ParseText(repaired, out, err, implied_type);
}

bool EventParser::ParseBatch(std::string_view body, std::vector<Event>* events,
                             std::vector<BatchError>* errors, ParseError* err) {
  const bool ok = ParseBatchText(body, events, errors, err);
  const bool invalid_json =
      ok ? std::any_of(errors->begin(), errors->end(),
                       [](const BatchError& e) { return e.error.code == EventError::kInvalidJson; })
         : err->code == EventError::kInvalidJson;
  std::string repaired;
  if (!invalid_json || !ReplaceLoneSurrogateEscapes(body, &repaired)) {
    return ok;
  }
  return ParseBatchText(repaired, events, errors, err);
}

bool EventParser::ParseText(std::string_view json, Event* out, ParseError* err,
                            std::optional<EventType> implied_type) {
  err->Clear();
  if (impl_->options.max_bytes != 0 && json.size() > impl_->options.max_bytes) {
    SetLineTooLong(json.size(), impl_->options.max_bytes, err);
    return false;
  }
  ondemand::document doc;
  ondemand::object object;
  if (!impl_->StartObject(json, &doc, &object, err)) {
    return false;
  }
  Fields fields;
  const error_code json_err =
      CollectFields(object, implied_type.has_value(), kMaxJsonDepth - 1, &fields, out);
  if (json_err != SUCCESS) {
    if (fields.message_id.kind == Kind::kString) {
      err->message_id.assign(fields.message_id.text);
    }
    return FailJson(err, json_err);
  }
  if (!AtDocumentEnd(doc)) {
    if (fields.message_id.kind == Kind::kString) {
      err->message_id.assign(fields.message_id.text);
    }
    return Fail(err, EventError::kInvalidJson, "invalid JSON: trailing content after the object");
  }
  return Validate(fields, implied_type, out, err);
}

bool EventParser::ParseBatchText(std::string_view body, std::vector<Event>* events,
                                 std::vector<BatchError>* errors, ParseError* err) {
  err->Clear();
  errors->clear();
  ondemand::document doc;
  ondemand::object object;
  if (!impl_->StartObject(body, &doc, &object, err)) {
    return false;
  }
  size_t valid = 0;
  int batch_seen = 0;
  Kind batch_kind = Kind::kAbsent;
  Kind context_kind = Kind::kAbsent;
  for (auto field : object) {
    std::string_view key;
    ondemand::value value;
    error_code json_err = field.unescaped_key().get(key);
    if (json_err == SUCCESS) {
      json_err = field.value().get(value);
    }
    if (json_err == SUCCESS) {
      if (key == "batch" && ++batch_seen == 1) {
        json_err = ReadBatch(value, events, errors, &valid, &batch_kind);
      } else if (key == "context") {
        json_err = ReadObject(value, kMaxJsonDepth - 1, &context_kind, &impl_->batch_context);
      } else {
        json_err = SkipJsonValue(value, kMaxJsonDepth - 1);
      }
    }
    if (json_err != SUCCESS) {
      return FailJson(err, json_err);
    }
  }
  if (!AtDocumentEnd(doc)) {
    return Fail(err, EventError::kInvalidJson, "invalid JSON: trailing content after the object");
  }
  if (batch_seen > 1) {
    return Fail(err, EventError::kInvalidField, "\"batch\" appears more than once");
  }
  if (batch_kind == Kind::kAbsent) {
    return Fail(err, EventError::kMissingField, "batch body needs \"batch\"");
  }
  if (batch_kind != Kind::kObject) {
    return Fail(err, EventError::kInvalidField, "\"batch\" must be an array");
  }
  events->erase(events->begin() + static_cast<std::ptrdiff_t>(valid), events->end());
  if (context_kind == Kind::kObject) {
    for (Event& event : *events) {
      MergeBatchContext(impl_->batch_context, &event.context);
    }
  }
  return true;
}

}  // namespace handoff
