"""How ``grader similarity`` scales with the class, measured in one run.

    python benchmarks/bench_similarity.py [--students 300] [--assignment hw2_mlp]

Builds classes of N/4, N/2 and N students as a batch leaves them (a record folder per student
with ``results.json`` and the kept ``files/``), each student a disguised variant of one of the
assignment's example submissions (identifiers renamed, top-level definitions shuffled, comments
added), and times the whole verb on each: load, fingerprint, compare every pair, write the
report. Every pair then shares code (a dozen sources for the whole class), the worst case for
the pairing step; a real class, where most pairs share little, is cheaper.

Target (issue 15): a class of 300 in under a minute on the 2-core development machine. Printed:
the time of each phase, and how the time grows when the class doubles (fingerprinting: 2x,
linear; pairing: up to 4x, quadratic, from a small constant).
"""
from __future__ import annotations

import argparse
import builtins
import io
import json
import keyword
import random
import sys
import tempfile
import time
import tokenize
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from grader.course.config import find_assignment  # noqa: E402
from grader.similarity import pairs as pairs_mod  # noqa: E402
from grader.similarity.pages import write_report  # noqa: E402
from grader.similarity.sources import given_texts, load_submissions  # noqa: E402

TARGET_SECONDS = 60.0


def disguise(text: str, rng: random.Random) -> str:
    """``text`` with its own identifiers renamed, top-level blocks shuffled, comments added."""
    names: dict = {}
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        value = tok.string
        if tok.type == tokenize.NAME and not keyword.iskeyword(value) and value not in dir(
                builtins) and value not in ("np", "self", "numpy"):
            value = names.setdefault(value, f"{value[:1]}{rng.randrange(10**6)}")
        out.append((tok.type, value))
    text = tokenize.untokenize(out)
    blocks, current = [], []
    for line in text.split("\n"):
        if line.startswith(("def ", "class ")) and current:
            blocks.append(current)
            current = []
        current.append(line)
    blocks.append(current)
    head, body = blocks[0], blocks[1:]
    rng.shuffle(body)
    lines = [line for block in [head, *body] for line in block]
    for _ in range(5):
        lines.insert(rng.randrange(len(lines) + 1), f"# note {rng.randrange(10**6)}")
    return "\n".join(lines)


def make_class(spec, n: int, into: Path, rng: random.Random) -> Path:
    sources = sorted(p for p in (REPO / "examples" / "submissions" / spec.id).iterdir()
                     if p.is_dir() and "syntax" not in p.name)
    for i in range(n):
        source = sources[i % len(sources)]
        record = into / f"student{i:03d}"
        (record / "files").mkdir(parents=True)
        (record / "results.json").write_text(json.dumps({"assignment": spec.id,
                                                         "student": record.name}))
        for name in spec.files:
            text = (source / name).read_text(encoding="utf-8")
            (record / "files" / name).write_text(disguise(text, rng), encoding="utf-8")
    return into


def measure(spec, grades: Path, out: Path) -> dict:
    """CPU seconds for each phase of one run of the verb (the process is single-threaded, and
    CPU time is what other work on the machine disturbs least), and its wall-clock total."""
    settings = pairs_mod.Settings()
    wall = time.perf_counter()
    t0 = time.process_time()
    students = load_submissions(grades, spec)
    given = given_texts(spec)
    t1 = time.process_time()
    prints = pairs_mod.fingerprint_class(students, given, settings)
    t2 = time.process_time()
    ranked = pairs_mod.rank_pairs(prints)
    for i in pairs_mod.shown(ranked, settings, 50):
        pairs_mod.locate(ranked[i], prints)
    t3 = time.process_time()
    write_report(out, spec, students, ranked, settings, pages=50, seconds=t3 - t1)
    t4 = time.process_time()
    return {"load": t1 - t0, "fingerprint": t2 - t1, "pairs": t3 - t2, "report": t4 - t3,
            "total": t4 - t0, "wall": time.perf_counter() - wall, "pairs_sharing": len(ranked)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--assignment", default="hw2_mlp", help="default: the largest, 3 files")
    args = parser.parse_args()
    spec = find_assignment(args.assignment)
    rng = random.Random(15)
    sizes = [max(2, args.students // 4), max(2, args.students // 2), args.students]
    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench-similarity-") as tmp:
        for n in sizes:
            grades = make_class(spec, n, Path(tmp) / f"class{n}", rng)
            rows[n] = measure(spec, grades, Path(tmp) / f"report{n}")
    print(f"grader similarity, {args.assignment} ({len(spec.files)} files per student), "
          "every pair sharing code (worst case)")
    print(f"{'students':>8} {'pairs':>7} {'load':>6} {'fingerprint':>11} {'pairs':>7} "
          f"{'report':>7} {'total':>7}  (CPU seconds) {'wall':>6}")
    for n, r in rows.items():
        print(f"{n:>8} {n * (n - 1) // 2:>7} {r['load']:>6.2f} {r['fingerprint']:>11.2f} "
              f"{r['pairs']:>7.2f} {r['report']:>7.2f} {r['total']:>7.2f} {r['wall']:>20.2f}")
    small, mid, big = (rows[n] for n in sizes)
    print(f"class doubled ({sizes[1]} -> {sizes[2]}): fingerprinting x"
          f"{big['fingerprint'] / mid['fingerprint']:.1f} (linear: 2), pairing x"
          f"{big['pairs'] / mid['pairs']:.1f} (quadratic: 4), total x"
          f"{big['total'] / mid['total']:.1f}")
    per_pair = big["pairs"] / (sizes[2] * (sizes[2] - 1) / 2) * 1e6
    print(f"per pair: {per_pair:.0f} us; per submission fingerprinted: "
          f"{big['fingerprint'] / sizes[2] * 1e3:.1f} ms")
    verdict = "meets" if big["wall"] < TARGET_SECONDS else "MISSES"
    print(f"{sizes[2]} students in {big['wall']:.1f} s of wall-clock time: {verdict} the "
          f"target of {TARGET_SECONDS:.0f} s")
    if big["wall"] >= TARGET_SECONDS:
        sys.exit(1)


if __name__ == "__main__":
    main()
