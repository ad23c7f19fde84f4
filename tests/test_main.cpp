// main() of the C++ test programs: GoogleTest's, after the same choice of
// OpenBLAS kernels as the recur program makes (recur::use_blas_core_for_cpu),
// so a test computes with the kernels the tool it tests uses.
//
// Every file a test writes goes under ::testing::TempDir(), which here is a
// directory of this process's own (inside $TEST_TMPDIR, $TMPDIR or /tmp),
// removed with everything in it when the tests end: ctest runs each test as a
// process of its own, and thousands of runs must leave nothing behind.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "recur/tensor.hpp"

int main(int argc, char** argv) {
  recur::use_blas_core_for_cpu(argv);
  std::string base = "/tmp";
  for (const char* var : {"TMPDIR", "TEST_TMPDIR"})
    if (const char* v = std::getenv(var); v && *v) base = v;
  std::string dir = base + "/recur_test_XXXXXX";
  if (!mkdtemp(dir.data())) {
    std::fprintf(stderr, "%s: cannot make a scratch directory in %s\n", argv[0], base.c_str());
    return 1;
  }
  setenv("TEST_TMPDIR", dir.c_str(), 1);  // what ::testing::TempDir() returns, with a '/'
  testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return rc;
}
