// The recur command line end to end: the seed run, save -> predict/eval, and
// every user error as one clear line with a non-zero exit code.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "recur/checkpoint.hpp"
#include "recur/io.hpp"
#include "recur/vectors.hpp"

namespace {

const std::string kBin = RECUR_BIN;
const std::string kSrc = RECUR_SOURCE_DIR;

struct Result {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Per-process names: ctest runs these tests in parallel processes.
std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "recur_cli_test_" + std::to_string(::getpid()) + "_" + name;
}

void write(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

// Runs `recur ARGS` (a shell fragment) from `dir`, stdin from `input`.
// `env`: VAR=value assignments for its environment.
Result run_recur(const std::string& args, const std::string& input = "", const std::string& dir = ".",
                 const std::string& env = "") {
  const std::string in = tmp("stdin"), out = tmp("stdout"), err = tmp("stderr");
  write(in, input);
  const std::string cmd = "cd '" + dir + "' && " + (env.empty() ? "" : "env " + env + " ") + "'" + kBin + "' " + args +
                          " <'" + in + "' >'" + out + "' 2>'" + err + "'";
  const int status = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

int lines(const std::string& s) { return int(std::count(s.begin(), s.end(), '\n')); }

// A user error: non-zero exit, nothing on stdout, exactly one line on stderr containing `what`.
void expect_user_error(const Result& r, const std::string& what) {
  EXPECT_NE(r.code, 0) << r.err;
  EXPECT_LT(r.code, 3) << "internal error, not a user error: " << r.err;
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(what), std::string::npos) << "stderr: " << r.err << "expected: " << what;
  EXPECT_EQ(r.err.find("terminate called"), std::string::npos);
}

}  // namespace

TEST(Cli, DefaultRunIsTheSeedExperimentFromAnyDirectory) {
  const Result r = run_recur("train", "", "/");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string want = slurp(kSrc + "/tests/fixtures/seed_log_numpy_seed1.txt");
  // The float32 default prints the numpy reference's float64 log for seed 1.
  EXPECT_EQ(r.out, want);
  EXPECT_NE(r.out.find("--- Epoch 1000\nTrain:\tLoss 0.003 | Accuracy: 1.000\nTest:\tLoss 0.015 | Accuracy: 1.000\n"),
            std::string::npos);
}

TEST(Cli, SameSeedSameLogBitForBit) {
  const Result a = run_recur("train --seed 4 --epochs 300"), b = run_recur("train --seed 4 --epochs 300");
  ASSERT_EQ(a.code, 0);
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, run_recur("train --seed 5 --epochs 300").out);
}

// With label smoothing ε the training loss is the cross-entropy against
// (1-ε) onehot + ε/C, which cannot fall below that distribution's entropy
// (0.325 nats for ε = 0.2 and two classes); the plain loss falls far below it.
TEST(Cli, LabelSmoothingTrainsOnTheSmoothedLoss) {
  auto last_train_loss = [](const std::string& log) {
    const std::size_t at = log.rfind("Train:\tLoss ");
    return at == std::string::npos ? -1.0 : std::stod(log.substr(at + 12));
  };
  const std::string run = "train --cell lstm --init pytorch --bias-hh --optimizer adam --lr 0.01 --clip 0 --epochs 60 ";
  const Result plain = run_recur(run), smooth = run_recur(run + "--label-smoothing 0.2");
  ASSERT_EQ(smooth.code, 0) << smooth.err;
  const double entropy = -(0.9 * std::log(0.9) + 0.1 * std::log(0.1));
  EXPECT_LT(last_train_loss(plain.out), 0.5 * entropy) << plain.out;
  EXPECT_GT(last_train_loss(smooth.out), entropy - 1e-3) << smooth.out;
  EXPECT_LT(last_train_loss(smooth.out), entropy + 0.1) << smooth.out;
}

