// The sequence-to-sequence application: model files that load back with the
// same answers, beam search against an exhaustive search, greedy decoding
// against the decoder stepped by hand, scores that are the hypotheses'
// log-probabilities, evaluation's error rates.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <functional>
#include <set>

#include "recur/io.hpp"
#include "recur/layers.hpp"
#include "recur/seq2seq.hpp"
#include "recur/translator.hpp"
#include "test_util.hpp"

using namespace recur;
using recur_test::error_of;

namespace {

std::string tmp_path(const std::string& name) {
  return ::testing::TempDir() + "recur_translator_test_" + std::to_string(::getpid()) + "_" + name;
}

// A random model over source letters a-d and target symbols X, Y (plus the
// markers; `symbols` in another order, or others).
std::string random_model(AttentionKind a, std::uint32_t seed, double scale = 1.5,
                         const std::vector<std::string>& symbols = {"X", "Y"}) {
  Seq2SeqInfo info;
  for (const char* t : {"a", "b", "c", "d", "<unk>"}) info.src_vocab.add(t);
  for (const char* t : {"<bos>", "<eos>", "<unk>"}) info.tgt_vocab.add(t);
  for (const auto& t : symbols) info.tgt_vocab.add(t);
  info.src_tokenizer = TokenizerKind::chr;
  info.tgt_tokenizer = TokenizerKind::symbols;
  Seq2SeqConfig& c = info.config;
  c.encoder.cell = CellKind::gru;
  c.encoder.vocab = info.src_vocab.size();
  c.encoder.embed = 3;
  c.encoder.hidden = 4;
  c.encoder.bidirectional = true;
  c.encoder.bias_hh = true;
  c.cell = CellKind::lstm;
  c.tgt_vocab = info.tgt_vocab.size();
  c.embed = 3;
  c.hidden = 5;
  c.attention = a;
  Seq2Seq<float> m(c);
  Rng rng(seed);
  for (float& w : m.weights()) w = float(scale * (2 * rng.uniform() - 1));
  const std::string path = tmp_path("m" + std::to_string(seed) + ".st");
  save_seq2seq(path, m, info);
  return path;
}

// log p(y_1 .. y_n <eos> | source) by teacher forcing.
double log_prob(const Translator& t, const std::string& source, const std::vector<std::string>& out) {
  const Seq2SeqInfo& info = t.info();
  std::vector<int> src, tgt;
  for (const auto& ch : tokenize(info.src_tokenizer, source)) src.push_back(info.src_vocab.id_or_unknown(ch));
  for (const auto& y : out) tgt.push_back(info.tgt_vocab.id(y));
  const Batch b = make_pair_batch({src}, {tgt}, {0}, 0, 1);
  Seq2Seq<float>::Workspace ws;
  t.model().forward(b, ws);
  return -cross_entropy_sum<float>(ws.logits, b.targets);
}

}  // namespace

TEST(Translator, FilesLoadBackWithTheSameAnswers) {
  const std::string path = random_model(AttentionKind::additive, 3);
  const Translator a = Translator::load(path);
  const std::string again = tmp_path("again.st");
  a.save(again);
  const Translator b = Translator::load(again);
  DecodeOptions o;
  o.beam = 3;
  o.nbest = 2;
  const auto x = a.translate("abcd", o), y = b.translate("abcd", o);
  ASSERT_EQ(x.nbest.size(), 2u);
  EXPECT_EQ(x.nbest[0].tokens, y.nbest[0].tokens);
  EXPECT_EQ(x.nbest[1].score, y.nbest[1].score);
  EXPECT_EQ(a.info().src_tokenizer, TokenizerKind::chr);
  EXPECT_EQ(a.info().config.attention, AttentionKind::additive);
  // Another kind of file is refused with a clear line.
  const std::string bad = tmp_path("bad.st");
  SafeTensors st = read_safetensors(path);
  st.metadata["attention"] = "telepathy";
  write_safetensors(bad, st);
  EXPECT_NE(error_of([&] { Translator::load(bad); }).find(bad + ": metadata: unknown attention 'telepathy'"),
            std::string::npos);
  st = read_safetensors(path);
  st.tensors.erase("head.bias");
  write_safetensors(bad, st);
  EXPECT_EQ(error_of([&] { Translator::load(bad); }), bad + ": missing tensor head.bias");
}

