"""The machine a benchmark ran on, for its report: cores, CPU model and the
widest vector instruction set the CPU has (recur's kernels are built for it)."""
import os


def cpu():
    name, flags = "?", []
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and name == "?":
                name = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = line.split(":", 1)[1].split()
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
    return f"{os.cpu_count()} cores, {name}, {isa}"
