"""``grader batch``: grade a whole class, in parallel, resumably, and write a gradebook.

SUBMISSIONS is a folder of per-student folders or zips, one zip of those, or nbgrader's
``submitted/<student>/<assignment>/`` layout. Each student's ``results.json`` (written
atomically) is the durable record: a re-run skips students already graded (unless
``regrade``), so a batch killed at any moment finishes on the next run with every student graded
exactly once. ``gradebook.csv`` is rebuilt from those records. An ``infrastructure`` result is
retried, and never replaces an earlier good one.

With ``scheduler`` the same tasks run on a Dask distributed cluster: each task receives the
submission's bytes and grades it with that machine's sandbox or Docker engine.
"""
from __future__ import annotations

import concurrent.futures as cf
import csv
import io
import json
import os
import statistics
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from grader import reports
from grader.archive import extract_submission
from grader.config import find_assignment
from grader.errors import GraderError, SubmissionError
from grader.scoring import write_json_atomic

RETRIES = 2  # extra tries for an infrastructure result
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
        if entry.is_dir() or entry.suffix == ".zip":
            name = _safe_name(entry.stem if entry.suffix == ".zip" else entry.name)
            if name in seen:
                raise SubmissionError(f"{entry}: two submissions for student {name!r}")
            seen.add(name)
            students.append(Student(name, entry))
    if not students:
        raise SubmissionError(f"{submissions}: no student folders or zips found")
    return students


# -- one task ---------------------------------------------------------------------------------

def grade_one(name: str, path: str, assignment: str, backend: str, image: str | None,
              cpus: float | None = None) -> dict:
    """Grade one student (runs in a worker process or on a Dask worker)."""
    from grader.api import grade
    from grader.errors import GraderError as _GraderError

    for attempt in range(RETRIES + 1):
        try:
            results = grade(path, assignment=assignment, backend=backend, image=image,
                            cpus=cpus)
        except SubmissionError as e:  # the student's archive: not retried, graded zero
            return _failed(name, assignment, "submission_error", str(e))
        except _GraderError as e:
            results = _failed(name, assignment, "infrastructure", str(e))
        if results.get("status") != "infrastructure":
            break
    results["student"] = name
    return results


def grade_bytes(name: str, archive: bytes, assignment: str, backend: str,
                image: str | None) -> dict:
    """A Dask task: the submission travels as zip bytes, so workers need no shared disk."""
    with tempfile.TemporaryDirectory(prefix="grader-task-") as tmp:
        path = Path(tmp) / f"{name}.zip"
        path.write_bytes(archive)
        return grade_one(name, str(path), assignment, backend, image)


def _zip_bytes(path: Path) -> bytes:
    if path.is_file():
        return path.read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(path.rglob("*")):
            if file.is_file() and not file.is_symlink():
                zf.write(file, file.relative_to(path).as_posix())
    return buf.getvalue()


def _failed(name, assignment, status, message) -> dict:
    spec = find_assignment(assignment)
    return {"score": 0.0, "max_score": spec.max_score, "execution_time": 0.0,
            "output": message, "tests": [], "assignment": assignment, "status": status,
            "problems": {p.id: {"score": 0.0, "max_score": p.points, "kinds": [status]}
                         for p in spec.problems}, "student": name}


# -- the batch --------------------------------------------------------------------------------