// Every sequence of at most 4 symbols, scored by teacher forcing: beam search
// with a beam wide enough finds the best one, and each hypothesis's log_prob is
// its teacher-forced log-probability.
TEST(Translator, BeamSearchFindsWhatAnExhaustiveSearchFinds) {
  for (std::uint32_t seed : {4u, 5u, 6u}) {
    const Translator t = Translator::load(random_model(AttentionKind::general, seed, 2.0));
    const std::string source = "cab";
    std::vector<std::vector<std::string>> all = {{}};
    for (int len = 1; len <= 4; ++len) {
      const std::size_t n = all.size();
      for (std::size_t i = 0; i < n; ++i)
        if (int(all[i].size()) == len - 1)
          for (const char* y : {"X", "Y", "<unk>"}) {
            auto v = all[i];
            v.push_back(y);
            all.push_back(v);
          }
    }
    DecodeOptions o;
    o.max_length = 4;
    o.length_penalty = 1;
    o.beam = 60;  // wider than the tree of finished hypotheses
    o.nbest = 5;
    const Translation got = t.translate(source, o);
    double best = -1e300;
    std::vector<std::string> best_seq;
    for (const auto& y : all) {
      const double s = log_prob(t, source, y) / double(y.size() + 1);
      if (s > best) best = s, best_seq = y;
    }
    ASSERT_FALSE(got.nbest.empty());
    EXPECT_TRUE(got.nbest[0].finished);
    EXPECT_EQ(got.nbest[0].tokens, best_seq) << "seed " << seed;
    EXPECT_NEAR(got.nbest[0].score, best, 1e-5);
    for (std::size_t i = 0; i < got.nbest.size(); ++i) {
      EXPECT_NEAR(got.nbest[i].log_prob, log_prob(t, source, got.nbest[i].tokens), 1e-4);
      if (i) {
        EXPECT_GE(got.nbest[i - 1].score, got.nbest[i].score);
      }
    }
  }
}

// Greedy decoding is the decoder stepped by hand, taking the most likely
// symbol; and a batch of sources decodes each as it decodes alone.
TEST(Translator, GreedyIsTheMostLikelySymbolEachStepAndBatchesChangeNothing) {
  const Translator t = Translator::load(random_model(AttentionKind::additive, 9));
  const Seq2SeqInfo& info = t.info();
  for (const std::string source : {"abc", "d", "ddcba"}) {
    std::vector<int> src;
    for (const auto& ch : tokenize(TokenizerKind::chr, source)) src.push_back(info.src_vocab.id(ch));
    Seq2Seq<float>::DecodeState st;
    t.model().encode({src}, st);
    std::vector<std::string> want;
    int prev = 0;
    Matrix<float> logits;
    for (int step = 0; step < 3 * int(src.size()) + 10; ++step) {
      t.model().step({prev}, st, logits);
      Eigen::Index arg;
      logits.row(0).maxCoeff(&arg);
      if (arg == 1) break;
      want.push_back(info.tgt_vocab.token(int(arg)));
      prev = int(arg);
    }
    EXPECT_EQ(t.translate(source).nbest[0].tokens, want) << source;
  }
  const std::vector<std::string> sources = {"abc", "d", "ddcba", "", "bad", "cc"};
  DecodeOptions o;
  o.beam = 4;
  o.nbest = 3;
  o.attention = true;
  const auto together = t.translate(sources, o);
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const auto alone = t.translate(sources[i], o);
    ASSERT_EQ(alone.nbest.size(), together[i].nbest.size());
    for (std::size_t k = 0; k < alone.nbest.size(); ++k) {
      EXPECT_EQ(alone.nbest[k].tokens, together[i].nbest[k].tokens);
      EXPECT_NEAR(alone.nbest[k].score, together[i].nbest[k].score, 1e-5);
      const auto& att = together[i].nbest[k].attention;
      EXPECT_EQ(att.size(), together[i].nbest[k].tokens.size() + (together[i].nbest[k].finished ? 1 : 0));
      for (const auto& row : att) {
        ASSERT_EQ(row.size(), sources[i].size());
        double sum = 0;
        for (float a : row) sum += a;
        if (!row.empty()) {
          EXPECT_NEAR(sum, 1.0, 1e-5);
        }
      }
    }
  }
}

