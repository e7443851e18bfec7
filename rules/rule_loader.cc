#include "rules/rule_loader.h"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "base/utf8.h"
#include "rules/routing_loader.h"
#include "rules/sha256.h"
#include "rules/suggest.h"
#include "rules/yaml_reader.h"

namespace handoff {

std::string LoadError::ToString() const {
  if (line <= 0) {
    return file + ": " + message;
  }
  return file + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + message;
}

namespace {

using rules_internal::Field;
using rules_internal::IsSlug;
using rules_internal::LoadRouting;
using rules_internal::MapFields;
using rules_internal::SourceFile;
using rules_internal::YamlReader;

const std::vector<std::string_view> kTopLevelKeys = {"scores", "rules", "stages", "routing"};
const std::vector<std::string_view> kScoreKeys = {"kind", "half_life"};
const std::vector<std::string_view> kRuleKeys = {"id", "score", "when", "points", "cap", "once"};
const std::vector<std::string_view> kCapKeys = {"points", "per"};
const std::vector<std::string_view> kStageKeys = {"name", "enter", "exit"};
const std::vector<std::string_view> kExpressionKeywords = {
    "and",       "or",      "not",  "in",    "contains", "starts_with",
    "ends_with", "matches", "true", "false", "null"};
constexpr std::string_view kNewStage = "new";

// True when the quoted scalar whose opening quote is text[open] has its closing quote. yaml-cpp
// 0.7 takes a double- or single-quoted scalar that runs to the end of the text as if it were
// closed there (`when: "true` on a file's last line loaded as `true`).
bool QuoteIsClosed(std::string_view text, size_t open) {
  const char quote = text[open];
  for (size_t i = open + 1; i < text.size(); ++i) {
    if (quote == '"' && text[i] == '\\') {
      ++i;  // an escape: the next character is not the closing quote
    } else if (text[i] == quote) {
      if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
        ++i;  // '' is a quote inside a single-quoted scalar
      } else {
        return true;
      }
    }
  }
  return false;
}

// Where each of a text's first two YAML documents starts: the position of its root node (the
// second document's is where the loader points its "one document per file" error); and the first
// quoted scalar without its closing quote, if any.
class DocumentMarks : public YAML::EventHandler {
 public:
  explicit DocumentMarks(std::string_view text) : text_(text) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    starts.push_back(mark);
    roots.push_back(std::nullopt);
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Node(mark);
    const auto pos = static_cast<size_t>(std::max(mark.pos, 0));
    if (!unclosed_quote.has_value() && pos < text_.size() &&
        (text_[pos] == '"' || text_[pos] == '\'') && !QuoteIsClosed(text_, pos)) {
      unclosed_quote = mark;
    }
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Node(mark);
  }
  void OnMapEnd() override {}

  std::vector<YAML::Mark> starts;
  std::vector<std::optional<YAML::Mark>> roots;
  std::optional<YAML::Mark> unclosed_quote;

 private:
  std::string_view text_;
  void Node(const YAML::Mark& mark) {
    if (!roots.empty() && !roots.back().has_value()) {
      roots.back() = mark;
    }
  }
};

// A text's first YAML document (null when there is none) and, when it has a second one, where
// that starts. Throws YAML::Exception on a syntax error, as YAML::LoadAll does.
//
// Not YAML::LoadAll: with yaml-cpp 0.7 (Debian 12) it never returns on some invalid text, a ','
// outside a flow collection for one (", a: 1"; jbeder/yaml-cpp#1040): the parser reports an empty
// document at the same place again and again without taking the token, and LoadAll collects them
// until memory runs out. A rule file needs at most two documents read, and a document that starts
// where the one before it did is that stuck parser: a syntax error.
struct Documents {
  YAML::Node first;
  std::optional<YAML::Mark> second;
};
Documents ReadDocuments(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentMarks marks(text);
  while (marks.starts.size() < 2 && parser.HandleNextDocument(marks)) {
  }
  if (marks.unclosed_quote.has_value()) {
    throw YAML::ParserException(*marks.unclosed_quote,
                                std::string("end of file inside a quoted string (no closing ") +
                                    text[static_cast<size_t>(marks.unclosed_quote->pos)] + ")");
  }
  Documents docs;
  if (marks.starts.size() == 2) {
    if (marks.starts[1].pos == marks.starts[0].pos) {
      const YAML::Mark& at = marks.starts[1];
      const size_t pos = static_cast<size_t>(std::max(at.pos, 0));
      throw YAML::ParserException(at, pos < text.size()
                                          ? "unexpected '" + std::string(1, text[pos]) + "'"
                                          : "unexpected end of the document");
    }
    docs.second = marks.roots[1].value_or(marks.starts[1]);
  }
  if (!marks.starts.empty()) {
    docs.first = YAML::Load(text);  // the first document only: it stops after one
  }
  return docs;
}

