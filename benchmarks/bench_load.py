"""The machine being busy never changes a grade (issue 20, item 1): every example of every set is
graded beside each kind of load, and its score compared with EXPECTED.md.

Loads (``--loads``):
- ``idle``: nothing else (the control);
- ``burners``: 8 busy-loop processes (ordinary ones, as a TA's other work);
- ``weighted``: 8 busy loops each in a control group of its own that weighs what a grading's
  worker weighs (``sandbox/cgroups.py``): what other graders' workers are to this one. This is
  what cost CI its points: a 1 s wall-clock limit fired on correct code that waited for a CPU;
- ``gradings``: two other gradings of the examples running in a loop beside this one;
- ``attacks``: two loops grading attack submissions beside this one: a worker whose processes
  burn every core, one that burns while the reference is timed, one whose processes hold
  about 3.6 GB of memory, and a 20 MB notebook.

For each backend (``--backends local docker``) it prints a table, one row per example and a
column per load, each cell the score (``!`` where it differs from EXPECTED.md, with the tests
that failed), and exits 1 if any score differs.

    python benchmarks/bench_load.py [--loads idle burners weighted gradings attacks]
                                    [--backends local] [--assignments hw1_graph ...]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from grader.api import grade  # noqa: E402
from grader.harness.supervisor import preload_harness  # noqa: E402
from grader.sandbox import cgroups  # noqa: E402

EXAMPLES = REPO / "examples" / "submissions"
ASSIGNMENTS = ["hw1_graph", "hw2_mlp", "hw3_conv", "hw4_autoencoder", "hw5_rnn"]
ATTACKS = REPO / "tests" / "adversarial" / "owning"
LOADS = ["idle", "burners", "weighted", "gradings", "attacks"]


def expected_scores(assignment: str) -> dict[str, float]:
    text = (EXAMPLES / assignment / "EXPECTED.md").read_text()
    return {m.group(1): float(m.group(2)) for m in re.finditer(
        r"^\| `([\w-]+)/?` \|.*\|\s*(\d+(?:\.\d+)?)\s*\|\s*$", text, re.M)}


# -- loads --------------------------------------------------------------------------------------

def _spin() -> None:
    while True:
        pass


@contextlib.contextmanager
def burners(n: int, *, weighted: bool):
    ctx = multiprocessing.get_context("fork")
    procs, groups = [], []
    for i in range(n):
        proc = ctx.Process(target=_spin, daemon=True)
        proc.start()
        procs.append(proc)
        if weighted:
            group = cgroups.WorkerCgroup(f"bench-load-{os.getpid()}-{i}", cpus=1.0, pids=8)
            for d in group.dirs:
                (d / "cgroup.procs").write_text(str(proc.pid))
            groups.append(group)
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.join()
        for group in groups:
            group.close()


LOOP = """
import itertools, sys
sys.path.insert(0, {repo!r})
from grader.api import grade
jobs = {jobs!r}
for folder, assignment in itertools.cycle(jobs):
    grade(folder, assignment=assignment, backend={backend!r})
"""


@contextlib.contextmanager
def grading_loops(jobs: list[tuple[str, str]], backend: str, copies: int = 2):
    """``copies`` processes, each grading ``jobs`` round and round until stopped."""
    procs = []
    for i in range(copies):
        mine = jobs[i:] + jobs[:i]
        procs.append(subprocess.Popen(
            [sys.executable, "-c", LOOP.format(repo=str(REPO), jobs=mine, backend=backend)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
    time.sleep(3)  # under way before the first grading here
    try:
        yield
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            proc.wait()


HOLDS_MEMORY = """
# ATTACK holds_memory: four processes, each touching 900 MB of shared memory, held 60 s.
import mmap as _mmap, os as _os, time as _time
for _ in range(4):
    if _os.fork() == 0:
        try:
            _m = _mmap.mmap(-1, 900 << 20)
            for _i in range(0, 900 << 20, 4096):
                _m[_i] = 1
            _time.sleep(60)
        finally:
            _os._exit(0)
