// The application API (classifier.hpp, language_model.hpp, options.hpp): text
// normalization in one place, training through the library, model files that
// load back with the same answers, reports, presets and option checks.
#include <gtest/gtest.h>
#include <unistd.h>

#include <utf8proc.h>

#include <cstdlib>
#include <random>

#include <nlohmann/json.hpp>

#include "recur/classifier.hpp"
#include "recur/data.hpp"
#include "recur/io.hpp"
#include "recur/language_model.hpp"
#include "test_util.hpp"

using namespace recur;
using recur_test::error_of;

namespace {

std::string tmp_path(const std::string& name) {
  return ::testing::TempDir() + "recur_app_test_" + std::to_string(::getpid()) + "_" + name;
}

const std::string kE = "\xC3\xA9";        // é, composed (U+00E9)
const std::string kEUp = "\xC3\x89";      // É (U+00C9)
const std::string kEDec = "e\xCC\x81";    // e + combining acute (U+0301)

ClassifierData cafe_data() {
  ClassifierData d;
  d.train = parse_tsv("caf" + kE + " good\tpos\ncaf" + kE + " great\tpos\nthe caf" + kE + " is good\tpos\n"
                      "bad tea\tneg\nterrible tea\tneg\nthe tea is bad\tneg\ngood good\tpos\nbad bad\tneg\n",
                      "cafe.tsv");
  return d;
}

TrainOptions small_options() {
  TrainOptions o;
  o.tokenizer = "word";
  o.lowercase = true;
  o.min_count = 2;  // rare words become <unk>
  o.cell = "gru";
  o.embed = 8;
  o.hidden = 8;
  o.init = "pytorch";
  o.optimizer = "adam";
  o.lr = 0.02;
  o.clip = 0;
  o.batch = 2;
  o.epochs = 30;
  return o;
}

}  // namespace

TEST(Normalize, NfcAndCaseFoldingAreUnicode) {
  EXPECT_EQ(normalize(kEDec, Normalization::nfc), kE);  // composed and decomposed read the same
  EXPECT_EQ(normalize("CAF" + kEUp, Normalization::nfc_casefold), "caf" + kE);
  EXPECT_EQ(normalize("Caf" + kEDec, Normalization::nfc_casefold), "caf" + kE);
  EXPECT_EQ(normalize("Stra\xC3\x9F" "e", Normalization::nfc_casefold), "strasse");  // ß folds to ss
  EXPECT_EQ(normalize("\xCE\xA3\xCE\x9F\xCE\xA6", Normalization::nfc_casefold), "\xCF\x83\xCE\xBF\xCF\x86");  // ΣΟΦ
  EXPECT_EQ(normalize("Hello World", Normalization::nfc_casefold), "hello world");
  EXPECT_EQ(normalize("Hello World", Normalization::nfc), "Hello World");
  // The ways older models read text stay as they were.
  EXPECT_EQ(normalize("CAF" + kEUp, Normalization::ascii_lower), "caf" + kEUp);
  EXPECT_EQ(normalize("Caf" + kEDec, Normalization::none), "Caf" + kEDec);
  EXPECT_NE(error_of([] { normalize("bad \xFF byte", Normalization::nfc); }).find("invalid UTF-8"), std::string::npos);
  // Only the non-ASCII runs (with the character before each) go through
  // utf8proc: the ASCII around them keeps its case under nfc and folds under
  // nfc_casefold; marks compose with their base, reorder among themselves
  // (dot below, class 220, before acute, 230), and a mark after a line break
  // or at the start stays, composed with nothing.
  const std::string mixed = "\xCC\x81" "ABC\n" + kEDec + "X\n\xCC\x81Y e\xCC\x81\xCC\xA3 \xCE\xA3" "DEF";
  EXPECT_EQ(normalize(mixed, Normalization::nfc),
            "\xCC\x81" "ABC\n" + kE + "X\n\xCC\x81Y \xE1\xBA\xB9\xCC\x81 \xCE\xA3" "DEF");
  EXPECT_EQ(normalize(mixed, Normalization::nfc_casefold),
            "\xCC\x81" "abc\n" + kE + "x\n\xCC\x81y \xE1\xBA\xB9\xCC\x81 \xCF\x83" "def");
}

