#include "base/json_parser.h"

#include <string>

#include "base/json_simdjson.h"
#include "base/utf8.h"

namespace handoff {

namespace ondemand = simdjson::ondemand;
using simdjson::error_code;
using simdjson::SUCCESS;

struct JsonParser::Impl {
  size_t max_bytes = 0;
  ondemand::parser parser;
  PaddedBuffer input;
};

JsonParser::JsonParser(size_t max_bytes) : impl_(std::make_unique<Impl>()) {
  impl_->max_bytes = max_bytes;
}

JsonParser::~JsonParser() = default;

Status JsonParser::Parse(std::string_view json, Value* out) {
  Status st = ParseText(json, out);
  // The rare path: only text that failed is scanned for lone surrogate escapes (base/utf8.h).
  std::string repaired;
  if (!st.ok() && ReplaceLoneSurrogateEscapes(json, &repaired)) {
    st = ParseText(repaired, out);
  }
  return st;
}

Status JsonParser::ParseText(std::string_view json, Value* out) {
  if (impl_->max_bytes != 0 && json.size() > impl_->max_bytes) {
    return Status::InvalidArgument("line is longer than " + std::to_string(impl_->max_bytes) +
                                   " bytes");
  }
  // simdjson cannot hand out a scalar root document as an ondemand::value, so parse "[json]"
  // instead: one array holding exactly one element, with nothing after the array, proves that
  // `json` is exactly one JSON value.
  ondemand::document doc;
  ondemand::array array;
  error_code json_err =
      impl_->parser.iterate(impl_->input.Pad(json, /*wrap_in_array=*/true)).get(doc);
  if (json_err == SUCCESS) {
    json_err = doc.get_array().get(array);
  }
  size_t count = 0;
  if (json_err == SUCCESS) {
    for (auto element : array) {
      ondemand::value value;
      if ((json_err = element.get(value)) != SUCCESS ||
          (json_err = JsonToValue(value, out, kMaxJsonDepth)) != SUCCESS) {
        break;
      }
      ++count;
    }
  }
  if (json_err != SUCCESS) {
    return Status::InvalidArgument(JsonErrorMessage(json_err));
  }
  if (count != 1 || !AtDocumentEnd(doc)) {
    return Status::InvalidArgument("invalid JSON: not exactly one value");
  }
  return Status::Ok();
}

}  // namespace handoff