// Chunks of sources decoded on several threads give the answers one thread
// gives, bit for bit: outputs, scores, attention and the evaluation's numbers.
TEST(Translator, ThreadsChangeNoAnswer) {
  const Translator t = Translator::load(random_model(AttentionKind::general, 12));
  Rng rng(4);
  std::vector<std::string> sources;
  std::vector<LabeledText> pairs;
  for (int i = 0; i < 150; ++i) {  // five chunks of 32, of every length
    std::string s;
    for (int k = 0, n = int(rng.uniform() * 9); k < n; ++k) s += char('a' + int(rng.uniform() * 4));
    sources.push_back(s);
    pairs.push_back({s, i % 2 ? "X Y" : "Y", i + 1});
  }
  DecodeOptions one;
  one.beam = 3, one.nbest = 2, one.attention = true;
  DecodeOptions three = one;
  three.threads = 3;
  const auto a = t.translate(sources, one), b = t.translate(sources, three);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].nbest.size(), b[i].nbest.size());
    for (std::size_t k = 0; k < a[i].nbest.size(); ++k) {
      EXPECT_EQ(a[i].nbest[k].tokens, b[i].nbest[k].tokens);
      EXPECT_EQ(a[i].nbest[k].score, b[i].nbest[k].score);
      EXPECT_EQ(a[i].nbest[k].attention, b[i].nbest[k].attention);
    }
  }
  EXPECT_EQ(t.evaluate(pairs, one).json(), t.evaluate(pairs, three).json());
  three.threads = 0;
  EXPECT_NE(error_of([&] { t.translate(sources, three); }).find("--threads"), std::string::npos);
}