"""


def attack_submissions(into: Path) -> list[tuple[str, str]]:
    """The attack submissions the ``attacks`` load grades, made in ``into``."""
    def appended(name: str, assignment: str, example: str, file: str, attack: str) -> str:
        folder = into / name
        shutil.copytree(EXAMPLES / assignment / example, folder)
        with open(folder / file, "a") as f:
            f.write("\n" + attack)
        return str(folder)

    jobs = [
        (appended("burns_every_core", "hw1_graph", "correct", "graph.py",
                  (ATTACKS / "burns_every_core.py").read_text()), "hw1_graph"),
        (appended("slows_the_reference", "hw3_conv", "slow_pixel_loop", "conv.py",
                  (ATTACKS / "slows_the_reference.py").read_text()), "hw3_conv"),
        (appended("holds_memory", "hw1_graph", "correct", "graph.py", HOLDS_MEMORY),
         "hw1_graph"),
    ]
    # A 20 MB notebook: the module in one tagged cell, and megabytes of outputs beside it.
    source = (EXAMPLES / "hw1_graph" / "correct" / "graph.py").read_text()
    cells = [{"cell_type": "code", "metadata": {"tags": ["graph"]}, "source": source,
              "outputs": [], "execution_count": None}]
    blob = "x" * (1 << 20)
    cells += [{"cell_type": "code", "metadata": {}, "source": "print()", "execution_count": 1,
               "outputs": [{"output_type": "stream", "name": "stdout", "text": [blob]}]}
              for _ in range(20)]
    notebook = into / "big_notebook" / "graph.ipynb"
    notebook.parent.mkdir()
    notebook.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                    "nbformat_minor": 5}))
    jobs.append((str(notebook), "hw1_graph"))
    return jobs


@contextlib.contextmanager
def load(kind: str, backend: str, scratch: Path):
    if kind == "idle":
        yield
    elif kind in ("burners", "weighted"):
        with burners(8, weighted=kind == "weighted"):
            yield
    elif kind == "gradings":
        with grading_loops([(str(EXAMPLES / "hw3_conv" / "correct"), "hw3_conv"),
                            (str(EXAMPLES / "hw1_graph" / "correct"), "hw1_graph"),
                            (str(EXAMPLES / "hw5_rnn" / "correct"), "hw5_rnn")], backend):
            yield
    elif kind == "attacks":
        with grading_loops(attack_submissions(scratch), backend):
            yield
    else:
        raise SystemExit(f"unknown load {kind!r} (known: {', '.join(LOADS)})")


# -- the run ------------------------------------------------------------------------------------

def lost_tests(results: dict) -> str:
    return ", ".join(f"{t['name'].split('::')[-1]} ({t.get('kind')})"
                     for t in results.get("tests", []) if t.get("status") == "failed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", nargs="*", default=LOADS)
    parser.add_argument("--backends", nargs="*", default=["local", "docker"])
    parser.add_argument("--assignments", nargs="*", default=ASSIGNMENTS)
    args = parser.parse_args()
    # Stopped with SIGTERM, unwind as for Ctrl-C: the loads' burners, cgroups and grading
    # loops are removed by their context managers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    preload_harness(cuda=True)  # as a batch's pool worker grades
    wrong = 0
    for backend in args.backends:
        table: dict[str, dict[str, str]] = {}
        for kind in args.loads:
            with tempfile.TemporaryDirectory(prefix="bench-load-") as scratch, \
                    load(kind, backend, Path(scratch)):
                started = time.monotonic()
                for assignment in args.assignments:
                    for example, want in expected_scores(assignment).items():
                        results = grade(EXAMPLES / assignment / example, assignment=assignment,
                                        backend=backend)
                        got = float(results.get("score", -1))
                        status = results.get("status")
                        row = table.setdefault(f"{assignment}/{example} ({want:g})", {})
                        if got == want:
                            row[kind] = f"{got:g}"
                        else:
                            wrong += 1
                            row[kind] = f"{got:g}!"
                            print(f"  DIFFERS [{backend}, {kind}] {assignment}/{example}: "
                                  f"{got:g} (status {status}), expected {want:g}; lost: "
                                  f"{lost_tests(results)}", flush=True)
                print(f"[{backend}] {kind}: graded in {time.monotonic() - started:.0f} s, load "
                      f"average {os.getloadavg()[0]:.1f}", flush=True)
        width = max(len(k) for k in table)
        print(f"\n{backend} backend: scores beside each load ('!' differs from EXPECTED.md)")
        print(f"{'example (expected)':<{width}}  " + "  ".join(f"{k:>8}" for k in args.loads))
        for name, row in table.items():
            print(f"{name:<{width}}  " + "  ".join(f"{row.get(k, '-'):>8}" for k in args.loads))
    print(f"\n{'every score equals EXPECTED.md' if not wrong else f'{wrong} scores differ'} "
          f"({os.cpu_count()} cores)")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
