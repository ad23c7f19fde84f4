// Language models: the many-to-many loss's gradients, carried state, tokenizers,
// sampling.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <set>

#include "recur/data.hpp"
#include "recur/generator.hpp"
#include "recur/layers.hpp"
#include "recur/token_stream.hpp"
#include "recur/trainer.hpp"
#include "test_util.hpp"

using namespace recur;

namespace {

ModelConfig lm_config(CellKind cell, int layers, int embed) {
  ModelConfig c;
  c.task = Task::lm;
  c.cell = cell;
  c.vocab = c.classes = 5;
  c.embed = embed;
  c.hidden = 4;
  c.layers = layers;
  c.bias_hh = true;
  return c;
}

// T = 3 steps, B = 2 streams, every step predicting its target.
Batch lm_batch() {
  Batch b;
  b.T = 3, b.B = 2;
  b.ids = {0, 4, 2, 1, 3, 3};
  b.targets = {2, 1, 3, 3, 1, 0};
  b.lengths = {3, 3};
  return b;
}

void set_initial_state(const Model<double>& m, Model<double>::Workspace& ws, Rng& rng) {
  const int L = m.config().layers, H = m.config().hidden;
  ws.h0.assign(std::size_t(L), Matrix<double>(2, H));
  ws.c0.assign(std::size_t(L), Matrix<double>(2, H));
  auto fill = [&](Matrix<double>& x) {
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = 0.5 * (2 * rng.uniform() - 1);
  };
  for (auto& h : ws.h0) fill(h);
  if (m.config().cell == CellKind::lstm)
    for (auto& c : ws.c0) fill(c);
  else
    ws.c0.clear();
}

double loss_of(const Model<double>& m, const Batch& b, const Model<double>::Workspace& init) {
  Model<double>::Workspace ws;
  ws.h0 = init.h0;
  ws.c0 = init.c0;
  m.forward(b, ws);
  return cross_entropy_sum<double>(ws.logits, b.targets);
}

struct Case {
  CellKind cell;
  int layers, embed;
};
class LmGradCheck : public ::testing::TestWithParam<Case> {};

// Every step's prediction contributes; the initial (carried) state is a constant.
TEST_P(LmGradCheck, ManyToManyLossEveryParameter) {
  const Case k = GetParam();
  Model<double> m(lm_config(k.cell, k.layers, k.embed));
  Rng rng(40 + int(k.cell));
  recur_test::init_uniform(m, rng, 0.8);
  const Batch b = lm_batch();
  Model<double>::Workspace init;
  set_initial_state(m, init, rng);
  recur_test::check_gradients(
      m,
      [&] {
        Model<double>::Workspace ws;
        ws.h0 = init.h0;
        ws.c0 = init.c0;
        m.forward(b, ws);
        cross_entropy_grad<double>(ws.probs, b.targets, 1.0, ws.dlogits);
        m.zero_grad();
        m.backward(b, ws);
      },
      [&] { return loss_of(m, b, init); });
}

INSTANTIATE_TEST_SUITE_P(Cells, LmGradCheck,
                         ::testing::Values(Case{CellKind::rnn_tanh, 1, 0}, Case{CellKind::rnn_relu, 2, 3},
                                           Case{CellKind::lstm, 2, 0}, Case{CellKind::lstm, 1, 3},
                                           Case{CellKind::gru, 2, 3}, Case{CellKind::gru, 1, 0}),
                         [](const auto& info) {
                           return cell_name(info.param.cell) + "_l" + std::to_string(info.param.layers) +
                                  (info.param.embed ? "_embed" : "_onehot");
                         });

}  // namespace

// Carrying the state across truncated chunks gives exactly the forward pass of
// one long sequence.
TEST(LmState, CarriedChunksEqualOneLongPass) {
  for (CellKind cell : {CellKind::rnn_tanh, CellKind::lstm, CellKind::gru}) {
    Model<double> m(lm_config(cell, 2, 0));
    Rng rng(7);
    recur_test::init_uniform(m, rng, 0.8);
    const std::vector<int> ids = {0, 1, 2, 3, 4, 4, 3, 2, 1, 0, 2};
    Model<double>::Workspace whole;
    Batch b;
    b.B = 1, b.T = 10;
    b.ids.assign(ids.begin(), ids.begin() + 10);
    b.lengths = {10};
    m.forward(b, whole);
    Model<double>::Workspace ws;
    Matrix<double> chunked(10, 5);
    for (int start = 0; start < 10; start += 4) {
      const int len = std::min(4, 10 - start);
      Batch c;
      c.B = 1, c.T = len;
      c.ids.assign(ids.begin() + start, ids.begin() + start + len);
      c.lengths = {len};
      m.forward(c, ws);
      chunked.middleRows(start, len) = ws.logits;
      std::swap(ws.h0, ws.final_h);
      std::swap(ws.c0, ws.final_c);
    }
    EXPECT_LT((chunked - whole.logits).cwiseAbs().maxCoeff(), 1e-13) << cell_name(cell);
    // And evaluate_many_to_many, which reads in chunks, scores the sequence like one pass.
    const double loss_whole =
        cross_entropy_sum<double>(whole.logits, std::vector<int>(ids.begin() + 1, ids.end())) / 10;
    EXPECT_NEAR(evaluate_many_to_many(m, ids, 3).loss, loss_whole, 1e-13);
  }
}

