# recur — make run | make test | make bench
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build run test bench bench-sentiment bench-engine bench-mpi interop data clean

all: build

deps:
	@scripts/install-deps.sh build

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release > /dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The main job: the seed experiment (vanilla RNN sentiment classifier on the built-in data).
run: build
	./$(BUILD)/recur train

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	@scripts/install-deps.sh bench
	bash bench/seed_bench.sh $(BUILD)/recur

# External data sets (npm: Moby Dick, UCI sentiment) -> data/external/ (git-ignored).
data:
	@scripts/fetch-data.sh

clean:
	rm -rf $(BUILD)

# recur against PyTorch: training throughput of four models.
# recur's --preset sentiment against fastText, 10-fold CV on the same folds (needs make data).
bench-sentiment: build data
	@scripts/install-deps.sh fasttext
	/usr/bin/python3 bench/sentiment_cv.py --recur $(BUILD)/recur

bench-engine: build
	@scripts/install-deps.sh torch
	/usr/bin/python3 bench/engine_bench.py --recur $(BUILD)/bench/train_bench

# Data-parallel training: 1 process against mpirun -np 2, four models (docs/distributed.md).
bench-mpi: build
	/usr/bin/python3 bench/mpi_bench.py --bench $(BUILD)/bench/mpi_bench

# Model files between recur and PyTorch, both ways.
interop: build
	@scripts/install-deps.sh torch
	/usr/bin/python3 tests/torch_interop.py $(BUILD)/recur
