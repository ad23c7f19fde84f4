# recur — make run | make test | make bench
BUILD ?= build
JOBS ?= $(shell nproc)
# libFuzzer targets (clang), in their own build directory: `make fuzz` runs each
# for FUZZ_SECONDS; `make test` runs each for FUZZ_SMOKE_SECONDS.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 20
# Library, tool and tests with AddressSanitizer + UndefinedBehaviorSanitizer (gcc).
SANITIZE_BUILD ?= build-sanitize

.PHONY: all deps build run test bench bench-sentiment bench-engine interop data clean fuzz fuzz-smoke test-sanitize

all: build

deps:
	@scripts/install-deps.sh build

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release > /dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The main job: the seed experiment (vanilla RNN sentiment classifier on the built-in data).
run: build
	./$(BUILD)/recur train

# Every test, then a short run of every fuzz target (a crash fails it).
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory fuzz-smoke

fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BUILD)

fuzz-smoke:
	scripts/fuzz.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_BUILD)

# The whole suite built with -fsanitize=address,undefined (any finding fails its test).
test-sanitize: deps
	@cmake -S . -B $(SANITIZE_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECUR_BUILD_BENCH=OFF \
	  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
	  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" > /dev/null
	@cmake --build $(SANITIZE_BUILD) -j $(JOBS)
	cd $(SANITIZE_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

bench: build
	@scripts/install-deps.sh bench
	bash bench/seed_bench.sh $(BUILD)/recur

# External data sets (npm: Moby Dick, UCI sentiment) -> data/external/ (git-ignored).
data:
	@scripts/fetch-data.sh

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) $(SANITIZE_BUILD)

# recur against PyTorch: training throughput of four models.
# recur's --preset sentiment against fastText, 10-fold CV on the same folds (needs make data).
bench-sentiment: build data
	@scripts/install-deps.sh fasttext
	/usr/bin/python3 bench/sentiment_cv.py --recur $(BUILD)/recur

bench-engine: build
	@scripts/install-deps.sh torch
	/usr/bin/python3 bench/engine_bench.py --recur $(BUILD)/bench/train_bench

# Model files between recur and PyTorch, both ways.
interop: build
	@scripts/install-deps.sh torch
	/usr/bin/python3 tests/torch_interop.py $(BUILD)/recur
