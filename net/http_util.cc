#include "net/http_util.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "base/ascii.h"

namespace handoff {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// Splits "Scheme credentials" and returns the credentials when the scheme matches.
std::optional<std::string_view> CredentialsFor(std::string_view authorization,
                                               std::string_view scheme) {
  std::string_view value = TrimSpaces(authorization);
  if (value.size() <= scheme.size() || !EqualsIgnoreCase(value.substr(0, scheme.size()), scheme)) {
    return std::nullopt;
  }
  const char sep = value[scheme.size()];
  if (sep != ' ' && sep != '\t') {
    return std::nullopt;  // "Basicfoo" is another scheme
  }
  return TrimSpaces(value.substr(scheme.size() + 1));
}

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '+') {
    return 62;
  }
  if (c == '/') {
    return 63;
  }
  return -1;
}

// Calls inflateEnd on every path out of Gunzip.
class InflateStream {
 public:
  InflateStream() = default;
  ~InflateStream() {
    if (initialized_) {
      inflateEnd(&zs_);
    }
  }
  InflateStream(const InflateStream&) = delete;
  InflateStream& operator=(const InflateStream&) = delete;

  bool Init() {
    // 32 + MAX_WBITS: detect a gzip or a zlib header automatically.
    initialized_ = inflateInit2(&zs_, 32 + MAX_WBITS) == Z_OK;
    return initialized_;
  }
  z_stream* get() { return &zs_; }

 private:
  z_stream zs_{};
  bool initialized_ = false;
};

}  // namespace

Result<std::string> PercentDecode(std::string_view in, bool plus_as_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) {
        return Status::InvalidArgument("truncated percent escape");
      }
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) {
        return Status::InvalidArgument("bad percent escape");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<QueryParams> QueryParams::Parse(std::string_view query) {
  QueryParams result;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) {
      continue;
    }
    const size_t eq = pair.find('=');
    std::string_view raw_name = pair.substr(0, eq);
    std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    Result<std::string> name = PercentDecode(raw_name, /*plus_as_space=*/true);
    if (!name.ok()) {
      return name.status();
    }
    Result<std::string> value = PercentDecode(raw_value, /*plus_as_space=*/true);
    if (!value.ok()) {
      return value.status();
    }
    result.params_.emplace_back(std::move(name).value(), std::move(value).value());
  }
  return result;
}

std::optional<std::string_view> QueryParams::Get(std::string_view name) const {
  for (const auto& [key, value] : params_) {
    if (key == name) {
      return std::string_view(value);
    }
  }
  return std::nullopt;
}

