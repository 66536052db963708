"""``grader export nbgrader GRADES_DIR --db sqlite:///gradebook.db --assignment ID``.

Writes a batch's scores into an nbgrader gradebook through ``nbgrader.api.Gradebook``, so that
nbgrader's formgrader and ``nbgrader export`` show them:

- the assignment, one notebook (named after the assignment, as ``grader release --notebook``
  names it) and one grade cell per problem (its id, ``max_score`` = its points), the cells that
  nbgrader's own ``generate_assignment`` makes from the released notebook's test cells;
- every graded student, a submission (its ``timestamp.txt`` when the course folder has one),
  and per problem an *auto score* that needs no manual grading.

Everything goes through ``update_or_create_*``: a re-run updates, never duplicates. A student
whose record is an ``infrastructure`` failure is left out (not given a zero). Feedback (the
page the batch writes) goes to ``<course>/feedback/<student>/<assignment>/<notebook>.html``,
with the submission's ``timestamp.txt`` and ``submission_secret.txt`` beside it as
``nbgrader release_feedback`` expects.

nbgrader is an optional extra (``pip install 'nn-grader[nbgrader]'``), imported only here.
"""
from __future__ import annotations

import os
import shutil
import sys
import warnings
from pathlib import Path

from grader.course.config import find_assignment
from grader.errors import GraderError
from grader.export.records import student_records
from grader.results.pages.build import student_page

DEFAULT_DB = "sqlite:///gradebook.db"


def _gradebook_api():
    try:
        from nbgrader import api
    except ImportError:
        raise GraderError("exporting to nbgrader needs nbgrader: "
                          "pip install 'nn-grader[nbgrader]'") from None
    # A new gradebook stamps its schema version by running the `alembic` command, looked up on
    # PATH: the one installed beside this interpreter (a virtual environment not activated).
    if shutil.which("alembic") is None:
        os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    return api


def course_folder(db: str, course_dir=None) -> Path:
    """The nbgrader course folder: ``course_dir``, else the folder of a SQLite gradebook (where
    nbgrader keeps it), else the current folder."""
    if course_dir is not None:
        return Path(course_dir)
    if db.startswith("sqlite:///") and db != "sqlite:///:memory:":
        return Path(db[len("sqlite:///"):]).absolute().parent
    return Path.cwd()


def _read_small(path: Path) -> str | None:
    try:
        if path.is_file() and not path.is_symlink() and path.stat().st_size < 4096:
            return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        pass
    return None


def _safe_part(name: str) -> bool:
    """Usable as one folder name (nbgrader's student folders, our feedback folders)."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\0" not in name


def _timestamp(path: Path):
    """nbgrader's ``timestamp.txt`` as a datetime, or None when absent or unreadable."""
    text = _read_small(path)
    if not text:
        return None
    from nbgrader.utils import parse_utc
    try:
        return parse_utc(text)
    except (ValueError, OverflowError, TypeError):
        return None


def _ensure_grade(api, gb, problem_id: str, notebook: str, assignment: str, student: str):
    """The student's grade for one grade cell; created when the cell is newer than the
    submission (nbgrader makes a submission's grades when the submission is made)."""
    try:
        return gb.find_grade(problem_id, notebook, assignment, student)
    except api.MissingEntry:
        pass
    try:
        submitted = gb.find_submission_notebook(notebook, assignment, student)
    except api.MissingEntry:
        submitted = api.SubmittedNotebook(notebook=gb.find_notebook(notebook, assignment),
                                          assignment=gb.find_submission(assignment, student))
        gb.db.add(submitted)
    cell = gb.find_grade_cell(problem_id, notebook, assignment)
    grade = api.Grade(cell_id=cell.id, notebook=submitted)
    gb.db.add(grade)
    gb.db.commit()
    return grade


def _write_feedback(course: Path, student: str, spec, notebook: str, record) -> Path:
    """The student's feedback page (the one the batch writes) where nbgrader releases it."""
    assignment = spec.id
    folder = course / "feedback" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{notebook}.html"
    tmp = folder / f".{notebook}.html.tmp"
    tmp.write_text(student_page(record, spec), encoding="utf-8")
    os.replace(tmp, target)
    submitted = course / "submitted" / student / assignment
    for name in ("timestamp.txt", "submission_secret.txt"):
        text = _read_small(submitted / name)
        if text is not None:
            (folder / name).write_text(text + "\n", encoding="utf-8")
    return target


def export(grades, *, assignment: str, db: str = DEFAULT_DB, course_dir=None,
           course_id: str = "", notebook: str | None = None, feedback: bool = True) -> dict:
    """Write the scores in ``grades`` (a batch's ``--out``) into the gradebook ``db``.

    Returns ``{"students": [...], "skipped": {student: why}, "feedback": folder or None}``.
    ``course_id`` is nbgrader's ``CourseDirectory.course_id`` (``""`` unless the course sets it).
    """
    spec = find_assignment(assignment)
    records = student_records(grades, spec.id)
    notebook = notebook or spec.id
    course = course_folder(db, course_dir)
    api = _gradebook_api()
    exported, skipped = [], {}
    try:
        gb = api.Gradebook(db, course_id=course_id)
    except Exception as e:  # SQLAlchemy: a bad URL, a database it cannot open
        raise GraderError(f"cannot open the gradebook {db}: {e}") from None
    with gb, warnings.catch_warnings():
        # nbgrader's own add_submission trips SQLAlchemy 2's autoflush warnings: not ours.
        warnings.filterwarnings("ignore", message=".*not in session.*")
        gb.update_or_create_assignment(spec.id)
        gb.update_or_create_notebook(notebook, spec.id)
        for problem in spec.problems:
            gb.update_or_create_grade_cell(problem.id, notebook, spec.id,
                                           max_score=problem.points, cell_type="code")
        for entry in records:
            student, record = entry.name, entry.results
            if record.get("status") == "infrastructure":
                skipped[student] = "not graded (a grader problem): run `grader batch` again"
                continue
            if not _safe_part(student):
                skipped[student] = "a student id nbgrader cannot use as a folder name"
                continue
            gb.update_or_create_student(student)
            timestamp = _timestamp(course / "submitted" / student / spec.id / "timestamp.txt")
            gb.update_or_create_submission(spec.id, student,
                                           **({"timestamp": timestamp} if timestamp else {}))
            problems = record.get("problems", {})
            for problem in spec.problems:
                grade = _ensure_grade(api, gb, problem.id, notebook, spec.id, student)
                grade.auto_score = float(problems.get(problem.id, {}).get("score", 0.0))
                grade.needs_manual_grade = False
            gb.db.commit()
            if feedback:
                _write_feedback(course, student, spec, notebook, entry)
            exported.append(student)
    return {"students": exported, "skipped": skipped,
            "feedback": str(course / "feedback") if feedback and exported else None}