// Several models decoding as one: one model alone, or the same model twice,
// decodes as that model does; two models rank every hypothesis by the mean of
// their log-probabilities (each checked by teacher forcing), whatever order
// each keeps its target symbols in; evaluation's loss is the mean of theirs;
// models that write different symbols are refused, naming the model.
TEST(Translator, AnEnsembleRanksByTheMeanOfItsModelsLogProbabilities) {
  const Translator a = Translator::load(random_model(AttentionKind::general, 21));
  const Translator b = Translator::load(random_model(AttentionKind::additive, 22, 1.5, {"Y", "X"}));
  const std::vector<std::string> sources = {"abc", "d", "ddcba", "", "bad", "cc"};
  DecodeOptions o;
  o.beam = 3;
  o.nbest = 3;
  const auto alone = a.translate(sources, o);
  for (const std::vector<const Translator*>& members : {std::vector<const Translator*>{&a},
                                                        std::vector<const Translator*>{&a, &a}}) {
    const auto got = translate(members, sources, o);
    for (std::size_t i = 0; i < sources.size(); ++i) {
      ASSERT_EQ(got[i].nbest.size(), alone[i].nbest.size()) << members.size();
      for (std::size_t k = 0; k < got[i].nbest.size(); ++k) {
        EXPECT_EQ(got[i].nbest[k].tokens, alone[i].nbest[k].tokens) << members.size() << " " << sources[i];
        EXPECT_EQ(got[i].nbest[k].log_prob, alone[i].nbest[k].log_prob) << members.size() << " " << sources[i];
      }
    }
  }
  const auto both = translate({&a, &b}, sources, o);
  bool differs = false;  // the pair is not just one of its models
  for (std::size_t i = 0; i < sources.size(); ++i) {
    ASSERT_FALSE(both[i].nbest.empty());
    for (const Hypothesis& h : both[i].nbest)
      EXPECT_NEAR(h.log_prob, (log_prob(a, sources[i], h.tokens) + log_prob(b, sources[i], h.tokens)) / 2, 1e-4)
          << sources[i] << ": " << h.text;
    differs |= both[i].nbest[0].tokens != alone[i].nbest[0].tokens ||
               both[i].nbest[0].tokens != b.translate(sources[i], o).nbest[0].tokens;
  }
  EXPECT_TRUE(differs);
  const std::vector<LabeledText> pairs = {{"ab", "X Y", 1}, {"cd", "Y", 2}, {"abc", "X", 3}};
  EXPECT_NEAR(evaluate({&a, &b}, pairs).loss, (a.evaluate(pairs).loss + b.evaluate(pairs).loss) / 2, 1e-12);
  const Translator c = Translator::load(random_model(AttentionKind::none, 23, 1.5, {"X", "Z"}));
  EXPECT_EQ(error_of([&] { translate({&a, &c}, sources); }), "model 2 of the ensemble lacks the target symbol 'Y'");
  EXPECT_EQ(error_of([&] { evaluate({&a, &c}, pairs); }), "model 2 of the ensemble lacks the target symbol 'Y'");
}

// An ensemble's file (recur train --members N): the members' tensors under
// members.0., members.1., ... (as a torch.nn.ModuleList `members` names
// them), metadata members = N; loaded, it decodes as its members given
// together. A file that says more members than it holds is refused, naming the
// file and the tensor missing.
TEST(Translator, AnEnsembleFileHoldsItsMembersAndDecodesAsThemTogether) {
  const Translator a = Translator::load(random_model(AttentionKind::general, 31));
  const Translator b = Translator::load(random_model(AttentionKind::general, 32));
  Seq2SeqInfo info = a.info();
  info.members = 2;
  const std::string path = tmp_path("ensemble.st");
  save_seq2seq(path, {&a.model(), &b.model()}, info);
  const SafeTensors st = read_safetensors(path);
  EXPECT_EQ(st.metadata.at("members"), "2");
  EXPECT_EQ(st.tensors.count("head.weight"), 0u);
  EXPECT_EQ(st.tensors.at("members.1.head.weight").data.size(), b.model().param("head.weight").size());
  const Translator both = Translator::load(path);
  ASSERT_EQ(both.info().members, 2);
  EXPECT_EQ(both.model(0).weights(), a.model().weights());
  EXPECT_EQ(both.model(1).weights(), b.model().weights());
  EXPECT_NE(error_of([&] { both.model(2); }).find("members 0 to 1"), std::string::npos);
  const std::vector<std::string> sources = {"abc", "d", "ddcba", "bad"};
  DecodeOptions o;
  o.beam = 3;
  o.nbest = 2;
  const auto got = both.translate(sources, o), want = translate({&a, &b}, sources, o);
  bool differs = false;  // (the ensemble is not just its first member)
  for (std::size_t i = 0; i < sources.size(); ++i) {
    ASSERT_EQ(got[i].nbest.size(), want[i].nbest.size());
    for (std::size_t k = 0; k < got[i].nbest.size(); ++k) {
      EXPECT_EQ(got[i].nbest[k].tokens, want[i].nbest[k].tokens) << sources[i];
      EXPECT_EQ(got[i].nbest[k].log_prob, want[i].nbest[k].log_prob) << sources[i];
    }
    differs |= got[i].nbest[0].log_prob != a.translate(sources[i], o).nbest[0].log_prob;
  }
  EXPECT_TRUE(differs);
  const std::vector<LabeledText> pairs = {{"ab", "X Y", 1}, {"cd", "Y", 2}};
  EXPECT_EQ(both.evaluate(pairs).loss, evaluate({&a, &b}, pairs).loss);
  // Saved again, the same file; with a third model beside it, three decode as one.
  both.save(tmp_path("again.st"));
  EXPECT_EQ(read_safetensors(tmp_path("again.st")).tensors.size(), st.tensors.size());
  EXPECT_EQ(translate({&both, &a}, sources, o)[0].nbest[0].log_prob,
            translate({&a, &b, &a}, sources, o)[0].nbest[0].log_prob);
  // A model that writes other symbols after it is the ensemble's model 2 (a file), not its third member.
  const Translator other = Translator::load(random_model(AttentionKind::general, 34, 1.5, {"X", "Z"}));
  EXPECT_EQ(error_of([&] { translate({&both, &other}, sources); }), "model 2 of the ensemble lacks the target symbol 'Y'");
  // Corrupt files.
  SafeTensors more = st;
  more.metadata["members"] = "3";
  write_safetensors(tmp_path("more.st"), more);
  EXPECT_EQ(error_of([&] { Translator::load(tmp_path("more.st")); }),
            tmp_path("more.st") + ": missing tensor members.2.encoder.embedding.weight");
  SafeTensors zero = st;
  zero.metadata["members"] = "0";
  write_safetensors(tmp_path("zero.st"), zero);
  EXPECT_EQ(error_of([&] { Translator::load(tmp_path("zero.st")); }),
            tmp_path("zero.st") + ": metadata 'members' is not an integer >= 1: '0'");
  SafeTensors plain = read_safetensors(random_model(AttentionKind::general, 33));
  plain.metadata["members"] = "2";
  write_safetensors(tmp_path("plain.st"), plain);
  EXPECT_EQ(error_of([&] { Translator::load(tmp_path("plain.st")); }),
            tmp_path("plain.st") + ": missing tensor members.0.encoder.embedding.weight");
}

