#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages recur needs that are missing.
# Usage: scripts/install-deps.sh [build|python|test|bench|torch|engine|fasttext|fuzz]   (each adds to build's)
#   build: what the library, the tool and the unit tests need
#   python: the Python package (pybind11, numpy) and its tests (pytest, scikit-learn); PyTorch
#           (torch) is optional there: its tests are skipped without it
#   test: python's, and what the browser test of recur serve needs (chromium)
#   bench, torch, engine, fasttext: the reference tools (engine: PyTorch and oneDNN)
#   fuzz: clang with its libFuzzer and sanitizer runtimes (make fuzz, make test's fuzz smoke)
set -euo pipefail
# Open MPI (libopenmpi-dev, and openmpi-bin for mpirun): data-parallel training and its tests;
# recur also builds without it (cmake -DRECUR_MPI=OFF).
pkgs=(cmake make g++ pkg-config libeigen3-dev libcli11-dev nlohmann-json3-dev libgtest-dev libopenblas-dev libutf8proc-dev
      libcpp-httplib-dev libopenmpi-dev openmpi-bin)
case "${1:-build}" in
  python|test)
    pkgs+=(python3 python3-dev python3-numpy python3-setuptools python3-wheel python3-venv pybind11-dev
           python3-pytest python3-sklearn)
    # (fasttext: the word vectors a --vectors test trains from text)
    if [ "$1" = test ]; then pkgs+=(chromium chromium-driver python3-selenium fasttext); fi ;;
  bench) pkgs+=(python3 python3-numpy bc) ;;
  torch) pkgs+=(python3 python3-numpy python3-torch) ;;
  engine) pkgs+=(python3 python3-numpy python3-torch libdnnl-dev) ;;  # + oneDNN, bench/onednn_bench
  fasttext) pkgs+=(python3 fasttext) ;;
  fuzz) pkgs+=(clang libclang-rt-dev llvm) ;;  # llvm: llvm-symbolizer, for readable crash reports
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
