"""Calibrate ``grader check``'s timing yardstick: for every ``timing:`` entry of every
assignment, the reference solution's time in yardsticks, measured exactly as ``grader check``
measures a student's (through the sandboxed worker, against one plain matmul with the same
multiply-adds), plus the example submissions' estimates.

    python benchmarks/bench_yardstick.py [--repeats 5] [ASSIGNMENT ...]

Prints the median over ``--repeats`` runs; put it in assignment.yaml as the entry's ``good``.
Run it on a quiet machine: a call into the worker is another process to schedule, and on a
busy machine its minimum stays high while the yardstick's (timed in this process) does not.
Target: every vectorized example within its entry's limit, every loop over pixels beyond it.
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from grader.course.config import find_assignment, solutions_dir  # noqa: E402
from grader.harness import yardstick  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ids = args.assignments or sorted(p.parent.name for p in solutions_dir().glob("*/assignment.yaml"))
    for spec in (find_assignment(i) for i in ids):
        if not spec.timing:
            continue
        raw = dataclasses.replace(spec, timing=tuple(dataclasses.replace(t, good=1.0)
                                                     for t in spec.timing))
        runs = [yardstick.measure(raw, spec.root) for _ in range(args.repeats)]
        print(f"\n{spec.id}: the reference, in yardsticks (median of {args.repeats})")
        for i, entry in enumerate(spec.timing):
            factors = [run[i]["estimate"] for run in runs]
            print(f"  {entry.describe():<70} good: {statistics.median(factors):.2f}"
                  f"  (config: {entry.good:g}; runs {min(factors):.2f}-{max(factors):.2f})")
        examples = REPO / "examples" / "submissions" / spec.id
        for sub in sorted(p for p in examples.iterdir() if p.is_dir()):
            result = yardstick.measure(spec, sub, provided_from=spec.root)
            shown = ", ".join(f"{r['estimate']:.1f}x" if "estimate" in r else "error"
                              for r in result)
            print(f"  example {sub.name:<28} {shown}")


if __name__ == "__main__":
    main()
