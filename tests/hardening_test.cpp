// Hostile inputs and faults, library level: model and checkpoint headers that
// claim more than their files hold or than RECUR_MAX_TENSOR_BYTES, vocabularies
// the file format cannot hold, over-long data lines, a full disk or a file
// size limit during a save, stale temporary files, two runs on one checkpoint
// and non-finite training steps. (The same seen from the command line:
// CliHardening in cli_test.cpp; the parsers fuzzed: tests/fuzz/.)
#include <gtest/gtest.h>

#include "test_util.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "recur/checkpoint.hpp"
#include "recur/data.hpp"
#include "recur/error.hpp"
#include "recur/io.hpp"
#include "recur/trainer.hpp"

using namespace recur;
using recur_test::error_of;

namespace {

std::string tmp_path(const std::string& name) {
  return ::testing::TempDir() + "recur_hardening_test_" + std::to_string(::getpid()) + "_" + name;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void put_u64_le(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(char((v >> (8 * i)) & 0xFF));
}

// A safetensors file from a header written by hand and `data_bytes` zero bytes.
std::string handmade(const std::string& header, std::size_t data_bytes) {
  std::string out;
  put_u64_le(out, header.size());
  return out + header + std::string(data_bytes, '\0');
}

// Files in the directory of `path` whose names start with its own name + ".tmp-".
std::vector<std::string> temporaries_of(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  const std::string dir = path.substr(0, slash), prefix = path.substr(slash + 1) + ".tmp-";
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  while (const dirent* e = d ? ::readdir(d) : nullptr)
    if (std::string(e->d_name).rfind(prefix, 0) == 0) out.push_back(e->d_name);
  if (d) ::closedir(d);
  return out;
}

struct EnvGuard {  // sets an environment variable for one test
  std::string name;
  EnvGuard(const std::string& n, const std::string& v) : name(n) { ::setenv(n.c_str(), v.c_str(), 1); }
  ~EnvGuard() { ::unsetenv(name.c_str()); }
};

ModelInfo small_info() {
  ModelInfo info;
  for (const char* w : {"good", "bad"}) info.vocab.add(w);
  info.labels = {"neg", "pos"};
  info.config.vocab = 2;
  info.config.hidden = 3;
  return info;
}

}  // namespace

// ---- hostile sizes ---------------------------------------------------------------

TEST(HostileSizes, AHeaderClaimingMoreThanTheFileHoldsIsRefusedBeforeAllocating) {
  // 2^28 floats (1 GiB) claimed, 16 bytes present.
  const std::string header = R"({"big":{"dtype":"F32","shape":[268435456],"data_offsets":[0,1073741824]}})";
  const std::string path = tmp_path("claims.safetensors");
  { std::ofstream(path, std::ios::binary) << handmade(header, 16); }
  EXPECT_EQ(error_of([&] { read_safetensors(path); }),
            path + ": not a valid safetensors file: the header claims 1073741824 bytes of tensor data, the file "
                   "holds 16 bytes (truncated?)");
  // From a stream of unknown length (a pipe): the tensor grows only with the
  // bytes that arrive, and the short stream is the error.
  std::istringstream pipe(handmade(header, 16));
  EXPECT_NE(error_of([&] { read_safetensors(pipe, "<pipe>", kUnknownSize); })
                .find("<pipe>: not a valid safetensors file: tensor data does not cover"),
            std::string::npos);
  std::remove(path.c_str());
}

TEST(HostileSizes, TensorsPastRecurMaxTensorBytesAreRefused) {
  const std::string header = R"({"w":{"dtype":"F32","shape":[300],"data_offsets":[0,1200]}})";
  EXPECT_EQ(error_of([&] { decode_safetensors(handmade(header, 1200), "m"); }), "");
  {
    EnvGuard limit("RECUR_MAX_TENSOR_BYTES", "1K");
    EXPECT_EQ(error_of([&] { decode_safetensors(handmade(header, 1200), "m"); }),
              "m: not a valid safetensors file: tensor 'w': shape claims more than 1024 bytes (RECUR_MAX_TENSOR_BYTES)");
    // A model (one parameter buffer) past the limit is not built either.
    ModelConfig c;
    c.vocab = 200;
    c.hidden = 16;
    EXPECT_NE(error_of([&] { Model<float> m(c); }).find("more than RECUR_MAX_TENSOR_BYTES allows (1024)"),
              std::string::npos);
  }
  {
    EnvGuard bad("RECUR_MAX_TENSOR_BYTES", "lots");
    EXPECT_NE(error_of([] { max_tensor_bytes(); }).find("RECUR_MAX_TENSOR_BYTES='lots' is not a positive number"),
              std::string::npos);
  }
  EXPECT_EQ(max_tensor_bytes(), std::uint64_t(4) << 30);  // the default
  // Shapes whose product would wrap 64 bits are refused, not wrapped.
  const std::string wrap =
      R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}})";
  EXPECT_NE(error_of([&] { decode_safetensors(handmade(wrap, 0), "m"); }).find("shape claims more than"),
            std::string::npos);
}

