// `mpirun -np 2 recur train` end to end (built only with RECUR_MPI): one model
// trained by two processes equals one process with twice the batch, runs
// repeat bit for bit, checkpoints resume with any number of processes that
// takes the same step, and a job whose process dies or hangs ends with a
// message saying how to go on — and goes on, from the last checkpoint, to the
// model an uninterrupted run makes. (tests/parallel_test.cpp checks the same
// logic with threads, in every build.)
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <thread>

#include "recur/io.hpp"

namespace {

const std::string kBin = RECUR_BIN;
const std::string kMpirun = RECUR_MPIEXEC;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "recur_mpi_test_" + std::to_string(::getpid()) + "_" + name;
}

void write(const std::string& path, const std::string& content) { std::ofstream(path, std::ios::binary) << content; }

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// mpirun -np N (every process one BLAS thread; as root, which CI is, mpirun
// must be told it may; no single-copy shared memory, which containers without
// ptrace rights refuse) recur ARGS. N = 0: recur alone.
std::vector<std::string> command(int np, const std::string& args) {
  std::vector<std::string> c;
  if (np > 0) {
    c = {kMpirun, "--oversubscribe", "-np", std::to_string(np), "-x", "OPENBLAS_NUM_THREADS=1",
         "--mca", "btl_vader_single_copy_mechanism", "none"};
    if (geteuid() == 0) c.push_back("--allow-run-as-root");
  }
  c.push_back(kBin);
  for (const auto& w : words(args)) c.push_back(w);
  return c;
}

struct Job {
  pid_t pid = -1;
  std::string out, err;  // files
};

Job start(int np, const std::string& args, const std::string& name) {
  Job j;
  j.out = tmp(name + ".out");
  j.err = tmp(name + ".err");
  const std::vector<std::string> c = command(np, args);
  j.pid = fork();
  if (j.pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : c) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (!freopen(j.out.c_str(), "w", stdout) || !freopen(j.err.c_str(), "w", stderr)) _exit(126);
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return j;
}

struct Result {
  int code = -1;  // exit status; 128 + signal; -1: still running at the deadline (then killed)
  std::string out, err;
};

