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
from grader.results import provenance
from grader.results.scoring import failure_results

RETRIES = 2  # extra tries for an infrastructure result
ENGINE_AWAY = "_engine_away"  # marks a result that failed because the engine went away


def grade_one(name: str, key: str, path: str, assignment: str, backend: str,
              image: str | None, cpus: float | None = None) -> dict:
    """Grade one student (runs in a worker process or on a Dask worker). The results carry
    what produced them (``provenance``: this machine's sandbox mode, for docker the image's
    id; the batch adds the submission's hash)."""
    spec = find_assignment(assignment)
    facts = provenance.image_facts(image or _default_image()) if backend == "docker" else None
    stamp = provenance.make(spec, submission_sha256=None, backend=backend, image=facts)
    return provenance.stamp(_grade_one(spec, name, key, path, backend, image, cpus), stamp)


def _default_image() -> str:
    import os

    from grader.sandbox.docker import DEFAULT_IMAGE
    return os.environ.get("GRADER_IMAGE", DEFAULT_IMAGE)


def _grade_one(spec, name, key, path, backend, image, cpus) -> dict:
    assignment = spec.id
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
                image: str | None, *, allow_unconfined: bool = False) -> dict:
    """A Dask task: the submission travels as zip bytes, so workers need no shared disk. A
    worker whose local sandbox is plain mode grades only with ``allow_unconfined`` (else the
    student is ``infrastructure``, graded again once the worker runs as root)."""
    from grader.sandbox.confinement import allowed
    if backend == "local" and not allowed(allow_unconfined):
        from grader.sandbox.local import default_mode
        if default_mode() == "plain":
            return failed_record(name, key, assignment, "infrastructure",
                                 "not graded: this Dask worker's local sandbox is plain mode "
                                 "(not root), which does not confine file access; run the "
                                 "worker as root, use --backend docker, or pass "
                                 "--allow-unconfined")
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