TEST(HostileSizes, HeaderLengthPastTheFormatsLimitIsRefusedWithoutReadingIt) {
  // A sparse file of 200 MB whose first 8 bytes claim a 150 MB header.
  const std::string path = tmp_path("hugeheader.safetensors");
  std::string head;
  put_u64_le(head, 150000000);
  { std::ofstream(path, std::ios::binary) << head; }
  ASSERT_EQ(::truncate(path.c_str(), 200000000), 0);
  EXPECT_EQ(error_of([&] { read_safetensors(path); }),
            path + ": not a valid safetensors file: header length 150000000 is more than the format allows (100000000)");
  EXPECT_NE(error_of([&] { read_safetensors_metadata(path); }).find("more than the format allows"), std::string::npos);
  std::remove(path.c_str());
}

TEST(HostileSizes, TensorsMustTileTheDataSection) {
  const std::string overlap =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  EXPECT_NE(error_of([&] { decode_safetensors(handmade(overlap, 12), "m"); }).find("overlap another tensor"),
            std::string::npos);
  const std::string gap =
      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  EXPECT_NE(error_of([&] { decode_safetensors(handmade(gap, 12), "m"); }).find("leave a gap"), std::string::npos);
  // Names and values from the file never break the one-line message.
  const std::string newline = "{\"a\\nb\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}";
  const std::string e = error_of([&] { decode_safetensors(handmade(newline, 8), "m"); });
  EXPECT_NE(e.find("tensor 'a?b'"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);
}

TEST(HostileSizes, ModelMetadataCannotMakeTheLoaderAllocate) {
  ModelInfo info = small_info();
  Model<float> m(info.config);
  const SafeTensors good = model_to_safetensors(m, info);
  auto load = [&](const std::string& key, const std::string& value) {
    SafeTensors st = good;
    st.metadata[key] = value;
    return error_of([&] { model_from_safetensors(st, "m.safetensors"); });
  };
  // 2e9 hidden units: (2e9, 2e9) would be 16 EB; refused by arithmetic, not by an allocation.
  EXPECT_NE(load("hidden_size", "2000000000").find("m.safetensors: the model's rnn.weight_ih_l0 of shape (2000000000, 2)"),
            std::string::npos);
  SafeTensors lstm = good;
  lstm.metadata["cell"] = "lstm";
  lstm.metadata["hidden_size"] = "1000000000";  // 4 gates: 4e9 rows, past what the engine indexes
  EXPECT_EQ(error_of([&] { model_from_safetensors(lstm, "m.safetensors"); }),
            "m.safetensors: hidden size 1000000000 is too large for this cell");
  EXPECT_EQ(load("num_layers", "99999"), "m.safetensors: a model of 99999 layers (at most 1000)");
  EXPECT_EQ(load("num_layers", "2"), "m.safetensors: missing tensor rnn.weight_ih_l1");
  EXPECT_EQ(load("vocab", R"(["good","bad","good"])"), "m.safetensors: the vocabulary has the token 'good' twice");
  EXPECT_EQ(load("labels", R"(["pos","neg","pos"])"), "m.safetensors: the label 'pos' appears twice");
  EXPECT_EQ(error_of([&] { model_from_safetensors(good, "m.safetensors"); }), "");
}

TEST(HostileSizes, AVocabularyTheFormatCannotStoreIsRefused) {
  ModelInfo info = small_info();
  check_storable(info, "m.safetensors");  // fine
  // 6 tokens of 9 MB: 54 MB of JSON, stored as a string inside the JSON header.
  for (char c = 'a'; c < 'g'; ++c) info.vocab.add(std::string(9000000, c));
  EXPECT_NE(error_of([&] { check_storable(info, "m.safetensors"); })
                .find("m.safetensors: a vocabulary of 8 tokens and 2 labels needs about"),
            std::string::npos);
  // And the writer never writes a header past the limit.
  SafeTensors st;
  st.metadata["vocab"] = std::string(kMaxSafetensorsHeader, 'x');
  EXPECT_NE(error_of([&] { write_safetensors(tmp_path("never.safetensors"), st); })
                .find("cannot save: the header (vocabulary, labels, tensor names) would be"),
            std::string::npos);
  EXPECT_TRUE(temporaries_of(tmp_path("never.safetensors")).empty());
}

TEST(HostileSizes, DataLinesLongerThanTheLimitNameTheirLine) {
  LoadOptions o;
  o.max_line_bytes = 16;
  const std::string tsv = "short\tpos\n" + std::string(40, 'x') + "\tneg\nok\tneg\n";
  EXPECT_EQ(error_of([&] { parse_tsv(tsv, "d.tsv", o); }),
            "d.tsv:2: a line of 44 bytes, more than --max-line-bytes allows (16)");
  o.skip_bad = true;
  LoadReport report;
  EXPECT_EQ(parse_tsv(tsv, "d.tsv", o, &report).size(), 2u);
  EXPECT_EQ(report.skipped, 1);
  o.skip_bad = false;
  const std::string jsonl = "{\"text\":\"" + std::string(40, 'x') + "\",\"label\":1}";
  EXPECT_EQ(error_of([&] { parse_jsonl(jsonl + "\n", "d.jsonl", o); }),
            "d.jsonl:1: a line of " + std::to_string(jsonl.size()) + " bytes, more than --max-line-bytes allows (16)");
  // A CSV record (here an unclosed quote swallowing lines) is measured whole.
  const std::string record = "\"a\nb\nc\nd\ne\nf\ng\nh\",pos";
  const std::string csv = "text,label\n" + record + "\nfine,neg\n";
  EXPECT_EQ(error_of([&] { parse_csv(csv, "d.csv", o); }),
            "d.csv:2: a record of " + std::to_string(record.size()) + " bytes, more than --max-line-bytes allows (16)");
  o.max_line_bytes = 0;  // no limit
  EXPECT_EQ(parse_csv(csv, "d.csv", o).size(), 2u);
  // The default (1 MiB) is generous for text and stops a file with no line breaks.
  EXPECT_EQ(error_of([&] { parse_tsv(std::string(2 << 20, 'y') + "\tpos\n", "blob.tsv"); }),
            "blob.tsv:1: a line of 2097156 bytes, more than --max-line-bytes allows (1048576)");
  // Lines of a stream (predict's stdin): nothing past the limit is kept.
  std::istringstream in("one\r\n" + std::string(100, 'z') + "\nthree");
  std::string line;
  ASSERT_TRUE(read_line(in, line, 16));
  EXPECT_EQ(line, "one");
  EXPECT_EQ(error_of([&] { read_line(in, line, 16); }), "a line longer than --max-line-bytes allows (16)");
  EXPECT_LE(line.size(), 17u);
}

// Found by the TSV fuzzer: a line ending "\r\r\n" (a file converted to CRLF twice)
// gave the label "pos\r", a class of its own. Every CR at a line end is dropped.
TEST(FuzzFindings, EveryCarriageReturnAtALineEndIsDropped) {
  const auto rows = parse_tsv("good\tpos\r\r\nbad\tneg\r\nfine\tpos\n", "crcr.tsv");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].label, "pos");
  EXPECT_EQ(sorted_labels(rows), (std::vector<std::string>{"neg", "pos"}));
  std::istringstream in("text\r\r\n");
  std::string line;
  ASSERT_TRUE(read_line(in, line, 0));
  EXPECT_EQ(line, "text");
}

