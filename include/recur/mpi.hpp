// recur/mpi.hpp — the processes `mpirun -np N` started, as a recur::Communicator
// (CMake target recur::mpi; the MPI headers stay inside src/mpi.cpp).
//
//   recur::Communicator* world = nullptr;
//   if (recur::launched_ranks() > 1) world = &recur::mpi_world(120);
//   recur::ClassifierRun run = recur::Classifier::train(data, options, {}, world);
//   recur::mpi_finalize();
//
// Built without MPI (cmake -DRECUR_MPI=OFF, or no libopenmpi-dev), the library
// still answers launched_ranks() from the environment, so a program can say it
// was built without MPI instead of training N separate models.
#pragma once

#include <functional>

#include "recur/communicator.hpp"

namespace recur {

// Whether this build has MPI (RECUR_MPI). Without it mpi_world() throws.
bool mpi_built();

// The job this process was started in, read from the launcher's environment
// (Open MPI's OMPI_COMM_WORLD_SIZE / _RANK, else PMI_SIZE / PMI_RANK as MPICH
// and Slurm set them) without initialising MPI: 1 and 0 outside mpirun.
int launched_ranks();
int launched_rank();

// The world of processes, MPI initialised on the first call. Every collective
// gives up after `timeout_seconds` without an answer from the other ranks
// (throwing DistributedError), so a job whose rank died or hangs ends instead
// of waiting forever. `stopping`, when given, is polled while a collective
// waits: once it is true (the process got SIGTERM — what mpirun sends the
// other ranks when one dies, a second before SIGKILL) the wait gives up half a
// second later, in time to say so. Throws recur::Error when built without MPI.
Communicator& mpi_world(double timeout_seconds, std::function<bool()> stopping = {});

// At the end of a run every rank took part in to the end (also one that all
// ranks agreed to stop): MPI_Finalize. Nothing when MPI was not initialised.
void mpi_finalize();

// After an error on this rank: MPI_Abort, which ends every process of the job
// (the others may be waiting for this one). Returns only when MPI was not
// initialised.
void mpi_abort(int code);

}  // namespace recur
