#include <gtest/gtest.h>

#include "test_util.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "recur/data.hpp"
#include "recur/error.hpp"
#include "recur/text.hpp"
#include "recur/vectors.hpp"

using namespace recur;
using recur_test::error_of;

namespace {
// The message of the recur::Error that f throws ("" if it throws none).
}  // namespace

TEST(Utf8, AcceptsValidText) {
  EXPECT_EQ(find_invalid_utf8("plain ascii"), std::string::npos);
  EXPECT_EQ(find_invalid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), std::string::npos);
}

TEST(Utf8, FindsTheFirstBadByte) {
  EXPECT_EQ(find_invalid_utf8("ab\xFF"), 2u);                // never valid
  EXPECT_EQ(find_invalid_utf8("a\x80"), 1u);                 // stray continuation
  EXPECT_EQ(find_invalid_utf8("a\xC3"), 1u);                 // truncated
  EXPECT_EQ(find_invalid_utf8("\xC0\xAF"), 0u);              // overlong '/'
  EXPECT_EQ(find_invalid_utf8("x\xED\xA0\x80"), 1u);         // UTF-16 surrogate
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);      // past U+10FFFF
}

TEST(Tokenizer, WhitespaceIsPythonSplitOnOneSpace) {
  EXPECT_EQ(split_spaces("i am good"), (std::vector<std::string>{"i", "am", "good"}));
  EXPECT_EQ(split_spaces("a  b"), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split_spaces("good"), (std::vector<std::string>{"good"}));
  EXPECT_EQ(split_spaces(""), (std::vector<std::string>{""}));
  EXPECT_EQ(split_spaces("tab\tstays"), (std::vector<std::string>{"tab\tstays"}));
}

TEST(Vocabulary, FirstSeenOrderAndUnknowns) {
  const auto rows = parse_tsv("i am good\tpos\nthis is bad\tneg\ni am bad\tneg\n", "t.tsv");
  const Vocabulary v = build_vocab(rows, TokenizerKind::whitespace);
  EXPECT_EQ(v.tokens(), (std::vector<std::string>{"i", "am", "good", "this", "is", "bad"}));
  EXPECT_EQ(v.id("bad"), 5);
  EXPECT_EQ(v.id("happy"), Vocabulary::unknown);
  const Encoded e = encode(v, TokenizerKind::whitespace, "i am very happy");
  EXPECT_EQ(e.ids, (std::vector<int>{0, 1, -1, -1}));
  EXPECT_EQ(e.n_unknown, 2);
}

