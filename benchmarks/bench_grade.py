"""Seconds per submission: ``grader grade`` (sandboxed) against a bare in-process pytest run of
the same tests (the no-isolation floor), interleaved in one run; prints the ratio.

    python benchmarks/bench_grade.py [--assignment hw1_graph] [--repeats 7]

Target for hw1_graph (issue 2): ratio at most 1.5.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from grader.course.config import find_assignment  # noqa: E402


def timed(cmd, env=None, cwd=None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout.decode()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assignment", default="hw1_graph")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--submission", default=None, help="default: the reference solution")
    args = parser.parse_args()
    spec = find_assignment(args.assignment)
    submission = Path(args.submission) if args.submission else spec.root
    with tempfile.TemporaryDirectory() as tmp:
        # Grade a copy holding only the student's files, as a real submission would be.
        sub = Path(tmp) / "submission"
        sub.mkdir()
        for name in spec.files:
            (sub / name).write_bytes((submission / name).read_bytes())
        env = {**os.environ, "PYTHONPATH": f"{REPO / 'benchmarks'}:{REPO}",
               "FLOOR_SUBMISSION": str(sub), "FLOOR_REFERENCE": str(spec.root),
               "FLOOR_MODULES": ",".join(spec.modules), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
               "OPENBLAS_NUM_THREADS": "1"}
        floor_cmd = [sys.executable, "-m", "pytest", "-q", "-p", "floor_plugin", "-p",
                     "no:cacheprovider", "--rootdir", tmp, "-c", os.devnull,
                     "--import-mode=importlib", str(spec.public_tests), str(spec.hidden_tests)]
        grade_cmd = [sys.executable, "-m", "grader", "grade", str(sub),
                     "--assignment", args.assignment]
        floor, graded = [], []
        timed(floor_cmd, env=env, cwd=tmp)  # warm the file cache once for both
        timed(grade_cmd, cwd=REPO)
        for _ in range(args.repeats):  # interleaved so that load drifts hit both alike
            floor.append(timed(floor_cmd, env=env, cwd=tmp))
            graded.append(timed(grade_cmd, cwd=REPO))
    f_med, g_med = statistics.median(floor), statistics.median(graded)
    print(f"assignment {args.assignment}, {args.repeats} interleaved runs each")
    print(f"  bare pytest, in-process (no isolation): median {f_med:.3f} s, min {min(floor):.3f} s")
    print(f"  grader grade (sandboxed):               median {g_med:.3f} s, min {min(graded):.3f} s")
    print(f"  ratio (median): {g_med / f_med:.2f}x   ratio (min): {min(graded) / min(floor):.2f}x"
          f"   target <= 1.5x")


if __name__ == "__main__":
    main()
