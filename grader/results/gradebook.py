"""A batch's durable records and the gradebook rebuilt from them (so a batch killed at any
moment resumes).

Layout of a batch's output folder::

    OUT/gradebook.csv, summary.txt, summary.png     the batch's own files
    OUT/students/<key>/results.json, feedback.txt   one folder per student

**Keys.** Every student has a *name* (exactly what the TA gave: a folder's name, a zip's name
without ``.zip``, an nbgrader student id) and a *key* (``grader.intake.students.student_key``)
that names their folder. A name that is already safe (``^[a-z0-9][a-z0-9_.-]{0,62}$``, not
ending in ``.``, not a Windows device name) is its own key; any other name is a slug plus the
first 10 hex digits of the SHA-256 of the name (``Carol!`` -> ``carol-4b5ee1ab4c``). Keys depend
on the name alone, so they are stable across runs and across machines, safe on every file
system (no case clash, no reserved names), and, living under ``students/``, can never collide
with the batch's own files. ``gradebook.csv`` has the name (``student``) and the ``key``
side by side; ``results.json`` holds both too (``student``, ``key``) and the
``submission_sha256`` of the content it graded, which a re-run compares to regrade exactly the
students whose submission changed. Later outputs (HTML reports, exports) use the same keys.

**Statuses** (``results["status"]``, the gradebook's ``status`` column):

- ``ok``: graded;
- ``needs_gpu``: graded as far as this machine can: GPU-only tests are *pending* (their points
  in ``pending_gpu``, neither won nor lost) until ``batch --regrade-pending`` on a GPU machine;
- ``import_error``: graded: the student's files do not import, so their tests fail (a file of
  the CUDA worker alone costs only the CUDA tests); the student is told to fix that first;
- ``submission_error``: not graded: nothing gradable was handed in (a zero, with the reason);
- ``infrastructure``: not graded: the grader failed; the next batch retries it.

**Statistics** (``class_statistics``): the one definition the console, ``summary.txt``, the
dashboard and ``summary.png`` share: the mean and median of the *graded* submissions (``ok``,
``needs_gpu`` on their points so far, ``import_error``), with submission errors and grader
problems left out and counted, and the label that says so.

**Spreadsheets**: ``gradebook.csv`` starts with a UTF-8 byte-order mark (Excel otherwise reads
it in the machine's code page) and every text cell goes through
``safe_text.spreadsheet_cell`` (a name like ``=cmd|calc`` is never run as a formula).
"""
from __future__ import annotations

import csv
import errno
import json
import os
import statistics
import tempfile
from collections import Counter
from pathlib import Path

from grader.errors import GraderError
from grader.results import reports
from grader.results.safe_text import spreadsheet_cell
from grader.results.scoring import GRADED

STUDENTS = "students"  # the folder of per-student records inside OUT
UNKNOWN_SANDBOX = "unknown"  # a record from before results recorded their provenance
BOM = "\ufeff"


class OutOfSpace(GraderError):
    """The output disk is full: grading stops, records already written stay intact."""

    def __init__(self, message: str, *, needed: int = 0):
        super().__init__(message)
        self.needed = needed


def record_dir(out: Path, key: str) -> Path:
    return Path(out) / STUDENTS / key


