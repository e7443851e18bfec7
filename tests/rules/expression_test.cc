#include "rules/expression.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "handoff/event.h"
#include "handoff/value.h"

namespace handoff {
namespace {

Value S(std::string s) { return Value::String(std::move(s)); }
Value N(double d) { return Value::Number(d); }

class ExpressionTest : public ::testing::Test {
 protected:
  ExpressionTest() {
    event_.type = EventType::kTrack;
    event_.user_id = "u1";
    event_.name = "Demo Requested";
    event_.has_name = true;
    event_.properties = Value::MakeObject({
        {"path", S("/pricing/enterprise")},
        {"utm-source", S("google")},
        {"in", S("keyword-key")},
        {"plan", S("pro")},
        {"seats", N(25)},
        {"tags", Value::MakeArray({S("a"), S("b"), N(3)})},
        {"nested", Value::MakeObject({{"deep", Value::MakeObject({{"x", N(1)}})}})},
        {"flag", Value::Bool(true)},
        {"nothing", Value()},
    });
    event_.context = Value::MakeObject({
        {"ip", S("10.0.0.1")},
        {"page", Value::MakeObject({{"url", S("https://example.com/pricing")}})},
    });
    traits_ = Value::MakeObject({
        {"email", S("Jane.Doe@Sub.ACME.com")},
        {"title", S("VP of Sales")},
        {"company", Value::MakeObject({{"industry", S("SaaS")}, {"size", N(250)}})},
        {"roles", Value::MakeArray({S("admin"), S("buyer")})},
        {"first name", S("Jane")},
        {"empty", S("")},
    });
    ctx_.event = &event_;
    ctx_.traits = &traits_;
    ctx_.scores = scores_.data();
    ctx_.lead_id = "u1";
    ctx_.lead_stage = "mql";
  }

  Expression Compile(const std::string& text, ExpressionScope scope = ExpressionScope::kEventRule) {
    std::vector<ExpressionError> errors;
    Expression e = Expression::Compile(text, scope, score_names_, &errors);
    EXPECT_TRUE(e.ok()) << text << ": "
                        << (errors.empty() ? "no error reported" : errors[0].message);
    EXPECT_TRUE(errors.empty()) << text;
    return e;
  }
  bool T(const std::string& text) { return Compile(text).Test(ctx_); }
  // The result as JSON, for compact assertions.
  std::string J(const std::string& text) { return Compile(text).Evaluate(ctx_).ToValue().ToJson(); }

  std::vector<ExpressionError> Errors(const std::string& text,
                                      ExpressionScope scope = ExpressionScope::kEventRule) {
    std::vector<ExpressionError> errors;
    Expression e = Expression::Compile(text, scope, score_names_, &errors);
    EXPECT_FALSE(e.ok()) << text;
    EXPECT_FALSE(errors.empty()) << text;
    return errors;
  }
  // Expects exactly one error, at `offset`, whose message contains `fragment`.
  void ExpectError(const std::string& text, size_t offset, const std::string& fragment,
                   ExpressionScope scope = ExpressionScope::kEventRule) {
    std::vector<ExpressionError> errors = Errors(text, scope);
    ASSERT_EQ(errors.size(), 1u) << text;
    EXPECT_EQ(errors[0].offset, offset) << text << ": " << errors[0].message;
    EXPECT_NE(errors[0].message.find(fragment), std::string::npos)
        << text << ": \"" << errors[0].message << "\" lacks \"" << fragment << "\"";
  }