// ---- checkpoints -------------------------------------------------------------------

TEST(HostileCheckpoint, CountersAndStateOutOfPlaceAreRefused) {
  ModelInfo info = small_info();
  Model<float> m(info.config);
  Optimizer<float> opt(OptimizerOptions{}, m.weights().size());
  RunState<float> s;
  s.epoch = 2, s.position = 1, s.steps = 7;
  const std::string path = tmp_path("c.ckpt");
  save_checkpoint(path, m, info, opt, s);
  const SafeTensors good = read_safetensors(path);
  EXPECT_EQ(error_of([&] { checkpoint_from_safetensors(good, "c.ckpt"); }), "");
  auto with = [&](const std::string& key, const std::string& value) {
    SafeTensors st = good;
    st.metadata[key] = value;
    return error_of([&] { checkpoint_from_safetensors(st, "c.ckpt"); });
  };
  EXPECT_EQ(with("checkpoint.epoch", "0"), "c.ckpt: checkpoint metadata is corrupt");
  EXPECT_EQ(with("checkpoint.position", "-3"), "c.ckpt: checkpoint metadata is corrupt");
  EXPECT_EQ(with("checkpoint.steps", "99999999999999999999999"), "c.ckpt: checkpoint metadata is corrupt");
  EXPECT_EQ(with("checkpoint.rng", "not a generator"),
            "c.ckpt: the random generator's state in the checkpoint is corrupt");
  EXPECT_EQ(with("checkpoint.number.lr_scale", "7ff8000000000000"), "c.ckpt: checkpoint metadata is corrupt");  // NaN
  EXPECT_EQ(with("checkpoint.number.bad_evals", "7ff0000000000000"), "c.ckpt: checkpoint metadata is corrupt");  // inf
  SafeTensors st = good;
  st.tensors["state.h.l0"] = {{2, 5}, std::vector<float>(10)};  // H is 3
  EXPECT_EQ(error_of([&] { checkpoint_from_safetensors(st, "c.ckpt"); }),
            "c.ckpt: the carried state in the checkpoint does not match the model");
  std::remove(path.c_str());
}