def read_record(out: Path, key: str) -> dict | None:
    try:
        return json.loads((record_dir(out, key) / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _stage(folder: Path, name: str, text: str) -> str:
    """Write ``text`` to a new temporary file beside ``folder/name`` (flushed to disk);
    return its path. Nothing is replaced yet."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def _no_space(e: OSError) -> bool:
    return e.errno in (errno.ENOSPC, errno.EDQUOT)


def write_record(out: Path, key: str, results: dict) -> dict:
    """Write one student's results and feedback; keep an earlier good result over a failure.
    A full disk raises ``OutOfSpace`` (nothing half-written stays behind)."""
    old = read_record(out, key)
    if results.get("status") == "infrastructure" and old and old.get("status") in GRADED:
        return old
    folder = record_dir(out, key)
    feedback = reports.feedback(results)
    text = json.dumps(results, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    staged = []
    try:  # both files whole on disk first, then both renamed: never one without the other
        folder.mkdir(parents=True, exist_ok=True)
        staged.append((_stage(folder, "feedback.txt", feedback), folder / "feedback.txt"))
        staged.append((_stage(folder, "results.json", text), folder / "results.json"))
        for tmp, final in staged:  # results.json last: it is what marks the student graded
            os.replace(tmp, final)
        staged = []
    except OSError as e:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        try:
            folder.rmdir()  # only if this call left it empty
        except OSError:
            pass
        if not _no_space(e):
            raise
        needed = len(text.encode()) + len(feedback.encode()) + 8192
        raise OutOfSpace(f"{out}: no space left on the device to write "
                         f"{results.get('student', key)}'s results", needed=needed) from None
    return results


def sandbox_mode(results: dict) -> str:
    """The sandbox mode a result was graded in (``jail``, ``uid``, ``plain``), from its
    provenance; ``unknown`` for a record written before results had one."""
    prov = results.get("provenance")
    mode = prov.get("sandbox_mode") if isinstance(prov, dict) else None
    return mode if isinstance(mode, str) and mode else UNKNOWN_SANDBOX


def pending_points(results: dict) -> float:
    pending = results.get("pending_gpu")
    points = pending.get("points") if isinstance(pending, dict) else 0
    return float(points) if isinstance(points, (int, float)) else 0.0


def gradebook_rows(out: Path, spec, students) -> list[dict]:
    """One row per graded student (``students``: objects with ``name`` and ``key``). Text
    cells are as written (``spreadsheet_cell`` is applied when the file is written)."""
    rows = []
    for s in students:
        res = read_record(out, s.key)
        if res is None:
            continue
        row = {"student": s.name, "key": s.key}
        for p in spec.problems:
            row[p.id] = f"{res.get('problems', {}).get(p.id, {}).get('score', 0):g}"
        row.update(total=f"{res['score']:g}", max_score=f"{res['max_score']:g}",
                   status=res.get("status", "?"), pending_gpu=f"{pending_points(res):g}",
                   sandbox=sandbox_mode(res))
        rows.append(row)
    return rows


def gradebook_columns(spec) -> list[str]:
    return ["student", "key", *(p.id for p in spec.problems), "total", "max_score", "status",
            "pending_gpu", "sandbox"]


def write_gradebook(out: Path, spec, students) -> list[dict]:
    rows = gradebook_rows(out, spec, students)
    fields = gradebook_columns(spec)
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".gradebook.", suffix=".csv")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            f.write(BOM)
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows({k: spreadsheet_cell(v) for k, v in row.items()} for row in rows)
        os.replace(tmp, Path(out) / "gradebook.csv")
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError) and _no_space(e):
            raise OutOfSpace(f"{out}: no space left on the device for gradebook.csv",
                             needed=200 * (len(rows) + 1)) from None
        raise
    return rows


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def class_statistics(results: list[dict], max_score: float) -> dict:
    """The class's statistics from its records (``results.json`` dicts), as every report
    shows them: counts per status, the mean and median of the graded submissions
    (``GRADED``: pending GPU points count as not yet won, import errors as their score), and
    ``label``, the sentence that says what was counted::

        mean 52.00, median 11 of 144 over 3 graded submissions (1 with points pending a GPU
        run, counted on its points so far; 1 whose files do not import); left out: 1
        submission error, no grader problems
    """
    statuses = Counter(str(r.get("status", "?")) for r in results)
    graded = [r for r in results if r.get("status") in GRADED]
    scores = [float(r.get("score", 0)) for r in graded]
    pending = statuses.get("needs_gpu", 0)
    imports = statuses.get("import_error", 0)
    submission_errors = statuses.get("submission_error", 0)
    not_graded = len(results) - len(graded) - submission_errors  # grader problems, unknown
    mean = statistics.fmean(scores) if scores else None
    median = statistics.median(scores) if scores else None
    mean_text = f"{mean:.2f}" if mean is not None else "-"
    median_text = f"{median:g}" if median is not None else "-"
    within = [f"{pending} with points pending a GPU run, counted on "
              f"{'its' if pending == 1 else 'their'} points so far"] if pending else []
    within += [f"{imports} whose files do not import"] if imports else []
    label = (f"mean {mean_text}, median {median_text} of {max_score:g} over "
             + _plural(len(graded), "graded submission")
             + (f" ({'; '.join(within)})" if within else "")
             + "; left out: "
             + (_plural(submission_errors, "submission error") if submission_errors
                else "no submission errors") + ", "
             + (_plural(not_graded, "grader problem") + " (not graded yet)" if not_graded
                else "no grader problems"))
    return {"students": len(results), "graded": len(graded), "statuses": dict(statuses),
            "max_score": max_score, "mean": mean, "median": median,
            "mean_text": mean_text, "median_text": median_text,
            "pending": pending,
            "pending_points": sum(pending_points(r) for r in graded),
            "import_errors": imports, "submission_errors": submission_errors,
            "not_graded": not_graded, "label": label,
            "sandboxes": dict(Counter(sandbox_mode(r) for r in results))}


def summarize(out: Path, spec, students) -> dict:
    results = {s.name: r for s in students if (r := read_record(out, s.key)) is not None}
    stats = class_statistics(list(results.values()), spec.max_score)
    slowest = sorted(((r.get("execution_time", 0.0), n) for n, r in results.items()),
                     reverse=True)[:5]
    # "graded": every student with a record (as the batch counts its progress); the
    # statistics' own "graded" is the submissions its mean and median are over.
    return {"assignment": spec.id, "students": len(students), "graded": len(results),
            "statuses": stats["statuses"],
            "max_score": spec.max_score,
            "mean": stats["mean"] if stats["mean"] is not None else 0.0,
            "median": stats["median"] if stats["median"] is not None else 0.0,
            "statistics": stats,
            "slowest": [{"student": n, "seconds": round(t, 2)} for t, n in slowest],
            "out": str(out)}