  Event event_;
  Value traits_;
  std::vector<std::string> score_names_ = {"engagement", "fit"};
  std::vector<double> scores_ = {45, 20};
  EvalContext ctx_;
};

// ---- Literals -----------------------------------------------------------------------------------

TEST_F(ExpressionTest, NumberLiterals) {
  EXPECT_EQ(J("42"), "42");
  EXPECT_EQ(J("1.5"), "1.5");
  EXPECT_EQ(J("-2"), "-2");
  EXPECT_EQ(J("1e3"), "1000");
  EXPECT_EQ(J("2.5E-1"), "0.25");
  EXPECT_EQ(J("0"), "0");
  EXPECT_EQ(J("1e-400"), "0");  // underflow is fine
}

TEST_F(ExpressionTest, StringLiteralsUseJsonEscapes) {
  EXPECT_EQ(J(R"("plain")"), R"("plain")");
  EXPECT_EQ(Compile(R"("a\"b\\c\/d\n\t\r\b\f")").Evaluate(ctx_).string, "a\"b\\c/d\n\t\r\b\f");
  EXPECT_EQ(Compile(R"("\u00e9")").Evaluate(ctx_).string, "\xc3\xa9");
  EXPECT_EQ(Compile(R"("\u20AC")").Evaluate(ctx_).string, "\xe2\x82\xac");
  EXPECT_EQ(Compile(R"("\ud83d\ude00")").Evaluate(ctx_).string, "\xf0\x9f\x98\x80");
  EXPECT_EQ(Compile("\"caf\xc3\xa9\"").Evaluate(ctx_).string, "caf\xc3\xa9");  // raw UTF-8
  EXPECT_EQ(J(R"("")"), R"("")");
}

TEST_F(ExpressionTest, KeywordLiteralsAndLists) {
  EXPECT_EQ(J("true"), "true");
  EXPECT_EQ(J("false"), "false");
  EXPECT_EQ(J("null"), "null");
  EXPECT_EQ(J(R"([1, "a", true, null, -2.5])"), R"([1,"a",true,null,-2.5])");
  EXPECT_EQ(J("[]"), "[]");
  EXPECT_EQ(J("[[1, 2], []]"), "[[1,2],[]]");
  EXPECT_EQ(J(" \t\n 1 \r\n"), "1");
}

// ---- Paths --------------------------------------------------------------------------------------

TEST_F(ExpressionTest, TypeAndEvent) {
  EXPECT_EQ(J("type"), R"("track")");
  EXPECT_EQ(J("event"), R"("Demo Requested")");
  EXPECT_TRUE(T(R"(event == "Demo Requested")"));
  event_.type = EventType::kPage;
  event_.name = "Pricing";
  EXPECT_EQ(J("type"), R"("page")");
  EXPECT_EQ(J("event"), R"("Pricing")");
  event_.has_name = false;
  event_.name.clear();
  EXPECT_EQ(J("event"), "null");
  event_.type = EventType::kScreen;
  event_.name = "Home";
  event_.has_name = true;
  EXPECT_EQ(J("event"), R"("Home")");
  event_.type = EventType::kIdentify;
  EXPECT_EQ(J("type"), R"("identify")");
  EXPECT_EQ(J("event"), "null");
}

TEST_F(ExpressionTest, PropertiesContextTraits) {
  EXPECT_EQ(J("properties.plan"), R"("pro")");
  EXPECT_EQ(J("properties.seats"), "25");
  EXPECT_EQ(J("properties.nested.deep.x"), "1");
  EXPECT_EQ(J("properties.tags"), R"(["a","b",3])");
  EXPECT_EQ(J("context.ip"), R"("10.0.0.1")");
  EXPECT_EQ(J("context.page.url"), R"("https://example.com/pricing")");
  EXPECT_EQ(J("traits.company.industry"), R"("SaaS")");
  EXPECT_EQ(J("traits.company.size"), "250");
  EXPECT_EQ(J("len(traits)"), "6");
  EXPECT_EQ(J("len(properties)"), "9");
  EXPECT_TRUE(T("exists(traits.company)"));
  EXPECT_EQ(Compile("traits").Evaluate(ctx_).composite, &traits_);
}

TEST_F(ExpressionTest, BracketPathsAndKeywordKeys) {
  EXPECT_EQ(J(R"(properties["utm-source"])"), R"("google")");
  EXPECT_EQ(J(R"(properties["in"])"), R"("keyword-key")");
  EXPECT_EQ(J(R"(properties["nested"].deep["x"])"), "1");
  EXPECT_EQ(J(R"(traits["first name"])"), R"("Jane")");
  EXPECT_EQ(J(R"(traits["company"]["industry"])"), R"("SaaS")");
  EXPECT_EQ(J(R"(score["fit"])"), "20");
  EXPECT_EQ(J(R"(lead["stage"])"), R"("mql")");
  EXPECT_EQ(J(R"(properties [ "plan" ])"), R"("pro")");
}

TEST_F(ExpressionTest, MissingKeysAndNonObjectsReadNull) {
  EXPECT_EQ(J("properties.absent"), "null");
  EXPECT_EQ(J("properties.absent.deeper"), "null");
  EXPECT_EQ(J("properties.plan.x"), "null");  // walking into a string
  EXPECT_EQ(J("properties.tags.x"), "null");  // walking into an array
  EXPECT_EQ(J("properties.nothing"), "null");
  EXPECT_EQ(J("traits.missing"), "null");
  EXPECT_TRUE(T("properties.absent == null"));
  EXPECT_FALSE(T("exists(properties.nothing)"));
  EXPECT_FALSE(T("exists(properties.absent)"));
  EXPECT_TRUE(T("exists(properties.plan)"));
}

TEST_F(ExpressionTest, NoEventMeansNullEventPaths) {
  ctx_.event = nullptr;
  EXPECT_EQ(J("type"), "null");
  EXPECT_EQ(J("event"), "null");
  EXPECT_EQ(J("properties.plan"), "null");
  EXPECT_EQ(J("context"), "null");
  EXPECT_EQ(J("traits.title"), R"("VP of Sales")");
  ctx_.traits = nullptr;
  ctx_.scores = nullptr;
  EXPECT_EQ(J("traits.title"), "null");
  EXPECT_EQ(J("score.fit"), "null");
  EXPECT_FALSE(T("score.fit >= 0"));
}

TEST_F(ExpressionTest, ScoresAndLead) {
  EXPECT_EQ(J("score.engagement"), "45");
  EXPECT_EQ(J("score.fit"), "20");
  EXPECT_TRUE(T("score.engagement >= 40 || score.fit >= 50"));
  scores_[0] = 10;
  EXPECT_FALSE(T("score.engagement >= 40 || score.fit >= 50"));
  EXPECT_EQ(J("lead.id"), R"("u1")");
  EXPECT_EQ(J("lead.stage"), R"("mql")");
  EXPECT_TRUE(T(R"(lead.stage in ["mql", "sql"])"));
}

// ---- Equality and ordering ----------------------------------------------------------------------

TEST_F(ExpressionTest, Equality) {
  EXPECT_TRUE(T("1 == 1.0"));
  EXPECT_TRUE(T("null == null"));
  EXPECT_TRUE(T(R"("a" == "a")"));
  EXPECT_TRUE(T("true == true"));
  EXPECT_FALSE(T("true == false"));
  EXPECT_FALSE(T(R"("1" == 1)"));
  EXPECT_FALSE(T("1 == true"));
  EXPECT_FALSE(T("0 == false"));
  EXPECT_FALSE(T(R"(null == "")"));
  EXPECT_TRUE(T(R"("1" != 1)"));
  EXPECT_TRUE(T("null != false"));
  EXPECT_FALSE(T("2 != 2"));
  EXPECT_TRUE(T("[1, 2] == [1.0, 2]"));
  EXPECT_FALSE(T("[1, 2] == [2, 1]"));
  EXPECT_TRUE(T(R"(properties.tags == ["a", "b", 3])"));
  EXPECT_TRUE(T("properties.nested == properties.nested"));
  EXPECT_FALSE(T("properties.nested == traits.company"));
  EXPECT_FALSE(T("properties.tags == properties.nested"));
}

TEST_F(ExpressionTest, Ordering) {
  EXPECT_TRUE(T("1 < 2"));
  EXPECT_TRUE(T("2 <= 2"));
  EXPECT_TRUE(T("3 > 2.5"));
  EXPECT_TRUE(T("-1 >= -1"));
  EXPECT_FALSE(T("2 < 1"));
  EXPECT_TRUE(T(R"("a" < "b")"));
  EXPECT_TRUE(T(R"("B" < "a")"));  // byte-wise, not case-folded
  EXPECT_TRUE(T(R"("ab" < "abc")"));
  EXPECT_TRUE(T("\"\xc3\xa9\" > \"z\""));  // bytes compare unsigned
  EXPECT_TRUE(T(R"("10" < "9")"));
  // Mixed or non-orderable types: every ordering is false.
  for (const char* op : {"<", "<=", ">", ">="}) {
    std::string o(op);
    EXPECT_FALSE(T("1 " + o + " \"1\"")) << o;
    EXPECT_FALSE(T("null " + o + " 1")) << o;
    EXPECT_FALSE(T("null " + o + " null")) << o;
    EXPECT_FALSE(T("true " + o + " false")) << o;
    EXPECT_FALSE(T("[1] " + o + " [1]")) << o;
    EXPECT_FALSE(T("properties.absent " + o + " 0")) << o;
  }
}

// ---- Arithmetic ---------------------------------------------------------------------------------

TEST_F(ExpressionTest, Arithmetic) {
  EXPECT_EQ(J("1 + 2"), "3");
  EXPECT_EQ(J("5 - 7"), "-2");
  EXPECT_EQ(J("3 * 4"), "12");
  EXPECT_EQ(J("7 / 2"), "3.5");
  EXPECT_EQ(J("score.engagement + score.fit"), "65");
  EXPECT_EQ(J("properties.seats * 2"), "50");
  EXPECT_EQ(J(R"("a" + "b")"), "null");
  EXPECT_EQ(J(R"(1 + "1")"), "null");
  EXPECT_EQ(J("null + 1"), "null");
  EXPECT_EQ(J("true * 1"), "null");
  EXPECT_EQ(J("1 / 0"), "null");
  EXPECT_EQ(J("0 / 0"), "null");
  EXPECT_EQ(J("-1 / 0"), "null");
  EXPECT_EQ(J("1e308 * 10"), "null");  // overflow to infinity: null
  EXPECT_EQ(J("-(2)"), "-2");
  EXPECT_EQ(J("-score.fit"), "-20");
  EXPECT_EQ(J(R"(-"a")"), "null");
  EXPECT_EQ(J("--3"), "3");
  EXPECT_EQ(J("1 - -1"), "2");
  EXPECT_EQ(J("1-1"), "0");
  EXPECT_FALSE(T("1 / 0 == 1 / 0 && false"));
  EXPECT_TRUE(T("1 / 0 == null"));
}

// ---- Logic --------------------------------------------------------------------------------------

TEST_F(ExpressionTest, LogicCountsOnlyBooleanTrue) {
  EXPECT_EQ(J("true && true"), "true");
  EXPECT_EQ(J("true && false"), "false");
  EXPECT_EQ(J("false || true"), "true");
  EXPECT_EQ(J("false || false"), "false");
  EXPECT_EQ(J("null || true"), "true");
  EXPECT_EQ(J("1 && true"), "false");
  EXPECT_EQ(J(R"("yes" || false)"), "false");
  EXPECT_EQ(J("!null"), "true");
  EXPECT_EQ(J("!1"), "true");
  EXPECT_EQ(J("!true"), "false");
  EXPECT_EQ(J("!!true"), "true");
  EXPECT_EQ(J("true and true"), "true");
  EXPECT_EQ(J("false or true"), "true");
  EXPECT_EQ(J("not false"), "true");
  EXPECT_EQ(J("not not true"), "true");
  EXPECT_TRUE(T("properties.flag && true"));
  EXPECT_FALSE(T("properties.plan"));  // a string is not true
  EXPECT_FALSE(T("1"));
  EXPECT_FALSE(T("null"));
  EXPECT_TRUE(T("true"));
}

// ---- Precedence and associativity ---------------------------------------------------------------

TEST_F(ExpressionTest, NotBindsLooserThanComparison) {
  // !1 == 2 is !(1 == 2) = true; (!1) == 2 would be false == 2 = false.
  EXPECT_TRUE(T("!1 == 2"));
  EXPECT_TRUE(T("not 1 == 2"));
  EXPECT_TRUE(T(R"(!event == "Other")"));
  EXPECT_FALSE(T(R"(!event == "Demo Requested")"));
  // But tighter than && and ||.
  EXPECT_FALSE(T("!true && true"));
  EXPECT_TRUE(T("!false || false"));
}

TEST_F(ExpressionTest, ComparisonsAreOneLeftAssociativeLevel) {
  // (1 == 1) == true -> true; 1 == (1 == true) would be 1 == false -> false.
  EXPECT_TRUE(T("1 == 1 == true"));
  EXPECT_FALSE(T("1 == (1 == true)"));
  // (2 == 3) == false -> true.
  EXPECT_TRUE(T("2 == 3 == false"));
  // (1 < 2) < 3 is true < 3: not two numbers, so false.
  EXPECT_FALSE(T("1 < 2 < 3"));
  // (3 > 2) == true.
  EXPECT_TRUE(T("3 > 2 == true"));
  // `in` and `==` share the level: ("a" in ["a"]) == true.
  EXPECT_TRUE(T(R"("a" in ["a"] == true)"));
  EXPECT_TRUE(T(R"("b" == "b" in [true])"));
}

TEST_F(ExpressionTest, ArithmeticPrecedence) {
  EXPECT_EQ(J("1 + 2 * 3"), "7");
  EXPECT_EQ(J("(1 + 2) * 3"), "9");
  EXPECT_EQ(J("2 * 3 - 1"), "5");
  EXPECT_EQ(J("10 - 4 - 3"), "3");  // left-associative
  EXPECT_EQ(J("16 / 4 / 2"), "2");
  EXPECT_EQ(J("-2 * 3"), "-6");
  EXPECT_EQ(J("2 * -3"), "-6");
  EXPECT_EQ(J("-2 - -3"), "1");
  EXPECT_EQ(J("6 / 2 * 3"), "9");
  EXPECT_TRUE(T("1 + 2 * 3 == 7"));
  EXPECT_TRUE(T("score.engagement - score.fit > 20"));
}

TEST_F(ExpressionTest, AndBindsTighterThanOr) {
  // true || (false && false) = true; left-to-right would give false.
  EXPECT_TRUE(T("true || false && false"));
  EXPECT_TRUE(T("false && false || true"));
  EXPECT_FALSE(T("(true || false) && false"));
  EXPECT_TRUE(T("true or false and false"));
  EXPECT_TRUE(T(R"(type == "page" || event == "Demo Requested" && properties.seats > 10)"));
}

// ---- Membership and string tests ----------------------------------------------------------------

TEST_F(ExpressionTest, In) {
  EXPECT_TRUE(T(R"(properties.plan in ["free", "pro"])"));
  EXPECT_FALSE(T(R"(properties.plan in ["free", "team"])"));
  EXPECT_TRUE(T("1 in [1.0, 2]"));
  EXPECT_FALSE(T(R"("1" in [1, 2])"));
  EXPECT_TRUE(T("null in [null]"));
  EXPECT_FALSE(T("null in []"));
  EXPECT_TRUE(T("[1] in [[1], 2]"));
  EXPECT_TRUE(T(R"("admin" in traits.roles)"));
  EXPECT_FALSE(T(R"("owner" in traits.roles)"));
  EXPECT_TRUE(T("3 in properties.tags"));
  EXPECT_FALSE(T(R"("a" in properties.plan)"));  // not an array
  EXPECT_FALSE(T(R"("a" in "abc")"));
  EXPECT_FALSE(T(R"("x" in properties.absent)"));
  EXPECT_FALSE(T(R"("path" in properties)"));  // an object is not a list
}

TEST_F(ExpressionTest, Contains) {
  EXPECT_TRUE(T(R"(properties.path contains "pricing")"));
  EXPECT_FALSE(T(R"(properties.path contains "Pricing")"));
  EXPECT_TRUE(T(R"(properties.path contains "")"));
  EXPECT_FALSE(T("properties.path contains 1"));
  EXPECT_FALSE(T(R"(properties.path contains null)"));
  EXPECT_TRUE(T(R"(traits.roles contains "buyer")"));
  EXPECT_FALSE(T(R"(traits.roles contains "b")"));
  EXPECT_TRUE(T("properties.tags contains 3"));
  EXPECT_TRUE(T("[[1], 2] contains [1]"));
  EXPECT_FALSE(T(R"(properties.nested contains "deep")"));  // objects: false
  EXPECT_FALSE(T(R"(12345 contains "3")"));
  EXPECT_FALSE(T(R"(properties.absent contains "a")"));
}

TEST_F(ExpressionTest, StartsWithEndsWith) {
  EXPECT_TRUE(T(R"(properties.path starts_with "/pricing")"));
  EXPECT_FALSE(T(R"(properties.path starts_with "pricing")"));
  EXPECT_TRUE(T(R"(properties.path starts_with "")"));
  EXPECT_TRUE(T(R"(properties.path ends_with "enterprise")"));
  EXPECT_FALSE(T(R"(properties.path ends_with "/pricing")"));
  EXPECT_FALSE(T(R"("ab" starts_with "abc")"));
  EXPECT_FALSE(T(R"("ab" ends_with "xab")"));
  EXPECT_FALSE(T("12 starts_with 1"));
  EXPECT_FALSE(T(R"(12 starts_with "1")"));
  EXPECT_FALSE(T(R"(properties.tags starts_with "a")"));
  EXPECT_FALSE(T(R"(properties.absent ends_with "")"));
  EXPECT_TRUE(T(R"(type == "track" && properties.path starts_with "/pricing")"));
}

TEST_F(ExpressionTest, Matches) {
  EXPECT_TRUE(T(R"(traits.title matches "(?i)\\b(vp|head|chief|director)\\b")"));
  EXPECT_TRUE(T(R"(traits.title matches "Sales")"));  // unanchored search
  EXPECT_FALSE(T(R"(traits.title matches "^Sales")"));
  EXPECT_TRUE(T(R"(traits.title matches "^VP")"));
  EXPECT_FALSE(T(R"(traits.title matches "sales")"));
  EXPECT_TRUE(T(R"(traits.title matches "(?i)sales$")"));
  EXPECT_TRUE(T(R"(traits.email matches "@sub\\.acme\\.com$" == false)"));
  EXPECT_FALSE(T(R"(properties.seats matches "25")"));  // not a string
  EXPECT_FALSE(T(R"(properties.absent matches ".*")"));
  EXPECT_TRUE(T(R"(traits.empty matches "")"));
  EXPECT_TRUE(T("\"caf\xc3\xa9\" matches \"^caf.$\""));  // UTF-8: one character
}

// ---- Functions ----------------------------------------------------------------------------------

TEST_F(ExpressionTest, Exists) {
  EXPECT_EQ(J("exists(traits.title)"), "true");
  EXPECT_EQ(J("exists(traits.nope)"), "false");
  EXPECT_EQ(J("exists(null)"), "false");
  EXPECT_EQ(J("exists(false)"), "true");
  EXPECT_EQ(J(R"(exists(""))"), "true");
  EXPECT_EQ(J("exists(1 / 0)"), "false");
}

TEST_F(ExpressionTest, Lower) {
  EXPECT_EQ(J("lower(traits.title)"), R"("vp of sales")");
  EXPECT_EQ(J(R"(lower("already lower"))"), R"("already lower")");
  EXPECT_EQ(J("lower(\"\xc3\x89T\xc3\x89\")"), "\"\xc3\x89t\xc3\x89\"");  // ASCII only
  EXPECT_EQ(J(R"(lower(""))"), R"("")");
  EXPECT_EQ(J("lower(1)"), "null");
  EXPECT_EQ(J("lower(null)"), "null");
  EXPECT_EQ(J("lower(traits.roles)"), "null");
  EXPECT_TRUE(T(R"(lower(traits.title) == "vp of sales")"));
  EXPECT_TRUE(T(R"(lower(traits.title) == lower("VP OF SALES"))"));
  EXPECT_TRUE(T(R"(lower(traits.title) contains "sales" && lower(event) starts_with "demo")"));
}

TEST_F(ExpressionTest, Len) {
  EXPECT_EQ(J(R"(len("abc"))"), "3");
  EXPECT_EQ(J("len(\"\xc3\xa9\")"), "2");  // bytes
  EXPECT_EQ(J(R"(len(""))"), "0");
  EXPECT_EQ(J("len(traits.roles)"), "2");
  EXPECT_EQ(J("len([])"), "0");
  EXPECT_EQ(J("len(traits.company)"), "2");
  EXPECT_EQ(J("len(1)"), "null");
  EXPECT_EQ(J("len(null)"), "null");
  EXPECT_EQ(J("len(true)"), "null");
  EXPECT_EQ(J("len(traits.nope)"), "null");
}

TEST_F(ExpressionTest, Domain) {
  EXPECT_EQ(J("domain(traits.email)"), R"("sub.acme.com")");
  EXPECT_EQ(J(R"(domain("a@b@Example.ORG"))"), R"("example.org")");  // the last @
  EXPECT_EQ(J(R"(domain("x@"))"), R"("")");
  EXPECT_EQ(J(R"(domain("no-at-sign"))"), "null");
  EXPECT_EQ(J("domain(1)"), "null");
  EXPECT_EQ(J("domain(null)"), "null");
  EXPECT_TRUE(T(R"(domain(traits.email) in ["sub.acme.com", "acme.com"])"));
  EXPECT_TRUE(T(R"(domain(traits.email) ends_with "acme.com")"));
}

TEST_F(ExpressionTest, EvaluateOwnedStringsSurviveCopyAndMove) {
  Expression e = Compile("lower(traits.title)");
  EvalResult r = e.Evaluate(ctx_);
  ASSERT_EQ(r.type, Value::Type::kString);
  EXPECT_EQ(r.string, "vp of sales");
  EvalResult copy = r;
  EvalResult moved = std::move(r);
  EvalResult assigned;
  assigned = copy;
  EXPECT_EQ(copy.string, "vp of sales");
  EXPECT_EQ(moved.string, "vp of sales");
  EXPECT_EQ(assigned.string, "vp of sales");
  EXPECT_EQ(assigned.ToValue(), S("vp of sales"));
  // Strings borrowed from the context are views into it.
  EvalResult borrowed = Compile("traits.title").Evaluate(ctx_);
  EXPECT_EQ(borrowed.string.data(), traits_.Find("title")->as_string().data());
  EXPECT_TRUE(borrowed.owned.empty());
}

TEST_F(ExpressionTest, LongBuiltStrings) {
  std::string big(1000, 'A');
  traits_.Set("big", S(big));
  traits_.Set("big2", S(big + "@" + big));
  EXPECT_EQ(Compile("lower(traits.big)").Evaluate(ctx_).string, std::string(1000, 'a'));
  EXPECT_TRUE(T("lower(traits.big) == lower(traits.big) && len(lower(traits.big)) == 1000"));
  EXPECT_EQ(Compile("domain(traits.big2)").Evaluate(ctx_).string, std::string(1000, 'a'));
}

TEST_F(ExpressionTest, EvaluateReturnsComposites) {
  EvalResult r = Compile("properties.tags").Evaluate(ctx_);
  EXPECT_EQ(r.type, Value::Type::kArray);
  EXPECT_EQ(r.composite, event_.properties.Find("tags"));
  EXPECT_EQ(Compile("[1, 2]").Evaluate(ctx_).ToValue(), Value::MakeArray({N(1), N(2)}));
  EvalResult b = Compile("1 < 2").Evaluate(ctx_);
  EXPECT_EQ(b.type, Value::Type::kBool);
  EXPECT_TRUE(b.boolean);
}

// ---- Constant, default, reads_event -------------------------------------------------------------

TEST_F(ExpressionTest, ConstantAndDefault) {
  EXPECT_TRUE(Expression::Constant(Value::Bool(true)).Test(ctx_));
  EXPECT_FALSE(Expression::Constant(Value::Bool(false)).Test(ctx_));
  EXPECT_FALSE(Expression::Constant(N(1)).Test(ctx_));
  EXPECT_TRUE(Expression::Constant(N(1)).ok());
  EXPECT_EQ(Expression::Constant(S("x")).Evaluate(ctx_).string, "x");
  EXPECT_FALSE(Expression::Constant(S("x")).reads_event());
  Expression none;
  EXPECT_FALSE(none.ok());
  EXPECT_FALSE(none.Test(ctx_));
  EXPECT_EQ(none.Evaluate(ctx_).type, Value::Type::kNull);
  EXPECT_TRUE(Expression::Constant(Value::Bool(true)).Test(EvalContext{}));
}

TEST_F(ExpressionTest, ReadsEventAndSource) {
  EXPECT_TRUE(Compile(R"(type == "page")").reads_event());
  EXPECT_TRUE(Compile(R"(event == "x")").reads_event());
  EXPECT_TRUE(Compile("exists(context.ip)").reads_event());
  EXPECT_TRUE(Compile("traits.a == 1 || properties.b == 2").reads_event());
  EXPECT_FALSE(Compile("traits.a == 1 && score.fit > 2 && lead.stage == \"new\"").reads_event());
  EXPECT_EQ(Compile("1 == 1").source(), "1 == 1");
}

TEST_F(ExpressionTest, ErrorsMayBeNull) {
  Expression e = Expression::Compile("foo(", ExpressionScope::kEventRule, score_names_, nullptr);
  EXPECT_FALSE(e.ok());
}

// ---- Compile errors -----------------------------------------------------------------------------

TEST_F(ExpressionTest, SyntaxErrors) {
  ExpectError("", 0, "empty expression");
  ExpectError("   ", 0, "empty expression");
  ExpectError("traits.a &&", 9, "expected an operand after \"&&\"");
  ExpectError("traits.a && )", 12, "expected an operand after \"&&\", found \")\"");
  ExpectError("traits.a ||", 9, "expected an operand after \"||\"");
  ExpectError("1 +", 2, "expected an operand after \"+\"");
  ExpectError("!", 0, "expected an operand after \"!\"");
  ExpectError("traits.a == ", 9, "expected an operand after \"==\"");
  ExpectError("traits.a)", 8, "unexpected \")\"");
  ExpectError(")", 0, "unexpected \")\"");
  ExpectError("(traits.a", 0, "unclosed \"(\"");
  ExpectError("(traits.a traits.b)", 10, "expected \")\"");
  ExpectError("traits.a traits.b", 9, "unexpected \"traits\"");
  ExpectError("1 2", 2, "unexpected \"2\"");
  ExpectError("&& 1", 0, "unexpected \"&&\"");
  ExpectError("lower(traits.a", 5, "expected \")\"");
  ExpectError("lower(traits.a traits.b)", 15, "expected \",\" or \")\"");
  ExpectError("traits.a == !traits.b", 12, "put it in parentheses");
  ExpectError(R"(traits.a not in ["x"])", 9, "\"not\" cannot follow an operand");
}

TEST_F(ExpressionTest, LexicalErrors) {
  ExpectError(R"("abc)", 0, "unterminated string");
  ExpectError(R"(traits.a == "abc)", 12, "unterminated string");
  ExpectError(R"(traits.a == "abc\)", 12, "unterminated string");
  ExpectError(R"("\x")", 0, "invalid escape");
  ExpectError(R"(1 == "\u12")", 5, "4 hex digits");
  ExpectError(R"("\ud800")", 0, "surrogate");
  ExpectError(R"("\ud800\u0041")", 0, "surrogate");
  ExpectError(R"("\udc00")", 0, "surrogate");
  ExpectError("\"a\tb\"", 0, "control character");
  ExpectError("traits.a = 1", 9, "\"==\"");
  ExpectError("traits.a & traits.b", 9, "\"&&\"");
  ExpectError("traits.a | traits.b", 9, "\"||\"");
  ExpectError("traits.a == 'x'", 12, "double quotes");
  ExpectError("traits.a # 1", 9, "unexpected character \"#\"");
  ExpectError("01", 0, "invalid number");
  ExpectError("1 == 1.", 5, "invalid number");
  ExpectError("1e", 0, "exponent");
  ExpectError("1abc", 0, "invalid number");
  ExpectError("1e999", 0, "out of range");
  ExpectError("traits.a == \xc3\xa9", 12, "outside a string");
}

TEST_F(ExpressionTest, PathSyntaxErrors) {
  ExpectError("properties.in", 11,
              "\"in\" is a keyword; write the key in brackets: "
              "properties[\"in\"]");
  ExpectError("traits.a.matches", 9, "keyword");
  ExpectError("properties.", 10, "expected a key name after \".\"");
  ExpectError("properties.1", 11, "expected a key name");
  ExpectError("properties[1]", 11, "expected a quoted key");
  ExpectError(R"(properties["a")", 10, "unclosed \"[\"");
  ExpectError(R"(properties["a" == 1)", 15, "expected \"]\"");
}

TEST_F(ExpressionTest, ListErrors) {
  ExpectError("1 in [1, traits.a]", 9, "a list holds only literals");
  ExpectError("1 in [1, 2", 5, "unclosed list");
  ExpectError("1 in [1,]", 8, "a list holds only literals");
  ExpectError("1 in [1 2]", 8, "expected \",\" or \"]\"");
}

TEST_F(ExpressionTest, FunctionErrors) {
  ExpectError("foo(1)", 0, "unknown function \"foo\"");
  ExpectError("traits.a == lowr(traits.b)", 12, "did you mean \"lower\"?");
  // Suggestions come from rules/suggest.h: case-insensitive, a transposition counts as one edit.
  ExpectError("traits.a == Lwoer(traits.b)", 12, "did you mean \"lower\"?");
  ExpectError("lower()", 0, "lower() takes 1 argument, got 0");
  ExpectError("len(1, 2)", 0, "len() takes 1 argument, got 2");
  ExpectError("exists == 1", 0, "\"exists\" is a function");
}

TEST_F(ExpressionTest, PathErrors) {
  ExpectError("foo.bar == 1", 0, "unknown path \"foo.bar\"");
  ExpectError("scores.fit > 1", 0, "unknown path \"scores.fit\"; did you mean \"score.fit\"?");
  ExpectError("trait.company.size > 1", 0, "did you mean \"traits.company.size\"?");
  ExpectError("traits.a == 1 && x", 17, "unknown path \"x\"");
  ExpectError("score > 1", 0, "score.NAME");
  ExpectError("score.fit.x > 1", 0, "has no keys");
  ExpectError("type.x", 0, "has no keys");
  ExpectError("event[\"x\"]", 0, "has no keys");
  ExpectError("lead.name", 0, "lead.id and lead.stage");
  ExpectError("lead", 0, "lead.id and lead.stage");
}

TEST_F(ExpressionTest, UnknownScore) {
  ExpectError("score.enagement > 10", 0,
              "unknown score \"enagement\"; did you mean "
              "\"engagement\"?");
  ExpectError("1 < score.zzz", 4, "unknown score \"zzz\"; the scores are engagement, fit");
  score_names_.clear();
  ExpectError("score.fit > 1", 0, "no scores are defined");
}

TEST_F(ExpressionTest, RegexErrors) {
  ExpectError(R"(traits.a matches "(")", 17, "invalid regular expression \"(\"");
  ExpectError(R"(traits.a matches "[a-")", 17, "invalid regular expression");
  ExpectError("traits.a matches traits.b", 17, "must be a string literal");
  ExpectError(R"(traits.a matches lower("x"))", 17, "must be a string literal");
  ExpectError("traits.a matches 1", 17, "must be a string literal");
}

TEST_F(ExpressionTest, AllSemanticErrorsInOnePass) {
  std::vector<ExpressionError> errors =
      Errors(R"(foo(1) || score.nope == 1 || bar.x || traits.a matches "(" || len())");
  ASSERT_EQ(errors.size(), 5u);
  EXPECT_EQ(errors[0].offset, 0u);
  EXPECT_NE(errors[0].message.find("unknown function"), std::string::npos);
  EXPECT_EQ(errors[1].offset, 10u);
  EXPECT_NE(errors[1].message.find("unknown score"), std::string::npos);
  EXPECT_EQ(errors[2].offset, 29u);
  EXPECT_NE(errors[2].message.find("unknown path"), std::string::npos);
  EXPECT_EQ(errors[3].offset, 55u);
  EXPECT_NE(errors[3].message.find("invalid regular expression"), std::string::npos);
  EXPECT_EQ(errors[4].offset, 62u);
  EXPECT_NE(errors[4].message.find("takes 1 argument"), std::string::npos);
}

TEST_F(ExpressionTest, ErrorsComeInTextOrderAndAppend) {
  std::vector<ExpressionError> errors = {{99, "an earlier error"}};
  Expression e = Expression::Compile("foo(score.x, lead.y)", ExpressionScope::kEventRule,
                                     score_names_, &errors);
  EXPECT_FALSE(e.ok());
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_EQ(errors[0].offset, 99u);  // untouched
  EXPECT_EQ(errors[1].offset, 0u);
  EXPECT_NE(errors[1].message.find("unknown function"), std::string::npos);
  EXPECT_EQ(errors[2].offset, 4u);
  EXPECT_NE(errors[2].message.find("unknown score"), std::string::npos);
  EXPECT_EQ(errors[3].offset, 13u);
  EXPECT_NE(errors[3].message.find("unknown path"), std::string::npos);
}

TEST_F(ExpressionTest, SemanticErrorsBeforeASyntaxErrorAreReported) {
  std::vector<ExpressionError> errors = Errors("nope(1) && score.x > (");
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].offset, 0u);
  EXPECT_EQ(errors[1].offset, 11u);
  EXPECT_EQ(errors[2].offset, 21u);
  EXPECT_NE(errors[2].message.find("expected an operand after \"(\""), std::string::npos);
}

TEST_F(ExpressionTest, DeepNestingIsAnErrorNotACrash) {
  std::string deep = std::string(500, '(') + "1" + std::string(500, ')');
  std::vector<ExpressionError> errors = Errors(deep);
  EXPECT_NE(errors[0].message.find("nested too deeply"), std::string::npos);
  std::string nots(500, '!');
  EXPECT_NE(Errors(nots + "true")[0].message.find("nested too deeply"), std::string::npos);
  std::string chain = "true";
  for (int i = 0; i < 2000; ++i) {
    chain += " || false";
  }
  EXPECT_NE(Errors(chain)[0].message.find("too long"), std::string::npos);
  std::string fine = "true";
  for (int i = 0; i < 500; ++i) {
    fine += " && true";
  }
  EXPECT_TRUE(T(fine));
  EXPECT_TRUE(T(std::string(50, '(') + "true" + std::string(50, ')')));
}

// ---- Scope visibility ---------------------------------------------------------------------------

// The scorer tests a candidate rule without the comparison its index entry guarantees. What is
// left must be the other side of the top `&&` (either side), `true` for the comparison alone, and
// the whole expression otherwise; for events the guard lets through it answers as the whole.
TEST_F(ExpressionTest, AssumingGuardDropsOnlyTheComparisonTheIndexGuarantees) {
  // The fixture's event is a track "Demo Requested" with properties.plan "pro".
  auto left = [&](const std::string& text) {
    const Expression e = Compile(text);
    EventGuard guard = e.guard();
    if (guard.name.has_value()) {
      guard.type.reset();  // as the scorer: a name guard says nothing of the type
    }
    return e.AssumingGuard(guard);
  };
  EXPECT_TRUE(left("type == \"track\" && properties.plan == \"pro\"").Test(ctx_));
  EXPECT_FALSE(left("type == \"track\" && properties.plan == \"basic\"").Test(ctx_));
  EXPECT_TRUE(left("properties.plan == \"pro\" && \"track\" == type").Test(ctx_));
  EXPECT_FALSE(left("properties.plan == \"basic\" && type == \"track\"").Test(ctx_));
  EXPECT_TRUE(left("event == \"Demo Requested\"").Test(ctx_));
  // What is left is no longer a test of the type or name: only for events the guard let in.
  event_.type = EventType::kPage;
  EXPECT_TRUE(left("type == \"track\" && properties.plan == \"pro\"").Test(ctx_));
  EXPECT_FALSE(Compile("type == \"track\" && properties.plan == \"pro\"").Test(ctx_));
  EXPECT_TRUE(left("event == \"Demo Requested\"").Test(EvalContext{}));
  // Indexed by name, the type comparison stays.
  EXPECT_FALSE(left("type == \"track\" && event == \"Demo Requested\"").Test(ctx_));
  event_.type = EventType::kTrack;
  EXPECT_TRUE(left("type == \"track\" && event == \"Demo Requested\"").Test(ctx_));
  // Not at the top `&&`, or no guard at all: the expression is tested whole.
  event_.type = EventType::kPage;
  EXPECT_FALSE(
      left("(type == \"track\" && properties.plan == \"pro\") && properties.seats > 1").Test(ctx_));
  EXPECT_TRUE(left("type == \"track\" || properties.plan == \"pro\"").Test(ctx_));
  EXPECT_FALSE(left("type == \"track\" || properties.plan == \"basic\"").Test(ctx_));
  // The source stays the rule's.
  EXPECT_EQ(left("event == \"Demo Requested\"").source(), "event == \"Demo Requested\"");
}

TEST_F(ExpressionTest, ProfileRulesSeeOnlyTraitsAndLead) {
  const auto kProfile = ExpressionScope::kProfileRule;
  EXPECT_TRUE(
      Compile(R"(traits.title matches "VP" && lead.stage == "new" && lead.id != "")", kProfile)
          .ok());
  ExpectError(R"(properties.plan == "pro")", 0, "a profile rule sees only traits", kProfile);
  ExpectError(R"(traits.a == 1 && type == "page")", 17, "not visible", kProfile);
  ExpectError(R"(event == "x")", 0, "not visible", kProfile);
  ExpectError(R"(exists(context.ip))", 7, "not visible", kProfile);
  ExpectError("score.fit > 1", 0, "a profile rule sees only traits", kProfile);
  // Visibility is checked before the score name.
  ExpectError("score.nope > 1", 0, "not visible", kProfile);
  std::vector<ExpressionError> errors = Errors(R"(event == "a" || properties.x == 1)", kProfile);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[1].offset, 16u);
}

TEST_F(ExpressionTest, StagesAndRoutingSeeTraitsScoresAndLead) {
  const auto kLead = ExpressionScope::kLead;
  Expression e =
      Compile(R"(score.engagement >= 40 && traits.company.size > 100 && lead.id == "u1")", kLead);
  EXPECT_TRUE(e.Test(ctx_));
  EXPECT_FALSE(e.reads_event());
  ExpectError(R"(type == "page")", 0, "stages and routing see only traits.*, score.* and lead.*",
              kLead);
  ExpectError("score.fit > 1 || exists(properties.x)", 24, "not visible", kLead);
}

}  // namespace
}  // namespace handoff

namespace handoff {
namespace {

// Thresholds of `text` (compiled over scores "fit", "engagement"), or "not only thresholds".
std::string Thresholds(const std::string& text) {
  std::vector<ExpressionError> errors;
  const Expression e =
      Expression::Compile(text, ExpressionScope::kLead, {"fit", "engagement"}, &errors);
  EXPECT_TRUE(e.ok()) << text;
  std::vector<ScoreThreshold> found;
  if (!e.ScoreThresholds(&found)) {
    return "not only thresholds";
  }
  std::string out;
  for (const ScoreThreshold& t : found) {
    out += std::to_string(t.score) + ":" + std::to_string(static_cast<int>(t.value)) + " ";
  }
  return out;
}

TEST(ExpressionThresholdsTest, ScoresComparedWithNumbersAreThresholds) {
  EXPECT_EQ(Thresholds("score.engagement < 30 && score.fit < 40"), "1:30 0:40 ");
  EXPECT_EQ(Thresholds("!(score.engagement >= 80 && score.fit >= 25)"), "1:80 0:25 ");
  EXPECT_EQ(Thresholds("60 > score.engagement || score.fit == -15"), "1:60 0:-15 ");
  EXPECT_EQ(Thresholds("traits.title matches \"vp\" && score.fit != 3"), "0:3 ");
  EXPECT_EQ(Thresholds("traits.employees >= 1000"), "");  // reads no score: constant in time
}

TEST(ExpressionThresholdsTest, AnyOtherUseOfAScoreIsNotOnlyThresholds) {
  EXPECT_EQ(Thresholds("score.engagement + score.fit < 50"), "not only thresholds");
  EXPECT_EQ(Thresholds("score.engagement < score.fit"), "not only thresholds");
  EXPECT_EQ(Thresholds("score.engagement in [1, 2]"), "not only thresholds");
  EXPECT_EQ(Thresholds("score.engagement < traits.limit"), "not only thresholds");
  EXPECT_EQ(Thresholds("score.fit < 10 || exists(score.engagement)"), "not only thresholds");
}

}  // namespace
}  // namespace handoff
