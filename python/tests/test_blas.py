"""The package runs OpenBLAS's kernels for this CPU (recur/__init__.py sets
OPENBLAS_CORETYPE before OpenBLAS loads), the same as the recur program."""
import os
import subprocess
import sys

import recur
from conftest import CLI


def python(code, **env):
    base = {k: v for k, v in os.environ.items() if k not in ('OPENBLAS_CORETYPE', 'RECUR_BLAS_CORE')}
    r = subprocess.run([sys.executable, '-c', code], env={**base, **env}, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip(), r.stderr


def test_the_kernels_for_this_cpu_and_the_same_as_the_cli():
    want = recur._blas_core_for_cpu()
    core, err = python('import recur; print(recur._recur.blas_core())')
    if want:
        assert core == want and err == ''
    version = subprocess.run([CLI, '--version'], capture_output=True, text=True, check=True,
                             env={k: v for k, v in os.environ.items() if k != 'OPENBLAS_CORETYPE'}).stdout
    assert f'(BLAS kernels: {core})' in version


def test_a_variable_the_user_set_wins():
    core, _ = python('import recur; print(recur._recur.blas_core())', OPENBLAS_CORETYPE='Prescott')
    assert core == 'Prescott'


def test_numpy_first_is_a_warning_not_slow_silence():
    if recur._blas_core_for_cpu() in ('', 'Prescott'):
        return
    core, err = python('import numpy, recur; print(recur._recur.blas_core())')
    if core != recur._blas_core_for_cpu():  # numpy's OpenBLAS chose first
        assert 'import recur first' in err