TEST(LmText, CodePointsWordsAndVocabulary) {
  EXPECT_EQ(split_code_points("a\xC3\xA9\xE2\x82\xAC!"), (std::vector<std::string>{"a", "\xC3\xA9", "\xE2\x82\xAC", "!"}));
  EXPECT_EQ(split_words("Good. It's   fine,ok"),
            (std::vector<std::string>{"Good", ".", "It's", "fine", ",", "ok"}));
  const Vocabulary v = build_lm_vocab("baca", TokenizerKind::chr);
  EXPECT_EQ(v.tokens(), (std::vector<std::string>{"a", "b", "c", kUnknownToken}));
  long unknown = 0;
  EXPECT_EQ(encode_text("abz", v, TokenizerKind::chr, &unknown), (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(unknown, 1);
}

// The vocabulary and ids are built from the text's tokens visited in place
// (for_each_token); they must be exactly those of the tokens listed and
// collected in a std::set, for every tokenizer.
TEST(LmText, StreamedVocabularyAndIdsEqualTheListed) {
  const std::string text = "Zoë's caf\xC3\xA9 <unk> \xE2\x82\xAC" "5, \xF0\x9F\x99\x82 ok.\nzo\xC3\xAB  \tend";
  for (TokenizerKind k : {TokenizerKind::chr, TokenizerKind::word, TokenizerKind::whitespace, TokenizerKind::symbols}) {
    SCOPED_TRACE(to_string(k));
    const std::vector<std::string> listed = tokenize(k, text);
    std::vector<std::string> visited;
    for_each_token(k, text, [&](std::string_view t) { visited.emplace_back(t); });
    EXPECT_EQ(visited, listed);
    std::set<std::string> seen(listed.begin(), listed.end());
    seen.erase(kUnknownToken);
    std::vector<std::string> want(seen.begin(), seen.end());  // (byte order: "Z" < "z" < bytes >= 0x80)
    want.push_back(kUnknownToken);
    const Vocabulary v = build_lm_vocab(text, k);
    EXPECT_EQ(v.tokens(), want);
    const Vocabulary part = build_lm_vocab(text.substr(0, 12), k);
    long unknown = 0, want_unknown = 0;
    std::vector<int> want_ids;
    for (const auto& t : listed) {
      const int id = part.id(t);
      want_ids.push_back(id == Vocabulary::unknown ? part.id(kUnknownToken) : id);
      want_unknown += (id == Vocabulary::unknown);
    }
    EXPECT_EQ(encode_text(text, part, k, &unknown), want_ids);
    EXPECT_EQ(unknown, want_unknown);
    EXPECT_GT(unknown, 0);
  }
}

// Ids on disk come back as written, in the fewest bytes that hold the vocabulary.
TEST(TokenStreams, FileHoldsIdsInTheFewestBytes) {
  for (const int vocab : {2, 256, 257, 65536, 65537, 3000000}) {
    SCOPED_TRACE(vocab);
    TokenFile f(vocab);
    std::vector<int> ids;
    Rng rng(static_cast<std::uint32_t>(vocab));
    for (int i = 0; i < 200000; ++i) ids.push_back(int(rng.uniform() * vocab) % vocab);
    ids.back() = vocab - 1;
    for (const int id : ids) f.append(id);
    f.finish();
    EXPECT_EQ(f.bytes_per_id(), vocab <= 256 ? 1 : vocab <= 65536 ? 2 : 4);
    ASSERT_EQ(f.size(), ids.size());
    std::vector<int> back(ids.size());
    f.read(0, ids.size(), back.data());
    EXPECT_EQ(back, ids);
    std::vector<int> window(5);
    f.read(ids.size() - 5, 5, window.data());
    EXPECT_EQ(window, std::vector<int>(ids.end() - 5, ids.end()));
    EXPECT_EQ(recur_test::error_of([&] { f.read(ids.size() - 4, 5, window.data()); }), "token stream: read past its end");
  }
}

namespace {

std::string temp_text(const std::string& name, const std::string& bytes) {
  const std::string path = ::testing::TempDir() + "recur_lm_test_" + std::to_string(::getpid()) + "_" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  return path;
}

}  // namespace

// A file read in pieces (down to one byte at a time) gives exactly the tokens
// of the whole text normalized at once, for every tokenizer and normalization:
// pieces end after line breaks (or at spaces), where neither a token nor NFC
// spans; a byte-order mark is dropped as read_text_file() drops it.
TEST(TokenStreams, PiecesOfAFileAreTheWholeText) {
  const std::string text = "Zo\xC3\xAB's CAFE\xCC\x81  <unk> \xE2\x82\xAC" "5,\n\xCC\x81x \xF0\x9F\x99\x82 Stra\xC3\x9F" "e.\n\n"
                           "zo\xC3\xAB  \tend \n e\xCC\x81 ";
  const std::string path = temp_text("pieces.txt", "\xEF\xBB\xBF" + text);
  const TextFilePieces file(path);
  ASSERT_EQ(file.size(), text.size());
  EXPECT_EQ(read_text_file(path), text);
  for (TokenizerKind k : {TokenizerKind::chr, TokenizerKind::word, TokenizerKind::whitespace, TokenizerKind::symbols})
    for (Normalization n : {Normalization::nfc, Normalization::nfc_casefold, Normalization::ascii_lower}) {
      for (const std::size_t bytes : {1, 2, 3, 7, 64, 1 << 20}) {
        SCOPED_TRACE(to_string(k) + " " + to_string(n) + " " + std::to_string(bytes));
        const std::size_t cut = file.code_point_boundary(29);
        for (const auto& [from, to] : {std::pair<std::size_t, std::size_t>{0, text.size()}, {0, cut}, {cut, text.size()}}) {
          std::vector<std::string> got;
          file.visit(from, to, k, n, [&](std::string_view p) { for_each_token(k, p, [&](std::string_view t) { got.emplace_back(t); }); },
                     bytes);
          EXPECT_EQ(got, tokenize(k, normalize(text.substr(from, to - from), n)));
        }
      }
    }
  EXPECT_EQ(file.code_point_boundary(2), 2u);
  EXPECT_EQ(file.code_point_boundary(3), 4u);  // inside "ë"
  std::remove(path.c_str());
}

TEST(TokenStreams, InvalidUtf8NamesTheLineInAnyPiece) {
  std::string text;
  for (int i = 0; i < 500; ++i) text += "line " + std::to_string(i + 1) + "\n";
  text += "then \xFF here\n";
  const std::string path = temp_text("bad.txt", text);
  const TextFilePieces file(path);
  for (const std::size_t bytes : {std::size_t(16), std::size_t(1) << 20})
    EXPECT_EQ(recur_test::error_of([&] {
                file.visit(0, file.size(), TokenizerKind::chr, Normalization::nfc, [](std::string_view) {}, bytes);
              }),
              path + ":501: invalid UTF-8 at byte 6 of the line");
  std::remove(path.c_str());
  EXPECT_EQ(recur_test::error_of([&] { TextFilePieces missing(path); }).rfind(path + ": cannot open", 0), 0u);
}

TEST(Sampling, TemperatureTopKTopP) {
  const float logits[4] = {0.1f, 2.0f, 1.5f, -1.0f};
  Rng rng(1);
  std::vector<double> scratch;
  SampleOptions greedy;
  greedy.temperature = 0;
  EXPECT_EQ(sample_next(logits, 4, greedy, rng, scratch), 1);
  SampleOptions k1;
  k1.top_k = 1;
  SampleOptions p_small;
  p_small.top_p = 0.01;
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(sample_next(logits, 4, k1, rng, scratch), 1);
    EXPECT_EQ(sample_next(logits, 4, p_small, rng, scratch), 1);
  }
  // top-2 never yields the two least likely symbols; plain sampling follows softmax.
  SampleOptions k2;
  k2.top_k = 2;
  std::vector<int> counts(4, 0);
  for (int i = 0; i < 20000; ++i) {
    const int s = sample_next(logits, 4, k2, rng, scratch);
    ASSERT_TRUE(s == 1 || s == 2);
    ++counts[std::size_t(sample_next(logits, 4, SampleOptions{}, rng, scratch))];
  }
  double z = 0;
  for (float l : logits) z += std::exp(double(l));
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(counts[std::size_t(i)] / 20000.0, std::exp(double(logits[i])) / z, 0.015);
  // Same seed, same draws.
  Rng a(9), b(9);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(sample_next(logits, 4, {}, a, scratch), sample_next(logits, 4, {}, b, scratch));
}
