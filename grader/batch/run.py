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
import os
import sys
import tempfile
from pathlib import Path

from grader.batch.tasks import grade_bytes, grade_one, zip_bytes
from grader.course.config import find_assignment
from grader.errors import GraderError
from grader.intake.students import discover
from grader.results import reports
from grader.results.gradebook import read_record, summarize, write_gradebook, write_record
from grader.results.pages.build import write_pages


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
    """Grade every student in ``submissions``; write results, feedback, gradebook.csv and the
    HTML pages (``index.html``, a ``feedback.html`` per student)."""
    spec = find_assignment(assignment)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if backend == "docker" and not scheduler:
        from grader.sandbox.docker import reap
        reap()
    with tempfile.TemporaryDirectory(prefix="grader-batch-") as scratch:
        students = discover(Path(submissions), spec.id, Path(scratch))
        todo = [s for s in students if regrade or not read_record(out, s.name)
                or read_record(out, s.name).get("status") != "ok"]
        graded = _run(todo, spec.id, out, backend, jobs, scheduler, image, progress)
    rows = write_gradebook(out, spec, [s.name for s in students])
    summary = summarize(out, spec, [s.name for s in students])
    summary.update(graded_now=graded, skipped=len(students) - len(todo))
    (out / "summary.txt").write_text(reports.batch_summary(summary), encoding="utf-8")
    summary["picture"] = reports.batch_picture(out, spec, rows)
    summary["report"] = str(write_pages(out, spec)) if rows else None
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
            futures = [executor.submit(grade_bytes, s.name, zip_bytes(s.path), assignment,
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
            write_record(out, results["student"], results)
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


