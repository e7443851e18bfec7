// HTTP helpers that need no socket: query strings, paths, credentials, gzip bodies.
//
// All functions are pure (no I/O, no global state) and thread-safe. Input comes from the network,
// so every malformed input is a returned error, never a crash or an exception.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "handoff/status.h"

namespace handoff {

// Percent-decodes `in` (RFC 3986 section 2.1). With `plus_as_space` (query strings, HTML forms)
// '+' decodes to ' '; in paths '+' stays '+'. Hex digits may be upper or lower case.
// Fails with InvalidArgument when a '%' is not followed by two hex digits. The decoded bytes are
// returned as they are: "%00" yields a NUL and the result need not be valid UTF-8.
Result<std::string> PercentDecode(std::string_view in, bool plus_as_space);

// The parameters of a query string ("stage=sql&limit=100&after=u%201"), in order, decoded.
// Pairs are separated by '&'; empty pairs ("a=1&&b=2") are skipped; a name without '='
// ("a&b=1") has an empty value; '+' is a space. A repeated name keeps every occurrence.
class QueryParams {
 public:
  QueryParams() = default;

  // Fails with InvalidArgument on a bad percent escape in any name or value.
  static Result<QueryParams> Parse(std::string_view query);

  // The value of the first parameter named `name` (case-sensitive), or nullopt when absent.
  // The view points into this object.
  std::optional<std::string_view> Get(std::string_view name) const;

  const std::vector<std::pair<std::string, std::string>>& params() const { return params_; }

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

// Splits a request path ("/v1/leads/u%2F1") into decoded segments ({"v1", "leads", "u/1"}).
// Segments are split before decoding, so an encoded '/' ("%2F") stays inside its segment. Empty
// segments are dropped ("/v1//leads/" -> {"v1", "leads"}); "/" gives no segments. '+' is kept.
// Fails with InvalidArgument on a bad percent escape.
Result<std::vector<std::string>> SplitPath(std::string_view path);

// Base64 of RFC 4648 section 4 (standard alphabet, '=' padding).
std::string Base64Encode(std::string_view in);
// Decodes the standard alphabet; the '=' padding is optional. nullopt on any other character,
// on misplaced padding or on an impossible length.
std::optional<std::string> Base64Decode(std::string_view in);

// The user and password of an HTTP Basic Authorization header value (RFC 7617).
struct BasicCredentials {
  std::string user;
  std::string password;
};

// Parses "Basic <base64(user:password)>". The scheme name is case-insensitive; spaces around the
// credentials are ignored. The user ends at the first ':' (a password may contain ':'). A decoded
// value without ':' is taken as a user with an empty password: some Segment clients send only
// the write key. nullopt when the scheme is not Basic or the base64 does not decode.
std::optional<BasicCredentials> ParseBasicAuth(std::string_view authorization);

// Parses "Bearer <token>" (RFC 6750). The scheme name is case-insensitive; spaces around the token
// are ignored. nullopt when the scheme is not Bearer, the token is empty or contains a space.
// The view points into `authorization`.
std::optional<std::string_view> ParseBearerToken(std::string_view authorization);

// Compares two secrets in time that depends only on their lengths, so that an attacker timing
// failed logins learns nothing about how many leading bytes were right.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

enum class GunzipResult {
  kOk,
  kTooLarge,  // the inflated data would exceed the limit (answer 413)
  kCorrupt,   // not gzip / zlib data, truncated, or a checksum mismatch (answer 400)
};

// Inflates a gzip (RFC 1952) or zlib (RFC 1950) body into `*out` (replacing its contents).
// Concatenated gzip members are all inflated, as gunzip does. Stops as soon as the output would
// pass `limit` bytes, so a small "zip bomb" costs at most `limit` bytes of memory. Empty input
// inflates to an empty output. On an error `*out` holds an unspecified prefix.
GunzipResult Gunzip(std::string_view in, size_t limit, std::string* out);

}  // namespace handoff
