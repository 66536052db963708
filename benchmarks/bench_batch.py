"""Batch throughput, measured in one run: submissions per minute for a class of hw1_graph
submissions and a heavier problem set, with the local and docker backends at --jobs 1 and 2,
and the per-submission overhead of docker over local.

    python benchmarks/bench_batch.py [--students 100] [--heavy hw5_rnn --heavy-students 20]

Targets (issue 5, 2-core machine): docker adds at most 0.5 s per submission over local;
100 hw1_graph submissions in at most 90 s with docker at --jobs 2. Needs a Docker engine and
the autograder image (`grader image build`); without them only the local rows are printed.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from grader import batch  # noqa: E402
from grader.results.scoring import GRADED  # noqa: E402 (ok, needs_gpu, import_error)


def make_class(assignment: str, n: int, into: Path) -> Path:
    """n students cycling through the assignment's example submissions (infinite loops left
    out: they measure the timeout, not the grader)."""
    examples = sorted(p for p in (REPO / "examples" / "submissions" / assignment).iterdir()
                      if p.is_dir() and "loop" not in p.name and "slow" not in p.name)
    for i in range(n):
        shutil.copytree(examples[i % len(examples)], into / f"student{i:03d}")
    return into


def run(assignment, subs, backend, jobs, tmp) -> float:
    out = Path(tempfile.mkdtemp(dir=tmp))
    start = time.perf_counter()
    summary = batch.batch(subs, assignment=assignment, out=out, backend=backend, jobs=jobs,
                          progress=False)
    elapsed = time.perf_counter() - start
    bad = {k: v for k, v in summary["statuses"].items() if k not in GRADED}
    if bad:
        sys.exit(f"{assignment} {backend} --jobs {jobs}: not all graded: {bad}")
    return elapsed


def docker_ready() -> bool:
    try:
        from grader.sandbox.docker import DEFAULT_IMAGE, client
        client().images.get(DEFAULT_IMAGE)
        return True
    except Exception as e:
        print(f"(docker rows skipped: {e})")
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--heavy", default="hw5_rnn")
    parser.add_argument("--heavy-students", type=int, default=20)
    args = parser.parse_args()
    backends = ["local"] + (["docker"] if docker_ready() else [])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = []
        for assignment, n in (("hw1_graph", args.students), (args.heavy, args.heavy_students)):
            subs = make_class(assignment, n, tmp / f"class-{assignment}")
            times = {}
            for backend in backends:
                for jobs in (1, 2):
                    times[backend, jobs] = run(assignment, subs, backend, jobs, tmp)
                    rate = 60 * n / times[backend, jobs]
                    rows.append(f"{assignment:<16} {n:>4}  {backend:<6} --jobs {jobs}  "
                                f"{times[backend, jobs]:7.1f} s  {rate:7.1f} submissions/min")
                    print(rows[-1], flush=True)
            if "docker" in backends:
                overhead = (times["docker", 1] - times["local", 1]) / n
                rows.append(f"{assignment:<16} docker overhead over local: {overhead:+.2f} s per "
                            "submission (--jobs 1; target <= 0.5 s)")
                print(rows[-1], flush=True)
            if assignment == "hw1_graph" and "docker" in backends:
                print(f"hw1_graph: {n} submissions with docker --jobs 2 in "
                      f"{times['docker', 2]:.0f} s (target: 100 in <= 90 s)", flush=True)


if __name__ == "__main__":
    main()
