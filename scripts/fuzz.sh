#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (a build directory of their own) and
# runs each for a while; a crash stops nothing else but fails the run.
#   usage: scripts/fuzz.sh SECONDS_PER_TARGET [BUILD_DIR] [TARGET ...]
# make fuzz: 300 s per target (FUZZ_SECONDS); make test: a short smoke run
# (FUZZ_SMOKE_SECONDS). New inputs that reach new code are kept in
# BUILD_DIR/corpus/<target> (not in the repository); a crashing input is
# written to BUILD_DIR/crashes/ — once the bug is fixed, copy it to
# tests/fuzz/corpus/<target>/crash-<what> so the test suite replays it.
# A summary (executions, seconds, corpus size, crashes per target) goes to
# BUILD_DIR/fuzz-summary.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds="${1:?seconds per target}"
build="${2:-build-fuzz}"
shift $(( $# >= 2 ? 2 : $# ))
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors checkpoint model_metadata tsv csv jsonl utf8 tokenizers normalize)

scripts/install-deps.sh fuzz || exit 1
# The library compiled for fuzzing: coverage for libFuzzer, AddressSanitizer,
# UndefinedBehaviorSanitizer (every finding fatal, so it is kept as a crash);
# debug information as line tables only (-g1): a crash still names file and
# line, and the nine targets do not carry 93 MB each as with -g.
flags="-fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
cmake -S . -B "$build" -DRECUR_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" > /dev/null || exit 1
cmake --build "$build" -j "$(nproc)" || exit 1

mkdir -p "$build/crashes"
summary="$build/fuzz-summary.txt"
: > "$summary"
passed=0 failed=0
export OPENBLAS_NUM_THREADS=1  # one sequence at a time: no thread pool to start
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t"
  log="$build/fuzz-$t.log"
  # -malloc_limit_mb: an allocation a hostile header would cause is a crash
  # here, though the inputs are at most a few kilobytes.
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
    -print_final_stats=1 -artifact_prefix="$build/crashes/$t-" "$build/corpus/$t" "tests/fuzz/corpus/$t" \
    > "$log" 2>&1
  rc=$?
  execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  corpus=$(ls "$build/corpus/$t" | wc -l)
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
    line="fuzz $t: ${execs:-?} executions in ${seconds} s, corpus $corpus new inputs, no crash"
  else
    failed=$((failed + 1))
    line="fuzz $t: FAILED (exit $rc) after ${execs:-?} executions; see $log and $build/crashes/"
    grep -m3 -E 'ERROR|broken invariant|runtime error|deadly signal|out-of-memory|malloc' "$log" | sed 's/^/    /'
  fi
  echo "$line"
  echo "$line" >> "$summary"
done
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