// The piecewise normalization equals utf8proc's on the whole text, on random
// text of ASCII, accents that compose and reorder, precomposed letters,
// Hangul jamo (which compose among themselves), line breaks and letters that
// fold to two.
TEST(Normalize, PiecewiseIsTheWholeTextsForm) {
  const std::vector<std::string> alphabet = {"a", "E", " ", "\n", ".", "\xCC\x81", "\xCC\xA3", "\xCC\x88", "\xC3\xA9",
                                             "\xC3\x85", "\xE1\x84\x80", "\xE1\x85\xA1", "\xE1\x86\xA8", "\xCE\xA3",
                                             "\xC3\x9F", "\xEF\xAC\x80"};
  Rng rng(5);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string text;
    const int len = int(rng.uniform() * 12);
    for (int i = 0; i < len; ++i) text += alphabet[std::size_t(rng.uniform() * double(alphabet.size()))];
    for (const Normalization n : {Normalization::nfc, Normalization::nfc_casefold}) {
      int options = UTF8PROC_STABLE | UTF8PROC_COMPOSE | (n == Normalization::nfc_casefold ? UTF8PROC_CASEFOLD : 0);
      utf8proc_uint8_t* whole = nullptr;
      const utf8proc_ssize_t k = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                              utf8proc_ssize_t(text.size()), &whole, utf8proc_option_t(options));
      ASSERT_GE(k, 0);
      const std::string want(reinterpret_cast<const char*>(whole), std::size_t(k));
      std::free(whole);
      ASSERT_EQ(normalize(text, n), want) << text;
    }
  }
}

TEST(Normalize, RecordedInTheModelAndReadBackAsTrained) {
  const ClassifierRun run = Classifier::train(cafe_data(), small_options());
  EXPECT_EQ(run.model.info().normalization, Normalization::nfc_casefold);
  const std::string path = tmp_path("norm.st");
  run.model.save(path);
  SafeTensors st = read_safetensors(path);
  EXPECT_EQ(st.metadata.at("normalization"), "nfc_casefold");
  EXPECT_EQ(st.metadata.at("lowercase"), "true");
  // Every spelling of the same word is the same input.
  const Classifier c = Classifier::load(path);
  const auto a = c.predict("CAF" + kEUp + " is great"), b = c.predict("caf" + kEDec + " is great"),
             d = c.predict("caf" + kE + " is great");
  EXPECT_EQ(a.probabilities, d.probabilities);
  EXPECT_EQ(b.probabilities, d.probabilities);
  EXPECT_EQ(d.unknown, 1);  // "great" is rare: <unk>
  // A model written before normalization was recorded: lowercase=true meant ASCII only.
  st.metadata.erase("normalization");
  write_safetensors(path, st);
  const Classifier old = Classifier::load(path);
  EXPECT_EQ(old.info().normalization, Normalization::ascii_lower);
  EXPECT_NE(old.predict("CAF" + kEUp).probabilities, old.predict("caf" + kE).probabilities);
  st.metadata["lowercase"] = "false";
  write_safetensors(path, st);
  EXPECT_EQ(Classifier::load(path).info().normalization, Normalization::none);
  st.metadata["normalization"] = "upside_down";
  write_safetensors(path, st);
  EXPECT_NE(error_of([&] { Classifier::load(path); }).find("unknown normalization 'upside_down'"), std::string::npos);
  std::remove(path.c_str());
}