def _previous(out: Path, name: str) -> dict | None:
    try:
        return json.loads((out / name / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _record(out: Path, name: str, results: dict) -> dict:
    """Write one student's results and feedback; keep an earlier good result over a failure."""
    old = _previous(out, name)
    if results.get("status") == "infrastructure" and old and old.get("status") == "ok":
        return old
    write_json_atomic(out / name / "results.json", results)
    feedback = reports.feedback(results)
    tmp = out / name / ".feedback.txt.tmp"
    tmp.write_text(feedback, encoding="utf-8")
    os.replace(tmp, out / name / "feedback.txt")
    return results


def write_gradebook(out: Path, spec, students: list[str]) -> list[dict]:
    rows = []
    for name in students:
        res = _previous(out, name)
        if res is None:
            continue
        row = {"student": name}
        for p in spec.problems:
            row[p.id] = f"{res.get('problems', {}).get(p.id, {}).get('score', 0):g}"
        row.update(total=f"{res['score']:g}", max_score=f"{res['max_score']:g}",
                   status=res.get("status", "?"))
        rows.append(row)
    fields = ["student", *(p.id for p in spec.problems), "total", "max_score", "status"]
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".gradebook.", suffix=".csv")
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out / "gradebook.csv")
    return rows


def _executor(backend: str, jobs: int, scheduler: str | None):
    if scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise GraderError("--scheduler needs Dask: pip install 'nn-grader[batch]'") from None
        return Client(scheduler)
    if backend == "docker":  # the work happens in containers: threads are enough
        return cf.ThreadPoolExecutor(max_workers=jobs)
    import multiprocessing
    return cf.ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork"))


def batch(submissions, *, assignment: str, out, backend: str = "local", jobs: int = 2,
          scheduler: str | None = None, regrade: bool = False, image: str | None = None,
          progress: bool = True) -> dict:
    """Grade every student in ``submissions``; write results, feedback and gradebook.csv."""
    spec = find_assignment(assignment)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if backend == "docker" and not scheduler:
        from grader.backends.docker import reap
        reap()
    with tempfile.TemporaryDirectory(prefix="grader-batch-") as scratch:
        students = discover(Path(submissions), spec.id, Path(scratch))
        todo = [s for s in students if regrade or not _previous(out, s.name)
                or _previous(out, s.name).get("status") != "ok"]
        graded = _run(todo, spec.id, out, backend, jobs, scheduler, image, progress)
    rows = write_gradebook(out, spec, [s.name for s in students])
    summary = summarize(out, spec, [s.name for s in students])
    summary.update(graded_now=graded, skipped=len(students) - len(todo))
    (out / "summary.txt").write_text(reports.batch_summary(summary), encoding="utf-8")
    summary["picture"] = reports.batch_picture(out, spec, rows)
    return summary


def _run(todo, assignment, out, backend, jobs, scheduler, image, progress) -> int:
    if not todo:
        return 0
    bar = _progress(len(todo), progress)
    executor = _executor(backend, jobs, scheduler)
    done = 0
    try:
        if scheduler:
            from distributed import as_completed
            futures = [executor.submit(grade_bytes, s.name, _zip_bytes(s.path), assignment,
                                       backend, image, key=f"grade-{assignment}-{s.name}",
                                       pure=False) for s in todo]
            completed = (f.result() for f in as_completed(futures))
        else:
            # Each container gets its share of the machine's cores (and at least one).
            cpus = max(1.0, (os.cpu_count() or 1) / jobs)
            futures = [executor.submit(grade_one, s.name, str(s.path), assignment, backend,
                                       image, cpus) for s in todo]
            completed = (f.result() for f in cf.as_completed(futures))
        for results in completed:
            _record(out, results["student"], results)
            done += 1
            bar.update(1)
            bar.set_postfix_str(f"{results['student']}: {results['score']:g}")
    finally:
        bar.close()
        if scheduler:
            executor.close()
        else:
            executor.shutdown(wait=True, cancel_futures=True)
    return done


def _progress(total: int, enabled: bool):
    try:
        from tqdm import tqdm
    except ImportError:  # the bar is a nicety; the batch works without it
        tqdm = None
    if tqdm is None or not enabled:
        class Quiet:
            def update(self, n): pass
            def set_postfix_str(self, s): pass
            def close(self): pass
        return Quiet()
    return tqdm(total=total, unit="sub", file=sys.stderr, dynamic_ncols=True)


def summarize(out: Path, spec, students: list[str]) -> dict:
    results = {n: r for n in students if (r := _previous(out, n)) is not None}
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

