"""gpu/check.sh, the prepared GPU check, run here in simulator mode (no GPU): it finds a sandbox
mode, grades a CUDA example and prints the compact report."""
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytest.importorskip("numba_cuda", reason="the GPU check needs numba-cuda")


def run_check(*args):
    env = {**os.environ, "PYTHON": sys.executable}
    env.pop("GRADER_SANDBOX_MODE", None)
    return subprocess.run(["bash", str(REPO / "gpu" / "check.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_gpu_check_grades_an_example_in_simulator_mode():
    proc = run_check("--simulate", "--only", "hw2_mlp/cuda_untiled")
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    mode = "jail" if os.geteuid() == 0 else "plain"
    assert f"grading in sandbox mode: {mode}" in out
    assert "hw2_mlp/cuda_untiled: 11/17 on the CUDA problems, status needs_gpu" in out
    assert "tiling check: wrong_answer - linear_kernel declares no shared memory" in out
    assert "speed: needs_gpu; student " in out and "ratio " in out  # it ran, on the simulator
    assert "numba-cuda simulator" in out


def test_without_a_gpu_the_check_says_so():
    proc = run_check()
    assert proc.returncode == 2
    assert "no GPU" in proc.stdout and "--simulate" in proc.stdout
