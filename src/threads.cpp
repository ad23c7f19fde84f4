// Ranks as threads (include/recur/threads.hpp).
#include "recur/threads.hpp"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace recur {

// What the ranks share: one slot per rank for the exchange in progress, and a
// barrier that a failed rank breaks.
struct ThreadTeam::Shared {
  explicit Shared(int n) : n(n), slots(std::size_t(n)), extra(std::size_t(n)), values(std::size_t(n)) {}
  const int n;
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  long generation = 0;
  bool broken = false;
  std::vector<void*> slots, extra;  // each rank's buffers in the exchange in progress
  std::vector<std::uint64_t> values;

  void barrier() {
    std::unique_lock<std::mutex> lock(mu);
    if (broken) throw DistributedError("another thread of the run failed");
    const long mine = generation;
    if (++arrived == n) {
      arrived = 0;
      ++generation;
      cv.notify_all();
      return;
    }
    cv.wait(lock, [&] { return generation != mine || broken; });
    if (generation == mine) throw DistributedError("another thread of the run failed");
  }
  void abort() {
    std::lock_guard<std::mutex> lock(mu);
    broken = true;
    cv.notify_all();
  }
};

// One rank. Each exchange: every rank publishes its buffers, a barrier, the
// reads, a barrier, the writes, a barrier — so no rank's buffer is written
// while another reads it, and none returns before its own is complete.
class ThreadTeam::Rank : public Communicator {
 public:
  Rank(Shared& s, int rank) : s_(s), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return s_.n; }
  void sum(float* g, std::size_t n, double* x, std::size_t m, const char*) override { sum_of(g, n, x, m); }
  void sum(double* g, std::size_t n, double* x, std::size_t m, const char*) override { sum_of(g, n, x, m); }
  void broadcast(double* x, std::size_t n, const char*) override {
    s_.slots[std::size_t(rank_)] = x;
    s_.barrier();
    const double* from = static_cast<const double*>(s_.slots[0]);
    std::vector<double> rank0(from, from + n);
    s_.barrier();
    std::copy(rank0.begin(), rank0.end(), x);
  }
  void gather(const float* mine, std::size_t n, float* all, const char*) override { gather_of(mine, n, all); }
  void gather(const double* mine, std::size_t n, double* all, const char*) override { gather_of(mine, n, all); }
  void expect_same(std::uint64_t value, const char* what) override {
    s_.values[std::size_t(rank_)] = value;
    s_.barrier();
    const bool same = std::all_of(s_.values.begin(), s_.values.end(), [&](std::uint64_t v) { return v == s_.values[0]; });
    s_.barrier();
    if (!same) throw DistributedError(std::string(what) + " differ between the threads");
  }

 private:
  // Rank r sums slice r of every rank's buffers (in rank order) and writes the
  // sum back into each of them, a block at a time: each element summed once,
  // the same bits everywhere, the work split between the ranks. No other rank
  // touches slice r, so one barrier before and one after are all it needs;
  // the few numbers x are read by every rank and written after the second.
  template <class T>
  void sum_of(T* g, std::size_t n, double* x, std::size_t m) {
    s_.slots[std::size_t(rank_)] = g;
    s_.extra[std::size_t(rank_)] = x;
    s_.barrier();
    const std::size_t N = std::size_t(s_.n), r = std::size_t(rank_);
    std::vector<double> xs(m, 0.0);
    for (std::size_t k = 0; k < N; ++k)
      for (std::size_t i = 0; i < m; ++i) xs[i] += static_cast<const double*>(s_.extra[k])[i];
    constexpr std::size_t block = 1024;  // (4-8 KiB: stays in L1 between the reads and the writes)
    T part[block];
    for (std::size_t from = n * r / N, to = n * (r + 1) / N; from < to; from += block) {
      const std::size_t len = std::min(block, to - from);
      const T* p0 = static_cast<const T*>(s_.slots[0]) + from;
      std::copy(p0, p0 + len, part);
      for (std::size_t k = 1; k < N; ++k) {
        const T* p = static_cast<const T*>(s_.slots[k]) + from;
        for (std::size_t i = 0; i < len; ++i) part[i] += p[i];
      }
      for (std::size_t k = 0; k < N; ++k) std::copy(part, part + len, static_cast<T*>(s_.slots[k]) + from);
    }
    s_.barrier();
    std::copy(xs.begin(), xs.end(), x);
  }
  template <class T>
  void gather_of(const T* mine, std::size_t n, T* all) {
    s_.slots[std::size_t(rank_)] = const_cast<T*>(mine);
    s_.barrier();
    if (rank_ == 0)
      for (int k = 0; k < s_.n; ++k) {
        const T* p = static_cast<const T*>(s_.slots[std::size_t(k)]);
        std::copy(p, p + n, all + std::size_t(k) * n);
      }
    s_.barrier();
  }

  Shared& s_;
  const int rank_;
};

ThreadTeam::ThreadTeam(int n) : shared_(std::make_unique<Shared>(std::max(1, n))) {}
ThreadTeam::~ThreadTeam() = default;
int ThreadTeam::size() const { return shared_->n; }

void ThreadTeam::run(const std::function<void(Communicator&)>& f) {
  Shared& s = *shared_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.broken = false, s.arrived = 0;
  }
  std::vector<std::exception_ptr> errors(std::size_t(s.n));
  std::vector<char> consequence(std::size_t(s.n), 0);  // failed after another rank had (its DistributedError)
  auto rank = [&](int r) {
    Rank comm(s, r);
    try {
      f(comm);
    } catch (...) {
      errors[std::size_t(r)] = std::current_exception();
      {
        std::lock_guard<std::mutex> lock(s.mu);
        consequence[std::size_t(r)] = s.broken ? 1 : 0;
      }
      s.abort();
    }
  };
  std::vector<std::thread> threads;
  for (int r = 1; r < s.n; ++r) threads.emplace_back(rank, r);
  rank(0);
  for (auto& t : threads) t.join();
  for (int r = 0; r < s.n; ++r)
    if (errors[std::size_t(r)] && !consequence[std::size_t(r)]) std::rethrow_exception(errors[std::size_t(r)]);
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace recur
