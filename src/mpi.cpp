// The processes mpirun started, as a recur::Communicator (include/recur/mpi.hpp).
//
// Every collective is MPI's nonblocking one (MPI_Iallreduce, MPI_Ibcast,
// MPI_Igather, MPI_Iallgather) tested in a loop against a deadline, because a
// blocking MPI_Allreduce waits forever for a process that died or hangs:
// mpirun notices a process that exits and ends the job, but not one that is
// stopped, swapped out or cut off, and other launchers notice less. Polled,
// the sum of a gradient buffer takes 1.7-2.7x as long as a blocking
// MPI_Allreduce of it on shared memory here (Open MPI's nonblocking
// collectives run other algorithms, moved on only by the tests): 0.3-1.2% of
// a training step of the benchmark's models instead of 0.2-0.5%
// (bench/mpi_bench.cpp, docs/distributed.md). The deadline is worth that.
#include "recur/mpi.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#ifdef RECUR_MPI
#define OMPI_SKIP_MPICXX 1   // the C interface only (MPI's C++ bindings are deprecated)
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace recur {

namespace {

// The first of two environment variables that holds a non-negative integer.
int env_int(const char* a, const char* b, int fallback) {
  for (const char* name : {a, b}) {
    const char* v = std::getenv(name);
    if (!v || !*v) continue;
    char* end = nullptr;
    const long x = std::strtol(v, &end, 10);
    if (*end == '\0' && x >= 0 && x <= INT_MAX) return int(x);
  }
  return fallback;
}

}  // namespace

int launched_ranks() { return std::max(1, env_int("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", 1)); }
int launched_rank() { return env_int("OMPI_COMM_WORLD_RANK", "PMI_RANK", 0); }

#ifndef RECUR_MPI

bool mpi_built() { return false; }

Communicator& mpi_world(double, std::function<bool()>) {
  throw Error("this recur was built without MPI (RECUR_MPI=OFF): install libopenmpi-dev "
              "(scripts/install-deps.sh) and rebuild to train one model on several processes");
}

void mpi_finalize() {}
void mpi_abort(int) {}

#else

bool mpi_built() { return true; }

namespace {

class MpiWorld final : public Communicator {
 public:
  explicit MpiWorld(double timeout) : timeout_(timeout) {
    MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
    // Failures come back as codes (and become DistributedError) rather than
    // aborting inside MPI with its own message.
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiWorld() override { MPI_Comm_free(&comm_); }
  void set_timeout(double t) { timeout_ = t; }
  void set_stopping(std::function<bool()> s) { stopping_ = std::move(s); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void sum(float* g, std::size_t n, double* x, std::size_t m, const char* what) override {
    sum_of(g, n, MPI_FLOAT, x, m, what);
  }
  void sum(double* g, std::size_t n, double* x, std::size_t m, const char* what) override {
    sum_of(g, n, MPI_DOUBLE, x, m, what);
  }

  void broadcast(double* x, std::size_t n, const char* what) override {
    MPI_Request r;
    check(MPI_Ibcast(x, count(n, what), MPI_DOUBLE, 0, comm_, &r), what);
    wait(&r, 1, what);
  }

  void gather(const float* mine, std::size_t n, float* all, const char* what) override {
    gather_of(mine, n, all, MPI_FLOAT, what);
  }
  void gather(const double* mine, std::size_t n, double* all, const char* what) override {
    gather_of(mine, n, all, MPI_DOUBLE, what);
  }

  void expect_same(std::uint64_t value, const char* what) override {
    std::vector<std::uint64_t> all(static_cast<std::size_t>(size_));
    MPI_Request r;
    check(MPI_Iallgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, comm_, &r), what);
    wait(&r, 1, what);
    for (int k = 0; k < size_; ++k)
      if (all[std::size_t(k)] != all[0])
        throw DistributedError("rank " + std::to_string(rank_) + ": " + what + " differ between rank 0 and rank " +
                               std::to_string(k));
  }

 private:
  template <class T>
  void sum_of(T* g, std::size_t n, MPI_Datatype type, double* x, std::size_t m, const char* what) {
    MPI_Request r[2];
    int k = 0;
    if (n) check(MPI_Iallreduce(MPI_IN_PLACE, g, count(n, what), type, MPI_SUM, comm_, &r[k++]), what);
    if (m) check(MPI_Iallreduce(MPI_IN_PLACE, x, count(m, what), MPI_DOUBLE, MPI_SUM, comm_, &r[k++]), what);
    wait(r, k, what);
  }

  template <class T>
  void gather_of(const T* mine, std::size_t n, T* all, MPI_Datatype type, const char* what) {
    MPI_Request r;
    const int c = count(n, what);
    check(MPI_Igather(mine, c, type, all, c, type, 0, comm_, &r), what);
    wait(&r, 1, what);
  }

  // Until every request is done, or the deadline. Ranks that do the same work
  // wait micro- to milliseconds for each other: the loop spins, and each test
  // is what moves Open MPI's nonblocking collectives on. Past a few
  // milliseconds (rank 0 writing a checkpoint, a slow machine) it yields the
  // core between tests.
  void wait(MPI_Request* r, int k, const char* what) {
    using Clock = std::chrono::steady_clock;
    const Clock::time_point start = Clock::now();
    double stop_seen = -1;  // when `stopping` turned true, seconds into the wait
    for (;;) {
      int done = 0;
      check(MPI_Testall(k, r, &done, MPI_STATUSES_IGNORE), what);
      if (done) return;
      const double waited = std::chrono::duration<double>(Clock::now() - start).count();
      // Stopped while waiting: every rank that was only asked to stop (Ctrl-C
      // on all) arrives within a step and the wait ends; past half a second
      // the others are gone (mpirun sends SIGTERM when a process dies).
      if (stop_seen < 0 && stopping_ && stopping_()) stop_seen = waited;
      if (stop_seen >= 0 && waited - stop_seen > 0.5)
        throw DistributedError("rank " + std::to_string(rank_) + ": stopped by a signal while waiting for the other "
                               "processes in " + what + " (the job is being ended: mpirun does so when a process dies)");
      if (waited > timeout_) {
        char secs[32];
        std::snprintf(secs, sizeof secs, "%g", timeout_);
        throw DistributedError("rank " + std::to_string(rank_) + ": no answer from the other processes for " + secs +
                               " s in " + what + " (a process has died or hangs; --mpi-timeout sets the limit)");
      }
      if (waited > 0.002) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }

  void check(int code, const char* what) const {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(code, text, &len);
    throw DistributedError("rank " + std::to_string(rank_) + ": MPI failed in " + what + ": " + std::string(text, std::size_t(len)));
  }

  static int count(std::size_t n, const char* what) {
    if (n > std::size_t(INT_MAX)) throw Error(std::string(what) + ": more than 2^31 values in one MPI message");
    return int(n);
  }

  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
  double timeout_;
  std::function<bool()> stopping_;
};

std::unique_ptr<MpiWorld>& world() {
  static std::unique_ptr<MpiWorld> w;
  return w;
}

bool mpi_active() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}

}  // namespace

Communicator& mpi_world(double timeout_seconds, std::function<bool()> stopping) {
  if (!(timeout_seconds > 0)) throw Error("--mpi-timeout must be positive");
  if (!world()) {
    int init = 0;
    MPI_Initialized(&init);
    if (!init) {
      // Only this thread calls MPI (BLAS threads never do).
      int provided = 0;
      if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        throw Error("MPI could not be initialised");
    }
    world() = std::make_unique<MpiWorld>(timeout_seconds);
  }
  world()->set_timeout(timeout_seconds);
  world()->set_stopping(std::move(stopping));
  return *world();
}

void mpi_finalize() {
  if (!mpi_active()) return;
  world().reset();
  MPI_Finalize();
}

void mpi_abort(int code) {
  if (!mpi_active()) return;
  MPI_Abort(MPI_COMM_WORLD, code);
}

#endif

}  // namespace recur
