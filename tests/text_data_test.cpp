#include <gtest/gtest.h>

#include "test_util.hpp"

#include "recur/data.hpp"
#include "recur/error.hpp"
#include "recur/text.hpp"

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
