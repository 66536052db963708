"""A batch's per-student records, as the exporters read them.

The exporters' one reader of what ``grader batch`` stored: it goes through the batch's record
reader of the pages (``results.pages.records.batch_records``: ``GRADES_DIR/students/<key>/``
in the keyed layout, else ``GRADES_DIR/<name>/``), so a change of layout is one change for both.
"""
from __future__ import annotations

from pathlib import Path

from grader.errors import GraderError
from grader.results.pages.records import StudentRecord, batch_records


def student_records(grades: str | Path, assignment: str) -> list[StudentRecord]:
    """The record of every student of ``assignment`` graded into ``grades``, by name (the
    student's name as the class folder gave it: nbgrader's student id). A GraderError when
    there are none."""
    grades = Path(grades)
    if not grades.is_dir():
        raise GraderError(f"{grades}: no such folder (the --out of `grader batch`)")
    found = [r for r in batch_records(grades) if r.results.get("assignment") == assignment]
    if not found:
        raise GraderError(f"{grades}: no graded students of {assignment!r}; run "
                          f"`grader batch SUBMISSIONS --assignment {assignment} --out {grades}`")
    return found