struct InputFile {
  std::string name;  // as shown in errors
  std::string text;
};

// A section of one file: which file, and the key with its value.
struct Section {
  YamlReader* reader = nullptr;
  Field field;
};

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// A name an expression can write as score.NAME: an identifier.
bool IsScoreName(std::string_view s) {
  if (s.empty() || !(IsAsciiLetter(s[0]) || s[0] == '_')) {
    return false;
  }
  for (char c : s) {
    if (!(IsAsciiLetter(c) || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

// Stage names are compared as written (`lead.stage == "MQL"`): letters of either case, digits,
// '-' and '_' (the spec is silent; marketing teams write MQL and SQL).
bool IsStageName(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (!(IsAsciiLetter(c) || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// "line 4" when `first` is in `current`'s file, else "FILE:4".
std::string Where(const SourcePos& first, const YamlReader& current) {
  if (first.file == current.file().name()) {
    return "line " + std::to_string(first.line);
  }
  return first.file + ":" + std::to_string(first.line);
}

class Loader {
 public:
  LoadResult Load(const std::vector<InputFile>& inputs, std::string path, std::string sha256) {
    for (const InputFile& input : inputs) {
      ParseFile(input);
    }
    LoadScores();
    for (const Section& s : rule_sections_) {
      LoadRuleList(s);
    }
    rules_.stages.push_back(
        StageDef{std::string(kNewStage), Expression(), Expression(), false, SourcePos{}});
    for (const Section& s : stage_sections_) {
      LoadStageList(s);
    }
    if (!routing_sections_.empty()) {
      // Routing sections after the first are errors (reported as the files were read); each is
      // still checked, alone against the stages, so that its own errors show too.
      for (size_t i = 1; i < routing_sections_.size(); ++i) {
        RuleSet alone;
        alone.stages = rules_.stages;
        LoadRouting(*routing_sections_[i].reader, routing_sections_[i].field, score_names_, &alone);
      }
      LoadRouting(*routing_sections_[0].reader, routing_sections_[0].field, score_names_, &rules_);
    }

    LoadResult result;
    std::map<std::string, size_t> file_order;
    for (size_t i = 0; i < files_.size(); ++i) {
      file_order.emplace(files_[i]->name(), i);
    }
    std::stable_sort(errors_.begin(), errors_.end(), [&](const LoadError& a, const LoadError& b) {
      const size_t fa = file_order.count(a.file) ? file_order[a.file] : 0;
      const size_t fb = file_order.count(b.file) ? file_order[b.file] : 0;
      return std::tie(fa, a.line, a.col) < std::tie(fb, b.line, b.col);
    });
    result.errors = std::move(errors_);
    if (result.errors.empty()) {
      rules_.path = std::move(path);
      rules_.sha256 = std::move(sha256);
      rules_.Finalize();
      result.rules = std::make_shared<const RuleSet>(std::move(rules_));
    }
    return result;
  }

 private:
  void ParseFile(const InputFile& input) {
    // A byte-order mark (U+FEFF, which some editors put first) is not part of the document
    // (YAML 1.2, 5.2), and yaml-cpp counted it into its marks: every position it gave was off by
    // three columns, and a flow map's quoted scalar was cut at the wrong byte. Positions then
    // count from the character after it.
    std::string_view text_in = input.text;
    if (text_in.starts_with("\xEF\xBB\xBF")) {
      text_in.remove_prefix(3);
    }
    files_.push_back(std::make_unique<SourceFile>(input.name, std::string(text_in)));
    const SourceFile* source = files_.back().get();
    readers_.push_back(std::make_unique<YamlReader>(source, &errors_));
    YamlReader& reader = *readers_.back();

    // YAML allows no control character but tab, line feed and carriage return. yaml-cpp reads a
    // NUL as an escape and blamed the next line with the byte in its message, or took the NUL
    // and the letter after it as one character ("unknown key \"ules\""): found here first, at
    // its own line and column.
    // Nor bytes that are not UTF-8 (YAML is Unicode text): a message quoting them would not be
    // JSON, and a rule id or rep name made of them could not be printed.
    const std::string& text = source->text();
    for (size_t i = 0; i < text.size(); ++i) {
      const auto c = static_cast<unsigned char>(text[i]);
      if (c >= 0x80) {
        const size_t n = Utf8SequenceLength(text, i);
        if (n == 0) {
          char code[8];
          std::snprintf(code, sizeof code, "0x%02X", c);
          reader.ErrorAtByte(i, std::string("YAML syntax error: byte ") + code +
                                    " is not UTF-8 (a rule file is UTF-8 text)");
          return;
        }
        i += n - 1;
      } else if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
        char code[8];
        std::snprintf(code, sizeof code, "U+%04X", c);
        reader.ErrorAtByte(
            i, std::string("YAML syntax error: control character ") + code + " is not allowed");
        return;
      }
    }
    Documents docs;
    try {
      docs = ReadDocuments(source->text());
    } catch (const YAML::Exception& e) {
      const YAML::Mark& m = e.mark;
      if (!m.is_null() && m.pos >= 0) {
        // A tab in the line's indentation is the usual cause (YAML indents with spaces only),
        // and yaml-cpp blames what follows it ("illegal map value" at the colon): the error is
        // at the tab.
        const size_t pos = std::min(static_cast<size_t>(m.pos), text.size());
        const size_t line_start = pos == 0 ? 0 : text.rfind('\n', pos - 1) + 1;
        size_t indent_end = line_start;
        while (indent_end < text.size() && (text[indent_end] == ' ' || text[indent_end] == '\t')) {
          ++indent_end;
        }
        const size_t tab = text.find('\t', line_start);
        if (tab < indent_end) {
          reader.ErrorAtByte(tab,
                             "YAML syntax error: a tab indents this line (YAML indents with "
                             "spaces only)");
        } else {
          reader.ErrorAtByte(pos, "YAML syntax error: " + e.msg);
        }
      } else {
        errors_.push_back(LoadError{source->name(), std::max(m.line + 1, 1),
                                    std::max(m.column + 1, 1), "YAML syntax error: " + e.msg});
      }
      return;
    }
    if (docs.second.has_value()) {
      // The mark is the second document's first node; the error points at the `---` that starts
      // it, the last one at a line's start before that node.
      size_t at = static_cast<size_t>(std::max(docs.second->pos, 0));
      if (const size_t dashes = source->text().rfind("\n---", at); dashes != std::string::npos) {
        at = dashes + 1;
      }
      reader.ErrorAtByte(at,
                         "a rule file holds one YAML document; a second one starts here "
                         "(remove the '---' or split the rules into files of a directory)");
    }
    const YAML::Node& root = docs.first;
    if (!root.IsDefined() || root.IsNull()) {  // an empty file: nothing to add
      return;
    }
    std::optional<MapFields> top = reader.ReadMap(root, "the rule file", kTopLevelKeys);
    if (!top) {
      return;
    }
    for (const Field& f : top->all()) {
      Section section{&reader, f};
      if (f.name == "rules") {
        rule_sections_.push_back(section);
      } else if (f.name == "stages") {
        stage_sections_.push_back(section);
      } else {
        std::vector<Section>& sections = f.name == "scores" ? score_sections_ : routing_sections_;
        if (!sections.empty()) {
          SourcePos first = sections.front().reader->Pos(sections.front().field.key);
          reader.Error(f.key, "section " + Quoted(f.name) + " is already defined in " + first.file +
                                  ":" + std::to_string(first.line) +
                                  "; a map section may appear in one file only");
        }
        sections.push_back(section);
      }
    }
  }

  // Every scores section: the first, and those of other files (an error each, reported when the
  // files were read), so that their own errors show too and rules using their scores do not add
  // errors of their own.
  void LoadScores() {
    for (const Section& section : score_sections_) {
      LoadScoreSection(section);
    }
  }

  void LoadScoreSection(const Section& section) {
    YamlReader& reader = *section.reader;
    const YAML::Node& node = section.field.value;
    if (node.IsNull()) {
      return;
    }
    if (!node.IsMap()) {
      reader.Error(node,
                   "scores must be a map of score name to definition (e.g. "
                   "fit: {kind: profile}), got " +
                       reader.Describe(node));
      return;
    }
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key = it->first;
      if (!key.IsScalar()) {
        reader.Error(key, "score names must be names, got " + reader.Describe(key));
        continue;
      }
      const std::string& name = key.Scalar();
      bool ok = true;
      if (!IsScoreName(name)) {
        reader.Error(key, "invalid score name " + Quoted(name) +
                              ": expected letters, digits and '_', not starting with a "
                              "digit (it is written score." +
                              name + " in expressions)");
        ok = false;
      } else if (std::find(kExpressionKeywords.begin(), kExpressionKeywords.end(), name) !=
                 kExpressionKeywords.end()) {
        reader.Error(key, "invalid score name " + Quoted(name) +
                              ": it is a keyword of the expression language");
        ok = false;
      } else if (int existing = rules_.FindScore(name); existing >= 0) {
        reader.Error(key, "duplicate score " + Quoted(name) + " (first defined at " +
                              Where(rules_.scores[existing].pos, reader) + ")");
        continue;
      }
      ScoreDef def;
      def.name = name;
      def.pos = reader.Pos(key);
      bool kind_known = false;
      std::optional<MapFields> fields = reader.ReadMap(it->second, "score", kScoreKeys);
      if (fields && reader.Require(*fields, "score " + Quoted(name), {"kind"})) {
        const Field& kind = *fields->Find("kind");
        if (std::optional<std::string> k = reader.String(kind)) {
          if (*k == "profile") {
            def.kind = ScoreKind::kProfile;
            kind_known = true;
          } else if (*k == "event") {
            def.kind = ScoreKind::kEvent;
            kind_known = true;
          } else {
            reader.Error(kind.value, "kind must be \"profile\" or \"event\", got " + Quoted(*k) +
                                         DidYouMean(*k, {"profile", "event"}));
          }
        }
      }
      if (fields) {
        if (const Field* hl = fields->Find("half_life")) {
          if (kind_known && def.kind == ScoreKind::kProfile) {
            reader.Error(hl->key, "half_life is only for event scores; " + Quoted(name) +
                                      " is a profile score (recomputed from traits, it does "
                                      "not decay)");
          } else if (std::optional<double> seconds = reader.Duration(*hl)) {
            def.half_life = *seconds;
          }
        }
      }
      if (ok) {
        // Kept even when its definition is wrong, so rules naming it do not add errors.
        rules_.scores.push_back(std::move(def));
        score_names_.push_back(name);
        score_kind_known_.push_back(kind_known);
      }
    }
  }

  void LoadRuleList(const Section& section) {
    YamlReader& reader = *section.reader;
    const YAML::Node& node = section.field.value;
    if (node.IsNull()) {
      return;
    }
    if (!node.IsSequence()) {
      reader.Error(node, "rules must be a list of rules, each starting with \"- id:\", got " +
                             reader.Describe(node));
      return;
    }
    for (const YAML::Node& item : node) {
      LoadRule(reader, item);
    }
  }

  void LoadRule(YamlReader& reader, const YAML::Node& node) {
    std::optional<MapFields> fields = reader.ReadMap(node, "rule", kRuleKeys);
    if (!fields) {
      return;
    }
    RuleDef rule;
    rule.pos = reader.Pos(node);
    bool ok = true;
    if (const Field* f = fields->Find("id")) {
      if (std::optional<std::string> id = reader.String(*f)) {
        rule.id = *id;
        if (!IsSlug(*id)) {
          reader.Error(f->value, "invalid rule id " + Quoted(*id) +
                                     ": expected lowercase letters, digits, '-' and '_'");
          ok = false;
        } else if (auto first = rule_ids_.find(*id); first != rule_ids_.end()) {
          reader.Error(f->value, "duplicate rule id " + Quoted(*id) + " (first defined at " +
                                     Where(first->second, reader) + ")");
          ok = false;
        } else {
          rule_ids_.emplace(*id, reader.Pos(f->value));
        }
      } else {
        ok = false;
      }
    }
    const std::string what = rule.id.empty() ? "rule" : "rule " + Quoted(rule.id);
    ok = reader.Require(*fields, what, {"id", "score", "when", "points"}) && ok;

    // The score decides what `when` may see and whether cap/once are allowed.
    bool is_profile = false;
    if (const Field* f = fields->Find("score")) {
      if (std::optional<std::string> name = reader.String(*f)) {
        rule.score = rules_.FindScore(*name);
        if (rule.score < 0) {
          std::vector<std::string_view> names(score_names_.begin(), score_names_.end());
          std::string hint = DidYouMean(*name, names);
          if (names.empty()) {
            hint = " (no scores are defined: add one under scores:)";
          }
          reader.Error(f->value, "unknown score " + Quoted(*name) + hint);
          ok = false;
        } else {
          is_profile = score_kind_known_[rule.score] &&
                       rules_.scores[rule.score].kind == ScoreKind::kProfile;
        }
      } else {
        ok = false;
      }
    }
    const std::string score_name = is_profile ? rules_.scores[rule.score].name : "";
    if (const Field* f = fields->Find("when")) {
      const ExpressionScope scope =
          is_profile ? ExpressionScope::kProfileRule : ExpressionScope::kEventRule;
      if (std::optional<Expression> when = reader.Expr(*f, scope, score_names_)) {
        rule.when = std::move(*when);
      } else {
        ok = false;
      }
    }
    if (const Field* f = fields->Find("points")) {
      if (std::optional<double> points = reader.Number(*f)) {
        rule.points = *points;
      } else {
        ok = false;
      }
    }
    if (const Field* f = fields->Find("cap")) {
      if (is_profile) {
        reader.Error(f->key, "cap is only for rules of event scores; " + Quoted(score_name) +
                                 " is a profile score");
        ok = false;
      } else if (std::optional<CapDef> cap = LoadCap(reader, *f)) {
        rule.cap = *cap;
      } else {
        ok = false;
      }
    }
    if (const Field* f = fields->Find("once")) {
      // As `cap`: the key itself is the error on a profile rule (SPEC 5.2), `once: false` too.
      if (is_profile) {
        reader.Error(f->key, "once is only for rules of event scores; " + Quoted(score_name) +
                                 " is a profile score");
        ok = false;
      } else if (std::optional<bool> once = reader.Bool(*f)) {
        rule.once = *once;
      } else {
        ok = false;
      }
    }
    if (ok) {
      rules_.rules.push_back(std::move(rule));
    }
  }

  std::optional<CapDef> LoadCap(YamlReader& reader, const Field& field) {
    std::optional<MapFields> fields = reader.ReadMap(field.value, "cap", kCapKeys);
    if (!fields) {
      return std::nullopt;
    }
    bool ok = reader.Require(*fields, "cap", kCapKeys);
    CapDef cap;
    if (const Field* f = fields->Find("points")) {
      std::optional<double> points = reader.Number(*f);
      if (points && *points <= 0) {
        reader.Error(f->value,
                     "cap points must be greater than 0, got " + reader.Describe(f->value));
        points.reset();
      }
      ok = points.has_value() && ok;
      cap.points = points.value_or(0);
    }
    if (const Field* f = fields->Find("per")) {
      std::optional<double> per = reader.Duration(*f);
      ok = per.has_value() && ok;
      cap.per = per.value_or(0);
    }
    if (!ok) {
      return std::nullopt;
    }
    return cap;
  }

  void LoadStageList(const Section& section) {
    YamlReader& reader = *section.reader;
    const YAML::Node& node = section.field.value;
    if (node.IsNull()) {
      return;
    }
    if (!node.IsSequence()) {
      reader.Error(node,
                   "stages must be a list of stages, lowest first, each starting with "
                   "\"- name:\", got " +
                       reader.Describe(node));
      return;
    }
    for (const YAML::Node& item : node) {
      LoadStage(reader, item);
    }
  }

  void LoadStage(YamlReader& reader, const YAML::Node& node) {
    std::optional<MapFields> fields = reader.ReadMap(node, "stage", kStageKeys);
    if (!fields) {
      return;
    }
    StageDef stage;
    stage.pos = reader.Pos(node);
    bool named = false;
    if (const Field* f = fields->Find("name")) {
      if (std::optional<std::string> name = reader.String(*f)) {
        stage.name = *name;
        if (*name == kNewStage) {
          reader.Error(f->value,
                       "stage \"new\" is implicit (every lead starts there) and cannot "
                       "be defined; define the stages above it");
        } else if (!IsStageName(*name)) {
          reader.Error(f->value, "invalid stage name " + Quoted(*name) +
                                     ": expected letters, digits, '-' and '_'");
        } else if (int existing = rules_.FindStage(*name); existing >= 0) {
          reader.Error(f->value, "duplicate stage " + Quoted(*name) + " (first defined at " +
                                     Where(rules_.stages[existing].pos, reader) + ")");
        } else {
          named = true;
        }
      }
    }
    reader.Require(*fields, stage.name.empty() ? "stage" : "stage " + Quoted(stage.name),
                   {"name", "enter"});
    if (const Field* f = fields->Find("enter")) {
      if (std::optional<Expression> e = reader.Expr(*f, ExpressionScope::kLead, score_names_)) {
        stage.enter = std::move(*e);
      }
    }
    if (const Field* f = fields->Find("exit")) {
      if (std::optional<Expression> e = reader.Expr(*f, ExpressionScope::kLead, score_names_)) {
        stage.exit = std::move(*e);
        stage.has_exit = true;
      }
    }
    if (named) {
      // Kept even when an expression is wrong, so routing naming it does not add errors.
      rules_.stages.push_back(std::move(stage));
    }
  }

  std::vector<LoadError> errors_;
  std::vector<std::unique_ptr<SourceFile>> files_;
  std::vector<std::unique_ptr<YamlReader>> readers_;
  // The map sections in file order; more than one of either is an error.
  std::vector<Section> score_sections_;
  std::vector<Section> routing_sections_;
  std::vector<Section> rule_sections_;
  std::vector<Section> stage_sections_;

  RuleSet rules_;
  std::vector<std::string> score_names_;
  std::vector<bool> score_kind_known_;
  std::map<std::string, SourcePos, std::less<>> rule_ids_;
};

bool ReadWholeFile(const std::string& path, std::string* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = std::string("cannot read rules: ") + std::strerror(errno);
    return false;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    *error = std::string("cannot read rules: ") + std::strerror(errno);
    return false;
  }
  *out = std::move(buffer).str();
  return true;
}

LoadResult Failed(const std::string& file, std::string message) {
  LoadResult result;
  result.errors.push_back(LoadError{file, 0, 0, std::move(message)});
  return result;
}

}  // namespace

LoadResult LoadRules(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    return Failed(path, "cannot read rules: " +
                            (ec ? ec.message() : std::string("no such file or directory")));
  }
  std::vector<InputFile> inputs;
  Sha256 sha;
  if (fs::is_directory(status)) {
    std::vector<std::string> names;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      std::error_code file_ec;
      // A symlink whose target is gone is listed, so that reading it fails the load: skipping it
      // would drop that file's rules without a word. Directories, sockets and FIFOs are not rule
      // files (reading a FIFO would block the reload).
      const bool dangling = it->is_symlink(file_ec) && !fs::exists(it->path(), file_ec);
      if (name.size() > 5 && name.ends_with(".yaml") && name[0] != '.' &&
          (it->is_regular_file(file_ec) || dangling)) {
        names.push_back(name);
      }
    }
    if (ec) {
      return Failed(path, "cannot list the rules directory: " + ec.message());
    }
    if (names.empty()) {
      return Failed(path, "no *.yaml rule files in the directory");
    }
    std::sort(names.begin(), names.end());
    std::vector<LoadError> read_errors;
    for (const std::string& name : names) {
      InputFile input;
      input.name = (fs::path(path) / name).string();
      std::string error;
      if (!ReadWholeFile(input.name, &input.text, &error)) {
        read_errors.push_back(LoadError{input.name, 0, 0, error});
        continue;
      }
      sha.Update(name);
      sha.Update(std::string_view("\0", 1));
      sha.Update(input.text);
      inputs.push_back(std::move(input));
    }
    if (!read_errors.empty()) {
      LoadResult result;
      result.errors = std::move(read_errors);
      return result;
    }
    return Loader().Load(inputs, path, sha.HexDigest());
  }
  InputFile input;
  input.name = path;
  std::string error;
  if (!ReadWholeFile(path, &input.text, &error)) {
    return Failed(path, error);
  }
  sha.Update(input.text);
  inputs.push_back(std::move(input));
  return Loader().Load(inputs, path, sha.HexDigest());
}

LoadResult LoadRulesFromString(std::string_view yaml, std::string_view file_name) {
  std::vector<InputFile> inputs;
  inputs.push_back(InputFile{std::string(file_name), std::string(yaml)});
  return Loader().Load(inputs, std::string(file_name), Sha256Hex(yaml));
}

}  // namespace handoff