TEST(ClassifierApi, TrainSaveLoadPredictEvaluate) {
  ClassifierData d = cafe_data();
  d.test = parse_tsv("good caf" + kE + "\tpos\nbad tea today\tneg\n", "test.tsv");
  d.test_name = "test.tsv";
  TrainOptions o = small_options();
  o.valid_fraction = 0.25;
  std::vector<Evaluation> seen;
  std::vector<std::string> notes;
  TrainCallbacks cb;
  long started = -1;
  cb.on_start = [&](const RunStart& s) { started = s.train; };
  cb.on_note = [&](const std::string& n) { notes.push_back(n); };
  cb.on_evaluation = [&](const Evaluation& e) {
    seen.push_back(e);
    return true;
  };
  const ClassifierRun run = Classifier::train(d, o, cb);
  EXPECT_EQ(started, 6);  // 8 examples, a quarter of each label held out
  EXPECT_EQ(run.data.valid.size(), 2u);
  EXPECT_EQ(seen.size(), run.history.size());
  EXPECT_EQ(seen.size(), 10u);  // a tenth of the epochs: every 3, and the last
  ASSERT_TRUE(run.result.has_best);
  ASSERT_TRUE(run.has_test);
  ASSERT_FALSE(notes.empty());
  EXPECT_EQ(notes.back(), "test.tsv: 1 words not in the training vocabulary (mapped to <unk>)");

  const std::string path = tmp_path("clf.st");
  run.model.save(path);
  const Classifier back = Classifier::load(path);
  const std::vector<std::string> texts = {"the caf" + kE + " is good", "bad tea", "unheard of words"};
  const auto p1 = run.model.predict(texts), p2 = back.predict(texts);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(p1[i].probabilities, p2[i].probabilities);
    EXPECT_EQ(p1[i].label, p2[i].label);
    double sum = 0;
    for (double p : p1[i].probabilities) sum += p;
    EXPECT_NEAR(sum, 1.0, 1e-6);
  }
  EXPECT_EQ(p1[0].top(2).size(), 2u);
  EXPECT_EQ(p1[0].top(2)[0], p1[0].label);
  // Evaluation: one report, the same numbers the trainer's test metrics gave.
  const EvalReport r = back.evaluate(d.test, "test.tsv");
  EXPECT_EQ(r.metrics.n, 2);
  EXPECT_NEAR(r.metrics.loss, run.test.loss, 1e-6);
  EXPECT_EQ(r.metrics.accuracy, run.test.accuracy);
  EXPECT_EQ(r.unknown_words, 1);
  long total = 0;
  for (const auto& row : r.confusion)
    for (long v : row) total += v;
  EXPECT_EQ(total, 2);
  const auto j = nlohmann::json::parse(r.json());
  for (const char* k : {"n", "loss", "accuracy", "macro_f1", "unknown_words", "labels", "confusion", "per_class"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(error_of([&] { back.evaluate(parse_tsv("x\tmeh\n", "odd.tsv"), "odd.tsv"); }),
            "odd.tsv:1: unknown label 'meh' (the model knows: neg, pos)");
  std::remove(path.c_str());
}

// Classifier::predict on several threads: each thread reads its own part of
// the texts (its own bags for the words outside the vocabulary, its own
// length-bucketed batches), and every text gets the answer it gets alone.
TEST(ClassifierApi, PredictOnThreadsGivesEachTextItsAnswerAlone) {
  TrainOptions o = small_options();
  o.epochs = 5;
  o.subwords = "2-4";
  o.buckets = 50;
  const Classifier clf = Classifier::train(cafe_data(), o).model;
  const std::vector<std::string> words = {"good", "bad", "tea", "caf" + kE, "the", "is", "goodish", "teapot",
                                          "badly", "xyzzy", "great", "terrible", "grand", "tealeaf"};
  std::mt19937 rng(11);
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i) {  // lengths 0..19, words seen and unseen, in random order
    std::string t;
    for (int k = 0, n = int(rng() % 20); k < n; ++k) t += (k ? " " : "") + words[rng() % words.size()];
    texts.push_back(t);
  }
  std::vector<Prediction> alone;
  for (const std::string& t : texts) alone.push_back(clf.predict(t));
  for (int threads : {1, 2, 3, 8}) {
    const std::vector<Prediction> got = clf.predict(texts, threads);
    ASSERT_EQ(got.size(), texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i) {
      EXPECT_EQ(got[i].probabilities, alone[i].probabilities) << threads << " threads, text " << i << ": " << texts[i];
      EXPECT_EQ(got[i].unknown, alone[i].unknown) << threads << " threads, text " << i;
    }
  }
  // Unseen words are read through their n-grams: two of them read differently.
  EXPECT_NE(clf.predict("goodish").probabilities, clf.predict("xyzzy").probabilities);
}

TEST(ClassifierApi, LoadRefusesOtherKindsOfFile) {
  TrainOptions o;
  o.task = "lm";
  apply_defaults(o, {});
  o.hidden = 4, o.layers = 1, o.steps = 2, o.batch = 2, o.seq_len = 4;
  LanguageModelData d;
  d.text = "abcabcabcabcabcabcabc";
  const std::string path = tmp_path("lm.st");
  LanguageModel::train(d, o).model.save(path);
  EXPECT_EQ(model_task(path), "lm");
  EXPECT_EQ(error_of([&] { Classifier::load(path); }), path + ": a lm model, not a classifier");
  std::remove(path.c_str());
}