TEST(Tsv, ParsesRecordsWithLineNumbers) {
  const auto rows = parse_tsv("\xEF\xBB\xBFgood\tpos\r\n\nbad\tneg\r\n", "x.tsv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].text, "good");  // BOM removed
  EXPECT_EQ(rows[0].label, "pos");  // CR removed
  EXPECT_EQ(rows[1].text, "bad");
  EXPECT_EQ(rows[1].line, 3);       // blank line 2 skipped but counted
  EXPECT_EQ(sorted_labels(rows), (std::vector<std::string>{"neg", "pos"}));
}

TEST(Tsv, ErrorsNameFileAndLine) {
  EXPECT_EQ(error_of([] { parse_tsv("good\tpos\nno tab here\n", "d.tsv"); }),
            "d.tsv:2: expected text<TAB>label, found no tab");
  EXPECT_EQ(error_of([] { parse_tsv("a\tb\tc\n", "d.tsv"); }),
            "d.tsv:1: expected 2 columns (text<TAB>label), got 3");
  EXPECT_EQ(error_of([] { parse_tsv("good\t\n", "d.tsv"); }), "d.tsv:1: empty label after the tab");
  EXPECT_EQ(error_of([] { parse_tsv("\tpos\n", "d.tsv"); }), "d.tsv:1: empty text before the tab");
  EXPECT_EQ(error_of([] { parse_tsv("ok\tpos\nbad \xFF\tneg\n", "d.tsv"); }),
            "d.tsv:2: invalid UTF-8 at byte 5 of the line");
  EXPECT_EQ(error_of([] { parse_tsv("", "d.tsv"); }), "d.tsv: no records (empty file?)");
  EXPECT_EQ(error_of([] { parse_tsv("\n\r\n", "d.tsv"); }), "d.tsv: no records (empty file?)");
  EXPECT_NE(error_of([] { load_tsv("/nonexistent/x.tsv"); }).find("/nonexistent/x.tsv: cannot open"),
            std::string::npos);
}

TEST(Tsv, UnknownLabelIsAnErrorWithItsLine) {
  const auto train = parse_tsv("good\tpos\nbad\tneg\n", "train.tsv");
  const auto test = parse_tsv("good\tpos\nbad\tmeh\n", "test.tsv");
  const Vocabulary v = build_vocab(train, TokenizerKind::whitespace);
  EXPECT_EQ(error_of([&] { encode_set(test, v, TokenizerKind::whitespace, sorted_labels(train), "test.tsv"); }),
            "test.tsv:2: unknown label 'meh' (the model knows: neg, pos)");
  const EncodedSet s = encode_set(train, v, TokenizerKind::whitespace, sorted_labels(train), "train.tsv");
  EXPECT_EQ(s.targets, (std::vector<int>{1, 0}));
}

// ---- CSV and JSONL ---------------------------------------------------------------

TEST(Csv, QuotingEmbeddedNewlinesBomCrlf) {
  LoadOptions o;
  const std::string csv =
      "\xEF\xBB\xBFid,text,label\r\n"
      "1,\"good, very good\",pos\r\n"
      "\r\n"
      "2,\"she said \"\"bad\"\"\nand left\",neg\r\n"
      "3,plain,pos\n";
  const auto rows = parse_csv(csv, "d.csv", o);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].text, "good, very good");
  EXPECT_EQ(rows[0].label, "pos");
  EXPECT_EQ(rows[1].text, "she said \"bad\"\nand left");
  EXPECT_EQ(rows[1].line, 4);
  EXPECT_EQ(rows[2].text, "plain");
  EXPECT_EQ(rows[2].line, 6);  // the quoted newline moved it down a line
}

TEST(Csv, ColumnsByIndexWithAndWithoutHeader) {
  LoadOptions o;
  o.text_col = "1";
  o.label_col = "0";
  auto rows = parse_csv("pos,nice\nneg,awful\n", "d.csv", o);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].text, "nice");
  EXPECT_EQ(rows[1].label, "neg");
  o.header = true;
  rows = parse_csv("label,text\npos,nice\n", "d.csv", o);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].text, "nice");
}

TEST(Csv, ErrorsAndSkipBad) {
  LoadOptions o;
  EXPECT_EQ(error_of([&] { parse_csv("text,label\ngood,pos\nbad\n", "d.csv", o); }),
            "d.csv:3: expected 2 fields, got 1");
  EXPECT_EQ(error_of([&] { parse_csv("txt,label\ngood,pos\n", "d.csv", o); }),
            "d.csv:1: no column named 'text' in the header (--text-col)");
  EXPECT_EQ(error_of([&] { parse_csv("text,label\n\"open,pos\n", "d.csv", o); }),
            "d.csv:2: a quoted field is not closed before the end of the file");
  EXPECT_EQ(error_of([&] { parse_csv("text,label\nok,pos\n\xFF,neg\n", "d.csv", o); }), "d.csv:3: invalid UTF-8");
  o.skip_bad = true;
  LoadReport r;
  const auto rows = parse_csv("text,label\ngood,pos\nbad\n,neg\nfine,neg\n", "d.csv", o, &r);
  EXPECT_EQ(rows.size(), 2u);
  EXPECT_EQ(r.skipped, 2);
  EXPECT_EQ(r.first_error, "d.csv:3: expected 2 fields, got 1");
}

