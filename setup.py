"""Builds recur's Python package: the module recur._recur (python/_recur.cpp, over
the library) with CMake, and the package's Python files from python/recur.

    python3 -m venv --system-site-packages .venv
    .venv/bin/pip install --no-build-isolation .

needs Debian's cmake, g++ and the library's -dev packages, python3-dev,
pybind11-dev, python3-setuptools and python3-numpy (scripts/install-deps.sh
python) and nothing from the network. The library is built in setuptools'
temporary folder; RECUR_BUILD_DIR=build builds the module in an existing CMake
build tree instead, reusing its library (`make python` does).
"""
import glob
import os
import shutil
import subprocess
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = os.environ.get("RECUR_BUILD_DIR")
        if build_dir:  # a tree CMake already configured (with the Python module)
            build_dir = os.path.abspath(build_dir)
        else:
            build_dir = os.path.join(os.path.abspath(self.build_temp), "cmake")
            subprocess.check_call([
                "cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release", "-DRECUR_BUILD_TESTS=OFF",
                "-DRECUR_BUILD_BENCH=OFF", "-DRECUR_BUILD_PYTHON=ON", f"-DPython3_EXECUTABLE={sys.executable}",
            ])
        jobs = str(len(os.sched_getaffinity(0)))
        subprocess.check_call(["cmake", "--build", build_dir, "--target", "recur_python", "-j", jobs])
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        built = os.path.join(build_dir, "python", "recur", "_recur" + suffix)
        if not os.path.exists(built):
            found = glob.glob(os.path.join(build_dir, "python", "recur", "_recur*"))
            sys.exit(f"recur: {built} was not built (found: {', '.join(found) or 'nothing'}): the CMake build in "
                     f"{build_dir} is for another Python than {sys.executable}")
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(built, target)


setup(
    ext_modules=[Extension("recur._recur", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    options={"build": {"build_base": os.path.join("build", "setuptools")}},
)
