// The recur command line end to end: the seed run, save -> predict/eval, and
// every user error as one clear line with a non-zero exit code.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

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
Result recur(const std::string& args, const std::string& input = "", const std::string& dir = ".") {
  const std::string in = tmp("stdin"), out = tmp("stdout"), err = tmp("stderr");
  write(in, input);
  const std::string cmd = "cd '" + dir + "' && '" + kBin + "' " + args + " <'" + in + "' >'" + out + "' 2>'" + err + "'";
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
  const Result r = recur("train", "", "/");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string want = slurp(kSrc + "/tests/fixtures/seed_log_numpy_seed1.txt");
  // The float32 default prints the numpy reference's float64 log for seed 1.
  EXPECT_EQ(r.out, want);
  EXPECT_NE(r.out.find("--- Epoch 1000\nTrain:\tLoss 0.003 | Accuracy: 1.000\nTest:\tLoss 0.015 | Accuracy: 1.000\n"),
            std::string::npos);
}

TEST(Cli, SameSeedSameLogBitForBit) {
  const Result a = recur("train --seed 4 --epochs 300"), b = recur("train --seed 4 --epochs 300");
  ASSERT_EQ(a.code, 0);
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, recur("train --seed 5 --epochs 300").out);
}

TEST(Cli, SavePredictEvalAgree) {
  const std::string model = tmp("seed.safetensors");
  const Result t = recur("train --save '" + model + "'");
  ASSERT_EQ(t.code, 0) << t.err;

  const Result p = recur("predict --model '" + model + "' --format jsonl 'i am good' 'this is not happy'");
  ASSERT_EQ(p.code, 0) << p.err;
  ASSERT_EQ(lines(p.out), 2);
  EXPECT_EQ(p.out.rfind("{\"label\":\"pos\",\"probabilities\":{\"neg\":", 0), 0u) << p.out;
  EXPECT_NE(p.out.find("\n{\"label\":\"neg\""), std::string::npos) << p.out;

  // stdin lines give the same answers as arguments.
  const Result s = recur("predict --model '" + model + "' --format jsonl", "i am good\nthis is not happy\n");
  EXPECT_EQ(s.out, p.out);

  // Unknown words: no crash, a count on stderr.
  const Result u = recur("predict --model '" + model + "' 'i am wonderful'");
  EXPECT_EQ(u.code, 0);
  EXPECT_EQ(lines(u.out), 1);
  EXPECT_NE(u.err.find("1 words in 1 texts were not in the model's vocabulary"), std::string::npos) << u.err;

  const Result e = recur("eval --model '" + model + "' --data '" + kSrc + "/data/seed_test.tsv' --format json");
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_EQ(e.out.rfind("{\"n\":20,\"loss\":0.01", 0), 0u) << e.out;
  EXPECT_NE(e.out.find("\"accuracy\":1.0,\"macro_f1\":1.0"), std::string::npos) << e.out;
}

TEST(Cli, TrainsOnUserFiles) {
  const std::string train = tmp("train.tsv"), test = tmp("test.tsv");
  write(train, "good\tyes\nbad\tno\nnot good\tno\nnot bad\tyes\n");
  write(test, "good\tyes\nnot good\tno\nsuper good\tyes\n");
  const Result r = recur("train --train '" + train + "' --test '" + test + "' --epochs 200 --hidden 16");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("3 unique words found\n--- Epoch 100\n", 0), 0u) << r.out;
  EXPECT_NE(r.err.find("1 words not in the training vocabulary"), std::string::npos) << r.err;
}

TEST(Cli, BadInputIsOneClearLine) {
  const std::string f = tmp("bad.tsv");
  write(f, "good\tpos\nthis line has no tab\n");
  expect_user_error(recur("train --train '" + f + "'"), f + ":2: expected text<TAB>label, found no tab");

  write(f, "");
  expect_user_error(recur("train --train '" + f + "'"), f + ": no records (empty file?)");

  write(f, "good\tpos\nbad \xC3\x28\tneg\n");
  expect_user_error(recur("train --train '" + f + "'"), f + ":2: invalid UTF-8 at byte 5");

  write(f, "good\tpos\ngood\tpos\n");
  expect_user_error(recur("train --train '" + f + "'"), "needs at least 2 distinct labels");

  expect_user_error(recur("train --train /nonexistent/data.tsv"), "/nonexistent/data.tsv");
  expect_user_error(recur("train --train '" + ::testing::TempDir() + "'"), "--train");  // a directory
  expect_user_error(recur("train --epochs 0"), "--epochs must be at least 1");
  expect_user_error(recur("train --hidden abc"), "--hidden");
  expect_user_error(recur("train --no-such-flag"), "--no-such-flag");
  expect_user_error(recur("frobnicate"), "frobnicate");

  const std::string model = tmp("m.safetensors");
  ASSERT_EQ(recur("train --epochs 1 --quiet --save '" + model + "'").code, 0);
  write(f, "i am good\tpos\ni am sad\tmaybe\n");
  expect_user_error(recur("eval --model '" + model + "' --data '" + f + "'"), f + ":2: unknown label 'maybe'");
  expect_user_error(recur("predict --model '" + model + "'", "fine\nbad \xFF byte\n"),
                    "<stdin>:2: invalid UTF-8 at byte 5");

  const std::string corrupt = tmp("corrupt.safetensors");
  write(corrupt, slurp(model).substr(0, 300));
  expect_user_error(recur("predict --model '" + corrupt + "' good"), corrupt + ": not a valid safetensors file");
  write(corrupt, "not a model at all");
  expect_user_error(recur("eval --model '" + corrupt + "' --data '" + f + "'"), corrupt + ": not a valid safetensors file");
}

TEST(Cli, HelpIsUseful) {
  const Result top = recur("--help");
  EXPECT_EQ(top.code, 0);
  for (const char* s : {"train", "predict", "eval"}) EXPECT_NE(top.out.find(s), std::string::npos);
  const Result t = recur("train --help");
  EXPECT_EQ(t.code, 0);
  for (const char* s : {"--train", "--test", "--epochs", "--hidden", "--lr", "--clip", "--seed", "--save", "seed experiment"})
    EXPECT_NE(t.out.find(s), std::string::npos) << s;
  EXPECT_NE(recur("predict --help").out.find("--format"), std::string::npos);
  EXPECT_NE(recur("eval --help").out.find("--data"), std::string::npos);
}