// A model's file contents in memory (what the Python package's state_dict and
// from_state_dict use): the bytes save() writes, and back with the same answers.
TEST(ClassifierApi, SafetensorsInMemoryAreTheModelFile) {
  TrainOptions o = small_options();
  o.epochs = 3;
  const Classifier clf = Classifier::train(cafe_data(), o).model;
  const std::string path = tmp_path("mem.st");
  clf.save(path);
  const SafeTensors st = clf.to_safetensors();
  EXPECT_EQ(encode_safetensors(st), read_file(path));
  EXPECT_EQ(st.metadata.at("task"), "classify");
  ASSERT_TRUE(st.tensors.count("rnn.weight_hh_l0"));
  EXPECT_EQ(st.tensors.at("rnn.weight_hh_l0").shape, (std::vector<std::int64_t>{24, 8}));  // (3H, H): a GRU

  const Classifier back = Classifier::from_safetensors(st, "memory");
  const std::vector<std::string> texts = {"the caf" + kE + " is good", "bad tea"};
  const auto p1 = clf.predict(texts), p2 = back.predict(texts);
  for (std::size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(p1[i].probabilities, p2[i].probabilities);
  EXPECT_EQ(back.labels(), clf.labels());

  // Checked as a file is, messages naming the source.
  SafeTensors bad = st;
  bad.tensors.at("head.bias").shape = {3};
  bad.tensors.at("head.bias").data.resize(3);
  EXPECT_EQ(error_of([&] { Classifier::from_safetensors(bad, "memory"); }),
            "memory: tensor head.bias has shape (3), expected (2)");
  bad = st;
  bad.metadata.erase("cell");
  EXPECT_EQ(error_of([&] { Classifier::from_safetensors(bad, "memory"); }),
            "memory: metadata has no 'cell' (not a recur model?)");
  EXPECT_EQ(error_of([&] { LanguageModel::from_safetensors(st, "memory"); }),
            "memory: a classify model, not a language model");

  TrainOptions lo;
  lo.task = "lm";
  apply_defaults(lo, {});
  lo.hidden = 4, lo.layers = 1, lo.steps = 2, lo.batch = 2, lo.seq_len = 4;
  LanguageModelData d;
  d.text = "abcabcabcabcabcabcabc";
  const LanguageModel lm = LanguageModel::train(d, lo).model;
  const LanguageModel lm_back = LanguageModel::from_safetensors(lm.to_safetensors(), "memory");
  EXPECT_EQ(lm_back.generate("ab", 20, {}, 7), lm.generate("ab", 20, {}, 7));
  EXPECT_EQ(error_of([&] { Classifier::from_safetensors(lm.to_safetensors(), "memory"); }),
            "memory: a lm model, not a classifier");
  std::remove(path.c_str());
}

TEST(LanguageModelApi, TrainGenerateEvaluate) {
  TrainOptions o;
  o.task = "lm";
  apply_defaults(o, {});
  EXPECT_EQ(o.cell, "lstm");
  EXPECT_EQ(o.layers, 2);
  o.hidden = 16, o.layers = 1, o.steps = 60, o.eval_every = 20, o.batch = 4, o.seq_len = 8;
  o.valid_fraction = 0.2;
  LanguageModelData d;
  for (int i = 0; i < 30; ++i) d.text += "the cat sat on the mat. ";
  const LanguageModelRun run = LanguageModel::train(d, o);
  EXPECT_EQ(run.history.size(), 3u);
  EXPECT_TRUE(run.result.has_best);
  EXPECT_LT(run.history.back().valid.loss, run.history.front().valid.loss);
  const LanguageModel& lm = run.model;
  EXPECT_EQ(lm.info().tokenizer, TokenizerKind::chr);
  // Same seed, same text; the streamed pieces are the text.
  SampleOptions so;
  so.temperature = 0.7;
  std::string streamed;
  const std::string a = lm.generate("the ", 40, so, 3, [&](const std::string& p) { streamed += p; });
  EXPECT_EQ(a.size(), 40u);
  EXPECT_EQ(a, streamed);
  EXPECT_EQ(a, lm.generate("the ", 40, so, 3));
  EXPECT_NE(a, lm.generate("the ", 40, so, 4));
  LanguageModel::Generation g = lm.start("the ", so, 3);
  std::string one_by_one;
  for (int i = 0; i < 40; ++i) one_by_one += g.next();
  EXPECT_EQ(one_by_one, a);
  const LmReport r = lm.evaluate("the cat sat on the mat!");
  EXPECT_EQ(r.metrics.n, 22);
  EXPECT_EQ(r.unknown_tokens, 1);  // "!" never appears in the training text
  EXPECT_NEAR(r.metrics.bits(), r.metrics.loss / std::log(2.0), 1e-12);
  EXPECT_EQ(error_of([&] { lm.evaluate("t", "one.txt"); }), "one.txt: fewer than 2 tokens");
}

// A text given as files (read in pieces, ids on disk) trains exactly as the
// same text in memory: the same vocabulary, token counts, losses and weights,
// with the validation text cut from the end or given as its own file.
TEST(LanguageModelApi, TextFilesTrainAsTextInMemory) {
  TrainOptions o;
  o.task = "lm";
  apply_defaults(o, {});
  o.hidden = 8, o.layers = 1, o.steps = 12, o.eval_every = 4, o.batch = 3, o.seq_len = 5;
  std::string text = "\xEF\xBB\xBF";
  for (int i = 0; i < 40; ++i) text += "The caf\xC3\xA9 n\xC2\xB0" + std::to_string(i) + " is OPEN.\n";
  const std::string valid = "the caf\xC3\xA9 is closed!\n";
  const std::string text_path = tmp_path("lm_text.txt"), valid_path = tmp_path("lm_valid.txt");
  write_file_atomic(text_path, text);
  write_file_atomic(valid_path, valid);
  for (const std::string tokenizer : {"char", "word"})
    for (const bool cut : {true, false}) {
      SCOPED_TRACE(tokenizer + (cut ? " --valid-fraction" : " --valid-text"));
      o.tokenizer = tokenizer;
      o.lowercase = tokenizer == "word";
      o.valid_fraction = cut ? 0.15 : 0;
      LanguageModelData mem, files;
      mem.text = read_text_file(text_path);
      files.text_file = text_path;
      if (!cut) mem.valid_text = valid, files.valid_file = valid_path;
      long counts[2][2] = {};
      TrainCallbacks cb[2];
      for (int k = 0; k < 2; ++k)
        cb[k].on_start = [&counts, k](const RunStart& s) { counts[k][0] = s.train, counts[k][1] = s.valid; };
      const LanguageModelRun a = LanguageModel::train(mem, o, cb[0]), b = LanguageModel::train(files, o, cb[1]);
      EXPECT_GT(counts[0][1], 1);
      EXPECT_EQ(counts[0][0], counts[1][0]);
      EXPECT_EQ(counts[0][1], counts[1][1]);
      EXPECT_EQ(a.model.info().vocab.tokens(), b.model.info().vocab.tokens());
      ASSERT_EQ(a.history.size(), 3u);
      ASSERT_EQ(b.history.size(), 3u);
      for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(a.history[i].train.loss, b.history[i].train.loss);
        EXPECT_EQ(a.history[i].valid.loss, b.history[i].valid.loss);
      }
      EXPECT_EQ(encode_safetensors(a.model.to_safetensors()), encode_safetensors(b.model.to_safetensors()));
    }
  // Mixed: the text from its file, the validation text in memory, and the other way round.
  o.tokenizer = "char", o.lowercase = false, o.valid_fraction = 0;
  LanguageModelData mem, file_text, file_valid;
  mem.text = file_valid.text = read_text_file(text_path);
  mem.valid_text = file_text.valid_text = valid;
  file_text.text_file = text_path;
  file_valid.valid_file = valid_path;
  const auto a = LanguageModel::train(mem, o), b = LanguageModel::train(file_text, o),
             c = LanguageModel::train(file_valid, o);
  EXPECT_EQ(a.history.back().valid.loss, b.history.back().valid.loss);
  EXPECT_EQ(a.history.back().valid.loss, c.history.back().valid.loss);
  EXPECT_EQ(encode_safetensors(a.model.to_safetensors()), encode_safetensors(b.model.to_safetensors()));
  LanguageModelData both;
  both.text = "abc";
  both.text_file = text_path;
  EXPECT_EQ(error_of([&] { LanguageModel::train(both, o); }), "give the text or a text file, not both");
  both = LanguageModelData();
  both.text_file = text_path;
  both.valid_text = "abc";
  both.valid_file = valid_path;
  EXPECT_EQ(error_of([&] { LanguageModel::train(both, o); }), "give the validation text or a validation file, not both");
  LanguageModelData short_valid;
  short_valid.text_file = text_path;
  short_valid.valid_file = short_valid.valid_name = tmp_path("lm_one.txt");
  write_file_atomic(short_valid.valid_file, "x");
  o.valid_fraction = 0;
  EXPECT_EQ(error_of([&] { LanguageModel::train(short_valid, o); }), short_valid.valid_file + " has fewer than 2 tokens");
  for (const auto& p : {text_path, valid_path, short_valid.valid_file}) std::remove(p.c_str());
}