Result<std::vector<std::string>> SplitPath(std::string_view path) {
  std::vector<std::string> segments;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    std::string_view raw = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    if (raw.empty()) {
      continue;
    }
    Result<std::string> segment = PercentDecode(raw, /*plus_as_space=*/false);
    if (!segment.ok()) {
      return segment.status();
    }
    segments.push_back(std::move(segment).value());
  }
  return segments;
}

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t n = (static_cast<uint8_t>(in[i]) << 16) |
                       (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
    out.push_back(kBase64Alphabet[(n >> 18) & 63]);
    out.push_back(kBase64Alphabet[(n >> 12) & 63]);
    out.push_back(kBase64Alphabet[(n >> 6) & 63]);
    out.push_back(kBase64Alphabet[n & 63]);
  }
  const size_t rest = in.size() - i;
  if (rest == 1) {
    const uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    out.push_back(kBase64Alphabet[(n >> 18) & 63]);
    out.push_back(kBase64Alphabet[(n >> 12) & 63]);
    out.append("==");
  } else if (rest == 2) {
    const uint32_t n = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
    out.push_back(kBase64Alphabet[(n >> 18) & 63]);
    out.push_back(kBase64Alphabet[(n >> 12) & 63]);
    out.push_back(kBase64Alphabet[(n >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  // Strip up to two '=' of padding; the unpadded length then decides how many bytes the last
  // group holds.
  size_t padding = 0;
  while (!in.empty() && in.back() == '=' && padding < 2) {
    in.remove_suffix(1);
    ++padding;
  }
  if (in.size() % 4 == 1) {
    return std::nullopt;  // no length of bytes encodes to 4k+1 characters
  }
  if (padding > 0 && (in.size() + padding) % 4 != 0) {
    return std::nullopt;  // padding present but not to a whole group
  }
  std::string out;
  out.reserve(in.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int v = Base64Value(c);
    if (v < 0) {
      return std::nullopt;  // includes a '=' in the middle
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::optional<BasicCredentials> ParseBasicAuth(std::string_view authorization) {
  std::optional<std::string_view> encoded = CredentialsFor(authorization, "Basic");
  if (!encoded.has_value() || encoded->empty()) {
    return std::nullopt;
  }
  std::optional<std::string> decoded = Base64Decode(*encoded);
  if (!decoded.has_value()) {
    return std::nullopt;
  }
  BasicCredentials credentials;
  const size_t colon = decoded->find(':');
  if (colon == std::string::npos) {
    credentials.user = std::move(*decoded);
  } else {
    credentials.user = decoded->substr(0, colon);
    credentials.password = decoded->substr(colon + 1);
  }
  return credentials;
}

std::optional<std::string_view> ParseBearerToken(std::string_view authorization) {
  std::optional<std::string_view> token = CredentialsFor(authorization, "Bearer");
  if (!token.has_value() || token->empty() ||
      token->find_first_of(" \t") != std::string_view::npos) {
    return std::nullopt;
  }
  return token;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  volatile unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

GunzipResult Gunzip(std::string_view in, size_t limit, std::string* out) {
  out->clear();
  if (in.empty()) {
    return GunzipResult::kOk;
  }
  if (in.size() > std::numeric_limits<uInt>::max()) {
    return GunzipResult::kTooLarge;  // far beyond any body limit we accept
  }
  InflateStream stream;
  if (!stream.Init()) {
    return GunzipResult::kCorrupt;  // only out of memory gets here
  }
  z_stream* zs = stream.get();
  zs->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs->avail_in = static_cast<uInt>(in.size());

  // Room for one byte past the limit: producing it proves the body is too large.
  const size_t cap = limit == std::numeric_limits<size_t>::max() ? limit : limit + 1;
  constexpr size_t kChunk = 64 * 1024;
  while (true) {
    if (out->size() >= cap) {
      return GunzipResult::kTooLarge;
    }
    const size_t old_size = out->size();
    const size_t grow = std::min(kChunk, cap - old_size);
    out->resize(old_size + grow);
    zs->next_out = reinterpret_cast<Bytef*>(out->data() + old_size);
    zs->avail_out = static_cast<uInt>(grow);
    const int rc = inflate(zs, Z_NO_FLUSH);
    out->resize(old_size + grow - zs->avail_out);
    if (rc == Z_STREAM_END) {
      if (zs->avail_in == 0) {
        break;
      }
      // Another gzip member follows (as `cat a.gz b.gz` makes); garbage fails in its header.
      if (inflateReset(zs) != Z_OK) {
        return GunzipResult::kCorrupt;
      }
      continue;
    }
    if (rc == Z_BUF_ERROR && zs->avail_out == 0) {
      continue;  // needs more output room; the loop head checks the cap
    }
    if (rc != Z_OK) {
      return GunzipResult::kCorrupt;  // Z_DATA_ERROR, Z_NEED_DICT, Z_BUF_ERROR (truncated), ...
    }
    if (zs->avail_in == 0 && zs->avail_out != 0) {
      return GunzipResult::kCorrupt;  // all input used, output room left, no end: truncated
    }
  }
  return out->size() > limit ? GunzipResult::kTooLarge : GunzipResult::kOk;
}

}  // namespace handoff
