#include "net/http_util.h"

#include <zlib.h>

#include <string>
#include <vector>

#include "tests/testutil.h"

namespace handoff {
namespace {

std::string GzipCompress(std::string_view data, int window_bits = 16 + MAX_WBITS) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY),
            Z_OK);
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

TEST(PercentDecodeTest, DecodesEscapesAndPlus) {
  Result<std::string> decoded = PercentDecode("a%20b%2Fc%2fd+e", /*plus_as_space=*/true);
  ASSERT_OK(decoded.status());
  EXPECT_EQ(*decoded, "a b/c/d e");
  decoded = PercentDecode("a+b%2B", /*plus_as_space=*/false);
  ASSERT_OK(decoded.status());
  EXPECT_EQ(*decoded, "a+b+");
  decoded = PercentDecode("%e2%82%AC%00x", /*plus_as_space=*/false);
  ASSERT_OK(decoded.status());
  EXPECT_EQ(*decoded, std::string("\xe2\x82\xac\0x", 5));
  decoded = PercentDecode("", /*plus_as_space=*/true);
  ASSERT_OK(decoded.status());
  EXPECT_EQ(*decoded, "");
}

TEST(PercentDecodeTest, RejectsBadEscapes) {
  EXPECT_FALSE(PercentDecode("%", true).ok());
  EXPECT_FALSE(PercentDecode("ab%2", true).ok());
  EXPECT_FALSE(PercentDecode("%zz", true).ok());
  EXPECT_FALSE(PercentDecode("%2g", true).ok());
  EXPECT_EQ(PercentDecode("%4", false).status().code(), Status::Code::kInvalidArgument);
}

TEST(QueryParamsTest, ParsesPairsInOrder) {
  Result<QueryParams> params =
      QueryParams::Parse("stage=sql&limit=100&after=u%201&flag&&x=a+b&x=2");
  ASSERT_OK(params.status());
  ASSERT_EQ(params->params().size(), 6u);
  EXPECT_EQ(params->Get("stage"), "sql");
  EXPECT_EQ(params->Get("limit"), "100");
  EXPECT_EQ(params->Get("after"), "u 1");
  EXPECT_EQ(params->Get("flag"), "");
  EXPECT_EQ(params->Get("x"), "a b");  // the first of a repeated name
  EXPECT_EQ(params->params()[5].second, "2");
  EXPECT_FALSE(params->Get("missing").has_value());
  EXPECT_FALSE(params->Get("Stage").has_value());  // names are case-sensitive
}

TEST(QueryParamsTest, EmptyAndEncodedNamesAndValues) {
  Result<QueryParams> params = QueryParams::Parse("");
  ASSERT_OK(params.status());
  EXPECT_TRUE(params->params().empty());

  params = QueryParams::Parse("at=2026-11-22T10%3A00%3A00Z&a%3Db=c%26d&empty=");
  ASSERT_OK(params.status());
  EXPECT_EQ(params->Get("at"), "2026-11-22T10:00:00Z");
  EXPECT_EQ(params->Get("a=b"), "c&d");
  EXPECT_EQ(params->Get("empty"), "");
}

TEST(QueryParamsTest, RejectsBadEscape) {
  EXPECT_FALSE(QueryParams::Parse("a=%zz").ok());
  EXPECT_FALSE(QueryParams::Parse("%=1").ok());
}

TEST(SplitPathTest, SplitsThenDecodes) {
  Result<std::vector<std::string>> segments = SplitPath("/v1/leads/u%2F1");
  ASSERT_OK(segments.status());
  EXPECT_EQ(*segments, (std::vector<std::string>{"v1", "leads", "u/1"}));

  segments = SplitPath("/v1//accounts/acme.com/");
  ASSERT_OK(segments.status());
  EXPECT_EQ(*segments, (std::vector<std::string>{"v1", "accounts", "acme.com"}));

  segments = SplitPath("/v1/leads/a+b%20c");
  ASSERT_OK(segments.status());
  EXPECT_EQ(*segments, (std::vector<std::string>{"v1", "leads", "a+b c"}));

  segments = SplitPath("/");
  ASSERT_OK(segments.status());
  EXPECT_TRUE(segments->empty());

  EXPECT_FALSE(SplitPath("/v1/leads/%G0").ok());
}

TEST(Base64Test, RoundTripsEveryLength) {
  std::string data;
  for (int i = 0; i < 40; ++i) {
    const std::string encoded = Base64Encode(data);
    EXPECT_EQ(encoded.size() % 4, 0u);
    std::optional<std::string> decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(*decoded, data);
    data.push_back(static_cast<char>(i * 37 + 200));
  }
}

TEST(Base64Test, KnownVectorsAndOptionalPadding) {
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Decode("Zm9vYg=="), "foob");
  EXPECT_EQ(Base64Decode("Zm9vYg"), "foob");
  EXPECT_EQ(Base64Decode("Zm9vYmE"), "fooba");
  EXPECT_EQ(Base64Decode(""), "");
}

TEST(Base64Test, RejectsGarbage) {
  EXPECT_FALSE(Base64Decode("Zm9v!mFy").has_value());
  EXPECT_FALSE(Base64Decode("Zm9vY").has_value());     // 4k+1 characters
  EXPECT_FALSE(Base64Decode("Zm=9vYg=").has_value());  // padding in the middle
  EXPECT_FALSE(Base64Decode("Zm9vYg=").has_value());   // padding short of a whole group
  EXPECT_FALSE(Base64Decode("Zm9v YmFy").has_value());
}

