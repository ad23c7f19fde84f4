// recur/threads.hpp — the ranks of a data-parallel run as threads of one
// process (`recur train --threads N`): what `mpirun -np N` does with N
// processes, without MPI. Each rank trains its own replica of the model on its
// share of every batch with one BLAS thread; the ranks sum their gradients
// through shared memory before every optimizer step, so each core does all of
// the work for its sequences (the products, the gate math, the optimizer)
// rather than waiting while one thread does the steps too small to share.
#pragma once

#include <functional>
#include <memory>

#include "recur/communicator.hpp"

namespace recur {

class ThreadTeam {
 public:
  explicit ThreadTeam(int n);  // n >= 1 ranks
  ~ThreadTeam();
  ThreadTeam(const ThreadTeam&) = delete;
  ThreadTeam& operator=(const ThreadTeam&) = delete;
  int size() const;

  // Runs f(rank's communicator) for every rank, each on a thread of its own
  // (rank 0 on the calling thread), and returns when all have. When a rank
  // throws, the others' collectives throw DistributedError instead of waiting
  // for it; the first exception that is not such a consequence is rethrown.
  // The communicators' sums give every rank the same bits (each element is
  // summed once, in rank order).
  void run(const std::function<void(Communicator&)>& f);

 private:
  struct Shared;
  class Rank;
  std::unique_ptr<Shared> shared_;
};

}  // namespace recur