// ---- disk faults -------------------------------------------------------------------

// Runs f in a child process under a file size limit of `limit` bytes (SIGXFSZ
// ignored, as the tool does); returns the recur::Error it threw ("" if none).
std::string under_file_size_limit(rlim_t limit, const std::function<void()>& f) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit r{limit, limit};
    ::setrlimit(RLIMIT_FSIZE, &r);
    const std::string e = error_of(f);
    if (::write(fds[1], e.data(), e.size()) < 0) _exit(2);
    _exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, std::size_t(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return out;
}

TEST(DiskFaults, ASaveThatHitsTheFileSizeLimitLeavesThePreviousFileAndNoTemporary) {
  const std::string path = tmp_path("full.safetensors");
  write_file_atomic(path, "previous contents");
  const std::string e = under_file_size_limit(4096, [&] { write_file_atomic(path, std::string(100000, 'n')); });
  EXPECT_EQ(e, path + ": cannot save: File too large (the file size limit was reached); the previous file is unchanged");
  EXPECT_EQ(slurp(path), "previous contents");
  EXPECT_TRUE(temporaries_of(path).empty());
  // A first save that fails leaves nothing at all.
  const std::string fresh = tmp_path("fresh.safetensors");
  EXPECT_NE(under_file_size_limit(4096, [&] { write_file_atomic(fresh, std::string(100000, 'n')); })
                .find("nothing was written"),
            std::string::npos);
  EXPECT_NE(::access(fresh.c_str(), F_OK), 0);
  EXPECT_TRUE(temporaries_of(fresh).empty());
  std::remove(path.c_str());
}

