#!/usr/bin/env bash
# The seed experiment (1000 epochs, built-in data, seed 1), timed side by side:
# the numpy reference written from the post (bench/reference/seed_rnn.py) and
# `recur train`, each as a whole process, best of several runs. Prints both
# times and the ratio, and checks that the two logs are identical.
#
# Usage: bench/seed_bench.sh [path/to/recur] [numpy runs] [recur runs]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
recur="${1:-$here/../build/recur}"
np_runs="${2:-3}"
recur_runs="${3:-20}"
py=/usr/bin/python3
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# Best (smallest) wall time in seconds of N runs of a command; stdout to $out/$label.log.
best_of() {
  local n=$1 label=$2; shift 2
  local best=""
  for _ in $(seq "$n"); do
    local t0 t1 t
    t0=$(date +%s.%N)
    "$@" > "$out/$label.log"
    t1=$(date +%s.%N)
    t=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
  done
  echo "$best"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "numpy $($py -c 'import numpy; print(numpy.__version__)'), $("$recur" --version)"
t_np=$(best_of "$np_runs" numpy $py "$here/reference/seed_rnn.py" --seed 1)
t_f32=$(best_of "$recur_runs" recur_f32 "$recur" train --seed 1)
t_f64=$(best_of "$recur_runs" recur_f64 "$recur" train --seed 1 --dtype f64)

same() { cmp -s "$out/numpy.log" "$out/$1.log" && echo "identical to numpy's" || echo "DIFFERS from numpy's"; }
printf '\n%-34s %10s %10s  %s\n' "seed run (1000 epochs)" "seconds" "vs numpy" "log"
printf '%-34s %10.3f %10s  %s\n' "numpy reference (float64)" "$t_np" "1.0x" "-"
printf '%-34s %10.3f %9.0fx  %s\n' "recur train (float32, default)" "$t_f32" "$(echo "$t_np / $t_f32" | bc -l)" "$(same recur_f32)"
printf '%-34s %10.3f %9.0fx  %s\n' "recur train --dtype f64" "$t_f64" "$(echo "$t_np / $t_f64" | bc -l)" "$(same recur_f64)"