TEST(Jsonl, FieldsNumbersAndErrors) {
  LoadOptions o;
  const auto rows = parse_jsonl("{\"text\": \"good\", \"label\": \"pos\"}\n\n{\"text\": \"bad\", \"label\": 0}\r\n", "d.jsonl", o);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].label, "0");
  EXPECT_EQ(rows[1].line, 3);
  EXPECT_EQ(error_of([&] { parse_jsonl("{\"text\": \"good\"}\n", "d.jsonl", o); }),
            "d.jsonl:1: no string or integer field \"label\"");
  EXPECT_EQ(error_of([&] { parse_jsonl("{\"text\": \"a\", \"label\": \"x\"}\n[1,2]\n", "d.jsonl", o); }),
            "d.jsonl:2: not a JSON object");
  EXPECT_EQ(error_of([&] { parse_jsonl("{oops\n", "d.jsonl", o); }), "d.jsonl:1: not a JSON object");
  o.text_col = "review";
  o.label_col = "stars";
  EXPECT_EQ(parse_jsonl("{\"review\": \"ok\", \"stars\": 4}\n", "d.jsonl", o)[0].label, "4");
}

TEST(Tsv, SkipBadKeepsTheRestAndRealLineNumbers) {
  const std::string path = ::testing::TempDir() + "skip_bad_" + std::to_string(::getpid()) + ".tsv";
  {
    std::ofstream f(path);
    f << "good\tpos\nno tab\nbad\tneg\n\tpos\n";
  }
  LoadOptions o;
  o.skip_bad = true;
  LoadReport r;
  const auto rows = load_labeled(path, DataFormat::tsv, o, &r);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].line, 3);
  EXPECT_EQ(r.skipped, 2);
  EXPECT_EQ(r.first_error, path + ":2: expected text<TAB>label, found no tab");
  EXPECT_EQ(format_from_path("x.csv"), DataFormat::csv);
  EXPECT_EQ(format_from_path("x.jsonl"), DataFormat::jsonl);
  EXPECT_EQ(format_from_path("x.txt"), DataFormat::tsv);
  std::remove(path.c_str());
}

TEST(Vocabulary, MinCountAndMaxVocabKeepFrequentWordsAndAddUnknown) {
  const auto rows = parse_tsv("a b c\tx\na b\tx\na d\ty\n<unk> e\ty\n", "v.tsv");
  // Defaults: every token in first-seen order, no unknown symbol (the seed's vocabulary).
  EXPECT_EQ(build_vocab(rows, TokenizerKind::whitespace).tokens(),
            (std::vector<std::string>{"a", "b", "c", "d", "<unk>", "e"}));
  VocabOptions two;
  two.min_count = 2;  // a: 3, b: 2, the rest once; a literal <unk> in the text is the unknown symbol itself
  const Vocabulary v = build_vocab(rows, TokenizerKind::whitespace, two);
  EXPECT_EQ(v.tokens(), (std::vector<std::string>{"a", "b", kUnknownToken}));
  // Dropped and unseen words both encode as <unk>, and are counted.
  const Encoded e = encode(v, TokenizerKind::whitespace, "a c zzz b");
  EXPECT_EQ(e.ids, (std::vector<int>{0, 2, 2, 1}));
  EXPECT_EQ(e.n_unknown, 2);
  VocabOptions one;
  one.max_vocab = 1;
  EXPECT_EQ(build_vocab(rows, TokenizerKind::whitespace, one).tokens(), (std::vector<std::string>{"a", kUnknownToken}));
  // Ties at the cut keep the word seen first: c, d and e all occur once.
  VocabOptions three;
  three.max_vocab = 3;
  EXPECT_EQ(build_vocab(rows, TokenizerKind::whitespace, three).tokens(),
            (std::vector<std::string>{"a", "b", "c", kUnknownToken}));
}

namespace {
std::vector<LabeledText> labelled(int pos, int neg, int other) {
  std::vector<LabeledText> rows;
  for (int i = 0; i < pos + neg + other; ++i)
    rows.push_back({"t" + std::to_string(i), i < pos ? "pos" : i < pos + neg ? "neg" : "other", i + 1});
  return rows;
}
long count_label(const std::vector<LabeledText>& rows, const std::string& l) {
  return std::count_if(rows.begin(), rows.end(), [&](const LabeledText& r) { return r.label == l; });
}
}  // namespace

