"""The machine a benchmark ran on, for its report: cores, CPU model and the
widest vector instruction set the CPU has (recur's kernels are built for it)."""
import os


def cpu():
    name = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    flags = _flags()
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
    return f"{os.cpu_count()} cores, {name}, {isa}"


def _flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def same_blas_kernels():
    """Has OpenBLAS choose, in every reference this benchmark runs (numpy,
    PyTorch), the kernels recur chooses for itself (recur::blas_core_for_cpu):
    Debian's OpenBLAS 0.3.21 does not know every CPU and falls back to its SSE3
    kernels on some — PyTorch's LSTM 2x512 trained at 1,920 tokens/s on them
    against 4,002 with OPENBLAS_CORETYPE=SkylakeX on this project's Xeon. Sets
    the variable for this process's children (and this process, when it has
    not loaded OpenBLAS yet); a value already set is kept. Returns it."""
    if not os.environ.get("OPENBLAS_CORETYPE"):
        f = _flags()
        if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= f:
            os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
        elif {"avx2", "fma"} <= f:
            os.environ["OPENBLAS_CORETYPE"] = "Haswell"
    return os.environ.get("OPENBLAS_CORETYPE", "OpenBLAS's own choice")
