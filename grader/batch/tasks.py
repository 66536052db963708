"""One student's grading task: runs in a worker process of the pool or on a Dask worker.

A task never raises for a student's mistake: an unreadable archive is a ``submission_error``
record, a grader failure an ``infrastructure`` one (retried here, then again by a later run).
"""
from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from grader.course.config import find_assignment
from grader.errors import EngineUnavailable, GraderError, SubmissionError
from grader.harness.supervisor import grade_submission
from grader.results.scoring import failure_results

RETRIES = 2  # extra tries for an infrastructure result
ENGINE_AWAY = "_engine_away"  # marks a result that failed because the engine went away


def grade_one(name: str, key: str, path: str, assignment: str, backend: str,
              image: str | None, cpus: float | None = None) -> dict:
    """Grade one student (runs in a worker process or on a Dask worker)."""
    spec = find_assignment(assignment)
    for attempt in range(RETRIES + 1):
        try:
            results = grade_submission(spec, Path(path), backend=backend, image=image,
                                       cpus=cpus)
            results["submission"] = Path(path).name
        except SubmissionError as e:  # the student's archive: not retried, graded zero
            return failed_record(name, key, assignment, "submission_error", str(e))
        except EngineUnavailable as e:  # the batch waits for the engine, then retries
            return {**failed_record(name, key, assignment, "infrastructure", str(e)),
                    ENGINE_AWAY: True}
        except GraderError as e:
            results = failed_record(name, key, assignment, "infrastructure", str(e))
        if results.get("status") != "infrastructure":
            break
    results.update(student=name, key=key)
    return results


def grade_bytes(name: str, key: str, archive: bytes, assignment: str, backend: str,
                image: str | None) -> dict:
    """A Dask task: the submission travels as zip bytes, so workers need no shared disk."""
    with tempfile.TemporaryDirectory(prefix="grader-task-") as tmp:
        path = Path(tmp) / f"{key}.zip"
        path.write_bytes(archive)
        return grade_one(name, key, str(path), assignment, backend, image)


def zip_bytes(path: Path) -> bytes:
    """A submission as the bytes of a zip (a zip as it is; a folder or notebook zipped)."""
    if path.is_file() and path.suffix.lower() == ".zip":
        return path.read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if path.is_file():  # a notebook
            zf.write(path, path.name)
        for file in sorted(path.rglob("*")) if path.is_dir() else ():
            if file.is_file() and not file.is_symlink():
                zf.write(file, file.relative_to(path).as_posix())
    return buf.getvalue()


def failed_record(name, key, assignment, status, message) -> dict:
    """The record of a student who could not be graded (``submission_error``,
    ``infrastructure``): zero points, the reason as the output."""
    return {**failure_results(find_assignment(assignment), status, message),
            "student": name, "key": key}
