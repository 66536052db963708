"""The students of a class: who they are, where each one's submission is, and its key.

SUBMISSIONS is a folder of per-student folders, zips or notebooks (``.ipynb``), one zip of
those, or nbgrader's ``submitted/<student>/<assignment>/`` layout. A student's *name* is what
the TA gave (the folder's name, the zip's or notebook's name without ``.zip``/``.ipynb``, the
nbgrader student id), kept exactly; their *key* (see ``student_key``) names their files on
disk. Two submissions with one name (``dave/`` and ``dave.zip``) are reported for that student;
the rest of the class is graded.
"""
from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from grader.errors import SubmissionError
from grader.intake.archive import JUNK_DIRS, JUNK_FILES, extract_submission

_SKIPPED = JUNK_DIRS | JUNK_FILES | {"gradebook.csv"}
# A name that is already a good key: lower case (no clash on case-insensitive file systems),
# starts with a letter or digit, short; letters, digits, '_', '-', '.' only.
_SAFE_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$")  # Windows devices


@dataclass(frozen=True)
class Student:
    name: str            # exactly as given (folder or zip name, nbgrader id)
    key: str             # unique, stable, file-system safe (see student_key)
    path: Path           # the submission: a folder, a .zip or a notebook (.ipynb)
    problem: str = ""    # why this student cannot be graded (two submissions, ...), or ""
    digest: str = ""     # content_hash of the submission ("" with a problem)


def student_key(name: str) -> str:
    """A stable, file-system-safe key for ``name``, distinct for distinct names.

    A name that is already safe (``^[a-z0-9][a-z0-9_.-]{0,62}$``, not ending in ``.``, not a
    Windows device name) is its own key. Any other name becomes a readable slug plus the first
    10 hex digits of the SHA-256 of the name: ``Carol!`` -> ``carol-4b5ee1ab4c``. The key
    depends on the name alone, never on the rest of the class, so it is the same on every run.
    Two names with one key (a literal name equal to another's hashed key) are reported by
    ``discover`` for both students, never merged.
    """
    if _SAFE_KEY.match(name) and not name.endswith(".") and not _RESERVED.match(name):
        return name
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")[:40] or "student"
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    return f"{slug}-{digest}"


def content_hash(path: Path) -> str:
    """SHA-256 of a submission's content: a zip's bytes, or a folder's files (names and bytes,
    in order; links and junk skipped as the unpacker skips them). A re-run regrades a student
    whose hash changed."""
    h = hashlib.sha256()
    path = Path(path)
    if path.is_file():
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in JUNK_DIRS
                         and not os.path.islink(os.path.join(root, d)))
        for name in sorted(files):
            file = Path(root, name)
            if name in JUNK_FILES or name.startswith("._") or name.endswith((".pyc", ".pyo")) \
                    or file.is_symlink() or not file.is_file():
                continue
            rel = file.relative_to(path).as_posix().encode("utf-8", "surrogateescape")
            h.update(len(rel).to_bytes(4, "little") + rel)
            data = file.read_bytes()
            h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


def _entries(submissions: Path, assignment: str, exclude: set):
    """(name, path) for every submission in SUBMISSIONS, in name order."""
    nbgrader = submissions / "submitted" if (submissions / "submitted").is_dir() else None
    if submissions.name == "submitted":
        nbgrader = submissions
    if nbgrader is not None:
        for entry in sorted(nbgrader.iterdir()):
            if entry.is_dir() and not entry.is_symlink() and (entry / assignment).is_dir():
                yield entry.name, entry / assignment
        return
    for entry in sorted(submissions.iterdir()):
        if entry.name in _SKIPPED or entry.name.startswith(".") or entry.is_symlink() \
                or entry.resolve() in exclude:
            continue
        if entry.is_dir():
            yield entry.name, entry
        elif entry.suffix.lower() in (".zip", ".ipynb"):
            yield entry.stem, entry


def discover(submissions: Path, assignment: str, scratch: Path, *,
             exclude=()) -> list[Student]:
    """The students in SUBMISSIONS (see the module docstring), sorted by name. Names that
    collide (two submissions, or two names with one key) come back once, with ``problem``.
    Folders in ``exclude`` (the batch's own output, when it is inside SUBMISSIONS) are not
    students."""
    submissions = Path(submissions)
    if not submissions.exists():
        raise SubmissionError(f"{submissions}: no such file or folder")
    if submissions.is_file():
        if submissions.suffix.lower() != ".zip":
            raise SubmissionError(f"{submissions}: expected a folder or a .zip of submissions")
        submissions = extract_submission(submissions, scratch / "class", max_files=20_000,
                                         max_total_bytes=2_000_000_000)
    by_key: dict[str, list[tuple[str, Path]]] = {}
    for name, path in _entries(submissions, assignment, {Path(p).resolve() for p in exclude}):
        by_key.setdefault(student_key(name), []).append((name, path))
    students = []
    for key, found in by_key.items():
        name, path = found[0]
        problem = ""
        if len(found) > 1:
            listed = ", ".join(p.name + ("/" if p.is_dir() else "") for _, p in found)
            names = {n for n, _ in found}
            problem = (f"two submissions for student {name!r} ({listed}); keep one and re-run"
                       if len(names) == 1 else
                       f"the students {', '.join(sorted(map(repr, names)))} share the key "
                       f"{key!r} ({listed}); rename one and re-run")
        students.append(Student(name, key, path, problem,
                                "" if problem else content_hash(path)))
    if not students:
        raise SubmissionError(f"{submissions}: no student folders or zips found (nor notebooks)")
    return sorted(students, key=lambda s: (s.name, s.key))
