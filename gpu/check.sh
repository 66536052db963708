#!/usr/bin/env bash
# The GPU check: grade the CUDA examples on this machine's GPU and print a compact report.
#
# Runs natively (no Docker, no network) on a machine with numba-cuda, CuPy, pytest, pyyaml and
# numpy installed; the project is used as a working tree (PYTHONPATH), nothing is installed.
# It finds which local sandbox mode works here (jail, uid, plain: a gVisor or Firecracker guest
# may refuse namespaces, mounts or cgroups), says which one graded, then grades every example
# that has a CUDA file with the CUDA tests of its assignment.
#
#   gpu/check.sh               on a GPU machine
#   gpu/check.sh --simulate    without a GPU: numba-cuda's simulator stands in (GRADER_GPU=simulate);
#                              GPU-only tests run on tiny shapes and stay pending (never scored)
#   gpu/check.sh --only hw2_mlp/correct,hw2_mlp/cuda_untiled    a few examples
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
exec "${PYTHON:-python3}" gpu/check.py "$@"
