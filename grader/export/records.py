"""A batch's per-student records, as the exporters read them.

The one place that knows where ``grader batch`` keeps them (``GRADES_DIR/<student>/
results.json``, the student's id in the record): when the batch's layout moves, only
:func:`student_records` changes.
"""
from __future__ import annotations

import json
from pathlib import Path

from grader.errors import GraderError


def student_records(grades: str | Path, assignment: str) -> list[tuple[str, dict]]:
    """``(student id, results)`` for every student of ``assignment`` graded into ``grades``,
    sorted by id; a GraderError when there are none."""
    grades = Path(grades)
    if not grades.is_dir():
        raise GraderError(f"{grades}: no such folder (the --out of `grader batch`)")
    found = []
    for path in sorted(grades.glob("*/results.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise GraderError(f"{path}: unreadable record ({e})") from None
        if isinstance(record, dict) and record.get("assignment") == assignment:
            found.append((str(record.get("student") or path.parent.name), record))
    if not found:
        raise GraderError(f"{grades}: no graded students of {assignment!r}; run "
                          f"`grader batch SUBMISSIONS --assignment {assignment} --out {grades}`")
    return sorted(found, key=lambda item: item[0])
