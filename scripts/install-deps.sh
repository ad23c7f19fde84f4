#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages recur needs that are missing.
# Usage: scripts/install-deps.sh [build|bench|torch|fasttext|fuzz]
#   build: what recur needs; bench, torch, fasttext: the reference tools; fuzz:
#   clang with its libFuzzer and sanitizer runtimes (make fuzz, make test's fuzz smoke)
set -euo pipefail
pkgs=(cmake make g++ pkg-config libeigen3-dev libcli11-dev nlohmann-json3-dev libgtest-dev libopenblas-dev libutf8proc-dev)
case "${1:-build}" in
  bench) pkgs+=(python3 python3-numpy bc) ;;
  torch) pkgs+=(python3 python3-numpy python3-torch) ;;
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
