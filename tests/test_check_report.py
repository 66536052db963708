"""`grader check` lists every problem, says which are graded only by hidden tests and for
how many points, and times a timed problem's functions on the hidden test's shape against a
yardstick (issue 10, item 10)."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from grader.course.config import REPO_ROOT, load_assignment
from grader.errors import ConfigError
from tests.conftest import write_files

EXAMPLES = REPO_ROOT / "examples" / "submissions" / "hw3_conv"


def check(folder, *args):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "grader", "check", *args], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=300)


def hw3_with(tmp_path, example):
    folder = tmp_path / example
    shutil.copytree(REPO_ROOT / "assignments" / "hw3_conv", folder)
    shutil.copy(EXAMPLES / example / "conv.py", folder / "conv.py")
    # The CUDA part done right, so that only conv.py decides what check says.
    shutil.copy(EXAMPLES / "correct" / "conv_cuda.py", folder / "conv_cuda.py")
    return folder


def estimates(stdout: str) -> dict:
    found = re.findall(r"timed on the hidden test's shape: (conv2d_\w+)\(.*?: about "
                       r"([\d.]+)x a good implementation; the hidden limit is ([\d.]+)x", stdout)
    return {name: (float(x), float(limit)) for name, x, limit in found}


def test_every_problem_is_listed_with_its_hidden_points(tmp_path):
    folder = tmp_path / "hw1"
    shutil.copytree(REPO_ROOT / "assignments" / "hw1_graph", folder)
    shutil.copy(REPO_ROOT / "examples" / "submissions" / "hw1_graph" / "correct" / "graph.py",
                folder / "graph.py")
    proc = check(folder)
    assert proc.returncode == 0, proc.stderr
    assert "PASS mulnode: 3/3 public tests passed; 8 more points in hidden tests" in proc.stdout
    for problem in ("addnode", "mynetwork", "numerical_gradient"):
        assert f"PASS {problem}: " in proc.stdout


def test_a_slow_conv_is_told_it_is_slow_where_the_hidden_tests_time_it(tmp_path):
    slow = check(hw3_with(tmp_path, "slow_pixel_loop"))
    assert slow.returncode == 0, slow.stderr  # every public test passes...
    assert "HIDDEN conv_speed: graded only by hidden tests (10 points)" in slow.stdout
    slow_x = estimates(slow.stdout)
    assert set(slow_x) == {"conv2d_forward", "conv2d_backward"}
    assert slow_x["conv2d_forward"][1] == 2.5 and slow_x["conv2d_backward"][1] == 3.5
    assert "too slow: the hidden timing test would fail" in slow.stdout  # ...but this says so
    assert all(x > 2 * limit for x, limit in slow_x.values())
    good_x = estimates(check(hw3_with(tmp_path, "correct")).stdout)
    for name, (x, _) in good_x.items():  # a vectorized conv reads many times faster
        assert slow_x[name][0] > 5 * x, (slow_x, good_x)


def test_check_can_skip_the_timing(tmp_path):
    proc = check(hw3_with(tmp_path, "correct"), "--no-timing")
    assert proc.returncode == 0 and "timed on" not in proc.stdout
    assert "HIDDEN conv_speed" in proc.stdout


def test_the_public_config_gives_shapes_and_limits_only():
    released = (REPO_ROOT / "assignments" / "hw3_conv" / "assignment.yaml").read_text()
    assert "timing:" in released and "multiply_adds" in released
    spec = load_assignment(REPO_ROOT / "assignments" / "hw3_conv", require_sources=False)
    assert [t.function for t in spec.timing] == ["conv2d_forward", "conv2d_backward"]


BASE = """
id: demo
title: Demo
files: [graph.py]
problems:
  - {id: speed, title: Speed, points: 2}
timing:
"""


@pytest.mark.parametrize("entry, message", [
    ("  - {problem: nope, function: f, args: [], multiply_adds: 1, good: 1, limit: 3}",
     "`problem` 'nope' is not one of the problems"),
    ("  - {problem: speed, function: f, args: [{random: [2, -1]}], multiply_adds: 1, good: 1,"
     " limit: 3}", "`random` must be a list of positive sizes"),
    ("  - {problem: speed, function: f, args: [{setup: 0}], multiply_adds: 1, good: 1,"
     " limit: 3}", "add `setup:`"),
    ("  - {problem: speed, function: f, args: [], multiply_adds: 1, good: 1}",
     "missing required key `limit`"),
    ("  - {problem: speed, function: f, args: [], multiply_adds: 1, good: 1, limit: 3, x: 1}",
     "unknown key `x`"),
])
def test_timing_entries_are_validated(tmp_path, entry, message):
    folder = tmp_path / "demo"
    write_files(folder, {"assignment.yaml": BASE + entry + "\n", "graph.py": ""})
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_assignment(folder)