TEST(Options, PresetsFillWhatWasNotGivenAndChecksNameTheFlag) {
  TrainOptions o;
  o.preset = "sentiment";
  o.hidden = 32;
  apply_defaults(o, {"hidden"});
  EXPECT_EQ(o.hidden, 32);
  EXPECT_EQ(o.cell, "lstm");
  EXPECT_TRUE(o.bidirectional);
  EXPECT_DOUBLE_EQ(o.valid_fraction, 0.1);
  TrainOptions m;
  m.preset = "min-char-rnn";
  apply_defaults(m, {});
  EXPECT_EQ(m.task, "lm");
  EXPECT_EQ(m.hidden, 100);
  EXPECT_EQ(m.optimizer, "adagrad");
  EXPECT_EQ(m.init, "normal");  // the original's randn * 0.01 and one bias, not the LM defaults'
  EXPECT_FALSE(m.bias_hh);
  TrainOptions bad;
  bad.hidden = 0;
  EXPECT_EQ(error_of([&] { check(bad); }), "--hidden must be at least 1");
  bad = TrainOptions();
  bad.cell = "transformer";
  EXPECT_NE(error_of([&] { check(bad); }).find("unknown cell 'transformer'"), std::string::npos);
  bad = TrainOptions();
  bad.task = "lm";
  bad.bidirectional = true;
  EXPECT_EQ(error_of([&] { check(bad); }), "--bidirectional: a language model reads left to right");
  bad = TrainOptions();
  bad.tokenizer = "char";
  EXPECT_EQ(error_of([&] { check(bad); }), "--tokenizer char is for --task lm");
}