TEST(Translator, EvaluationCountsAnOutputRightIfItMatchesAnyReference) {
  EXPECT_EQ(edit_distance({"K", "AE", "T"}, {"K", "AA", "T", "S"}), 2);
  EXPECT_EQ(edit_distance({}, {"A", "B"}), 2);
  const Translator t = Translator::load(random_model(AttentionKind::general, 12));
  const std::string out = t.translate("ab").nbest[0].text;
  std::vector<LabeledText> pairs = {{"ab", "X X X X X X X X", 1}, {"ab", out.empty() ? "X" : out, 2},
                                    {"cd", "Y", 3}};
  const Seq2SeqReport r = t.evaluate(pairs);
  EXPECT_EQ(r.n, 2);
  EXPECT_EQ(r.pairs, 3);
  EXPECT_GT(r.loss, 0);
  // "ab" matches its second reference (unless its output is empty); "cd" may or may not be "Y".
  const bool cd_right = t.translate("cd").nbest[0].text == "Y";
  if (!out.empty()) {
    EXPECT_DOUBLE_EQ(r.sequence_error_rate, cd_right ? 0.0 : 0.5);
    EXPECT_DOUBLE_EQ(r.sequence_accuracy, 1 - r.sequence_error_rate);
  }
  EXPECT_FALSE(r.has_bleu);  // symbol targets
  EXPECT_NE(r.json().find("\"token_error_rate\""), std::string::npos);
  DecodeOptions bad;
  bad.beam = 2;
  bad.nbest = 3;
  EXPECT_EQ(error_of([&] { t.translate("ab", bad); }), "--nbest must be between 1 and --beam (2)");
}