TEST(BasicAuthTest, ParsesUserAndPassword) {
  std::optional<BasicCredentials> creds = ParseBasicAuth("Basic " + Base64Encode("key123:"));
  ASSERT_TRUE(creds.has_value());
  EXPECT_EQ(creds->user, "key123");
  EXPECT_EQ(creds->password, "");

  creds = ParseBasicAuth("basic  " + Base64Encode("user:pa:ss") + "  ");
  ASSERT_TRUE(creds.has_value());
  EXPECT_EQ(creds->user, "user");
  EXPECT_EQ(creds->password, "pa:ss");

  creds = ParseBasicAuth("BASIC " + Base64Encode("only-key"));
  ASSERT_TRUE(creds.has_value());
  EXPECT_EQ(creds->user, "only-key");
  EXPECT_EQ(creds->password, "");
}

TEST(BasicAuthTest, RejectsOtherSchemesAndBadBase64) {
  EXPECT_FALSE(ParseBasicAuth("").has_value());
  EXPECT_FALSE(ParseBasicAuth("Basic").has_value());
  EXPECT_FALSE(ParseBasicAuth("Basic ").has_value());
  EXPECT_FALSE(ParseBasicAuth("Bearer abc").has_value());
  EXPECT_FALSE(ParseBasicAuth("Basicdm9v").has_value());
  EXPECT_FALSE(ParseBasicAuth("Basic ***").has_value());
}

TEST(BearerTest, ParsesToken) {
  EXPECT_EQ(ParseBearerToken("Bearer s3cr3t"), "s3cr3t");
  EXPECT_EQ(ParseBearerToken("bearer   tok.en-_~+/=  "), "tok.en-_~+/=");
  EXPECT_FALSE(ParseBearerToken("Bearer").has_value());
  EXPECT_FALSE(ParseBearerToken("Bearer   ").has_value());
  EXPECT_FALSE(ParseBearerToken("Bearer a b").has_value());
  EXPECT_FALSE(ParseBearerToken("Basic abc").has_value());
  EXPECT_FALSE(ParseBearerToken("Bearerabc").has_value());
}

TEST(ConstantTimeEqualsTest, ComparesBytes) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("token", "token"));
  EXPECT_FALSE(ConstantTimeEquals("token", "tokem"));
  EXPECT_FALSE(ConstantTimeEquals("token", "token2"));
}

TEST(GunzipTest, InflatesGzipAndZlib) {
  const std::string text = R"({"batch":[{"type":"track","event":"Signed Up","userId":"u1"}]})";
  std::string out;
  EXPECT_EQ(Gunzip(GzipCompress(text), 1024, &out), GunzipResult::kOk);
  EXPECT_EQ(out, text);
  EXPECT_EQ(Gunzip(GzipCompress(text, MAX_WBITS), 1024, &out), GunzipResult::kOk);  // zlib
  EXPECT_EQ(out, text);
  EXPECT_EQ(Gunzip("", 1024, &out), GunzipResult::kOk);
  EXPECT_EQ(out, "");
}

TEST(GunzipTest, InflatesConcatenatedMembers) {
  std::string out;
  EXPECT_EQ(Gunzip(GzipCompress("hello ") + GzipCompress("world"), 1024, &out), GunzipResult::kOk);
  EXPECT_EQ(out, "hello world");
}

TEST(GunzipTest, LimitIsInclusiveAndStopsABomb) {
  const std::string text(1000, 'a');
  std::string out;
  EXPECT_EQ(Gunzip(GzipCompress(text), 1000, &out), GunzipResult::kOk);
  EXPECT_EQ(out.size(), 1000u);
  EXPECT_EQ(Gunzip(GzipCompress(text), 999, &out), GunzipResult::kTooLarge);

  // 64 MiB of zeros compress to ~64 KiB; inflating must stop near the limit.
  const std::string bomb = GzipCompress(std::string(64 << 20, '\0'));
  EXPECT_EQ(Gunzip(bomb, 500 * 1024, &out), GunzipResult::kTooLarge);
  EXPECT_LE(out.size(), 500u * 1024 + 1);
}

TEST(GunzipTest, RejectsCorruptInput) {
  const std::string good = GzipCompress("some text that is long enough to matter");
  std::string out;
  EXPECT_EQ(Gunzip("not gzip at all", 1024, &out), GunzipResult::kCorrupt);
  EXPECT_EQ(Gunzip(good.substr(0, good.size() - 5), 1024, &out), GunzipResult::kCorrupt);
  EXPECT_EQ(Gunzip(good.substr(0, 10), 1024, &out), GunzipResult::kCorrupt);
  std::string bad_crc = good;
  bad_crc[bad_crc.size() - 6] ^= 0x55;  // inside the CRC32 trailer
  EXPECT_EQ(Gunzip(bad_crc, 1024, &out), GunzipResult::kCorrupt);
  EXPECT_EQ(Gunzip(good + "trailing garbage", 1024, &out), GunzipResult::kCorrupt);
}

}  // namespace
}  // namespace handoff
