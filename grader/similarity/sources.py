"""Where the texts come from: each student's graded files, and what every student was given.

A batch keeps a copy of each student's files as graded (the assignment's ``files``, nothing
else) in ``files/`` inside that student's record folder (:func:`keep_student_files`, called by
``grader batch``). :func:`load_submissions` is the one place that knows where to find them again;
with ``submissions=`` it reads a class's submissions folder instead (a batch graded before files
were kept, or no batch at all).

What everyone shares (:func:`given_texts`): the released skeleton of each student file, the
provided modules, and the code blocks of the handout.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.course.config import REPO_ROOT
from grader.errors import GraderError, SubmissionError
from grader.intake.notebook import unpack_submission


@dataclass(frozen=True)
class Submission:
    """One student's files as graded: ``files`` maps a student file name to its text (None:
    their files were not kept). ``key`` is unique in the class; ``name`` is what TAs read."""
    key: str
    files: dict | None
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or self.key


KEPT = "files"  # inside a student's record folder: their files as graded
MAX_FILE_BYTES = 1_000_000  # a student file larger than this is kept cut (it is shown, not run)


def keep_student_files(record: Path, submission: Path, spec) -> list[str]:
    """Copy the student files of ``submission`` (a folder, a zip or a notebook, unpacked with
    the grader's own defences; a notebook's module files assembled) into ``record/files/``,
    replacing what was there; return the names kept. A submission that cannot be unpacked
    keeps nothing (its grade says why)."""
    record = Path(record)
    record.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="grader-keep-", dir=record) as tmp:
        try:
            work = unpack_submission(submission, Path(tmp) / "work", spec.files)
        except SubmissionError:
            work = None
        staged = Path(tmp) / KEPT
        staged.mkdir()
        kept = []
        for name in spec.files:
            src = work / name if work else None
            if src is not None and src.is_file() and not src.is_symlink():
                with open(src, "rb") as f:
                    (staged / name).write_bytes(f.read(MAX_FILE_BYTES))
                kept.append(name)
        shutil.rmtree(record / KEPT, ignore_errors=True)
        os.replace(staged, record / KEPT)
    return kept


def has_kept_files(record: Path) -> bool:
    return (Path(record) / KEPT).is_dir()


def load_submissions(grades: Path, spec, *, submissions: Path | None = None) -> list[Submission]:
    """Every student of a batch with the text of their student files (those they handed in).

    From the batch's output ``grades`` (each student folder holding ``results.json``, directly
    in ``grades`` or under ``grades/students/``), or from the class's ``submissions`` folder.
    """
    if submissions is not None:
        return _from_submissions(Path(submissions), spec)
    grades = Path(grades)
    if not grades.is_dir():
        raise GraderError(f"{grades}: no such folder (give the --out folder of `grader batch`)")
    base = grades / "students" if (grades / "students").is_dir() else grades
    found = []
    for record in sorted(p for p in base.iterdir() if (p / "results.json").is_file()):
        files = record / KEPT
        texts = {n: _read(files / n) for n in spec.files if (files / n).is_file()} \
            if files.is_dir() else None
        found.append(Submission(record.name, texts, _display_name(record)))
    if not found:
        raise GraderError(f"{grades}: no graded students here (no */results.json)")
    if all(s.files is None for s in found):
        raise GraderError(f"{grades}: the batch kept no student files (graded by an older "
                          "grader); pass the submissions folder too: --submissions DIR")
    return found


def _display_name(record: Path) -> str:
    try:
        data = json.loads((record / "results.json").read_text(encoding="utf-8"))
        name = data.get("student")
        return name if isinstance(name, str) and name else record.name
    except (OSError, ValueError, AttributeError):
        return record.name


def _from_submissions(folder: Path, spec) -> list[Submission]:
    from grader.intake.students import discover

    found = []
    with tempfile.TemporaryDirectory(prefix="grader-similarity-") as scratch:
        for i, student in enumerate(discover(folder, spec.id, Path(scratch))):
            kept = keep_student_files(Path(scratch) / f"s{i}", student.path, spec)
            files = Path(scratch) / f"s{i}" / KEPT
            found.append(Submission(student.name, {n: _read(files / n) for n in kept}))
    return found


def _read(path: Path) -> str:
    with open(path, "rb") as f:
        return f.read(MAX_FILE_BYTES).decode("utf-8", errors="replace")


def release_dir(spec) -> Path:
    """The student release of ``spec``: ``assignments/<id>/`` beside ``solutions/``."""
    return REPO_ROOT / "assignments" / spec.id


def given_texts(spec, release: Path | None = None) -> dict:
    """Per student file, the texts every student was given that may end up in it: the file's
    skeleton, the provided modules and each code block of the handouts."""
    release = Path(release) if release is not None else release_dir(spec)
    missing = [n for n in spec.files if not (release / n).is_file()]
    if missing:
        raise GraderError(f"{release}: no released skeleton {', '.join(missing)} to leave out "
                          f"(run `grader release {spec.id}`, or pass --release DIR)")
    provided = [next((p for p in (release / n, spec.root / n) if p.is_file()), None)
                for n in spec.provided]
    common = [_read(p) for p in provided if p is not None]
    for readme in sorted(release.glob("README*.md")):
        common += handout_code(_read(readme))
    return {n: [_read(release / n), *common] for n in spec.files}


_FENCE = re.compile(r"^\s*(```|~~~)")


def handout_code(markdown: str) -> list[str]:
    """The code blocks of a Markdown handout (indented by four spaces, or fenced), one text
    each: code a student may paste into their answer, as everyone else may."""
    blocks, current, fenced, previous_blank = [], [], False, True
    for line in markdown.split("\n"):
        if _FENCE.match(line):
            if fenced:
                blocks.append("\n".join(current))
                current = []
            fenced = not fenced
        elif fenced:
            current.append(line)
        elif line.startswith(("    ", "\t")) and (current or previous_blank):
            current.append(line[4:] if line.startswith("    ") else line[1:])
        elif current and not line.strip():
            current.append("")
        elif current:
            blocks.append("\n".join(current))
            current = []
        previous_blank = not line.strip()
    if current:
        blocks.append("\n".join(current))
    return [b for b in blocks if b.strip()]
