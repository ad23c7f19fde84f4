// main() of the C++ test programs: GoogleTest's, after the same choice of
// OpenBLAS kernels as the recur program makes (recur::use_blas_core_for_cpu),
// so a test computes with the kernels the tool it tests uses.
#include <gtest/gtest.h>

#include "recur/tensor.hpp"

int main(int argc, char** argv) {
  recur::use_blas_core_for_cpu(argv);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
