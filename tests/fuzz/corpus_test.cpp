// Every input of the fuzz corpora (tests/fuzz/corpus/<target>/: the seeds made
// from the project's fixtures, and the input of every crash the fuzzers found,
// kept as regression tests once fixed) through its target, in the ordinary
// test suite: no clang or libFuzzer needed, and under `make test-sanitize`
// with AddressSanitizer and UndefinedBehaviorSanitizer.
#include <gtest/gtest.h>
#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "targets.hpp"

namespace {

struct Target {
  const char* name;
  int (*run)(const std::uint8_t*, std::size_t);
};

const Target kTargets[] = {
#define RECUR_ENTRY(name) {#name, recur_fuzz::name},
    RECUR_FUZZ_TARGETS(RECUR_ENTRY)
#undef RECUR_ENTRY
};

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  while (const dirent* e = d ? ::readdir(d) : nullptr)
    if (e->d_name[0] != '.') out.push_back(dir + "/" + e->d_name);
  if (d) ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

class FuzzCorpus : public ::testing::TestWithParam<Target> {};

TEST_P(FuzzCorpus, EveryInputRunsCleanly) {
  const std::string dir = std::string(RECUR_SOURCE_DIR) + "/tests/fuzz/corpus/" + GetParam().name;
  const std::vector<std::string> files = files_in(dir);
  ASSERT_FALSE(files.empty()) << "no corpus in " << dir;
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string bytes = ss.str();
    SCOPED_TRACE(f);
    GetParam().run(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzCorpus, ::testing::ValuesIn(kTargets),
                         [](const ::testing::TestParamInfo<Target>& i) { return std::string(i.param.name); });

}  // namespace
