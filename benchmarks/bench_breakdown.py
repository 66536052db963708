"""Where one grading's time goes: timestamps at each step of ``grader grade`` (local backend),
taken by wrapping the grader's own functions in this process (the forked harness inherits the
wrappers and appends its timestamps to a file), over several runs, printed as a table of
medians.

    python benchmarks/bench_breakdown.py [--assignment hw1_graph] [--runs 9] [--submission DIR]

Also prints what starting one worker costs on its own, split into its parts: the interpreter
(``python -I -c pass``), NumPy's import, and the sandbox's own set-up (``unshare``, the jail's
mounts, a second interpreter that exec's the worker) as the rest.
"""
from __future__ import annotations

import argparse
import functools
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
from grader.harness import __main__ as harness_main  # noqa: E402
from grader.harness import supervisor  # noqa: E402
from grader.sandbox import local  # noqa: E402
from grader.wire import bridge  # noqa: E402

_LOG = [None]


def mark(name: str) -> None:
    if _LOG[0] is None:
        return
    with open(_LOG[0], "a") as f:
        f.write(f"{name} {time.time():.6f}\n")


def wrap(owner, attr: str, before: str | None, after: str | None) -> None:
    original = getattr(owner, attr)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        if before:
            mark(before)
        try:
            return original(*args, **kwargs)
        finally:
            if after:
                mark(after)

    setattr(owner, attr, wrapper)


def instrument() -> None:
    from grader.harness import plugin
    wrap(supervisor, "grade_local", "grade_local", "grade_local_done")
    wrap(supervisor, "run_harness", "harness_prepare", "results_built")
    wrap(supervisor, "fork_harness", "fork", "harness_reaped")
    wrap(harness_main, "start_sandbox", "child_started", "worker_spawned")
    wrap(harness_main, "run", None, "harness_closed")
    wrap(plugin.GradingPlugin, "__init__", "pytest_imported", "plugin_ready")
    wrap(plugin.GradingPlugin, "pytest_collection_finish", None, "collected")
    wrap(bridge.WorkerSession, "_wait_ready", "wait_ready", "worker_ready")
    wrap(bridge.WorkerSession, "_ensure", None, None)
    wrap(plugin.GradingPlugin, "close", "tests_done", None)
    original_load = bridge.WorkerSession._request

    def request(self, message, **kwargs):
        out = original_load(self, message, **kwargs)
        if message.get("op") == "load":
            mark("student_loaded")
        return out

    bridge.WorkerSession._request = request


STEPS = [  # (label, from, to)
    ("intake: private copy, declared files", "grade_local", "harness_prepare"),
    ("job folder, job.json", "harness_prepare", "fork"),
    ("fork to the harness child", "fork", "child_started"),
    ("sandbox set-up + spawn the worker", "child_started", "worker_spawned"),
    ("import pytest and the plugin", "worker_spawned", "pytest_imported"),
    ("plugin: reference sandbox prepared", "pytest_imported", "plugin_ready"),
    ("pytest start and collection", "plugin_ready", "collected"),
    ("waiting for the worker to be ready", "wait_ready", "worker_ready"),
    ("  worker spawn -> ready (overlaps)", "worker_spawned", "worker_ready"),
    ("importing the student's files", "worker_ready", "student_loaded"),
    ("the tests", "student_loaded", "tests_done"),
    ("teardown (workers, sandboxes)", "tests_done", "harness_closed"),
    ("harness exit, reaped", "harness_closed", "harness_reaped"),
    ("events to results", "harness_reaped", "results_built"),
    ("cleanup", "results_built", "grade_local_done"),
    ("TOTAL", "grade_local", "grade_local_done"),
]


def one_run(spec, submission: Path, log: Path) -> dict[str, float]:
    log.write_text("")
    supervisor.grade_local(spec, submission)
    marks: dict[str, float] = {}
    for line in log.read_text().splitlines():
        name, stamp = line.split()
        marks.setdefault(name, float(stamp))  # the first of each (the student's worker)
    return marks


def worker_parts(runs: int) -> list[tuple[str, float]]:
    """The cost of one worker start, from outside: interpreter, NumPy, the sandbox's rest."""
    with tempfile.TemporaryDirectory() as tmp:
        def best(fn):
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            return statistics.median(times)

        def bare(code):
            return lambda: subprocess.run([sys.executable, "-I", "-B", "-c", code], check=True,
                                          env=local.clean_environment())

        def sandboxed():
            sandbox = local.LocalSandbox(Path(tmp))
            session = bridge.WorkerSession(sandbox, [])
            try:
                session._ensure()
            finally:
                session.close()
                sandbox.close()

        interp = best(bare("pass"))
        numpy = best(bare("import numpy")) - interp
        total = best(sandboxed)
        mode = local.default_mode()
        return [("python -I -c pass", interp), ("import numpy", numpy),
                (f"sandbox ({mode}) and the rest", total - interp - numpy),
                (f"one worker, sandboxed ({mode}), to ready", total)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assignment", default="hw1_graph")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--submission", default=None, help="default: the reference solution")
    args = parser.parse_args()
    spec = find_assignment(args.assignment)
    source = Path(args.submission) if args.submission else spec.root
    with tempfile.TemporaryDirectory() as tmp:
        sub = Path(tmp) / "submission"
        sub.mkdir()
        for name in spec.files:
            (sub / name).write_bytes((source / name).read_bytes())
        _LOG[0] = str(Path(tmp) / "marks.log")
        instrument()
        one_run(spec, sub, Path(_LOG[0]))  # warm the caches
        runs = [one_run(spec, sub, Path(_LOG[0])) for _ in range(args.runs)]
        _LOG[0] = None
    print(f"{args.assignment}: one local grading ({local.default_mode()} mode), median of "
          f"{args.runs} runs; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for label, start, end in STEPS:
        spans = [r[end] - r[start] for r in runs if start in r and end in r]
        if spans:
            print(f"  {label:<40} {statistics.median(spans) * 1e3:8.1f} ms")
    print("one worker start, from outside:")
    for label, seconds in worker_parts(args.runs):
        print(f"  {label:<40} {seconds * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
