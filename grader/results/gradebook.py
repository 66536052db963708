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
"""
from __future__ import annotations

import csv
import errno
import json
import os
import statistics
import tempfile
from pathlib import Path

from grader.errors import GraderError
from grader.results import reports

STUDENTS = "students"  # the folder of per-student records inside OUT


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
    if results.get("status") == "infrastructure" and old and old.get("status") == "ok":
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


def gradebook_rows(out: Path, spec, students) -> list[dict]:
    """One row per graded student (``students``: objects with ``name`` and ``key``)."""
    rows = []
    for s in students:
        res = read_record(out, s.key)
        if res is None:
            continue
        row = {"student": s.name, "key": s.key}
        for p in spec.problems:
            row[p.id] = f"{res.get('problems', {}).get(p.id, {}).get('score', 0):g}"
        row.update(total=f"{res['score']:g}", max_score=f"{res['max_score']:g}",
                   status=res.get("status", "?"))
        rows.append(row)
    return rows


def write_gradebook(out: Path, spec, students) -> list[dict]:
    rows = gradebook_rows(out, spec, students)
    fields = ["student", "key", *(p.id for p in spec.problems), "total", "max_score", "status"]
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".gradebook.", suffix=".csv")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, Path(out) / "gradebook.csv")
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError) and _no_space(e):
            raise OutOfSpace(f"{out}: no space left on the device for gradebook.csv",
                             needed=200 * (len(rows) + 1)) from None
        raise
    return rows


def summarize(out: Path, spec, students) -> dict:
    results = {s.name: r for s in students if (r := read_record(out, s.key)) is not None}
    scores = [r["score"] for r in results.values()]
    statuses: dict[str, int] = {}
    for r in results.values():
        statuses[r.get("status", "?")] = statuses.get(r.get("status", "?"), 0) + 1
    slowest = sorted(((r.get("execution_time", 0.0), n) for n, r in results.items()),
                     reverse=True)[:5]
    return {"assignment": spec.id, "students": len(students), "graded": len(results),
            "statuses": statuses, "max_score": spec.max_score,
            "mean": statistics.fmean(scores) if scores else 0.0,
            "median": statistics.median(scores) if scores else 0.0,
            "slowest": [{"student": n, "seconds": round(t, 2)} for t, n in slowest],
            "out": str(out)}
