"""``grader zip``: a student's submission file, made right.

In the assignment folder: the declared files must be there (a misnamed one is named, as in
grading), compile, and import cleanly (imported in the sandboxed worker, as in grading, never
in this process); then ``<id>.zip`` is written with exactly those files at its top level.
"""
from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

from grader.errors import SubmissionError
from grader.intake.expected_files import require_files
from grader.results.safe_text import visible


def _syntax_problems(folder: Path, files) -> list[str]:
    """Compile each file (compiling runs none of it); ``file:line: message`` per problem."""
    problems = []
    for name in files:
        try:
            source = (folder / name).read_bytes()
            compile(source, name, "exec", dont_inherit=True)
        except SyntaxError as e:
            problems.append(f"{name}:{e.lineno}: SyntaxError: {e.msg}")
        except (ValueError, RecursionError, MemoryError, OSError) as e:
            problems.append(f"{name}: cannot be compiled ({type(e).__name__}: {e})")
    return problems


def _import_problem(spec, folder: Path) -> str:
    """Import the files in the sandboxed worker; the error a grading would meet, or ""."""
    from grader.harness.student_session import with_student
    from grader.wire.bridge import StudentFailure

    def load(session, student):
        try:
            session.request({"op": "release", "ids": []})  # loads the files first
        except StudentFailure as e:
            return str(e)
        return ""

    return with_student(spec, folder, load, timeout=spec.limits.call_timeout + 60)


def make_zip(spec, folder: Path, out: Path | None = None) -> tuple[Path, list[tuple[str, int]]]:
    """Check the student's files in ``folder`` and write the submission zip (default:
    ``folder/<id>.zip``). Returns the zip's path and its (file, bytes) entries; raises
    ``SubmissionError`` saying what to fix."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SubmissionError(f"{folder}: no such folder")
    require_files(folder, spec.files, recursive=False)
    problems = _syntax_problems(folder, spec.files)
    if problems:
        raise SubmissionError("not zipped: " + visible("; ".join(problems)))
    problem = _import_problem(spec, folder)
    if problem:
        raise SubmissionError("not zipped: " + visible(problem))
    out = Path(out) if out else folder / f"{spec.id}.zip"
    if out.is_dir():
        out = out / f"{spec.id}.zip"
    entries = [(name, (folder / name).stat().st_size) for name in spec.files]
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, _ in entries:
                zf.write(folder / name, name)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out, entries