TEST(Cli, SavePredictEvalAgree) {
  const std::string model = tmp("seed.safetensors");
  const Result t = run_recur("train --save '" + model + "'");
  ASSERT_EQ(t.code, 0) << t.err;

  const Result p = run_recur("predict --model '" + model + "' --format jsonl 'i am good' 'this is not happy'");
  ASSERT_EQ(p.code, 0) << p.err;
  ASSERT_EQ(lines(p.out), 2);
  EXPECT_EQ(p.out.rfind("{\"label\":\"pos\",\"probabilities\":{\"neg\":", 0), 0u) << p.out;
  EXPECT_NE(p.out.find("\n{\"label\":\"neg\""), std::string::npos) << p.out;

  // stdin lines give the same answers as arguments.
  const Result s = run_recur("predict --model '" + model + "' --format jsonl", "i am good\nthis is not happy\n");
  EXPECT_EQ(s.out, p.out);

  // Unknown words: no crash, a count on stderr.
  const Result u = run_recur("predict --model '" + model + "' 'i am wonderful'");
  EXPECT_EQ(u.code, 0);
  EXPECT_EQ(lines(u.out), 1);
  EXPECT_NE(u.err.find("1 words in 1 texts were not in the model's vocabulary"), std::string::npos) << u.err;

  // info: the seed's five tensors, 18*64 + 64*64 + 64 + 2*64 + 2 parameters.
  const Result i = run_recur("info --model '" + model + "'");
  EXPECT_EQ(i.code, 0) << i.err;
  EXPECT_NE(i.out.find("cell\trnn_tanh\n"), std::string::npos) << i.out;
  EXPECT_NE(i.out.find("labels\t2: neg, pos\n"), std::string::npos) << i.out;
  EXPECT_NE(i.out.find("parameters\t5442\n"), std::string::npos) << i.out;

  const Result e = run_recur("eval --model '" + model + "' --data '" + kSrc + "/data/seed_test.tsv' --format json");
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_EQ(e.out.rfind("{\"n\":20,\"loss\":0.01", 0), 0u) << e.out;
  EXPECT_NE(e.out.find("\"accuracy\":1.0,\"macro_f1\":1.0"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("\"per_class\":{\"neg\":{\"precision\":1.0,\"recall\":1.0,\"f1\":1.0,\"support\":10}"),
            std::string::npos) << e.out;
  const Result table = run_recur("eval --model '" + model + "' --data '" + kSrc + "/data/seed_test.tsv'");
  EXPECT_NE(table.out.find("pos                 1.0000    1.0000    1.0000        10\n"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("pos                      0        10\n"), std::string::npos) << table.out;

  // --top-k 2: both labels, the most probable first.
  const Result top = run_recur("predict --model '" + model + "' --top-k 2 'i am good'");
  ASSERT_EQ(top.code, 0) << top.err;
  EXPECT_EQ(top.out.rfind("pos\t0.99", 0), 0u) << top.out;
  EXPECT_EQ(std::count(top.out.begin(), top.out.end(), '\t'), 3) << top.out;
}

// recur predict reads stdin a chunk at a time (Classifier::predict on the
// chunk, length-bucketed batches on --threads): every line gets the answer it
// gets alone, a chunk over kChunk lines splits where it must, an error names
// its line, and a program that writes a line and waits for its label gets it.
TEST(Cli, PredictBatchesStdinWithTheAnswersOfOneLineAtATime) {
  const std::string model = tmp("batch.safetensors");
  ASSERT_EQ(run_recur("train --save '" + model + "' --quiet").code, 0);
  const std::vector<std::string> words = {"i", "am", "good", "bad", "not", "happy", "sad", "very", "this", "was",
                                          "wonderful", "terrible", "at", "all", "right", "now"};
  std::mt19937 rng(7);
  std::string input;
  for (int i = 0; i < 300; ++i) {  // lengths 0..24, some words the model never saw
    const int n = int(rng() % 25);
    for (int k = 0; k < n; ++k) input += (k ? " " : "") + words[rng() % words.size()];
    input += '\n';
  }
  const Result batched = run_recur("predict --model '" + model + "' --format jsonl --threads 2", input);
  ASSERT_EQ(batched.code, 0) << batched.err;
  ASSERT_EQ(lines(batched.out), 300);

  // One line at a time: a co-process that sends a line only once the last
  // label came back (each chunk is then one line; without the flush at an
  // empty input this would wait out read's timeout).
  const std::string in = tmp("lines"), out = tmp("one_at_a_time");
  write(in, input);
  const std::string script = "coproc P { '" + kBin + "' predict --model '" + model +
                             "' --format jsonl 2>/dev/null; }\n"
                             "while IFS= read -r line; do\n"
                             "  printf '%s\\n' \"$line\" >&\"${P[1]}\"\n"
                             "  IFS= read -r -t 10 answer <&\"${P[0]}\" || { echo timeout; exit 1; }\n"
                             "  printf '%s\\n' \"$answer\"\n"
                             "done < '" + in + "'\n";
  write(tmp("coproc.sh"), script);
  ASSERT_EQ(std::system(("bash '" + tmp("coproc.sh") + "' > '" + out + "'").c_str()), 0) << slurp(out);
  EXPECT_EQ(slurp(out), batched.out);

  // 20 copies: 6,000 lines, more than one chunk.
  std::string many, want;
  for (int i = 0; i < 20; ++i) many += input, want += batched.out;
  const Result m = run_recur("predict --model '" + model + "' --format jsonl", many);
  ASSERT_EQ(m.code, 0) << m.err;
  EXPECT_EQ(m.out, want);

  // A bad line deep in the second chunk is named by its own number.
  std::string bad = many;
  std::size_t at = 0;
  for (int line = 1; line < 5000; ++line) at = bad.find('\n', at) + 1;
  bad.insert(at, "\xff");
  expect_user_error(run_recur("predict --model '" + model + "'", bad), "<stdin>:5000: invalid UTF-8 at byte 1");
  expect_user_error(run_recur("predict --model '" + model + "' --threads 0", input), "--threads");
}

// --pool: kept in the model file (recur info shows it, predict reads with it);
// refused for a language model.
TEST(Cli, PoolIsForClassifiersAndTravelsWithTheModel) {
  const std::string model = tmp("pooled.safetensors");
  const Result t = run_recur("train --pool attention --epochs 50 --save '" + model + "' --quiet");
  ASSERT_EQ(t.code, 0) << t.err;
  const Result i = run_recur("info --model '" + model + "'");
  EXPECT_NE(i.out.find("pool\tattention\n"), std::string::npos) << i.out;
  const Result p = run_recur("predict --model '" + model + "' 'i am good' 'i am not good'");
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_EQ(lines(p.out), 2);
  const std::string text = tmp("lm.txt");
  write(text, "some text to read\n");
  expect_user_error(run_recur("train --task lm --pool mean --text '" + text + "'"),
                    "--pool: pooling over time is for classifiers (--task classify)");
  expect_user_error(run_recur("train --pool median"), "--pool");
}

// --subwords: the n-gram table travels in the model file, words outside the
// vocabulary are read through their n-grams at predict and eval time (two
// unseen words no longer read alike), batched answers are one-at-a-time
// answers, and a bad range or a corrupt file is one line naming it.
TEST(Cli, SubwordsTravelWithTheModelAndReadUnseenWords) {
  const std::string model = tmp("subwords.safetensors");
  const Result t = run_recur("train --embed 8 --subwords 3-5 --buckets 64 --sparse-embedding --optimizer adam --lr 0.01 "
                             "--epochs 20 --save '" + model + "' --quiet");
  ASSERT_EQ(t.code, 0) << t.err;
  const Result i = run_recur("info --model '" + model + "'");
  EXPECT_NE(i.out.find("input\tembedding 8 + character 3-5-grams in 64 buckets\n"), std::string::npos) << i.out;
  const recur::SafeTensors st = recur::read_safetensors(model);
  EXPECT_EQ(st.metadata.at("subwords"), "3-5");
  EXPECT_EQ(st.metadata.at("buckets"), "64");
  EXPECT_EQ(st.tensors.at("subwords.weight").shape, (std::vector<std::int64_t>{64, 8}));

  // Two words the seed's vocabulary does not have, read differently.
  const Result p = run_recur("predict --model '" + model + "' --format jsonl 'i am goodish' 'i am sadly' 'i am qqqq'");
  ASSERT_EQ(p.code, 0) << p.err;
  std::istringstream rows(p.out);
  std::string a, b, c;
  std::getline(rows, a), std::getline(rows, b), std::getline(rows, c);
  EXPECT_NE(a, b);
  EXPECT_NE(b, c);
  // One at a time: the same answers.
  EXPECT_EQ(run_recur("predict --model '" + model + "' --format jsonl 'i am sadly'").out, b + "\n");
  const Result e = run_recur("eval --model '" + model + "' --data '" + kSrc + "/data/seed_test.tsv'");
  EXPECT_EQ(e.code, 0) << e.err;

  expect_user_error(run_recur("train --embed 8 --subwords 6-3"), "--subwords '6-3': give the n-gram lengths as MIN-MAX");
  expect_user_error(run_recur("train --subwords 3-6"), "--subwords needs an embedding (--embed N)");
  expect_user_error(run_recur("train --embed 8 --subwords 3-6 --buckets 0"), "--buckets must be at least 1");
  const std::string text = tmp("subwords_lm.txt");
  write(text, "some text to read\n");
  expect_user_error(run_recur("train --task lm --embed 8 --subwords 3-6 --text '" + text + "'"),
                    "--subwords: for classifiers (--task classify)");
  recur::SafeTensors bad = st;
  bad.metadata["subwords"] = "9-3";
  const std::string corrupt = tmp("subwords_corrupt.safetensors");
  recur::write_safetensors(corrupt, bad);
  expect_user_error(run_recur("predict --model '" + corrupt + "' 'i am good'"), corrupt + ": metadata 'subwords' '9-3'");
  bad.metadata.erase("subwords");
  recur::write_safetensors(corrupt, bad);
  expect_user_error(run_recur("predict --model '" + corrupt + "' 'i am good'"), corrupt + ": unexpected tensor subwords.weight");
}

// --vectors with a real file: Debian's `fasttext skipgram` trained on text
// the project has (its documentation and the seed's sentences). The vectors
// start the embedding; frozen, the saved model's rows are the file's exactly;
// --vectors-vocab makes the file's words known at predict time; a wrong
// dimension or a malformed file is one line naming it.
TEST(Cli, PretrainedVectorsFromFasttext) {
  if (std::system("command -v fasttext >/dev/null 2>&1") != 0) GTEST_SKIP() << "fasttext is not installed (make test installs it)";
  const std::string text = tmp("corpus.txt"), vec = tmp("skipgram");
  std::string corpus;
  for (const char* f : {"/README.md", "/docs/bptt.md", "/docs/cells.md", "/docs/seq2seq.md", "/data/seed_train.tsv"})
    corpus += slurp(kSrc + f);
  std::transform(corpus.begin(), corpus.end(), corpus.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  write(text, corpus);
  ASSERT_EQ(std::system(("fasttext skipgram -input '" + text + "' -output '" + vec +
                         "' -dim 8 -epoch 2 -minCount 2 -thread 1 -verbose 0 >/dev/null 2>&1").c_str()),
            0);
  const std::string vecfile = vec + ".vec", model = tmp("vectors.safetensors");
  const Result t = run_recur("train --embed 8 --vectors '" + vecfile + "' --vectors-vocab --freeze-embedding --epochs 30 "
                             "--save '" + model + "' --quiet");
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.err.find(vecfile + ": vectors for "), std::string::npos) << t.err;

  // The frozen embedding is the file's vectors, row for row.
  const recur::WordVectors v = recur::read_word_vectors(vecfile);
  const recur::SafeTensors st = recur::read_safetensors(model);
  const auto vocab = nlohmann::json::parse(st.metadata.at("vocab")).get<std::vector<std::string>>();
  const recur::TensorF32& E = st.tensors.at("embedding.weight");
  ASSERT_EQ(E.shape, (std::vector<std::int64_t>{std::int64_t(vocab.size()), 8}));
  std::size_t checked = 0;
  for (std::size_t i = 0; i < v.words.size(); ++i) {
    const auto at = std::find(vocab.begin(), vocab.end(), v.words[i]);
    ASSERT_NE(at, vocab.end()) << v.words[i] << " not added by --vectors-vocab";
    const std::size_t row = std::size_t(at - vocab.begin());
    for (int j = 0; j < 8; ++j) ASSERT_EQ(E.data[row * 8 + std::size_t(j)], v.row(i)[j]) << v.words[i];
    ++checked;
  }
  EXPECT_GT(checked, 100u);
  EXPECT_GT(vocab.size(), 100u);  // the seed's 18 words and the file's

  // A word only the vectors know is no longer unknown.
  const Result p = run_recur("predict --model '" + model + "' 'the gradient'");
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_EQ(p.err.find("not in the model's vocabulary"), std::string::npos) << p.err;

  expect_user_error(run_recur("train --embed 16 --vectors '" + vecfile + "'"),
                    "--vectors " + vecfile + ": vectors of 8 dimensions, but the embedding has 16 (give --embed 8)");
  const std::string bad = tmp("bad.vec");
  write(bad, "2 3\nok 1 2 3\nbroken 1 2\n");
  expect_user_error(run_recur("train --embed 3 --vectors '" + bad + "'"),
                    bad + ":3: expected a word and 3 numbers (the header's dimension), found 2 after 'broken'");
  expect_user_error(run_recur("train --vectors '" + vecfile + "'"), "--vectors needs an embedding (--embed N)");
  expect_user_error(run_recur("train --embed 8 --vectors-vocab"), "--vectors-vocab needs --vectors FILE");
}

// --init-from: a classifier starts from a word-level language model of the
// same shape — its vocabulary, embedding and layers (with a learning rate too
// small to move a float, they come out exactly the language model's) — and
// mismatched shapes, tokenizers or models are refused by name.
TEST(Cli, InitFromALanguageModel) {
  const std::string text = tmp("lm_corpus.txt"), lm = tmp("word_lm.safetensors"), clf = tmp("from_lm.safetensors");
  std::string corpus;
  for (const char* f : {"/README.md", "/data/seed_train.tsv"}) corpus += slurp(kSrc + f);
  write(text, corpus);
  const std::string shape = " --cell lstm --layers 1 --hidden 12 --embed 6 --bias-hh";
  const Result l = run_recur("train --task lm --tokenizer whitespace --text '" + text + "'" + shape +
                             " --steps 20 --save '" + lm + "' --quiet");
  ASSERT_EQ(l.code, 0) << l.err;
  const Result c = run_recur("train --init-from '" + lm + "'" + shape + " --optimizer sgd --lr 1e-30 --epochs 1 --save '" +
                             clf + "' --quiet");
  ASSERT_EQ(c.code, 0) << c.err;
  const recur::SafeTensors a = recur::read_safetensors(lm), b = recur::read_safetensors(clf);
  EXPECT_EQ(a.metadata.at("vocab"), b.metadata.at("vocab"));
  for (const char* name : {"embedding.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0"})
    EXPECT_EQ(a.tensors.at(name).data, b.tensors.at(name).data) << name;
  EXPECT_NE(a.tensors.at("head.weight").shape, b.tensors.at("head.weight").shape);  // the classifier's own head

  expect_user_error(run_recur("train --init-from '" + lm + "' --cell lstm --layers 1 --hidden 16 --embed 6 --bias-hh"),
                    "--init-from " + lm + ": a language model of --hidden 12, but this classifier has --hidden 16 (give --hidden 12)");
  expect_user_error(run_recur("train --init-from '" + lm + "'" + shape + " --tokenizer word"),
                    "--init-from " + lm + ": the language model reads whitespace tokens");
  expect_user_error(run_recur("train --init-from '" + lm + "' --cell lstm --layers 2 --hidden 12 --embed 6 --bias-hh --bidirectional"),
                    "--init-from " + lm + ": a language model of --layers 1, but this classifier has --layers 2");
  expect_user_error(run_recur("train --init-from '" + clf + "'" + shape), "--init-from " + clf + ": a classifier, not a language model");
  expect_user_error(run_recur("train --init-from '" + lm + "'" + shape + " --vectors '" + lm + "'"),
                    "give --vectors or --init-from, not both");
}

TEST(Cli, TrainsOnUserFiles) {
  const std::string train = tmp("train.tsv"), test = tmp("test.tsv");
  write(train, "good\tyes\nbad\tno\nnot good\tno\nnot bad\tyes\n");
  write(test, "good\tyes\nnot good\tno\nsuper good\tyes\n");
  const Result r = run_recur("train --train '" + train + "' --test '" + test + "' --epochs 200 --hidden 16");
  ASSERT_EQ(r.code, 0) << r.err;
  // Logged every tenth of the epochs by default (the seed's 100 of 1000).
  EXPECT_EQ(r.out.rfind("3 unique words found\n--- Epoch 20\n", 0), 0u) << r.out;
  EXPECT_NE(r.err.find("1 words not in the training vocabulary"), std::string::npos) << r.err;
}

TEST(Cli, BadInputIsOneClearLine) {
  const std::string f = tmp("bad.tsv");
  write(f, "good\tpos\nthis line has no tab\n");
  expect_user_error(run_recur("train --train '" + f + "'"), f + ":2: expected text<TAB>label, found no tab");

  write(f, "");
  expect_user_error(run_recur("train --train '" + f + "'"), f + ": no records (empty file?)");

  write(f, "good\tpos\nbad \xC3\x28\tneg\n");
  expect_user_error(run_recur("train --train '" + f + "'"), f + ":2: invalid UTF-8 at byte 5");

  write(f, "good\tpos\ngood\tpos\n");
  expect_user_error(run_recur("train --train '" + f + "'"), "needs at least 2 distinct labels");

  expect_user_error(run_recur("train --train /nonexistent/data.tsv"), "/nonexistent/data.tsv");
  expect_user_error(run_recur("train --train '" + ::testing::TempDir() + "'"), "--train");  // a directory
  expect_user_error(run_recur("train --epochs 0"), "--epochs must be at least 1");
  expect_user_error(run_recur("train --accumulate 0"), "--accumulate must be at least 1");
  expect_user_error(run_recur("train --threads 0"), "--threads must be in [1, 64]");
  expect_user_error(run_recur("train --label-smoothing 1"), "--label-smoothing must be in [0, 1)");
  expect_user_error(run_recur("train --average 1"), "--average must be in [0, 1)");
  expect_user_error(run_recur("train --mpi-timeout 0"), "--mpi-timeout must be positive");
  expect_user_error(run_recur("train --hidden abc"), "--hidden");
  expect_user_error(run_recur("train --no-such-flag"), "--no-such-flag");
  expect_user_error(run_recur("frobnicate"), "frobnicate");

  const std::string model = tmp("m.safetensors");
  ASSERT_EQ(run_recur("train --epochs 1 --quiet --save '" + model + "'").code, 0);
  write(f, "i am good\tpos\ni am sad\tmaybe\n");
  expect_user_error(run_recur("eval --model '" + model + "' --data '" + f + "'"), f + ":2: unknown label 'maybe'");
  expect_user_error(run_recur("predict --model '" + model + "'", "fine\nbad \xFF byte\n"),
                    "<stdin>:2: invalid UTF-8 at byte 5");

  const std::string corrupt = tmp("corrupt.safetensors");
  write(corrupt, slurp(model).substr(0, 300));
  expect_user_error(run_recur("predict --model '" + corrupt + "' good"), corrupt + ": not a valid safetensors file");
  write(corrupt, "not a model at all");
  expect_user_error(run_recur("eval --model '" + corrupt + "' --data '" + f + "'"), corrupt + ": not a valid safetensors file");
}

TEST(Cli, HelpIsUseful) {
  const Result top = run_recur("--help");
  EXPECT_EQ(top.code, 0);
  for (const char* s : {"train", "predict", "eval"}) EXPECT_NE(top.out.find(s), std::string::npos);
  const Result t = run_recur("train --help");
  EXPECT_EQ(t.code, 0);
  for (const char* s : {"--train", "--test", "--epochs", "--hidden", "--lr", "--clip", "--seed", "--save", "seed experiment"})
    EXPECT_NE(t.out.find(s), std::string::npos) << s;
  EXPECT_NE(run_recur("predict --help").out.find("--format"), std::string::npos);
  EXPECT_NE(run_recur("eval --help").out.find("--data"), std::string::npos);
}

// ---- language models ------------------------------------------------------------

namespace {
std::string small_text() {
  std::string s;
  for (int i = 0; i < 60; ++i) s += "the cat sat on the mat. the dog sat on the log.\n";
  return s;
}
}  // namespace

TEST(CliLm, TrainGenerateEval) {
  const std::string text = tmp("lm.txt"), model = tmp("lm.safetensors"), report = tmp("lm.html");
  write(text, small_text());
  const Result t = run_recur("train --task lm --text '" + text + "' --valid-fraction 0.1 --hidden 16 --layers 1 --batch 4 "
                         "--seq-len 8 --steps 60 --eval-every 20 --save '" + model + "' --report '" + report + "'");
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.out.find("step 60/60"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("valid loss"), std::string::npos) << t.out;
  const std::string html = slurp(report);  // curves in bits per symbol and a sample
  EXPECT_NE(html.find(">bits per symbol</text>"), std::string::npos);
  EXPECT_NE(html.find(">validation</text>"), std::string::npos);
  EXPECT_NE(html.find("<pre class=\"sample\">"), std::string::npos);
  const recur::SafeTensors st = recur::read_safetensors(model);
  EXPECT_EQ(st.metadata.at("task"), "lm");
  EXPECT_EQ(st.metadata.at("tokenizer"), "char");
  EXPECT_EQ(st.metadata.at("cell"), "lstm");  // the language model's default cell
  EXPECT_EQ(st.tensors.at("head.weight").shape[1], 16);

  const std::string gen = "generate --model '" + model + "' --prime 'the ' --length 80";
  const Result g1 = run_recur(gen + " --seed 3"), g2 = run_recur(gen + " --seed 3"), g3 = run_recur(gen + " --seed 4");
  ASSERT_EQ(g1.code, 0) << g1.err;
  EXPECT_EQ(g1.out.rfind("the ", 0), 0u) << g1.out;  // the prime comes first
  EXPECT_EQ(g1.out, g2.out);
  EXPECT_NE(g1.out, g3.out);
  const Result greedy = run_recur(gen + " --temperature 0 --seed 1"), greedy2 = run_recur(gen + " --temperature 0 --seed 2");
  EXPECT_EQ(greedy.out, greedy2.out);  // argmax ignores the seed

  const Result e = run_recur("eval --model '" + model + "' --text '" + text + "' --format json");
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_EQ(e.out.rfind("{\"n\":" + std::to_string(small_text().size() - 1) + ",\"loss\":", 0), 0u) << e.out;
  EXPECT_NE(e.out.find("\"bits_per_token\":"), std::string::npos);
}

// --threads 2: two ranks on threads train one model; rank 0 alone prints, so
// the log has the lines of one run (as one process with twice the batch), and
// the saved model loads.
TEST(CliTrain, RanksOnThreadsLogOnceAndSave) {
  const std::string text = tmp("lm_threads.txt"), model = tmp("lm_threads.safetensors");
  write(text, small_text());
  const std::string common = "train --task lm --text '" + text + "' --hidden 8 --layers 1 --seq-len 8 --steps 6 --eval-every 2";
  const Result two = run_recur(common + " --batch 2 --threads 2 --save '" + model + "'");
  const Result one = run_recur(common + " --batch 4");
  ASSERT_EQ(two.code, 0) << two.err;
  ASSERT_EQ(one.code, 0) << one.err;
  auto lines = [](const std::string& s) { return std::count(s.begin(), s.end(), '\n'); };
  EXPECT_EQ(lines(two.out), lines(one.out)) << two.out;
  EXPECT_NE(two.out.find("step 6/6"), std::string::npos) << two.out;
  EXPECT_EQ(run_recur("generate --model '" + model + "' --length 5").code, 0);
}

TEST(CliLm, PresetsAndOverrides) {
  const std::string text = tmp("lm2.txt"), model = tmp("lm2.safetensors");
  write(text, small_text());
  const Result r = run_recur("train --preset min-char-rnn --text '" + text + "' --hidden 20 --steps 3 --quiet --save '" + model + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  const recur::SafeTensors st = recur::read_safetensors(model);
  EXPECT_EQ(st.metadata.at("cell"), "rnn_tanh");    // from the preset
  EXPECT_EQ(st.metadata.at("hidden_size"), "20");   // the flag wins over the preset's 100
  EXPECT_EQ(st.metadata.at("num_layers"), "1");
}

TEST(CliLm, Errors) {
  expect_user_error(run_recur("train --task lm"), "--task lm needs --text FILE");
  const std::string bad = tmp("bad.txt");
  write(bad, "fine text\nthen \xFF here\n");
  expect_user_error(run_recur("train --task lm --text '" + bad + "'"), bad + ":2: invalid UTF-8 at byte 6 of the line");
  const std::string tiny = tmp("tiny.txt");
  write(tiny, "abc");
  expect_user_error(run_recur("train --task lm --text '" + tiny + "' --steps 1"), "too short");
  const std::string clf = tmp("clf.safetensors");
  ASSERT_EQ(run_recur("train --epochs 1 --quiet --save '" + clf + "'").code, 0);
  expect_user_error(run_recur("generate --model '" + clf + "'"), "a classifier, not a language model");
  expect_user_error(run_recur("generate --model '" + clf + "' --top-p 0"), "--top-p must be in (0, 1]");
}

TEST(Cli, CsvJsonlWordTokenizerLowercase) {
  const std::string csv = tmp("d.csv"), jsonl = tmp("d.jsonl"), model = tmp("csv.safetensors");
  write(csv, "text,label\n\"Good, GOOD.\",pos\nBad.,neg\n\"not good\",neg\nnot bad,pos\nbroken row\n");
  const Result t = run_recur("train --train '" + csv + "' --tokenizer word --lowercase --skip-bad --epochs 200 "
                             "--hidden 16 --quiet --save '" + model + "'");
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.err.find("skipped 1 malformed records (the first: " + csv + ":6: expected 2 fields, got 1)"),
            std::string::npos) << t.err;
  const recur::SafeTensors st = recur::read_safetensors(model);
  EXPECT_EQ(st.metadata.at("tokenizer"), "word");
  EXPECT_EQ(st.metadata.at("lowercase"), "true");
  EXPECT_EQ(st.metadata.at("vocab"), "[\"good\",\",\",\".\",\"bad\",\"not\"]");
  // predict tokenizes as training did: "GOOD!" -> "good", "!" (unknown).
  const Result p = run_recur("predict --model '" + model + "' 'GOOD!'");
  EXPECT_EQ(p.code, 0) << p.err;
  EXPECT_NE(p.err.find("1 words in 1 texts"), std::string::npos) << p.err;
  write(jsonl, "{\"text\": \"Good.\", \"label\": \"pos\"}\n{\"text\": \"not good\", \"label\": \"neg\"}\n");
  const Result e = run_recur("eval --model '" + model + "' --data '" + jsonl + "' --format json");
  EXPECT_EQ(e.code, 0) << e.err;
  EXPECT_EQ(e.out.rfind("{\"n\":2,", 0), 0u) << e.out;
  expect_user_error(run_recur("train --train '" + csv + "' --epochs 1"), csv + ":6: expected 2 fields, got 1");
}

// ---- checkpoints ----------------------------------------------------------------

namespace {
// Starts `recur ARGS...` in the background; returns its pid.
pid_t spawn(const std::vector<std::string>& args) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv{const_cast<char*>(kBin.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    execv(kBin.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

std::vector<std::string> split_args(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// Runs `recur FLAGS --save SAVE` and sends it SIGINT, waiting less each try
// until the signal lands mid-run (exit status 130). True when it did.
bool interrupt_mid_run(const std::string& flags, const std::string& save) {
  for (int wait_ms = 300; wait_ms >= 5; wait_ms /= 2) {
    std::remove((save + ".ckpt").c_str());
    auto args = split_args(flags);
    args.push_back("--save");
    args.push_back(save);
    const pid_t pid = spawn(args);
    usleep(useconds_t(wait_ms) * 1000);
    kill(pid, SIGINT);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 130) return true;
  }
  return false;
}
}  // namespace

// Ctrl-C mid-run writes a checkpoint; resuming it ends with the same model file,
// byte for byte, as a run never interrupted (Adam, dropout, minibatches).
TEST(CliCheckpoint, InterruptedAndResumedEqualsUninterrupted) {
  const std::string flags = "train --cell lstm --layers 2 --dropout 0.3 --hidden 16 --embed 8 --bias-hh --init pytorch "
                            "--optimizer adam --lr 0.01 --batch 4 --epochs 1500 --quiet";
  const std::string full = tmp("full.st"), part = tmp("part.st");
  ASSERT_EQ(run_recur(flags + " --save '" + full + "'").code, 0);
  ASSERT_TRUE(interrupt_mid_run(flags, part)) << "never interrupted mid-run";
  const Result r = run_recur(flags + " --save '" + part + "' --resume '" + part + ".ckpt'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("resuming"), std::string::npos);
  EXPECT_EQ(slurp(full), slurp(part));
  // A checkpoint of another model is refused, and a checkpoint is not a model.
  expect_user_error(run_recur("train --hidden 8 --epochs 2 --resume '" + part + ".ckpt'"), "different model or data");
  expect_user_error(run_recur("predict --model '" + part + ".ckpt' 'i am good'"), "a training checkpoint, not a model");
}

// SIGKILL at random moments while checkpoints are written continuously: the
// checkpoint on disk always loads (written to a temporary name, then renamed).
TEST(CliCheckpoint, KilledDuringWritesLeavesALoadableCheckpoint) {
  const std::string ckpt = tmp("killed.ckpt");
  std::remove(ckpt.c_str());
  std::mt19937 gen(12345);
  int loaded = 0;
  for (int i = 0; i < 12; ++i) {
    std::remove((ckpt + ".lock").c_str());  // (left by the run killed before; no one holds it)
    const pid_t pid = spawn(split_args("train --epochs 100000 --quiet --checkpoint-every 1 --checkpoint " + ckpt));
    // From the moment the run holds its checkpoint's lock (its training
    // begins), however long the process took to start (a sanitized build):
    for (int k = 0; k < 1000 && access((ckpt + ".lock").c_str(), F_OK) != 0; ++k) usleep(1000);
    usleep(useconds_t(gen() % 60000));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    if (!std::ifstream(ckpt)) continue;  // killed before the first write
    EXPECT_NO_THROW(recur::load_checkpoint(ckpt)) << "attempt " << i;
    ++loaded;
  }
  EXPECT_GT(loaded, 6);
  // The temporary files of writes killed midway, and the lock files of killed
  // runs, are no obstacle: the next save removes the former.
  const Result next = run_recur("train --epochs 2 --quiet --checkpoint-every 1 --checkpoint '" + ckpt + "'");
  EXPECT_EQ(next.code, 0) << next.err;
  const std::string ls = tmp("killed.ls");
  std::system(("ls -a '" + ::testing::TempDir() + "' > '" + ls + "'").c_str());
  EXPECT_EQ(slurp(ls).find(ckpt.substr(ckpt.find_last_of('/') + 1) + ".tmp-"), std::string::npos) << slurp(ls);
}

TEST(CliCheckpoint, LanguageModelResumesExactly) {
  const std::string text = tmp("ck_lm.txt"), full = tmp("ck_full.st"), part = tmp("ck_part.st");
  write(text, small_text());
  const std::string flags = "train --task lm --text " + text +
                            " --valid-fraction 0.1 --hidden 32 --batch 8 --seq-len 16 --steps 3000 --eval-every 500 "
                            "--dropout 0.2 --quiet";
  ASSERT_EQ(run_recur(flags + " --save " + full).code, 0);
  ASSERT_TRUE(interrupt_mid_run(flags, part)) << "never interrupted mid-run";
  const Result r = run_recur(flags + " --save " + part + " --resume " + part + ".ckpt");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(slurp(full), slurp(part));
}

#ifdef RECUR_NO_MPI
// Built without MPI, recur started by mpirun -np 2 (its environment, set here
// as mpirun sets it) says so instead of training two separate models: rank 0
// prints the one line, rank 1 only fails.
TEST(Cli, WithoutMpiSaysSoUnderMpirun) {
  expect_user_error(run_recur("train --epochs 2", "", ".", "OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=0"),
                    "this recur was built without MPI");
  const Result r1 = run_recur("train --epochs 2", "", ".", "OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=1");
  EXPECT_NE(r1.code, 0);
  EXPECT_EQ(r1.err, "");
  EXPECT_EQ(r1.out, "");
}
#endif

TEST(Cli, LogJsonOneObjectPerEvaluation) {
  const std::string log = tmp("log.jsonl");
  const Result r = run_recur("train --epochs 300 --log-every 100 --quiet --log-json '" + log + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "");  // --quiet: nothing on stdout, the log still written
  const std::string lines = slurp(log);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 3) << lines;
  EXPECT_EQ(lines.rfind("{\"epoch\":100,\"train_loss\":", 0), 0u) << lines;
  EXPECT_NE(lines.find("{\"epoch\":300,"), std::string::npos) << lines;
  EXPECT_NE(lines.find("\"test_accuracy\":"), std::string::npos) << lines;
  expect_user_error(run_recur("train --epochs 1 --log-json /nonexistent-dir/log.jsonl"), "/nonexistent-dir/log.jsonl");
}

namespace {
// A labelled file big enough for folds and validation: pos/neg phrases over a small vocabulary.
std::string phrases_tsv(int n) {
  const char* good[] = {"good", "great", "happy", "fine"};
  const char* bad[] = {"bad", "awful", "sad", "poor"};
  std::string s;
  for (int i = 0; i < n; ++i) {
    const bool pos = i % 3 != 0;  // two thirds positive
    s += std::string(i % 2 ? "this is " : "i am ") + (i % 5 == 0 ? "very " : "") + (pos ? good[i % 4] : bad[i % 4]) +
         (i % 7 == 0 ? " today" : "") + "\t" + (pos ? "pos" : "neg") + "\n";
  }
  return s;
}
}  // namespace

TEST(CliCv, FoldsMeanAndStdTextAndJson) {
  const std::string data = tmp("cv.tsv"), folds = tmp("folds.tsv");
  write(data, phrases_tsv(60));
  const std::string flags = "cv --data '" + data + "' --folds 4 --epochs 30 --hidden 8 --quiet";
  const Result j = run_recur(flags + " --format json --folds-out '" + folds + "'");
  ASSERT_EQ(j.code, 0) << j.err;
  EXPECT_NE(j.out.find("\"folds\":4"), std::string::npos) << j.out;
  EXPECT_NE(j.out.find("\"accuracy\":{\"mean\":"), std::string::npos) << j.out;
  EXPECT_NE(j.out.find("\"per_fold\":["), std::string::npos) << j.out;
  // Every example in exactly one fold; each fold a quarter of the data (15), a third of it negative (5).
  std::istringstream in(slurp(folds));
  std::string header, line;
  std::getline(in, header);
  EXPECT_EQ(header, "line\tfold");
  std::vector<int> size(4, 0), neg(4, 0);
  int n = 0;
  while (std::getline(in, line)) {
    const int file_line = std::stoi(line.substr(0, line.find('\t')));
    const int f = std::stoi(line.substr(line.find('\t') + 1));
    ASSERT_GE(f, 0);
    ASSERT_LT(f, 4);
    ++size[std::size_t(f)];
    neg[std::size_t(f)] += (file_line - 1) % 3 == 0;
    ++n;
  }
  EXPECT_EQ(n, 60);
  EXPECT_EQ(size, (std::vector<int>{15, 15, 15, 15}));
  EXPECT_EQ(neg, (std::vector<int>{5, 5, 5, 5}));
  // Text: one line per fold and the mean ± std; the same seed gives the same numbers.
  const Result t = run_recur("cv --data '" + data + "' --folds 4 --epochs 30 --hidden 8");
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.out.find("fold  4/4"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find(" ± "), std::string::npos) << t.out;
  // (the numbers, not each fold's wall time: " | 0.1 s" may round either way)
  auto numbers = [](std::string s) {
    for (std::size_t at; (at = s.find(" s\n")) != std::string::npos;) s.erase(s.rfind(" | ", at), at + 2 - s.rfind(" | ", at));
    return s;
  };
  EXPECT_EQ(numbers(run_recur("cv --data '" + data + "' --folds 4 --epochs 30 --hidden 8").out), numbers(t.out));
  // cv keeps no model and makes its own test sets.
  expect_user_error(run_recur(flags + " --folds 1"), "--folds");
  expect_user_error(run_recur("cv --data '" + data + "' --save x.st"), "--save");
  expect_user_error(run_recur("cv --epochs 2"), "--data");
  expect_user_error(run_recur(flags + " --patience 2"), "--valid-fraction");
}

TEST(CliValidation, BestModelPatienceReportAndUnknownSymbol) {
  const std::string data = tmp("v.tsv"), valid = tmp("flipped.tsv"), model = tmp("v.st"), report = tmp("report.html"),
                    log = tmp("v.jsonl");
  write(data, phrases_tsv(60));
  // Validation labels flipped: the better the model learns, the worse it validates, so patience ends the run.
  std::string flipped = phrases_tsv(20);
  for (std::size_t at = 0; (at = flipped.find('\t', at)) != std::string::npos; ++at)
    flipped.replace(at + 1, 3, flipped.compare(at + 1, 3, "pos") == 0 ? "neg" : "pos");
  write(valid, flipped);
  const Result r = run_recur("train --train '" + data + "' --valid '" + valid + "' --patience 2 --epochs 300 --log-every 5 "
                             "--hidden 8 --min-count 2 --save '" + model + "' --report '" + report + "' --log-json '" + log + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Valid:\tLoss "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Best:\tepoch "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(stopped at epoch "), std::string::npos) << r.out;  // patience 2 ends it well before 300
  EXPECT_NE(r.err.find("saved the best validated model"), std::string::npos) << r.err;
  EXPECT_NE(slurp(log).find("\"valid_accuracy\":"), std::string::npos);
  // The report: one self-contained page with both curves and the confusion matrix.
  const std::string html = slurp(report);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(std::count(html.begin(), html.end(), '\n') > 10, true);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find(">Accuracy</text>"), std::string::npos);
  EXPECT_NE(html.find(">validation</text>"), std::string::npos);
  EXPECT_NE(html.find("Confusion matrix"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);  // nothing fetched
  EXPECT_EQ(html.find("<link"), std::string::npos);
  // --min-count 2: words seen once ("today" is not, "very" is) are <unk>, stored in the model.
  const Result info = run_recur("info --model '" + model + "'");
  ASSERT_EQ(info.code, 0) << info.err;
  const Result p = run_recur("predict --model '" + model + "' 'i am zzz good'");
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_NE(p.err.find("mapped to <unk>"), std::string::npos) << p.err;
  // Mistakes get one clear line.
  expect_user_error(run_recur("train --train '" + data + "' --patience 3"), "--patience needs validation data");
  expect_user_error(run_recur("train --train '" + data + "' --valid-fraction 1.5"), "--valid-fraction");
  expect_user_error(run_recur("train --train '" + data + "' --valid '" + data + "' --valid-fraction 0.2"),
                    "not both");
}

TEST(CliValidation, SentimentPresetRuns) {
  const std::string data = tmp("s.tsv");
  write(data, phrases_tsv(80));
  const Result r = run_recur("train --preset sentiment --train '" + data + "' --epochs 3");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("--- Epoch 3\n"), std::string::npos) << r.out;  // logged every epoch
  EXPECT_NE(r.out.find("Valid:"), std::string::npos) << r.out;         // a tenth held out
}

// Ctrl-C and --resume with validation: the best weights so far travel in the
// checkpoint, so the resumed run saves the same best model, byte for byte.
TEST(CliCheckpoint, ResumesTheBestValidatedModelExactly) {
  const std::string flags = "train --train " + kSrc + "/data/seed_train.tsv --valid-fraction 0.25 --patience 1000 "
                            "--log-every 20 --cell gru --hidden 16 --embed 8 --optimizer adam --lr 0.01 --batch 2 "
                            "--epochs 1500 --quiet";
  const std::string full = tmp("vfull.st"), part = tmp("vpart.st");
  ASSERT_EQ(run_recur(flags + " --save '" + full + "'").code, 0);
  ASSERT_TRUE(interrupt_mid_run(flags, part)) << "never interrupted mid-run";
  const Result r = run_recur(flags + " --save '" + part + "' --resume '" + part + ".ckpt'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(slurp(full), slurp(part));
}

// The progress bar's line, and the report's HTML escaping and charts.
#include "progress.hpp"
#include "report.hpp"

TEST(CliProgress, LineShowsFractionLossSpeedAndEta) {
  const std::string line = recur_cli::progress_line("epoch 3/20", 0.45, 0.43214, 12345, 42);
  EXPECT_EQ(line, "epoch 3/20 [#########-----------]  45% | loss 0.4321 | 12.3k tok/s | ETA 0:42");
  EXPECT_NE(recur_cli::progress_line("x", 0, 1, 0, -1).find("ETA ?"), std::string::npos);
  EXPECT_EQ(recur_cli::format_duration(3723), "1:02:03");
  EXPECT_EQ(recur_cli::format_duration(59.6), "1:00");
}

TEST(CliReport, EscapesTextAndDrawsEverySeries) {
  recur_cli::ReportPage page;
  page.title = "a <b> & \"c\"";
  recur_cli::Chart chart{"Loss", "epoch", "nats", {{"train", {1, 2, 3}, {0.9, 0.5, 0.4}}, {"valid", {1, 2, 3}, {1, 0.7, 0.8}}}};
  page.charts = {chart};
  page.labels = {"neg", "<pos>"};
  page.confusion = {{5, 1}, {2, 7}};
  page.confusion_of = "validation data";
  const std::string html = recur_cli::html_report(page);
  EXPECT_NE(html.find("<title>a &lt;b&gt; &amp; &quot;c&quot;</title>"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_EQ(std::count(html.begin(), html.end(), '\n') > 5, true);
  std::size_t lines = 0;
  for (std::size_t at = html.find("<polyline"); at != std::string::npos; at = html.find("<polyline", at + 1)) ++lines;
  EXPECT_EQ(lines, 2u);
  EXPECT_NE(html.find("&lt;pos&gt;</th>"), std::string::npos);
  EXPECT_NE(html.find(">7</td>"), std::string::npos);
}

// The README's first session, command for command, from a fresh directory.
TEST(CliSession, ReadmeFirstSession) {
  const std::string dir = tmp("session");
  ASSERT_EQ(std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "' && ln -s '" + kSrc + "/data' '" + dir +
                         "/data' && mkdir '" + dir + "/build' && ln -s '" + kBin + "' '" + dir + "/build/recur'")
                            .c_str()),
            0);
  const Result t = run_recur("train --train data/seed_train.tsv --valid-fraction 0.2 --tokenizer word "
                             "--cell gru --embed 16 --hidden 32 --bias-hh --init pytorch --optimizer adam --lr 0.01 --clip 0 "
                             "--batch 4 --epochs 60 --patience 3 --save sentiment.safetensors --report report.html",
                             "", dir);
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.out.find("--- Epoch 60\nTrain:\tLoss 0.000 | Accuracy: 1.000\nValid:\tLoss 0.094 | Accuracy: 0.917 *\n"),
            std::string::npos)
      << t.out;
  EXPECT_NE(slurp(dir + "/report.html").find("Confusion matrix"), std::string::npos);
  const Result p = run_recur("predict --model sentiment.safetensors", "i am very happy\nthis is not good at all\n", dir);
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_EQ(p.out, "pos\t0.999988\nneg\t0.999231\n");
  const Result e = run_recur("eval --model sentiment.safetensors --data data/seed_test.tsv", "", dir);
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_NE(e.out.find("accuracy\t"), std::string::npos) << e.out;
}

// On a terminal a progress bar is drawn (and erased before each log line); in a
// pipe there is none (the exact-log tests above would fail on a stray "\r").
TEST(CliProgress, BarOnATerminalOnly) {
  if (std::system("command -v script >/dev/null 2>&1") != 0) GTEST_SKIP() << "no `script` to make a terminal";
  const std::string out = tmp("tty.txt");
  // (long enough for the bar's first draw: it is redrawn at most every 100 ms)
  const std::string cmd =
      "script -qec \"'" + kBin + "' train --cell lstm --embed 8 --epochs 300 --log-every 100\" /dev/null > '" + out + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const std::string tty = slurp(out);
  EXPECT_NE(tty.find("\repoch "), std::string::npos) << tty;
  EXPECT_NE(tty.find("tok/s | ETA "), std::string::npos) << tty;
  EXPECT_NE(tty.find("\r\033[K"), std::string::npos) << tty;  // the bar erased (before a log line, and at the end)
  EXPECT_NE(tty.find("--- Epoch 300"), std::string::npos) << tty;
  const Result piped = run_recur("train --epochs 300 --log-every 100");
  EXPECT_EQ(piped.out.find('\r'), std::string::npos);
  EXPECT_EQ(piped.out.find("ETA"), std::string::npos);
}

namespace {

// Letters a-f and their reversal as capital symbols: "abc<TAB>C B A".
std::string reversal_tsv(int n, unsigned seed) {
  std::mt19937 g(seed);
  std::string s;
  for (int i = 0; i < n; ++i) {
    std::string w, r;
    const int len = 2 + int(g() % 5);
    for (int k = 0; k < len; ++k) w += char('a' + g() % 6);
    for (auto it = w.rbegin(); it != w.rend(); ++it) r += std::string(r.empty() ? "" : " ") + char(*it - 'a' + 'A');
    s += w + "\t" + r + "\n";
  }
  return s;
}

}  // namespace

TEST(CliSeq2Seq, TrainTranslateEvalInfo) {
  const std::string train = tmp("rev_train.tsv"), valid = tmp("rev_valid.tsv"), model = tmp("rev.st"),
                    report = tmp("rev.html"), att = tmp("att.json");
  write(train, reversal_tsv(1500, 1));
  write(valid, reversal_tsv(100, 2));
  Result r = run_recur("train --task seq2seq --train '" + train + "' --valid '" + valid +
                       "' --hidden 32 --embed 16 --epochs 6 --save '" + model + "' --report '" + report + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("epoch 6/6 | lr 0.002 | train loss "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sequence accuracy"), std::string::npos);
  EXPECT_NE(slurp(report).find("Sequence accuracy"), std::string::npos);
  // One output line per input line, symbols joined by spaces.
  r = run_recur("translate --model '" + model + "' --beam 3", "abcd\nfed\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "D C B A\nD E F\n");
  r = run_recur("translate --model '" + model + "' --format jsonl --beam 3 --nbest 2 --attention-out '" + att + "' cab");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("{\"output\":\"B A C\",\"score\":", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\"nbest\":[{\"output\":\"B A C\""), std::string::npos) << r.out;
  const std::string a = slurp(att);
  EXPECT_EQ(a.rfind("[{\"source\":[\"c\",\"a\",\"b\"],\"output\":[\"B\",\"A\",\"C\"],\"attention\":[[", 0), 0u) << a;
  // Eval: every line of the validation file, accuracy and symbol error rate.
  r = run_recur("eval --model '" + model + "' --data '" + valid + "' --beam 2 --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("\"pairs\":100"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"sequence_accuracy\":"), std::string::npos);
  EXPECT_NE(r.out.find("\"token_error_rate\":"), std::string::npos);
  // The model given twice decodes as the model alone (an ensemble of two: the
  // mean of equal log-probabilities); a model that writes other symbols is
  // refused, naming its file.
  r = run_recur("translate --model '" + model + "' --model '" + model + "' --beam 3", "abcd\nfed\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "D C B A\nD E F\n");
  const Result once = run_recur("eval --model '" + model + "' --data '" + valid + "' --format json");
  const Result twice = run_recur("eval --model '" + model + "' --model '" + model + "' --data '" + valid + "' --format json");
  ASSERT_EQ(twice.code, 0) << twice.err;
  EXPECT_EQ(twice.out, once.out);
  const std::string other_tsv = tmp("other.tsv"), other = tmp("other.st");
  write(other_tsv, "ab\tP Q\nba\tQ P\n");
  ASSERT_EQ(run_recur("train --task seq2seq --quiet --train '" + other_tsv + "' --hidden 4 --embed 4 --epochs 1 --save '" +
                      other + "'").code, 0);
  expect_user_error(run_recur("translate --model '" + model + "' --model '" + other + "' abc"),
                    other + ": model 2 of the ensemble has 5 target symbols, model 1 9 (" + model + ")");
  expect_user_error(run_recur("eval --model '" + model + "' --model '" + other + "' --data '" + valid + "'"),
                    other + ": model 2 of the ensemble has 5 target symbols, model 1 9 (" + model + ")");
  r = run_recur("info --model '" + model + "'");
  EXPECT_NE(r.out.find("attention\tgeneral (input feeding)"), std::string::npos) << r.out;
  // The other commands say what the file is.
  expect_user_error(run_recur("predict --model '" + model + "' abc"), "use recur translate");
  expect_user_error(run_recur("generate --model '" + model + "'"), "use recur translate");
  expect_user_error(run_recur("translate --model '" + model + "' --nbest 3 --beam 2 abc"), "--nbest");
  expect_user_error(run_recur("translate --model '" + model + "'", "ab\xff\n"), "<stdin>:1: invalid UTF-8");
  expect_user_error(run_recur("translate --model '" + model + "' --max-line-bytes 10", "abc\nabcabcabcabc\n"),
                    "<stdin>:2: a line longer than --max-line-bytes allows (10)");
  // A file that claims a decoder of 2^30 units is refused before anything is allocated.
  {
    recur::SafeTensors st = recur::read_safetensors(model);
    st.metadata["decoder_hidden_size"] = "1073741824";
    const std::string hostile = tmp("hostile_s2s.st");
    recur::write_safetensors(hostile, st);
    expect_user_error(run_recur("translate --model '" + hostile + "' abc"), "(at most 16777216)");
    st.metadata["decoder_hidden_size"] = "1000000";
    recur::write_safetensors(hostile, st);
    expect_user_error(run_recur("translate --model '" + hostile + "' abc"), "more than RECUR_MAX_TENSOR_BYTES allows");
  }
  const std::string clf = tmp("clf_for_translate.st");
  ASSERT_EQ(run_recur("train --quiet --epochs 2 --save '" + clf + "'").code, 0);
  expect_user_error(run_recur("translate --model '" + clf + "' abc"), "a classifier, not a sequence-to-sequence model");
  expect_user_error(run_recur("eval --model '" + clf + "' --model '" + clf + "' --data '" + valid + "'"),
                    "only sequence-to-sequence models evaluate together");
}

// --members N: one file holding the models trained together, which recur
// info describes and recur translate and eval decode as one.
TEST(CliSeq2Seq, MembersTrainAsOneEnsembleFile) {
  const std::string train = tmp("mem_train.tsv"), valid = tmp("mem_valid.tsv"), model = tmp("mem.st");
  write(train, reversal_tsv(600, 3));
  write(valid, reversal_tsv(60, 4));
  Result r = run_recur("train --task seq2seq --train '" + train + "' --valid '" + valid +
                       "' --hidden 16 --embed 8 --epochs 2 --members 2 --save '" + model + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("epoch 2/2 | lr "), std::string::npos) << r.out;
  r = run_recur("info --model '" + model + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("members\t2 (an ensemble"), std::string::npos) << r.out;
  r = run_recur("translate --model '" + model + "' --beam 2", "abcd\nfed\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
  r = run_recur("eval --model '" + model + "' --data '" + valid + "' --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("\"pairs\":60"), std::string::npos) << r.out;
  expect_user_error(run_recur("train --task seq2seq --train '" + train + "' --members 0"), "--members must be in [1, 64]");
  expect_user_error(run_recur("train --epochs 1 --members 2"),
                    "--members: models trained together as an ensemble are sequence-to-sequence models");
}

TEST(CliSeq2Seq, BadPairsNameTheFileAndLine) {
  const std::string f = tmp("bad_pairs.tsv");
  const std::string ok = "ab\tB A\nabc\tC B A\n";
  write(f, ok + "abc C B A\n");
  expect_user_error(run_recur("train --task seq2seq --train '" + f + "'"), f + ":3:");
  write(f, ok + "\tC B A\n");
  expect_user_error(run_recur("train --task seq2seq --train '" + f + "'"), f + ":3: empty text before the tab");
  write(f, ok + "ab\xff\tB A\n");
  expect_user_error(run_recur("train --task seq2seq --train '" + f + "'"), f + ":3:");
  write(f, ok + std::string(3000, 'a') + "\tA\n");
  expect_user_error(run_recur("train --task seq2seq --train '" + f + "'"), f + ":3: the source has 3000 symbols, more than --max-length 1000");
  write(f, ok);
  expect_user_error(run_recur("train --task seq2seq --train '" + f + "' --attention luong"), "--attention");
  expect_user_error(run_recur("train --task seq2seq"), "--task seq2seq needs --train FILE");
}

// ---- hardening: what a user sees when things go wrong (library level: hardening_test.cpp) ----

namespace {

// The temporary files ("<name>.tmp-...") left beside `path`.
int temporaries_beside(const std::string& path) {
  const std::string cmd = "ls -a '" + path.substr(0, path.find_last_of('/')) + "' | grep -c -F '" +
                          path.substr(path.find_last_of('/') + 1) + ".tmp-' > '" + tmp("count") + "'";
  std::system(cmd.c_str());
  return std::atoi(slurp(tmp("count")).c_str());
}

bool all_finite(const recur::SafeTensors& st) {
  for (const auto& [name, t] : st.tensors)
    for (float x : t.data)
      if (!std::isfinite(x)) return false;
  return true;
}

// Sets an environment variable for the recur commands of one test.
struct Env {
  std::string name;
  Env(const std::string& n, const std::string& v) : name(n) { setenv(n.c_str(), v.c_str(), 1); }
  ~Env() { unsetenv(name.c_str()); }
};

}  // namespace

// A learning rate that diverges (the general step: minibatches of a relu RNN):
// the run stops at the first non-finite step with one line naming the step and
// the remedies, exits 1, and the checkpoint and best model written before it
// are left as they were (finite, and the checkpoint resumes to the same point).
TEST(CliHardening, DivergingLearningRateStopsAndKeepsTheLastGoodFiles) {
  const std::string model = tmp("diverge.st");
  const std::string flags = "train --train '" + kSrc + "/data/seed_train.tsv' --cell rnn_relu --init pytorch --batch 4 "
                            "--lr 1 --clip 0 --epochs 30 --log-every 1 --valid-fraction 0.2 --quiet --save '" + model + "'";
  const Result r = run_recur(flags);
  expect_user_error(r, "training diverged at step ");
  EXPECT_EQ(r.code, 1);
  for (const char* s : {"the loss is not finite (NaN or inf)", "a lower --lr (this run: 1)", "--clip-norm 5",
                        "--on-nonfinite skip", "Kept as they were: the last good checkpoint", "the model " })
    EXPECT_NE(r.err.find(s), std::string::npos) << s << "\n" << r.err;
  const recur::SafeTensors ckpt = recur::read_safetensors(model + ".ckpt");
  EXPECT_TRUE(all_finite(ckpt));
  EXPECT_NE(r.err.find("after step " + ckpt.metadata.at("checkpoint.steps") + ";"), std::string::npos) << r.err;
  EXPECT_TRUE(all_finite(recur::read_safetensors(model)));
  EXPECT_EQ(temporaries_beside(model), 0);
  EXPECT_NE(access((model + ".ckpt.lock").c_str(), F_OK), 0);  // released
  // Resuming the kept checkpoint with the same flags diverges at the same step.
  const Result again = run_recur(flags + " --resume '" + model + ".ckpt'");
  EXPECT_EQ(again.code, 1);
  const std::string at = r.err.substr(r.err.find("diverged at step "), 24);
  EXPECT_NE(again.err.find(at), std::string::npos) << again.err;
}

// The seed's fused step (batch 1, plain SGD) catches a non-finite loss before
// its update; with nothing saved yet the message says so, and no file appears.
TEST(CliHardening, DivergingSeedStepSavesNothing) {
  const std::string model = tmp("diverge_seed.st");
  std::remove(model.c_str());
  const Result r = run_recur("train --train '" + kSrc + "/data/seed_train.tsv' --valid-fraction 0.2 --cell rnn_relu "
                             "--lr 1000 --clip 0 --epochs 30 --quiet --save '" + model + "'");
  expect_user_error(r, "training diverged at step ");
  EXPECT_NE(r.err.find("Nothing was saved from this run."), std::string::npos) << r.err;
  EXPECT_NE(access(model.c_str(), F_OK), 0);
}

// --on-nonfinite skip: sequences long enough to overflow are skipped, the
// others train; the count is reported and the model saved.
TEST(CliHardening, SkipNonFiniteCountsAndGoesOn) {
  const std::string model = tmp("skip.st");
  const std::string flags = "train --cell rnn_relu --init pytorch --optimizer adam --lr 1e4 --clip 0 --epochs 10 --quiet "
                            "--save '" + model + "'";
  const Result stop = run_recur(flags);
  expect_user_error(stop, "training diverged at step");
  const Result skip = run_recur(flags + " --on-nonfinite skip");
  ASSERT_EQ(skip.code, 0) << skip.err;
  EXPECT_NE(skip.err.find("recur: skipped "), std::string::npos) << skip.err;
  EXPECT_NE(skip.err.find(" steps whose loss or gradients were not finite (--on-nonfinite skip; the first at step "),
            std::string::npos) << skip.err;
  EXPECT_TRUE(all_finite(recur::read_safetensors(model)));
  expect_user_error(run_recur("train --on-nonfinite maybe"), "--on-nonfinite");
}

// A save that does not fit (a file size limit here; a full tmpfs below): one
// line, exit 1, the previous files intact, no temporary file left. (The first
// save of a run with --save is its checkpoint, at the first log line.)
TEST(CliHardening, FileSizeLimitDuringASaveKeepsThePreviousFiles) {
  const std::string model = tmp("fsize.st");
  ASSERT_EQ(run_recur("train --epochs 5 --quiet --save '" + model + "'").code, 0);
  const std::string before = slurp(model), ckpt_before = slurp(model + ".ckpt");
  // (bash's ulimit -f counts 1024-byte blocks; the seed's checkpoint is about 45 KB)
  const std::string cmd = "ulimit -f 8 && '" + kBin + "' train --epochs 5 --seed 3 --quiet --save '" + model +
                          "' 2>'" + tmp("fsize.err") + "'";
  const int status = std::system(("bash -c \"" + cmd + "\"").c_str());
  EXPECT_EQ(WEXITSTATUS(status), 1);
  const std::string err = slurp(tmp("fsize.err"));
  EXPECT_EQ(lines(err), 1) << err;
  EXPECT_NE(err.find("recur: error: " + model + ".ckpt: cannot save: File too large (the file size limit was "
                     "reached); the previous file is unchanged"),
            std::string::npos)
      << err;
  EXPECT_EQ(slurp(model), before);
  EXPECT_EQ(slurp(model + ".ckpt"), ckpt_before);
  EXPECT_EQ(temporaries_beside(model), 0);
  EXPECT_EQ(temporaries_beside(model + ".ckpt"), 0);
}

TEST(CliHardening, FullDiskDuringASaveKeepsThePreviousModel) {
  const std::string dir = tmp("tmpfs");
  std::system(("mkdir -p '" + dir + "'").c_str());
  // A 256 KiB tmpfs in a private mount namespace (needs user namespaces).
  if (std::system(("unshare -rm sh -c \"mount -t tmpfs -o size=256k t '" + dir + "'\" 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (no user namespaces)";
  const std::string m = dir + "/m.st", script = tmp("tmpfs.sh");
  write(script, "set -u\nmount -t tmpfs -o size=256k t '" + dir + "'\n'" + kBin + "' train --epochs 5 --quiet --save '" +
                    m + "' 2>/dev/null || exit 10\ncp '" + m + "' '" + tmp("tmpfs_before.st") + "'\n" +
                    "head -c 1000000 /dev/zero > '" + dir + "/filler' 2>/dev/null\n'" + kBin +
                    "' train --epochs 5 --seed 2 --quiet --save '" + m + "' 2>'" + tmp("tmpfs.err") + "'\necho $? > '" +
                    tmp("tmpfs.rc") + "'\ncmp -s '" + m + "' '" + tmp("tmpfs_before.st") + "' && echo same > '" +
                    tmp("tmpfs.same") + "'\nls -a '" + dir + "' > '" + tmp("tmpfs.ls") + "'\n");
  ASSERT_EQ(std::system(("unshare -rm bash '" + script + "'").c_str()), 0);
  const std::string err = slurp(tmp("tmpfs.err"));
  EXPECT_EQ(slurp(tmp("tmpfs.rc")), "1\n") << err;
  EXPECT_EQ(lines(err), 1) << err;
  EXPECT_NE(err.find("No space left on device (the disk is full); the previous file is unchanged"), std::string::npos)
      << err;
  EXPECT_EQ(slurp(tmp("tmpfs.same")), "same\n");
  EXPECT_EQ(slurp(tmp("tmpfs.ls")).find(".tmp-"), std::string::npos) << slurp(tmp("tmpfs.ls"));
}

// Two runs on one checkpoint path: the second refuses to start; once the first
// is gone (even killed, its lock file left behind) a new run starts.
TEST(CliHardening, SecondRunOnTheSameCheckpointIsRefused) {
  const std::string model = tmp("locked.st");
  const pid_t first = spawn(split_args("train --epochs 100000 --quiet --save " + model));
  for (int i = 0; i < 500 && access((model + ".ckpt.lock").c_str(), F_OK) != 0; ++i) usleep(10000);
  ASSERT_EQ(access((model + ".ckpt.lock").c_str(), F_OK), 0) << "the first run never took its lock";
  const Result second = run_recur("train --epochs 5 --quiet --save '" + model + "'");
  expect_user_error(second, model + ".ckpt: another training run (pid " + std::to_string(first) +
                                ") is writing this checkpoint; wait for it to end, or give this run another "
                                "--checkpoint or --save");
  kill(first, SIGKILL);
  waitpid(first, nullptr, 0);
  EXPECT_EQ(access((model + ".ckpt.lock").c_str(), F_OK), 0);  // left by the killed run ...
  const Result third = run_recur("train --epochs 5 --quiet --save '" + model + "'");
  EXPECT_EQ(third.code, 0) << third.err;  // ... and no obstacle
}

// Hostile model files and data: refused with one line, before any large allocation.
TEST(CliHardening, HostileFilesAreOneLine) {
  const std::string model = tmp("hostile.st"), claims = tmp("claims.st");
  ASSERT_EQ(run_recur("train --epochs 1 --quiet --save '" + model + "'").code, 0);
  // A header that claims 4 GiB of tensor data, in a file of a few bytes.
  std::string bytes;
  const std::string header = R"({"x":{"dtype":"F32","shape":[1073741824],"data_offsets":[0,4294967296]}})";
  for (int i = 0; i < 8; ++i) bytes.push_back(char((header.size() >> (8 * i)) & 0xFF));
  write(claims, bytes + header + "tiny");
  expect_user_error(run_recur("predict --model '" + claims + "' good"),
                    claims + ": not a valid safetensors file: the header claims 4294967296 bytes of tensor data, "
                             "the file holds 4 bytes (truncated?)");
  // Not a file of known size: read as a stream, refused at its first bytes.
  expect_user_error(run_recur("info --model /dev/zero"), "/dev/zero: not a valid safetensors file: header is not JSON");
  {
    Env limit("RECUR_MAX_TENSOR_BYTES", "1K");
    expect_user_error(run_recur("predict --model '" + model + "' good"), "(RECUR_MAX_TENSOR_BYTES)");
    expect_user_error(run_recur("train --epochs 1 --quiet"), "more than RECUR_MAX_TENSOR_BYTES allows (1024)");
  }
  {
    Env bad("RECUR_MAX_TENSOR_BYTES", "much");
    expect_user_error(run_recur("predict --model '" + model + "' good"), "RECUR_MAX_TENSOR_BYTES='much'");
  }
  // A data line past --max-line-bytes names its line; 0 lifts the limit.
  const std::string blob = tmp("blob.tsv");
  write(blob, "good\tpos\n" + std::string(2 << 20, 'w') + "\tneg\nbad\tneg\n");
  expect_user_error(run_recur("train --epochs 1 --quiet --train '" + blob + "'"),
                    blob + ":2: a line of 2097156 bytes, more than --max-line-bytes allows (1048576)");
  EXPECT_EQ(run_recur("train --epochs 1 --quiet --max-line-bytes 0 --train '" + blob + "'").code, 0);
  expect_user_error(run_recur("predict --model '" + model + "' --max-line-bytes 10", "good\nthis line is long\n"),
                    "<stdin>:2: a line longer than --max-line-bytes allows (10)");
  // Text from a file with a line break in it stays on one line.
  const std::string jsonl = tmp("nl.jsonl");
  write(jsonl, "{\"text\": \"i am good\", \"label\": \"so\\nso\"}\n");
  expect_user_error(run_recur("eval --model '" + model + "' --data '" + jsonl + "'"), "unknown label 'so?so'");
}
