"""Timing verdicts stay what EXPECTED.md says with sequential decisions (issue 12, item 2):
each timing example of hw2_mlp and hw3_conv is graded ``--times`` times beside each number of
busy-loop processes in ``--burners`` (0, 1 pinned to another core, 8 over every core), as a
batch grades (the harness preloaded, the
workers forked from the template in jail mode). Prints, per example and timing test, the
verdicts and the range of ratios and repetitions, idle and loaded, and whether every grading's
verdicts agree with EXPECTED.md (its score, and exactly its too_slow tests).

    python benchmarks/bench_discrimination.py [--times 5] [--assignments hw2_mlp hw3_conv]
                                              [--burners 0 1 8]

Exits 1 when a verdict disagrees.
"""
from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from grader.api import grade  # noqa: E402
from grader.harness.supervisor import preload_harness  # noqa: E402

EXAMPLES = REPO / "examples" / "submissions"


def expected(assignment: str) -> dict[str, tuple[float, set[str]]]:
    """{example: (score, its too_slow tests)} for the timing examples of EXPECTED.md: the
    ``correct`` one and each with a ``too_slow`` bullet."""
    text = (EXAMPLES / assignment / "EXPECTED.md").read_text()
    scores = {m.group(1): float(m.group(2)) for m in re.finditer(
        r"^\| `([\w-]+)/?` \|.*\|\s*(\d+(?:\.\d+)?)\s*\|\s*$", text, re.M)}
    slow: dict[str, set[str]] = {"correct": set()}
    for m in re.finditer(r"^- \*\*([\w, ]+)\*\* \(\d+ tests?, too_slow\):(.*?)\.(?:\s|$)", text,
                         re.M | re.S):
        tests = set(re.findall(r"`(test_\w+)`", m.group(2)))
        for name in m.group(1).split(","):
            slow[name.strip()] = tests
    return {name: (scores[name], tests) for name, tests in slow.items()}


def _burn() -> None:
    os.nice(0)
    while True:
        pass


@contextlib.contextmanager
def burner(count: int):
    """``count`` spinning processes: one is pinned to the last core (the grading is free to use
    the others); more spread over every core, as a busy machine's."""
    procs = []
    for _ in range(count):
        proc = multiprocessing.get_context("fork").Process(target=_burn, daemon=True)
        proc.start()
        procs.append(proc)
    if count == 1:
        os.sched_setaffinity(procs[0].pid, {max(os.sched_getaffinity(0))})
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.join()


def timing_tests(results: dict) -> dict[str, tuple[str, float, int]]:
    """{test name: (kind, speed ratio, repetitions)} for the tests that timed something."""
    out = {}
    for t in results["tests"]:
        extra = t.get("extra_data", {})
        if "speed_ratio" in extra:
            out[t["name"].split("::")[-1]] = (t["kind"], extra["speed_ratio"],
                                              int(extra.get("speed_repetitions", -1)))
    return out


def disagreements(results: dict, score: float, slow: set[str]) -> list[str]:
    """What of this grading differs from EXPECTED.md: a timing verdict (a too_slow test that
    should pass or the reverse), or the score (then the tests that failed unexpectedly)."""
    too_slow = {t["name"].split("::")[-1] for t in results["tests"] if t["kind"] == "too_slow"}
    wrong = [f"{name}: too_slow, expected to pass" for name in sorted(too_slow - slow)]
    wrong += [f"{name}: passed, expected too_slow" for name in sorted(slow - too_slow)]
    if results["score"] != score:
        wrong.append(f"score {results['score']:g}, expected {score:g}; failed: " + ", ".join(
            f"{t['name'].split('::')[-1]} ({t['kind']})" for t in results["tests"]
            if t["kind"] != "passed" and t["name"].split("::")[-1] not in slow))
    return wrong


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--times", type=int, default=5)
    parser.add_argument("--assignments", nargs="*", default=["hw2_mlp", "hw3_conv"])
    parser.add_argument("--burners", nargs="*", type=int, default=[0, 1, 8],
                        help="the loads: how many busy-loop processes beside the grading")
    args = parser.parse_args()
    preload_harness()  # as a batch's pool worker: workers forked from the template
    bad, rows = 0, []
    for burners in args.burners:
        with burner(burners):
            for assignment in args.assignments:
                for example, (score, slow) in expected(assignment).items():
                    seen: dict[str, list] = {}
                    ok, seconds = 0, []
                    for _ in range(args.times):
                        start = time.perf_counter()
                        results = grade(EXAMPLES / assignment / example, assignment=assignment)
                        seconds.append(time.perf_counter() - start)
                        wrong = disagreements(results, score, slow)
                        ok += not wrong
                        for line in wrong:
                            print(f"    DISAGREES: {line}", flush=True)
                        for name, got in timing_tests(results).items():
                            seen.setdefault(name, []).append(got)
                    bad += args.times - ok
                    load = f"{burners} burner{'s' * (burners != 1)}" if burners else "idle"
                    print(f"{assignment}/{example} [{load}]: {ok}/{args.times} agree with "
                          f"EXPECTED.md (score {score:g}); {min(seconds):.1f}-"
                          f"{max(seconds):.1f} s per grading", flush=True)
                    for name, got in sorted(seen.items()):
                        kinds = sorted({k for k, _, _ in got})
                        ratios = [r for _, r, _ in got]
                        reps = [n for _, _, n in got]
                        want = "too_slow" if name in slow else "passed"
                        rows.append((load, f"{assignment}/{example}", name, want, kinds,
                                     min(ratios), max(ratios), min(reps), max(reps)))
                        print(f"    {name:<38} want {want:<8} got {','.join(kinds):<16} ratio "
                              f"{min(ratios):6.2f}-{max(ratios):6.2f}x  repetitions "
                              f"{min(reps)}-{max(reps)}", flush=True)
    print(f"\n{'load':<10} {'example':<32} {'test':<38} {'want':<8} {'got':<16} ratios")
    for load, example, name, want, kinds, lo, hi, _, _ in rows:
        print(f"{load:<10} {example:<32} {name:<38} {want:<8} {','.join(kinds):<16} "
              f"{lo:.2f}-{hi:.2f}x")
    print(f"\n{'all verdicts agree with EXPECTED.md' if not bad else f'{bad} gradings disagree'}"
          f" ({args.times} gradings per example, beside {args.burners} burners; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