Result finish(const Job& j, double limit_seconds = 120) {
  const auto t0 = std::chrono::steady_clock::now();
  int status = 0;
  Result r;
  for (;;) {
    const pid_t w = waitpid(j.pid, &status, WNOHANG);
    if (w == j.pid) {
      r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > limit_seconds) {
      kill(j.pid, SIGKILL);
      waitpid(j.pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  r.out = slurp(j.out);
  r.err = slurp(j.err);
  return r;
}

Result run(int np, const std::string& args) { return finish(start(np, args, "run")); }

// The process of rank `rank` that mpirun `parent` started (its environment says so).
pid_t rank_pid(pid_t parent, int rank) {
  DIR* d = opendir("/proc");
  pid_t found = -1;
  for (dirent* e; d && (e = readdir(d)) != nullptr;) {
    const pid_t pid = pid_t(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::istringstream stat(slurp("/proc/" + std::to_string(pid) + "/stat"));
    std::string comm, state;
    pid_t self = 0, ppid = 0;
    stat >> self >> comm >> state >> ppid;
    if (ppid != parent) continue;
    const std::string env = slurp("/proc/" + std::to_string(pid) + "/environ");
    if (env.find(std::string("OMPI_COMM_WORLD_RANK=") + std::to_string(rank) + '\0') != std::string::npos) found = pid;
  }
  if (d) closedir(d);
  return found;
}

bool wait_for_file(const std::string& path, double seconds) {
  const auto t0 = std::chrono::steady_clock::now();
  while (!std::ifstream(path)) {
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > seconds) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// Every tensor of two model files within 1e-5 of its largest magnitude.
void expect_close(const std::string& a_path, const std::string& b_path) {
  const recur::SafeTensors a = recur::read_safetensors(a_path), b = recur::read_safetensors(b_path);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, ta] : a.tensors) {
    const auto& tb = b.tensors.at(name);
    ASSERT_EQ(ta.data.size(), tb.data.size()) << name;
    float largest = 0, diff = 0;
    for (std::size_t i = 0; i < ta.data.size(); ++i) {
      largest = std::max(largest, std::abs(ta.data[i]));
      diff = std::max(diff, std::abs(ta.data[i] - tb.data[i]));
    }
    EXPECT_LE(diff, 1e-5f * largest) << name << ": largest " << largest << ", differs by " << diff;
  }
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

std::string lm_text() {
  const std::string path = tmp("text.txt");
  std::string t;
  for (int i = 0; i < 80; ++i) t += "the cat sat on the mat; the dog sat on the log, " + std::to_string(i % 7) + ".\n";
  write(path, t);
  return path;
}

const std::string kClassify =
    "train --cell gru --hidden 16 --embed 8 --init pytorch --optimizer momentum --lr 0.05 --clip 0 --log-every 4";

}  // namespace

TEST(Mpi, ClassifierTwoProcessesEqualOneWithTwiceTheBatchAndRepeatBitForBit) {
  const std::string one = tmp("c1.st"), two = tmp("c2.st"), again = tmp("c2b.st");
  const Result r1 = run(0, kClassify + " --epochs 12 --batch 8 --save " + one);
  ASSERT_EQ(r1.code, 0) << r1.err;
  const Result r2 = run(2, kClassify + " --epochs 12 --batch 4 --save " + two);
  ASSERT_EQ(r2.code, 0) << r2.err;
  expect_close(one, two);
  // Rank 0 alone prints: the log once, with the whole batch's numbers.
  EXPECT_EQ(count(r2.out, "--- Epoch 12\n"), 1u) << r2.out;
  EXPECT_EQ(count(r2.out, "unique words found"), 1u) << r2.out;
  EXPECT_EQ(count(r2.err, "saved the model"), 1u) << r2.err;
  const Result r3 = run(2, kClassify + " --epochs 12 --batch 4 --save " + again);
  ASSERT_EQ(r3.code, 0) << r3.err;
  EXPECT_EQ(slurp(two), slurp(again));
  EXPECT_EQ(r2.out, r3.out);
}

TEST(Mpi, LanguageModelTwoProcessesEqualOneWithTwiceTheStreams) {
  const std::string text = lm_text(), one = tmp("l1.st"), two = tmp("l2.st");
  const std::string flags = "train --task lm --text " + text +
                            " --valid-fraction 0.1 --hidden 24 --seq-len 12 --steps 40 --eval-every 20 --quiet";
  ASSERT_EQ(run(0, flags + " --batch 8 --save " + one).code, 0);
  const Result r = run(2, flags + " --batch 4 --save " + two);
  ASSERT_EQ(r.code, 0) << r.err;
  expect_close(one, two);
  // With dropout (each rank its own masks) two runs are still one run.
  const std::string d1 = tmp("ld1.st"), d2 = tmp("ld2.st");
  ASSERT_EQ(run(2, flags + " --dropout 0.2 --batch 4 --save " + d1).code, 0);
  ASSERT_EQ(run(2, flags + " --dropout 0.2 --batch 4 --save " + d2).code, 0);
  EXPECT_EQ(slurp(d1), slurp(d2));
  // Gradient accumulation beside the processes: 2 x 2 parts of 2 streams.
  const std::string acc = tmp("lacc.st");
  ASSERT_EQ(run(2, flags + " --batch 2 --accumulate 2 --save " + acc).code, 0);
  expect_close(one, acc);
}

// A checkpoint records the sequences per step, not the processes: a run of 2
// processes x --batch 4 goes on as 1 process x --batch 8 (and the other way),
// ending where the 2-process run ends; another step size is refused.
TEST(Mpi, CheckpointsResumeWithAnyProcessCountTakingTheSameStep) {
  const std::string text = lm_text();
  const std::string lm = "train --task lm --text " + text + " --hidden 24 --seq-len 12 --eval-every 10 --quiet";
  const std::string part = tmp("r_part.st"), whole = tmp("r_whole.st"), one = tmp("r_one.st");
  ASSERT_EQ(run(2, lm + " --batch 4 --steps 30 --save " + part).code, 0);
  ASSERT_EQ(run(2, lm + " --batch 4 --steps 60 --save " + whole).code, 0);
  const Result r = run(0, lm + " --batch 8 --steps 60 --save " + one + " --resume " + part + ".ckpt");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_close(whole, one);
  const Result refused = run(0, lm + " --batch 4 --steps 60 --resume " + part + ".ckpt");
  EXPECT_EQ(refused.code, 1);
  EXPECT_EQ(count(refused.err, "\n"), 1u) << refused.err;
  EXPECT_NE(refused.err.find("written by a run of 8 sequences per step (2 processes), this run takes 4"),
            std::string::npos)
      << refused.err;

  const std::string cp = tmp("rc_part.st"), cw = tmp("rc_whole.st"), c2 = tmp("rc_two.st");
  ASSERT_EQ(run(0, kClassify + " --batch 8 --epochs 6 --save " + cp).code, 0);
  ASSERT_EQ(run(0, kClassify + " --batch 8 --epochs 12 --save " + cw).code, 0);
  const Result rc = run(2, kClassify + " --batch 4 --epochs 12 --save " + c2 + " --resume " + cp + ".ckpt");
  ASSERT_EQ(rc.code, 0) << rc.err;
  expect_close(cw, c2);
}

// A rank killed mid-run: mpirun ends the job (rank 0 says where the last
// checkpoint is), and --resume continues to the model an uninterrupted run
// ends with, byte for byte. Then a rank asked to stop (SIGTERM): all stop
// together at a checkpoint, and --resume again ends with that model.
TEST(Mpi, KilledRankEndsTheJobAndResumeFinishesTheRun) {
  const std::string text = lm_text(), full = tmp("k_full.st"), part = tmp("k_part.st");
  const std::string flags = "train --task lm --text " + text +
                            " --hidden 16 --batch 4 --seq-len 8 --steps 800 --eval-every 400 --checkpoint-every 40 "
                            "--quiet";
  ASSERT_EQ(run(2, flags + " --save " + full).code, 0);
  std::remove((part + ".ckpt").c_str());
  const Job job = start(2, flags + " --save " + part, "killed");
  ASSERT_TRUE(wait_for_file(part + ".ckpt", 60)) << "no checkpoint written";
  const pid_t victim = rank_pid(job.pid, 1);
  ASSERT_GT(victim, 0) << "rank 1 not found";
  kill(victim, SIGKILL);
  const Result r = finish(job, 30);
  ASSERT_NE(r.code, -1) << "the job did not end after its rank 1 was killed";
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("process rank 1"), std::string::npos) << r.err;  // mpirun's word
  EXPECT_NE(r.err.find("continue with --resume " + part + ".ckpt"), std::string::npos) << r.err;
  const Result resumed = run(2, flags + " --save " + part + " --resume " + part + ".ckpt");
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(slurp(full), slurp(part));

  // A stop asked of one rank only (SIGTERM to rank 1, as a batch system's
  // cancel or Ctrl-C reach each process): the ranks agree in the next step's
  // sum to stop after it, rank 0 writes the checkpoint and says so, and the
  // run goes on from it to the same model.
  const std::string stopped = tmp("k_stopped.st");
  std::remove((stopped + ".ckpt").c_str());
  const Job job2 = start(2, flags + " --save " + stopped, "interrupted");
  ASSERT_TRUE(wait_for_file(stopped + ".ckpt", 60)) << "no checkpoint written";
  const pid_t rank1 = rank_pid(job2.pid, 1);
  ASSERT_GT(rank1, 0) << "rank 1 not found";
  kill(rank1, SIGTERM);
  const Result r2 = finish(job2, 30);
  ASSERT_NE(r2.code, -1) << "the job did not end after SIGTERM";
  EXPECT_NE(r2.err.find("recur: interrupted at "), std::string::npos) << r2.err;
  EXPECT_NE(r2.err.find("(continue with --resume " + stopped + ".ckpt)"), std::string::npos) << r2.err;
  const Result resumed2 = run(2, flags + " --save " + stopped + " --resume " + stopped + ".ckpt");
  ASSERT_EQ(resumed2.code, 0) << resumed2.err;
  EXPECT_EQ(slurp(full), slurp(stopped));
}

// A rank that hangs (stopped, not dead: mpirun does not notice): the others
// give up after --mpi-timeout, say so, and the job ends.
TEST(Mpi, HungRankEndsTheJobAfterTheTimeout) {
  const std::string text = lm_text(), part = tmp("h_part.st");
  std::remove((part + ".ckpt").c_str());
  const Job job = start(2,
                        "train --task lm --text " + text +
                            " --hidden 16 --batch 4 --seq-len 8 --steps 100000 --checkpoint-every 50 --quiet "
                            "--mpi-timeout 2 --save " + part,
                        "hung");
  ASSERT_TRUE(wait_for_file(part + ".ckpt", 60)) << "no checkpoint written";
  const pid_t victim = rank_pid(job.pid, 1);
  ASSERT_GT(victim, 0) << "rank 1 not found";
  kill(victim, SIGSTOP);
  const auto t0 = std::chrono::steady_clock::now();
  const Result r = finish(job, 30);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (r.code == -1) kill(victim, SIGKILL);
  ASSERT_NE(r.code, -1) << "the job did not end after its rank 1 hung";
  EXPECT_NE(r.code, 0);
  EXPECT_GE(took, 1.5);
  EXPECT_NE(r.err.find("rank 0: no answer from the other processes for 2 s"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("continue with --resume " + part + ".ckpt"), std::string::npos) << r.err;
  EXPECT_NO_THROW(recur::read_safetensors(part + ".ckpt"));
}

// --preset g2p runs two ranks on threads; under mpirun the processes are the
// ranks instead, while --threads written out is refused there.
TEST(Mpi, APresetsThreadsGiveWayToTheProcesses) {
  const std::string data = tmp("g2p.tsv"), model = tmp("g2p.st");
  write(data, "cat\tK AE T\ndog\tD AO G\nbird\tB ER D\nfish\tF IH SH\ncow\tK AW\nhen\tHH EH N\n");
  const std::string small = " --train " + data + " --valid " + data + " --epochs 1 --hidden 16 --embed 8 --save " + model;
  const Result preset = run(2, "train --preset g2p" + small);
  EXPECT_EQ(preset.code, 0) << preset.err;
  EXPECT_FALSE(slurp(model).empty());
  const Result both = run(2, "train --preset g2p --threads 2" + small);
  EXPECT_NE(both.code, 0);
  EXPECT_EQ(count(both.err, "--threads runs the ranks of one process; under mpirun, leave it out"), 1u) << both.err;
  std::remove(data.c_str()), std::remove(model.c_str());
}

TEST(Mpi, UserErrorsAreOneLineAndOnlyTrainRunsOnSeveralProcesses) {
  const Result bad = run(2, "train --hidden 0");
  EXPECT_NE(bad.code, 0);
  EXPECT_EQ(count(bad.err, "recur: error: --hidden must be at least 1\n"), 1u) << bad.err;
  const Result other = run(2, "info --model nothing.st");
  EXPECT_NE(other.code, 0);
  EXPECT_EQ(count(other.err, "recur: error: only recur train runs on several processes; run recur info without mpirun"),
            1u)
      << other.err;
}