TEST(Translator, CorpusBleuByHand) {
  const auto w = [](const std::string& s) { return tokenize(TokenizerKind::word, s); };
  // Identical: 1. Clipped unigram precision: "the" counts once against "the cat".
  EXPECT_DOUBLE_EQ(corpus_bleu({w("the cat sat on the mat")}, {{w("the cat sat on the mat")}}), 1.0);
  EXPECT_NEAR(corpus_bleu({w("the the the")}, {{w("the cat")}}, 1), 1.0 / 3, 1e-12);
  // p1 = 5/6, p2 = 3/5, same length: sqrt(1/2).
  EXPECT_NEAR(corpus_bleu({w("the cat sat on the mat")}, {{w("the cat is on the mat")}}, 2), std::sqrt(0.5), 1e-12);
  // No 4-gram in common: 0.
  EXPECT_EQ(corpus_bleu({w("the cat sat on the mat")}, {{w("the cat is on the mat")}}), 0.0);
  // Brevity: 2 words against 6, every n-gram right: exp(1 - 6/2).
  EXPECT_NEAR(corpus_bleu({w("the cat")}, {{w("the cat sat on the mat")}}, 2), std::exp(-2.0), 1e-12);
  // Several references: counts clipped by the largest in any, length the closest (3 of 3 and 6).
  EXPECT_NEAR(corpus_bleu({w("a a b")}, {{w("a b c d e f"), w("a a x")}}, 1), 1.0, 1e-12);
  EXPECT_THROW(corpus_bleu({w("a")}, {}), Error);
}

// ---- training ------------------------------------------------------------------------

namespace {

// Words of letters a-h and their letters reversed, capitalised, as symbols:
// "abc" -> "C B A".
std::vector<LabeledText> reversal_pairs(int n, std::uint32_t seed) {
  Rng rng(seed);
  std::vector<LabeledText> rows;
  for (int i = 0; i < n; ++i) {
    std::string w, r;
    const int len = 2 + int(rng.uniform() * 5);
    for (int k = 0; k < len; ++k) w += char('a' + int(rng.uniform() * 8));
    for (auto it = w.rbegin(); it != w.rend(); ++it) r += std::string(r.empty() ? "" : " ") + char(*it - 'a' + 'A');
    rows.push_back({w, r, i + 1});
  }
  return rows;
}

TrainOptions reversal_options() {
  TrainOptions o;
  o.task = "seq2seq";
  apply_defaults(o, {});
  o.hidden = 32;
  o.embed = 16;
  o.epochs = 6;
  o.checkpoints = false;
  return o;
}

}  // namespace

TEST(TranslatorTraining, LearnsToReverseWordsAndBeamSearchKeepsWhatGreedyFinds) {
  Seq2SeqData d;
  d.train = reversal_pairs(2000, 1);
  d.valid = reversal_pairs(200, 2);
  const TranslatorRun run = Translator::train(d, reversal_options());
  ASSERT_FALSE(run.history.empty());
  EXPECT_LT(run.history.back().train.loss, run.history.front().train.loss);
  EXPECT_TRUE(run.result.has_best);
  const Seq2SeqReport greedy = run.model.evaluate(d.valid);
  EXPECT_GE(greedy.sequence_accuracy, 0.9);
  EXPECT_DOUBLE_EQ(greedy.sequence_accuracy, run.result.best.accuracy);  // the model kept is the best validated
  DecodeOptions beam;
  beam.beam = 3;
  EXPECT_GE(run.model.evaluate(d.valid, beam).sequence_accuracy, greedy.sequence_accuracy - 0.02);
  EXPECT_EQ(run.model.translate("abcd", beam).nbest[0].text, "D C B A");
  // Saved and loaded, the same answers.
  const std::string path = tmp_path("reverse.st");
  run.model.save(path);
  const Translator back = Translator::load(path);
  EXPECT_EQ(back.translate("hgfab", beam).nbest[0].text, run.model.translate("hgfab", beam).nbest[0].text);
  EXPECT_DOUBLE_EQ(back.evaluate(d.valid).loss, greedy.loss);
}

