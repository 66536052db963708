"""The students of a class: who they are and where each one's submission is.

SUBMISSIONS is a folder of per-student folders, zips or notebooks (``.ipynb``), one zip of
those, or nbgrader's ``submitted/<student>/<assignment>/`` layout.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.errors import SubmissionError
from grader.intake.archive import extract_submission

_JUNK = {"__MACOSX", ".DS_Store", "__pycache__", "gradebook.csv"}


@dataclass(frozen=True)
class Student:
    name: str
    path: Path


def _safe_name(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-_.@" else "_" for ch in name).strip("._")
    return cleaned or "student"


def discover(submissions: Path, assignment: str, scratch: Path) -> list[Student]:
    """The students in SUBMISSIONS (see the module docstring), sorted by name."""
    submissions = Path(submissions)
    if not submissions.exists():
        raise SubmissionError(f"{submissions}: no such file or folder")
    if submissions.is_file():
        if submissions.suffix != ".zip":
            raise SubmissionError(f"{submissions}: expected a folder or a .zip of submissions")
        submissions = extract_submission(submissions, scratch / "class", max_files=20_000,
                                         max_total_bytes=2_000_000_000)
    nbgrader = submissions / "submitted" if (submissions / "submitted").is_dir() else None
    if submissions.name == "submitted":
        nbgrader = submissions
    students = []
    if nbgrader is not None:
        for entry in sorted(nbgrader.iterdir()):
            if entry.is_dir() and (entry / assignment).is_dir():
                students.append(Student(_safe_name(entry.name), entry / assignment))
        return students
    seen = set()
    for entry in sorted(submissions.iterdir()):
        if entry.name in _JUNK or entry.name.startswith(".") or entry.is_symlink():
            continue
        if entry.is_dir() or entry.suffix in (".zip", ".ipynb"):
            name = _safe_name(entry.name if entry.is_dir() else entry.stem)
            if name in seen:
                raise SubmissionError(f"{entry}: two submissions for student {name!r}")
            seen.add(name)
            students.append(Student(name, entry))
    if not students:
        raise SubmissionError(f"{submissions}: no student folders or zips found (nor notebooks)")
    return students
