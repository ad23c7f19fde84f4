// recur/communicator.hpp — the processes of a data-parallel run, as the trainer
// sees them: N ranks that each train on their share of every batch and agree,
// through a few collectives, on one model.
//
// No MPI types here: the MPI implementation is in the separate library
// recur::mpi (recur/mpi.hpp, src/mpi.cpp), so a program that never trains on
// several processes links no MPI. docs/distributed.md has the design.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "recur/error.hpp"

namespace recur {

// A collective that could not finish: another process died or hangs (no
// answer within the communicator's timeout), or the processes disagree. Every
// rank that sees one reports it; the job cannot go on.
struct DistributedError : Error {
  using Error::Error;
};

// Every call is collective: all ranks make the same calls in the same order.
// Each throws DistributedError when the other processes do not take part
// within the communicator's timeout. `what` names the exchange for messages.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;  // this process, 0..size()-1; rank 0 prints and writes files
  virtual int size() const = 0;  // N

  // Sums over all ranks, in place: `g` (n values: the gradient) and `x` (m
  // doubles: the step's loss numbers), both in flight at once. Every rank gets
  // the same bits (MPI's reductions are commutative and one algorithm is used
  // for a given size and N), so the replicas take identical optimizer steps.
  virtual void sum(float* g, std::size_t n, double* x, std::size_t m, const char* what) = 0;
  virtual void sum(double* g, std::size_t n, double* x, std::size_t m, const char* what) = 0;
  // Rank 0's n values, to every rank.
  virtual void broadcast(double* x, std::size_t n, const char* what) = 0;
  // Every rank's n values, concatenated in rank order into `all` (n * size()
  // values) on rank 0; `all` is not touched elsewhere.
  virtual void gather(const float* mine, std::size_t n, float* all, const char* what) = 0;
  virtual void gather(const double* mine, std::size_t n, double* all, const char* what) = 0;
  // Throws DistributedError unless every rank passes the same value (a check
  // that the replicas still hold the same weights).
  virtual void expect_same(std::uint64_t value, const char* what) = 0;
};

}  // namespace recur