TEST(TranslatorTraining, AnInterruptedRunResumesToTheSameModel) {
  Seq2SeqData d;
  d.train = reversal_pairs(300, 3);
  d.valid = reversal_pairs(40, 4);
  TrainOptions o = reversal_options();
  o.hidden = 8, o.embed = 4, o.epochs = 3, o.dropout = 0.2;
  const TranslatorRun whole = Translator::train(d, o);
  // Stopped in epoch 2 (a checkpoint is written), then resumed.
  TrainOptions first = o;
  first.checkpoints = true;
  first.checkpoint = tmp_path("resume.ckpt");
  TrainCallbacks cb;
  cb.on_step = [](const StepEvent& e) { return !(e.epoch == 2 && e.position == 3); };
  const TranslatorRun stopped = Translator::train(d, first, cb);
  ASSERT_TRUE(stopped.result.interrupted);
  ASSERT_EQ(stopped.checkpoint, first.checkpoint);
  TrainOptions again = o;
  again.resume = first.checkpoint;
  const TranslatorRun resumed = Translator::train(d, again);
  EXPECT_FALSE(resumed.result.interrupted);
  EXPECT_TRUE(std::equal(whole.model.model().weights().begin(), whole.model.model().weights().end(),
                         resumed.model.model().weights().begin()));
  // A checkpoint of another model is refused.
  TrainOptions other = again;
  other.hidden = 9;
  EXPECT_NE(error_of([&] { Translator::train(d, other); }).find("different model or data"), std::string::npos);
}

// --members 2: the two models train together, are validated as one (the best
// epoch the ensemble's), saved as one file, and an interrupted run resumes to
// the same models; a checkpoint of another number of members is refused.
TEST(TranslatorTraining, MembersTrainTogetherAreSavedAsOneFileAndResume) {
  Seq2SeqData d;
  d.train = reversal_pairs(300, 3);
  d.valid = reversal_pairs(40, 4);
  TrainOptions o = reversal_options();
  o.hidden = 8, o.embed = 4, o.epochs = 3, o.dropout = 0.2, o.members = 2;
  o.save = tmp_path("members.st");
  const TranslatorRun whole = Translator::train(d, o);
  ASSERT_EQ(whole.model.info().members, 2);
  EXPECT_NE(whole.model.model(0).weights(), whole.model.model(1).weights());
  ASSERT_TRUE(whole.result.has_best);
  EXPECT_DOUBLE_EQ(whole.model.evaluate(d.valid).sequence_accuracy, whole.result.best.accuracy);
  const Translator saved = Translator::load(o.save);
  ASSERT_EQ(saved.info().members, 2);
  EXPECT_EQ(saved.model(1).weights(), whole.model.model(1).weights());
  // Member 0 trained alone from the same seed starts from the same weights
  // but draws other batches (the generator has drawn member 1's weights too):
  // a run of its own, not the ensemble's member.
  TrainOptions alone = o;
  alone.members = 1, alone.save.clear();
  EXPECT_NE(Translator::train(d, alone).model.model().weights(), whole.model.model(0).weights());
  // Stopped in epoch 2 (a checkpoint is written), then resumed.
  TrainOptions first = o;
  first.save.clear();
  first.checkpoints = true;
  first.checkpoint = tmp_path("members.ckpt");
  TrainCallbacks cb;
  cb.on_step = [](const StepEvent& e) { return !(e.epoch == 2 && e.position == 3); };
  const TranslatorRun stopped = Translator::train(d, first, cb);
  ASSERT_TRUE(stopped.result.interrupted);
  TrainOptions again = o;
  again.save.clear();
  again.resume = first.checkpoint;
  const TranslatorRun resumed = Translator::train(d, again);
  ASSERT_EQ(resumed.model.info().members, 2);
  for (int k = 0; k < 2; ++k) EXPECT_EQ(resumed.model.model(k).weights(), whole.model.model(k).weights()) << k;
  TrainOptions three = again;
  three.members = 3;
  EXPECT_EQ(error_of([&] { Translator::train(d, three); }),
            first.checkpoint + ": this checkpoint is of 2 models trained together, this run trains 3; resume with "
                               "--members 2");
}