TEST(DiskFaults, StaleTemporariesOfTheSameFileAreRemovedAtTheNextSave) {
  const std::string path = tmp_path("stale.safetensors");
  const pid_t dead = ::fork();  // a pid that no longer runs
  if (dead == 0) _exit(0);
  ::waitpid(dead, nullptr, 0);
  const std::string old_form = path + ".tmp-123456";                                  // before pids were in names
  const std::string killed = path + ".tmp-" + std::to_string(dead) + "-42";           // its process is gone
  const std::string live = path + ".tmp-" + std::to_string(::getppid()) + "-7";       // its process runs
  const std::string other = tmp_path("other.safetensors") + ".tmp-123456";            // another file's
  for (const auto& f : {old_form, killed, live, other}) std::ofstream(f) << "half";
  write_file_atomic(path, "new");
  EXPECT_NE(::access(old_form.c_str(), F_OK), 0);
  EXPECT_NE(::access(killed.c_str(), F_OK), 0);
  EXPECT_EQ(::access(live.c_str(), F_OK), 0);
  EXPECT_EQ(::access(other.c_str(), F_OK), 0);
  EXPECT_EQ(slurp(path), "new");
  for (const auto& f : {live, other, path}) std::remove(f.c_str());
}

// ---- two runs, one checkpoint ---------------------------------------------------------

TEST(CheckpointLock, ASecondHolderIsRefusedAndACrashedOnesLockDoesNotBlock) {
  const std::string ckpt = tmp_path("locked.ckpt");
  {
    FileLock first(ckpt);
    EXPECT_EQ(error_of([&] { FileLock second(ckpt); }),
              ckpt + ": another training run (pid " + std::to_string(::getpid()) +
                  ") is writing this checkpoint; wait for it to end, or give this run another --checkpoint or --save");
  }
  EXPECT_NE(::access((ckpt + ".lock").c_str(), F_OK), 0);  // removed on release
  // A process that dies holding the lock leaves the file, not the lock.
  const pid_t child = ::fork();
  if (child == 0) {
    FileLock held(ckpt);
    _exit(0);  // no destructor: as if killed
  }
  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(::access((ckpt + ".lock").c_str(), F_OK), 0);
  EXPECT_EQ(error_of([&] { FileLock again(ckpt); }), "");
}

// ---- numeric failures ------------------------------------------------------------------

namespace {

// A model-free objective: one weight, loss (w - 3)^2 / 2, except that the
// steps listed return a NaN loss (or an inf gradient), as an overflowing batch would.
struct Flaky : Objective<double> {
  Buffer<double> w{0.0}, g{0.0};
  std::vector<long> bad_steps;
  bool bad_gradient = false;
  long calls = 0, state_resets = 0;
  void set_carried_state(const std::vector<Matrix<double>>& h, const std::vector<Matrix<double>>&) override {
    if (h.empty()) ++state_resets;
  }
  Buffer<double>& weights() override { return w; }
  Buffer<double>& grads() override { return g; }
  StepLoss forward_backward(const Batch&, Rng&) override {
    ++calls;
    StepLoss s;
    s.weight = 1, s.n = 1;
    const bool bad = std::find(bad_steps.begin(), bad_steps.end(), calls) != bad_steps.end();
    s.value = bad && !bad_gradient ? std::nan("") : 0.5 * (w[0] - 3) * (w[0] - 3);
    g[0] += bad && bad_gradient ? std::numeric_limits<double>::infinity() : w[0] - 3;
    return s;
  }
};

struct Steps : Batcher {  // n trivial batches an epoch
  std::size_t n;
  Batch b;
  explicit Steps(std::size_t n_) : n(n_) { b.B = 1, b.T = 1, b.ids = {0}, b.lengths = {1}, b.targets = {0}; }
  std::size_t steps_per_epoch() const override { return n; }
  int batch_size() const override { return 1; }
  void begin_epoch(Rng&) override {}
  const Batch& batch(std::size_t, int) override { return b; }
};

TrainerOptions flaky_options(bool skip) {
  TrainerOptions o;
  o.by_epoch = true;
  o.length = 3;  // epochs of 10 steps
  o.every = 1;
  o.checkpoints = true;
  o.step.lr = 0.1;
  o.step.clip = 0;
  o.skip_nonfinite = skip;
  return o;
}

}  // namespace