TEST(Splits, HoldoutIsStratifiedAndSeeded) {
  const auto rows = labelled(80, 15, 5);
  Rng a(7), b(7), c(8);
  const std::vector<int> held = stratified_holdout(rows, 0.2, a);
  EXPECT_EQ(held, stratified_holdout(rows, 0.2, b));  // same seed, same split
  EXPECT_NE(held, stratified_holdout(rows, 0.2, c));
  EXPECT_TRUE(std::is_sorted(held.begin(), held.end()));
  const auto valid = select(rows, held), train = select(rows, held, false);
  EXPECT_EQ(valid.size() + train.size(), rows.size());
  EXPECT_EQ(count_label(valid, "pos"), 16);   // 20% of each label
  EXPECT_EQ(count_label(valid, "neg"), 3);
  EXPECT_EQ(count_label(valid, "other"), 1);
  EXPECT_NE(error_of([&] { stratified_holdout(rows, 1.0, a); }), "");
}

TEST(Splits, FoldsAreStratifiedAndEvenlySized) {
  const auto rows = labelled(53, 31, 7);  // 91 examples
  Rng rng(1);
  const std::vector<int> fold = stratified_folds(rows, 10, rng);
  ASSERT_EQ(fold.size(), rows.size());
  std::vector<int> size(10, 0), pos(10, 0);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    ASSERT_GE(fold[i], 0);
    ASSERT_LT(fold[i], 10);
    ++size[std::size_t(fold[i])];
    pos[std::size_t(fold[i])] += rows[i].label == "pos";
  }
  EXPECT_LE(*std::max_element(size.begin(), size.end()) - *std::min_element(size.begin(), size.end()), 1);
  EXPECT_LE(*std::max_element(pos.begin(), pos.end()) - *std::min_element(pos.begin(), pos.end()), 1);
  EXPECT_NE(error_of([&] { stratified_folds(rows, 1, rng); }), "");
  EXPECT_NE(error_of([&] { stratified_folds(labelled(2, 1, 0), 5, rng); }), "");
}

// Pretrained word vectors (--vectors): the word2vec/fastText text format read
// as written (fastText ends each line with a space), and every malformed file
// refused by file and line.
TEST(WordVectors, ReadsTheTextFormatAndNamesTheLineOfAnError) {
  const std::string path = ::testing::TempDir() + "vectors_" + std::to_string(::getpid()) + ".vec";
  auto with = [&](const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
    return path;
  };
  const WordVectors v = read_word_vectors(with("3 2\n</s> 0.5 -1 \nthe 1e-3 2.5 \ncaf\xc3\xa9 -0 3\n"));
  EXPECT_EQ(v.dim, 2);
  EXPECT_EQ(v.words, (std::vector<std::string>{"</s>", "the", "caf\xc3\xa9"}));
  EXPECT_EQ(v.values, (std::vector<float>{0.5f, -1.f, 1e-3f, 2.5f, -0.f, 3.f}));
  EXPECT_EQ(v.row(1)[1], 2.5f);
  EXPECT_EQ(error_of([&] { read_word_vectors(with("")); }), path + ": empty file (expected a header line 'N D')");
  EXPECT_EQ(error_of([&] { read_word_vectors(with("the 1 2\n")); }),
            path + ":1: expected a header line 'N D' (words, dimensions), found 'the 1 2'");
  EXPECT_EQ(error_of([&] { read_word_vectors(with("2 3\na 1 2 3\nb 1 2\n")); }),
            path + ":3: expected a word and 3 numbers (the header's dimension), found 2 after 'b'");
  EXPECT_EQ(error_of([&] { read_word_vectors(with("1 2\na 1 x2\n")); }),
            path + ":2: value 2 of 'a' is not a finite number: 'x2'");
  EXPECT_EQ(error_of([&] { read_word_vectors(with("1 2\na 1 nan\n")); }),
            path + ":2: value 2 of 'a' is not a finite number: 'nan'");
  EXPECT_EQ(error_of([&] { read_word_vectors(with("2 1\na 1\na 2\n")); }), path + ":3: the word 'a' has a vector already");
  EXPECT_EQ(error_of([&] { read_word_vectors(with("3 1\na 1\nb 2\n")); }),
            path + ": the header says 3 vectors, the file has 2");
  EXPECT_EQ(error_of([&] { read_word_vectors(with("1 1\na 1\nb 2\n")); }), path + ":3: more vectors than the header's 1");
  EXPECT_NE(error_of([&] { read_word_vectors(path + ".absent"); }).find(path + ".absent: cannot open"), std::string::npos);
  std::remove(path.c_str());
}