TEST(TranslatorTraining, BadPairsAreOneLineNamingTheFileAndLine) {
  Seq2SeqData d;
  d.train_name = "pairs.tsv";
  d.train = reversal_pairs(20, 5);
  TrainOptions o = reversal_options();
  o.epochs = 1;
  auto with = [&](std::size_t i, const std::string& src, const std::string& tgt) {
    Seq2SeqData x = d;
    x.train[i].text = src, x.train[i].label = tgt;
    return error_of([&] { Translator::train(x, o); });
  };
  EXPECT_EQ(with(3, "", "A B"), "pairs.tsv:4: the source (before the tab) is empty");
  EXPECT_EQ(with(4, "ab", "   "), "pairs.tsv:5: the target (after the tab) is empty");
  EXPECT_EQ(with(5, "ab", "A <eos>"), "pairs.tsv:6: the target holds <eos>, which marks where targets begin and end");
  EXPECT_NE(with(6, "ab\xff", "A").find("pairs.tsv:7: "), std::string::npos);
  o.max_length = 4;
  EXPECT_EQ(with(7, "abcdefg", "A"), "pairs.tsv:8: the source has 7 symbols, more than --max-length 4");
  o = reversal_options();
  o.attention = "bahdanau";
  EXPECT_NE(error_of([&] { Translator::train(d, o); }).find("bahdanau"), std::string::npos);
  o = reversal_options();
  o.dtype = "f64";
  EXPECT_NE(error_of([&] { Translator::train(d, o); }).find("--dtype"), std::string::npos);
}

// Ranks (--threads 2) each validate a share of the held-out sources, every
// reference of a source in the same share, and their tallies add up to the
// whole's: what the run reports is what evaluating the model on all of it gives.
TEST(TranslatorTraining, RanksValidateSharesThatAddUpToTheWhole) {
  Seq2SeqData d;
  d.train = reversal_pairs(1500, 8);
  d.valid = reversal_pairs(61, 9);
  for (int i = 0; i < 61; i += 3) d.valid.push_back({d.valid[std::size_t(i)].text, "A", 100 + i});  // second references
  TrainOptions o = reversal_options();
  o.epochs = 3;
  o.threads = 2;
  const TranslatorRun run = Translator::train(d, o);
  ASSERT_EQ(run.history.size(), 3u);
  const Metrics& reported = run.history.back().valid;
  const Seq2SeqReport whole = run.model.evaluate(d.valid);
  EXPECT_GT(whole.n, 50);
  EXPECT_EQ(reported.n, whole.n);
  EXPECT_NEAR(reported.accuracy, whole.sequence_accuracy, 1e-12);
  EXPECT_GT(whole.sequence_accuracy, 0.1);  // (something to agree on)
  EXPECT_NEAR(reported.loss, whole.loss, 1e-6);
}

TEST(TranslatorTraining, ValidFractionHoldsOutWholeSources) {
  Seq2SeqData d;
  d.train = reversal_pairs(200, 6);
  for (int i = 0; i < 50; ++i) d.train.push_back({d.train[std::size_t(i)].text, "X", 300 + i});  // second references
  TrainOptions o = reversal_options();
  o.epochs = 1, o.hidden = 4, o.embed = 2;
  o.valid_fraction = 0.2;
  const TranslatorRun run = Translator::train(d, o);
  std::set<std::string> train_sources, valid_sources;
  for (const auto& r : run.data.train) train_sources.insert(r.text);
  for (const auto& r : run.data.valid) valid_sources.insert(r.text);
  EXPECT_FALSE(valid_sources.empty());
  for (const auto& s : valid_sources) EXPECT_EQ(train_sources.count(s), 0u) << s;
  EXPECT_EQ(run.data.train.size() + run.data.valid.size(), d.train.size());
}