TEST(CrossValidation, FoldsAreStratifiedAndEveryExampleIsTestedOnce) {
  std::vector<LabeledText> rows = cafe_data().train;
  const std::vector<int> fold = cv_folds(rows, 4, 1);
  std::vector<int> per_fold(4, 0);
  for (int f : fold) ++per_fold[std::size_t(f)];
  EXPECT_EQ(per_fold, (std::vector<int>{2, 2, 2, 2}));
  TrainOptions o = small_options();
  o.min_count = 1;
  o.epochs = 5;
  int begun = 0;
  CvCallbacks cb;
  cb.on_fold_begin = [&](int) { ++begun; };
  const CvResult r = cross_validate(rows, "cafe.tsv", fold, 4, o, cb);
  EXPECT_EQ(begun, 4);
  ASSERT_EQ(r.folds.size(), 4u);
  long tested = 0;
  for (const auto& f : r.folds) tested += f.test.metrics.n;
  EXPECT_EQ(tested, 8);
  const Summary s = summarize({1, 2, 3, 4});
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_NEAR(s.std, 1.2909944487358056, 1e-12);
  o.save = "x.st";
  EXPECT_NE(error_of([&] { cross_validate(rows, "cafe.tsv", fold, 4, o); }).find("keeps none"), std::string::npos);
}

// main() (test_main.cpp, as the recur program's) restarts the program with
// OPENBLAS_CORETYPE set when OpenBLAS chose other kernels than the CPU can run
// best — Debian's 0.3.21 falls back to SSE3 kernels on CPU models it does not know.
TEST(Blas, RunsTheKernelsForThisCpu) {
  const char* keep = std::getenv("RECUR_BLAS_CORE");
  if (keep != nullptr && std::string(keep) == "keep") GTEST_SKIP() << "RECUR_BLAS_CORE=keep";
  const char* set = std::getenv("OPENBLAS_CORETYPE");
  const std::string want = set != nullptr ? set : recur::blas_core_for_cpu();
  if (want.empty()) GTEST_SKIP() << "no AVX2 on this CPU: OpenBLAS's own choice stands";
  EXPECT_EQ(recur::blas_core(), want);
}