TEST(NonFinite, StopsAtTheFirstBadStepWithTheWeightsItSawAndWritesNothingFromIt) {
  for (const bool bad_gradient : {false, true}) {
    Flaky f;
    f.bad_steps = {14};
    f.bad_gradient = bad_gradient;
    Steps batches(10);
    Optimizer<double> opt(OptimizerOptions{}, 1);
    Rng rng(1);
    std::vector<long> checkpoints;
    long evaluations = 0;
    double w_before = 0;
    TrainerHooks<double> hooks;
    hooks.checkpoint = [&](const RunState<double>& s) { checkpoints.push_back(s.steps); };
    hooks.on_evaluation = [&](const Evaluation&) { return ++evaluations, true; };
    hooks.on_step = [&](const StepEvent& e) { return e.step == 13 ? (w_before = f.w[0], true) : true; };
    const TrainResult r = run_training<double>(f, batches, opt, flaky_options(false), rng, {}, hooks);
    EXPECT_TRUE(r.diverged);
    EXPECT_EQ(r.diverged_at, 14);
    EXPECT_EQ(r.epoch, 2);
    EXPECT_EQ(r.position, 4);
    EXPECT_EQ(r.diverged_why, bad_gradient ? "a gradient is not finite (NaN or inf)" : "the loss is not finite (NaN or inf)");
    EXPECT_EQ(f.w[0], w_before);  // the bad step applied nothing
    EXPECT_EQ(checkpoints, (std::vector<long>{10}));  // the last good one, from epoch 1
    EXPECT_EQ(evaluations, 1);
  }
}

TEST(NonFinite, SkipCountsTheBadStepsAndTrainsOn) {
  Flaky f;
  f.bad_steps = {3, 14, 15};
  Steps batches(10);
  Optimizer<double> opt(OptimizerOptions{}, 1);
  Rng rng(1);
  std::vector<Evaluation> evals;
  TrainerHooks<double> hooks;
  hooks.on_evaluation = [&](const Evaluation& e) { return evals.push_back(e), true; };
  const TrainResult r = run_training<double>(f, batches, opt, flaky_options(true), rng, {}, hooks);
  EXPECT_FALSE(r.diverged);
  EXPECT_EQ(r.skipped_steps, 3);
  EXPECT_EQ(r.first_skipped, 3);
  EXPECT_EQ(r.steps_run, 30);
  EXPECT_EQ(opt.steps(), 27);  // updates taken
  EXPECT_EQ(f.state_resets, 3);  // a skipped step's carried state is not carried on
  ASSERT_EQ(evals.size(), 3u);
  EXPECT_EQ(evals[0].train.n, 9);  // the skipped step is not in the running numbers
  EXPECT_TRUE(std::isfinite(evals[1].train.loss));
  EXPECT_NEAR(f.w[0], 3.0, 0.5);  // it still learned
}

TEST(NonFinite, SkippingEveryStepOfAnEpochStops) {
  Flaky f;
  for (long k = 5; k <= 30; ++k) f.bad_steps.push_back(k);
  Steps batches(10);
  Optimizer<double> opt(OptimizerOptions{}, 1);
  Rng rng(1);
  const TrainResult r = run_training<double>(f, batches, opt, flaky_options(true), rng);
  EXPECT_TRUE(r.diverged);
  EXPECT_EQ(r.diverged_at, 14);
  EXPECT_EQ(r.diverged_why,
            "10 steps in a row were skipped (the loss is not finite (NaN or inf)), so skipping does not recover this run");
}

TEST(NonFinite, WeightsThatBecameNonFiniteAreNeverEvaluatedOrCheckpointed) {
  // A finite gradient so large that the update overflows: the weights become
  // inf while every loss and gradient the step saw was finite.
  Flaky f;
  f.w = {1e300};
  Steps batches(4);
  TrainerOptions o = flaky_options(false);
  o.step.lr = 1e10;
  Optimizer<double> opt(OptimizerOptions{}, 1);
  Rng rng(1);
  long written = 0;
  TrainerHooks<double> hooks;
  hooks.checkpoint = [&](const RunState<double>&) { ++written; };
  const TrainResult r = run_training<double>(f, batches, opt, o, rng, {}, hooks);
  EXPECT_TRUE(r.diverged);
  EXPECT_EQ(written, 0);
}
